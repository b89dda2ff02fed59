/** The argv of the file tools (cp, install, mv, ln), exact and pure; `--` always before the paths. */
export const fileArgv = {
  /**
   * A tree with its modes, times and links (-a), sharing blocks where the file system can
   * (--reflink=auto: a node_modules of 100,000 files costs little on btrfs or XFS).
   */
  copyTree: (source: string, target: string) => ['cp', '-a', '--reflink=auto', '--', source, target],
  /** One file, its mode and times kept (a backup beside the original). */
  copyKeep: (source: string, target: string) => ['cp', '-p', '--', source, target],
  /** One file written with `mode` (install(1)), owned by whoever runs it. */
  install: (mode: string, source: string, target: string) => ['install', '-m', mode, '--', source, target],
  /** A rename, replacing what `target` was. */
  move: (source: string, target: string) => ['mv', '-f', '--', source, target],
  /** `link` made a symlink to `target`, replacing one that was there (-n: a link to a folder is replaced, not entered). */
  symlink: (target: string, link: string) => ['ln', '-sfn', '--', target, link],
};
