/** systemctl's argv, exact and pure: the deploy user's sudoers rules match these strings, so they never vary. */

export type SystemdScope = 'system' | 'user';
export type SystemctlOptions = { scope?: SystemdScope };

function systemctl(options: SystemctlOptions | undefined, privileged: boolean): string[] {
  if (options?.scope === 'user') return ['systemctl', '--user'];
  // Reading state needs no root; skipping sudo keeps the sudoers rule to start/stop and keeps
  // status polls out of the auth log.
  return privileged ? ['sudo', '-n', 'systemctl'] : ['systemctl'];
}

export const systemctlArgv = {
  start: (unit: string, options?: SystemctlOptions) => [...systemctl(options, true), 'start', unit],
  stop: (unit: string, options?: SystemctlOptions) => [...systemctl(options, true), 'stop', unit],
  daemonReload: (options?: SystemctlOptions) => [...systemctl(options, true), 'daemon-reload'],
  /** Exit 0 only when active; prints the state (active, activating, inactive, failed). */
  isActive: (unit: string, options?: SystemctlOptions) => [...systemctl(options, false), 'is-active', unit],
  mainPid: (unit: string, options?: SystemctlOptions) => [...systemctl(options, false), 'show', '-p', 'MainPID', '--value', unit],
  /** The boot unit, installed once by root itself (install-boot): no sudo. */
  enableAsRoot: (unit: string) => ['systemctl', 'enable', unit],
  disableAsRoot: (unit: string) => ['systemctl', 'disable', unit],
  daemonReloadAsRoot: () => ['systemctl', 'daemon-reload'],
};
