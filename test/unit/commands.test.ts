import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fileArgv } from '../../lib/host/commands/file.ts';
import { crontabArgv } from '../../lib/host/commands/crontab.ts';
import { gitArgv } from '../../lib/host/commands/git.ts';
import { nginxHelperArgv } from '../../lib/host/commands/nginx-helper.ts';
import { shellQuote } from '../../lib/host/commands/quote.ts';
import { remoteCommand, sshArgv } from '../../lib/host/commands/ssh.ts';
import { sudoArgv } from '../../lib/host/commands/sudo.ts';
import { systemctlArgv } from '../../lib/host/commands/systemctl.ts';

// Word for word: sudoers rules and the operator's ps output see exactly these, and a user-given
// revision must never be read as an option.

describe('gitArgv', () => {
  const cache = '/srv/app/cache/repo.git';
  it('builds every git command exactly', () => {
    expect(gitArgv.initMirror(cache)).toEqual(['git', 'init', '--bare', '--quiet', '--', cache]);
    expect(gitArgv.fetch(cache, 'https://example.com/app.git')).toEqual([
      'git', '-C', cache, 'fetch', '--quiet', '--prune', '--force', '--no-write-fetch-head', '--no-auto-maintenance', '--',
      'https://example.com/app.git', '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*',
    ]);
    expect(gitArgv.maintenance(cache)).toEqual(['git', '-C', cache, 'maintenance', 'run', '--auto', '--quiet']);
    expect(gitArgv.resolve(cache, '--upload-pack=touch /tmp/x')).toEqual(['git', '-C', cache, 'rev-parse', '--verify', '--quiet', '--end-of-options', '--upload-pack=touch /tmp/x^{commit}']);
    expect(gitArgv.sameNamedRefs(cache, 'v1')).toEqual(['git', '-C', cache, 'for-each-ref', '--format=%(refname) %(objectname) %(*objectname)', '--', 'refs/heads/v1', 'refs/tags/v1']);
    expect(gitArgv.disambiguate(cache, 'abc1')).toEqual(['git', '-C', cache, 'rev-parse', '--disambiguate=abc1']);
    expect(gitArgv.objectType(cache, 'f00')).toEqual(['git', '-C', cache, 'cat-file', '-t', 'f00']);
    expect(gitArgv.addWorktree(cache, '/srv/app/releases/f00', 'f00')).toEqual(['git', '-C', cache, 'worktree', 'add', '--quiet', '--detach', '--force', '/srv/app/releases/f00', 'f00']);
    expect(gitArgv.pruneWorktrees(cache)).toEqual(['git', '-C', cache, 'worktree', 'prune']);
    expect(gitArgv.repairWorktrees(cache, ['/a', '/b'])).toEqual(['git', '-C', cache, 'worktree', 'repair', '/a', '/b']);
    expect(gitArgv.removeOrigin(cache)).toEqual(['git', '-C', cache, 'config', '--remove-section', 'remote.origin']);
    expect(gitArgv.originUrl('/old/.git')).toEqual(['git', 'config', '--file', '/old/.git/config', '--get', 'remote.origin.url']);
    expect(gitArgv.checkout('/slot', 'f00')).toEqual(['git', '-C', '/slot', 'checkout', '--quiet', '--detach', '--force', 'f00', '--']);
    expect(gitArgv.clean('/slot')).toEqual(['git', '-C', '/slot', 'clean', '-ffdxq']);
    expect(gitArgv.headOf('/slot')).toEqual(['git', '-C', '/slot', 'rev-parse', 'HEAD']);
    expect(gitArgv.lsRemote('-oProxyCommand=x', ['refs/heads/main'])).toEqual(['git', 'ls-remote', '--', '-oProxyCommand=x', 'refs/heads/main']);
    expect(gitArgv.describeRepository('/repo')).toEqual(['git', '-C', '/repo', 'rev-parse', '--is-bare-repository', '--absolute-git-dir', '--git-path', 'hooks']);
  });
});

