/** sudo's argv, exact and pure. `-n` everywhere: a deploy never waits at a password prompt. */
export const sudoArgv = {
  /** Whether sudo would run `argv` without a password (exit 0), running nothing. */
  list: (argv: readonly string[]) => ['sudo', '-n', '-l', ...argv],
  /** Whether this account has password-less sudo at all. */
  check: () => ['sudo', '-n', 'true'],
  /** The prefix of a command run with it. */
  prefix: () => ['sudo', '-n'],
};
