/**
 * NGINX_HELPER's argv (templates/nginx/switchyard-nginx-helper), exact and pure: `helper` is its words
 * (`sudo -n /usr/local/sbin/switchyard-nginx-helper`), and the sudoers rule matches what follows. The
 * addresses are each slot's upstream addresses joined by commas; the helper renders the file itself.
 */

type Standby = { slot: string; addresses: string } | undefined;

/** `install` (write, test, reload) or `write` (write and test only: root's first set-up, the site's install reloads). */
type Writing = 'install' | 'write';

const perSlot = (verb: Writing) => (helper: readonly string[], appName: string, a: string, b: string) => [...helper, verb, appName, 'per-slot', a, b];

const live = (verb: Writing) =>
  (helper: readonly string[], appName: string, slot: string, addresses: string, standby: Standby, commit?: string) => [
    ...helper, verb, appName, 'live', slot, addresses,
    // '-' '-': no standby slot (the helper's fixed positions).
    ...(standby ? [standby.slot, standby.addresses] : ['-', '-']),
    ...(commit ? [commit] : []),
  ];

export const nginxHelperArgv = {
  /** The per-slot upstream (nginx-reload, and the live-file site's fallback): both slots' addresses. */
  installPerSlot: perSlot('install'),
  writePerSlot: perSlot('write'),
  /** The live-file upstream: the live slot, its standby (or none), and the commit it serves. */
  installLive: live('install'),
  writeLive: live('write'),
  /** Reload nginx with the upstream as it is. */
  reload: (helper: readonly string[], appName: string) => [...helper, 'reload', appName],
  /** Put back the upstream the last install replaced (and reload). */
  restore: (helper: readonly string[], appName: string) => [...helper, 'restore', appName],
};