describe('systemctlArgv', () => {
  it('uses sudo -n for changes and plain systemctl for reads; --user for a user unit; root itself for the boot unit', () => {
    expect(systemctlArgv.start('shop@a.service')).toEqual(['sudo', '-n', 'systemctl', 'start', 'shop@a.service']);
    expect(systemctlArgv.stop('shop@a.service')).toEqual(['sudo', '-n', 'systemctl', 'stop', 'shop@a.service']);
    expect(systemctlArgv.daemonReload()).toEqual(['sudo', '-n', 'systemctl', 'daemon-reload']);
    expect(systemctlArgv.isActive('shop@a.service')).toEqual(['systemctl', 'is-active', 'shop@a.service']);
    expect(systemctlArgv.mainPid('shop@a.service')).toEqual(['systemctl', 'show', '-p', 'MainPID', '--value', 'shop@a.service']);
    expect(systemctlArgv.start('shop@a.service', { scope: 'user' })).toEqual(['systemctl', '--user', 'start', 'shop@a.service']);
    expect(systemctlArgv.enableAsRoot('switchyard-shop.service')).toEqual(['systemctl', 'enable', 'switchyard-shop.service']);
    expect(systemctlArgv.disableAsRoot('switchyard-shop.service')).toEqual(['systemctl', 'disable', 'switchyard-shop.service']);
    expect(systemctlArgv.daemonReloadAsRoot()).toEqual(['systemctl', 'daemon-reload']);
  });
});

describe('fileArgv', () => {
  it('is exactly these words, -- before the paths', () => {
    expect(fileArgv.copyTree('/r/a/node_modules', '/r/b/node_modules')).toEqual(['cp', '-a', '--reflink=auto', '--', '/r/a/node_modules', '/r/b/node_modules']);
    expect(fileArgv.copyKeep('/etc/nginx/sites-available/app', '/etc/nginx/sites-available/app.previous')).toEqual(['cp', '-p', '--', '/etc/nginx/sites-available/app', '/etc/nginx/sites-available/app.previous']);
    expect(fileArgv.install('644', '/tmp/site', '/etc/nginx/sites-available/app.new')).toEqual(['install', '-m', '644', '--', '/tmp/site', '/etc/nginx/sites-available/app.new']);
    expect(fileArgv.move('/e/app.new', '/e/app')).toEqual(['mv', '-f', '--', '/e/app.new', '/e/app']);
    expect(fileArgv.symlink('/e/sites-available/app', '/e/sites-enabled/app')).toEqual(['ln', '-sfn', '--', '/e/sites-available/app', '/e/sites-enabled/app']);
  });
});

describe('sudoArgv and crontabArgv', () => {
  it('never lets sudo prompt, and names another user only when asked', () => {
    expect(sudoArgv.list(['/usr/sbin/nginx', '-t'])).toEqual(['sudo', '-n', '-l', '/usr/sbin/nginx', '-t']);
    expect(sudoArgv.check()).toEqual(['sudo', '-n', 'true']);
    expect(sudoArgv.prefix()).toEqual(['sudo', '-n']);
    expect(crontabArgv.list()).toEqual(['crontab', '-l']);
    expect(crontabArgv.list('deploy')).toEqual(['crontab', '-u', 'deploy', '-l']);
    expect(crontabArgv.install('/tmp/c/crontab', 'deploy')).toEqual(['crontab', '-u', 'deploy', '/tmp/c/crontab']);
  });
});

