import { existsSync, readFileSync } from 'node:fs';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parse as parseDotenv } from 'dotenv';
import { verifyInitWritable } from '../lib/setup/init-writable.ts';
import { configDir, PROJECT_DIR } from '../lib/cli/command.ts';
import { defaultInitEnvFile } from '../lib/config/app-file.ts';
import type { ConfigKey } from '../lib/config/keys.ts';
import { resolveConfig } from '../lib/config/config.ts';
import { certbotCommand } from '../lib/config/tls.ts';
import { templateFile } from '../lib/project-dir.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { ensureDeployRoot, ensureSiteFile, ensureUpstream, installSite, nginxRights, testAndReload, writeOnce, type Done } from '../lib/setup/init-steps.ts';
import { helperSetupCommand } from '../lib/traffic/nginx-helper-setup.ts';
import { flagOf, INIT_FLAGS, initValues, isOwnEnvFile, mergeAnswers, missingKeys, operatorSteps, planFile, renderEnvFile, siteInstallPaths, type HostFacts } from '../lib/setup/init.ts';
import { currentUserName } from '../lib/host/file-owner.ts';

export const command = defineCommand({
  spec: SPECS.init,
  help: `Writes a commented .env from the flags, creates DEPLOY_ROOT with its modes, writes the nginx
upstream and the site (DEPLOY_ROOT/nginx/site.conf, what ./deploy.ts nginx-site prints), and prints
what is left to do (installing the site, the sudoers line). Running it again changes nothing: each
item says "unchanged". With --nginx, an installed site edited since Switchyard wrote it (certbot's
HTTPS lines) is kept byte for byte and init stops, unless --force (the old file is then kept as
<file>.previous); ./deploy.ts nginx-site --diff shows what would change. Flags that are not given come from an existing .env;
new flags rewrite an .env init wrote and nobody edited (an edited one needs --force). --tls acme with
--server-name gives the site HTTPS (docs/https.md). On a terminal it asks
for the required ones, otherwise it names the missing flags and stops.
The value flags set the keys of the same name (see .env.example).
`,
  async run({ io, flags: options, reporter }) {
    const force = options.force;
    const envFile = path.resolve(options.config ?? (io.env.DEPLOY_ENV_FILE && io.env.SWITCHYARD_APP ? io.env.DEPLOY_ENV_FILE : defaultInitEnvFile(configDir(io.env), options.app, (file) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined))));
    const flags: Partial<Record<ConfigKey, string>> = {};
    // `./deploy.ts --app NAME init`: the name is the app's.
    if (io.env.SWITCHYARD_APP && options.app === undefined) flags.APP_NAME = io.env.SWITCHYARD_APP;
    for (const { flag, key } of INIT_FLAGS) {
      const value = options[flag.slice(2) as keyof typeof options] as string | undefined;
      // Paths typed on the command line are relative to where it was typed, not to the .env.
      if (value !== undefined) flags[key] = key === 'DEPLOY_ROOT' || (key === 'REPO' && existsSync(value)) ? path.resolve(value) : value;
    }
    const existingText = existsSync(envFile) ? readFileSync(envFile, 'utf8') : undefined;
    let answers = mergeAnswers(flags, existingText ? parseDotenv(existingText) : {});
    answers = await askForMissing(answers);
    const facts = hostFacts();
    const values = initValues(answers, facts);
    const lines: Done[] = [];
    const show = (done: Done[]) => {
      for (const item of done) reporter.info(`${item.status === 'unchanged' || item.status === 'skipped' ? '·' : '✔'} ${item.item.padEnd(15)} ${item.status.padEnd(9)} ${item.detail}`);
      lines.push(...done);
    };

    // The file is checked as a whole before it is written: a bad flag never leaves a half-made host.
    const text = renderEnvFile(values);
    const config = resolveConfig({ fileValues: parseDotenv(text), env: {}, envFile });
    try {
      // A different .env is refused before anything is written; DEPLOY_ROOT next, so a folder we may not create changes nothing.
      // New flags on an .env init wrote and nobody edited (--server-name for a certificate, --tls) need no --force.
      const envForce = force || (existingText !== undefined && isOwnEnvFile(existingText, parseDotenv));
      if (planFile(existingText, text, envForce) === 'refuse') writeOnce('.env', envFile, text, { force, mode: 0o600 });
      verifyInitWritable([{ what: 'the configuration', file: envFile }, { what: 'DEPLOY_ROOT', file: config.deployRoot }], facts.user);
      show([ensureDeployRoot(config)]);
      show([writeOnce('.env', envFile, text, { force: envForce, mode: 0o600 })]);
      if (config.switchKind === 'none' || config.switchKind === 'command') {
        reporter.info(`SWITCH=${config.switchKind}: no nginx upstream or site to write`);
      } else {
        show(ensureUpstream(config));
        const site = ensureSiteFile(config);
        show([site.done]);
        const nginxDir = options['nginx-dir'] ?? '/etc/nginx';
        const target = siteInstallPaths(nginxDir, config.appName, existsSync(path.join(nginxDir, 'sites-available')) && existsSync(path.join(nginxDir, 'sites-enabled')));
        let installed = false;
        if (options.nginx) {
          if (!target.link && !existsSync(path.dirname(target.file))) {
            throw new SwitchyardError(`${nginxDir} has neither sites-available + sites-enabled nor conf.d, so it is not nginx's configuration folder`, { next: 'give that folder with --nginx-dir (nginx -V shows --conf-path)' });
          }
          const rights = await nginxRights(facts.isRoot, io.env);
          if (!rights) {
            throw new SwitchyardError(`--nginx needs root or a sudo that works without a password (sudo -n true failed for ${facts.user})`, {
              untouched: `the .env, DEPLOY_ROOT and ${site.file} are written; nginx was not touched`,
              next: `run the same init as root (sudo ./deploy.ts init ... --nginx), or install ${site.file} by hand as printed without --nginx`,
            });
          }
          const diffCommand = `${envFile === path.join(PROJECT_DIR, '.env') ? '' : `DEPLOY_ENV_FILE=${envFile} `}./deploy.ts nginx-site --diff${nginxDir === '/etc/nginx' ? '' : ` --nginx-dir ${nginxDir}`}`;
          const done = await installSite(site, target, rights, { force, diffCommand, env: io.env });
          show(done);
          if (target.link && existsSync(path.join(nginxDir, 'sites-enabled', 'default'))) {
            reporter.warn(`${path.join(nginxDir, 'sites-enabled', 'default')} is enabled too; on the same port it takes every request as default_server: remove it (rm ${path.join(nginxDir, 'sites-enabled', 'default')}) and reload nginx, or give the site another --listen`);
          }
          const changed = [...done, ...lines].some((item) => ['nginx upstream', 'site installed', 'site enabled'].includes(item.item) && item.status !== 'unchanged');
          show(await testAndReload(config, changed, io.env));
          installed = true;
        }
        const steps = operatorSteps({
          user: facts.user,
          envFile,
          siteFile: site.file,
          install: target,
          defaultSite: target.link && existsSync(path.join(nginxDir, 'sites-enabled', 'default')) ? path.join(nginxDir, 'sites-enabled', 'default') : undefined,
          nginxInstalled: installed,
          testCmd: config.nginx.testCmd,
          reloadCmd: config.nginx.reloadCmd,
          absolute: (program) => (program === 'nginx' ? facts.nginxBinary : program === 'systemctl' ? facts.systemctl : program),
          upstreamByRoot: lines.some((item) => item.item === 'nginx upstream' && item.status === 'skipped') ? helperSetupCommand(config) : undefined,
          defaultEnvFile: path.join(configDir(io.env), '.env'),
          certbot: config.nginx.tls.mode === 'acme' ? certbotCommand(config.appName, config.nginx.serverName, config.nginx.tls, templateFile('nginx', 'switchyard-tls-hook')) : undefined,
        });
        reporter.info('left for you:');
        for (const step of steps) reporter.info(`  - ${step}`);
      }
    } catch (error) {
      throw afterPartialInit(error, lines);
    }
    const changed = lines.filter((item) => item.status !== 'unchanged' && item.status !== 'skipped').length;
    reporter.success(changed === 0 ? `init: everything was already in place (${envFile})` : `init: ${changed} item(s) written or run; configuration in ${envFile}`);
    return 0;
  },
});

