import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { certbotCommand, certificateNames } from '../../config/tls.ts';
import { templateFile } from '../../project-dir.ts';
import { parseListen } from '../../config/values.ts';
import { fail, pass, type CheckContext, type CheckResult } from './types.ts';

/** doctor's HTTPS checks (NGINX_TLS not off): what nginx really serves, and that certbot will renew it and hand it over. */

/** Renew by then at the latest: certbot renews 30 days ahead, so a certificate this close to its end was not renewed. */
const EXPIRY_MARGIN_DAYS = 14;

/** publicKey: the SHA-256 of the key's public half, to tell a renewal that kept the key from one that changed it. */
export type ServedCertificate = { names: string[]; validTo: Date; serial: string; publicKey: string };

/** The certificate nginx serves for `servername` on loopback at `port` (unverified: doctor judges it itself). */
export function servedCertificate(host: string, port: number, servername: string, timeoutMs = 5000): Promise<ServedCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      if (!cert || !cert.valid_to) return reject(new Error('no certificate was presented'));
      const names = (cert.subjectaltname ?? '').split(/,\s*/).filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4));
      resolve({ names, validTo: new Date(cert.valid_to), serial: cert.serialNumber, publicKey: createHash('sha256').update(cert.pubkey ?? '').digest('hex') });
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs / 1000}s`)));
    socket.on('error', reject);
  });
}

/** Whether `pattern` (a name or *.wildcard of a certificate) covers `name`. Pure. */
export function certificateCovers(pattern: string, name: string): boolean {
  if (pattern.startsWith('*.')) return name.split('.').slice(1).join('.') === pattern.slice(2);
  return pattern.toLowerCase() === name.toLowerCase();
}

/** The loopback address of a `listen` value: where doctor reaches the HTTPS server. Pure. */
export function loopbackOf(listen: string): string {
  const address = listen.trim().slice(0, -String(parseListen(listen)).length - 1);
  if (!address || address === '*' || address === '0.0.0.0') return '127.0.0.1';
  return address === '[::]' ? '::1' : address.replace(/^\[|\]$/g, '');
}

export async function checkCertificate(ctx: CheckContext, now = new Date()): Promise<CheckResult> {
  const { tls: settings, serverName } = ctx.config.nginx;
  const names = certificateNames(serverName);
  const where = `https://${names[0]}:${parseListen(settings.listen)} (through ${loopbackOf(settings.listen)})`;
  const issue = settings.mode === 'acme'
    ? `as root (docs/https.md): ${certbotCommand(ctx.config.appName, serverName, settings, templateFile('nginx', 'switchyard-tls-hook'))}`
    : `put your certificate chain in ${settings.cert} and its key in ${settings.key}, readable by nginx's workers (docs/https.md)`;
  let served: ServedCertificate;
  try {
    served = await servedCertificate(loopbackOf(settings.listen), parseListen(settings.listen) ?? 443, names[0]);
  } catch (error) {
    return fail(`${where}: no TLS handshake (${(error as Error).message}): nginx serves no certificate yet, or cannot read ${settings.cert}`, `${issue}; nginx's error log names a file it cannot read`);
  }
  const missing = names.filter((name) => !served.names.some((pattern) => certificateCovers(pattern, name)));
  if (missing.length > 0) return fail(`${where} serves a certificate for ${served.names.join(', ') || 'no DNS name'}, not for ${missing.join(', ')} (NGINX_SERVER_NAME)`, issue);
  const days = Math.floor((served.validTo.getTime() - now.getTime()) / 86_400_000);
  if (days < EXPIRY_MARGIN_DAYS) {
    return fail(`${where} serves a certificate that ${days < 0 ? 'expired' : 'expires'} on ${served.validTo.toISOString().slice(0, 10)} (${days} days)`, settings.mode === 'acme' ? 'certbot renew (as root) and its log /var/log/letsencrypt/letsencrypt.log say why it was not renewed' : `replace ${settings.cert}`);
  }
  return pass(`${where} serves a certificate for ${served.names.join(', ')}, valid until ${served.validTo.toISOString().slice(0, 10)} (${days} days), serial ${served.serial}`);
}

/** NGINX_TLS=acme: certbot's renewal of this app's certificate names the hook and its file, and something runs `certbot renew`. */
export function checkRenewal(ctx: CheckContext, roots: { systemd: string; cron: string } = { systemd: '/etc/systemd/system', cron: '/etc/cron.d' }): CheckResult {
  const { tls: settings } = ctx.config.nginx;
  const renewal = path.join(settings.certbotDir, 'renewal', `${ctx.config.appName}.conf`);
  if (!existsSync(renewal)) return fail(`${renewal} does not exist: certbot has no certificate named ${ctx.config.appName}`, 'issue it with --cert-name set to APP_NAME (docs/https.md); or set CERTBOT_DIR to certbot\'s --config-dir');
  const conf = readFileSync(renewal, 'utf8');
  const hook = /^\s*renew_hook\s*=\s*(.*)$/m.exec(conf)?.[1]?.trim();
  const fix = `run certbot certonly again with --cert-name ${ctx.config.appName} --deploy-hook '/usr/local/sbin/switchyard-tls-hook ${settings.cert}' (certbot saves the hook in that file)`;
  if (!hook || !/switchyard-tls-hook/.test(hook)) return fail(`${renewal} names ${hook ? `the deploy-hook \`${hook}\`` : 'no deploy-hook'}: a renewed certificate would not reach nginx`, fix);
  if (!hook.split(/\s+/).includes(settings.cert)) return fail(`${renewal}'s deploy-hook \`${hook}\` does not write NGINX_TLS_CERT (${settings.cert})`, fix);
  if (!/^\s*reuse_key\s*=\s*true\s*$/im.test(conf)) {
    return fail(`${renewal} lacks reuse_key = True: a renewal with a new key can fail the TLS handshakes at the instant of the swap (nginx reads the certificate, then the key)`, 'add reuse_key = True under [renewalparams] in that file, or issue again with certonly --reuse-key (docs/https.md)');
  }
  const timer = ['certbot.timer', 'snap.certbot.renew.timer'].find((name) => existsSync(path.join(roots.systemd, 'timers.target.wants', name)));
  const cron = existsSync(path.join(roots.cron, 'certbot')) ? path.join(roots.cron, 'certbot') : undefined;
  if (!timer && !cron) return fail('neither certbot.timer is enabled nor /etc/cron.d/certbot present: nothing runs certbot renew', 'systemctl enable --now certbot.timer (Debian\'s certbot package ships it), or a cron line: 0 */12 * * * root certbot -q renew');
  return pass(`${renewal} runs \`${hook}\` after each renewal; ${timer ? `${timer} is enabled` : `${cron} runs certbot renew`}`);
}