describe('shellQuote', () => {
  it('leaves safe words bare and quotes the rest so /bin/sh reads every word back verbatim', () => {
    expect(shellQuote('/srv/app/deploy.ts')).toBe('/srv/app/deploy.ts');
    expect(shellQuote("/srv/it's $(here)")).toBe(`'/srv/it'\\''s $(here)'`);
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('/srv/app/deploy.ts', { always: true })).toBe("'/srv/app/deploy.ts'");
    const words = ['plain', "it's", '$(id)', '`id`', 'a b', '"q"', '\\', '*', '-n', 'new\nline', ''];
    const printed = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${words.map((word) => shellQuote(word)).join(' ')}`], { encoding: 'utf8' });
    expect(printed.split('\0').slice(0, -1)).toEqual(words);
  });
});

describe('sshArgv', () => {
  const options = { controlDir: '/tmp/fleet-x', configFile: '/etc/fleet/ssh_config', connectTimeoutS: 5 };
  it('is exactly these words: BatchMode, ConnectTimeout, one ControlMaster per host, -F, the port, -- before the destination', () => {
    expect(sshArgv.run({ destination: 'root@h', port: 2222 }, 'switchyard/deploy.ts', ['deploy', 'a'.repeat(40), '--json'], options, { SWITCHYARD_FLEET_ID: 'f1' })).toEqual([
      'ssh', '-F', '/etc/fleet/ssh_config', '-T',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3',
      '-o', 'ControlMaster=auto', '-o', 'ControlPath=/tmp/fleet-x/%C', '-o', 'ControlPersist=60',
      '-p', '2222', '--', 'root@h', `env SWITCHYARD_FLEET_ID=f1 switchyard/deploy.ts deploy ${'a'.repeat(40)} --json`,
    ]);
    expect(sshArgv.run({ destination: 'web1' }, 'switchyard/deploy.ts', ['status'], { controlDir: '/c' })).toEqual([
      'ssh', '-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3',
      '-o', 'ControlMaster=auto', '-o', 'ControlPath=/c/%C', '-o', 'ControlPersist=60', '--', 'web1', 'switchyard/deploy.ts status',
    ]);
    // A session's ssh is its connection's master, in the foreground: the connection ends with it.
    expect(sshArgv.run({ destination: 'web1' }, 'switchyard/deploy.ts', ['fleet', 'session', '--json'], { controlDir: '/c', persistS: 'no' })).toEqual([
      'ssh', '-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3',
      '-o', 'ControlMaster=auto', '-o', 'ControlPath=/c/%C', '-o', 'ControlPersist=no', '--', 'web1', 'switchyard/deploy.ts fleet session --json',
    ]);
    expect(sshArgv.exit({ destination: 'web1' }, { controlDir: '/c' })).toEqual(['ssh', '-o', 'ControlPath=/c/%C', '-O', 'exit', '--', 'web1']);
  });
  it('quotes every word for the remote shell; FLEET_REMOTE is passed as written', () => {
    expect(remoteCommand('sudo -u app switchyard/deploy.ts', ['deploy', "it's; rm -rf /", '$(x)'])).toBe(`sudo -u app switchyard/deploy.ts deploy 'it'\\''s; rm -rf /' '$(x)'`);
  });
});

describe('nginxHelperArgv', () => {
  const helper = ['sudo', '-n', '/usr/local/sbin/switchyard-nginx-helper'];
  it('builds every helper command exactly, as the sudoers rule sees it', () => {
    expect(nginxHelperArgv.installPerSlot(helper, 'shop', '127.0.0.1:3001', '127.0.0.1:3002,127.0.0.1:3003')).toEqual([
      ...helper, 'install', 'shop', 'per-slot', '127.0.0.1:3001', '127.0.0.1:3002,127.0.0.1:3003',
    ]);
    expect(nginxHelperArgv.writePerSlot(['/usr/local/sbin/switchyard-nginx-helper'], 'shop', 'a', 'b')).toEqual([
      '/usr/local/sbin/switchyard-nginx-helper', 'write', 'shop', 'per-slot', 'a', 'b',
    ]);
    expect(nginxHelperArgv.installLive(helper, 'shop', 'b', '127.0.0.1:3002', { slot: 'a', addresses: '127.0.0.1:3001' }, 'f00d')).toEqual([
      ...helper, 'install', 'shop', 'live', 'b', '127.0.0.1:3002', 'a', '127.0.0.1:3001', 'f00d',
    ]);
    expect(nginxHelperArgv.installLive(helper, 'shop', 'a', 'unix:/srv/shop/sockets/a1.sock', undefined)).toEqual([
      ...helper, 'install', 'shop', 'live', 'a', 'unix:/srv/shop/sockets/a1.sock', '-', '-',
    ]);
    expect(nginxHelperArgv.writeLive([], 'shop', 'a', 'x', undefined, 'c0ffee')).toEqual(['write', 'shop', 'live', 'a', 'x', '-', '-', 'c0ffee']);
    expect(nginxHelperArgv.reload(helper, 'shop')).toEqual([...helper, 'reload', 'shop']);
    expect(nginxHelperArgv.restore(helper, 'shop')).toEqual([...helper, 'restore', 'shop']);
  });
});