/** A failure after some items were written says which, and that running init again is safe. */
function afterPartialInit(error: unknown, lines: Done[]): unknown {
  const done = lines.filter((item) => item.status !== 'unchanged' && item.status !== 'skipped');
  if (!(error instanceof SwitchyardError) || done.length === 0) return error;
  return new SwitchyardError(error.message, {
    untouched: `init had done: ${done.map((item) => `${item.item} ${item.status}`).join(', ')}; nothing after that`,
    next: `${error.next ?? 'fix the cause above'}, then run the same init again (what is done stays as it is)`,
    details: error.details,
    cause: error,
    exitCode: error.exitCode,
  });
}

/** Ask on a terminal for the required keys no flag or .env gave; without one, name the missing flags. */
async function askForMissing(answers: Partial<Record<ConfigKey, string>>): Promise<Partial<Record<ConfigKey, string>>> {
  const missing = missingKeys(answers);
  if (missing.length === 0) return answers;
  if (!process.stdin.isTTY) {
    throw new SwitchyardError(`init needs ${missing.map((key) => `${flagOf(key)} (${key})`).join(', ')}`, {
      untouched: 'nothing was changed',
      next: `give ${missing.length === 1 ? 'it' : 'them'} as flags, e.g. ./deploy.ts init --app myapp --repo git@github.com:me/myapp.git --root /srv/myapp, or run init in a terminal to be asked`,
      exitCode: 2,
    });
  }
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  // The iterator keeps lines typed (or pasted) ahead of their question; question() would drop them.
  const lines = prompt[Symbol.asyncIterator]();
  try {
    const result = { ...answers };
    for (const key of missing) {
      const question = (INIT_FLAGS.find((entry) => entry.key === key) as { ask?: string } | undefined)?.ask ?? key;
      let value = '';
      while (!value) {
        prompt.setPrompt(`${question}: `);
        prompt.prompt();
        const next = await lines.next();
        if (next.done) throw new SwitchyardError(`init needs ${flagOf(key)} (${key}) and the input ended`, { untouched: 'nothing was changed', next: `give it as a flag: ${flagOf(key)} ...`, exitCode: 2 });
        value = String(next.value).trim();
      }
      result[key] = value;
    }
    return result;
  } finally {
    prompt.close();
  }
}

function hostFacts(): HostFacts {
  const find = (name: string, fallback: string) => ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'].map((dir) => `${dir}/${name}`).find((file) => existsSync(file)) ?? fallback;
  return {
    // The login, not deployerName(): sudoers matches the account.
    user: currentUserName(),
    isRoot: process.getuid?.() === 0,
    systemd: existsSync('/run/systemd/system'),
    nginxBinary: find('nginx', '/usr/sbin/nginx'),
    systemctl: find('systemctl', '/usr/bin/systemctl'),
  };
}
