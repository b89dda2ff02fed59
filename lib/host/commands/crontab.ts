/** crontab's argv, exact and pure; `user` (crontab -u) only when root edits another account's table. */
export const crontabArgv = {
  list: (user?: string) => ['crontab', ...(user ? ['-u', user] : []), '-l'],
  install: (file: string, user?: string) => ['crontab', ...(user ? ['-u', user] : []), file],
};
