import { procStat } from './process.ts';

/**
 * For commands that run until stopped (`logs -f`): tell when whoever reads the output is gone. Over
 * SSH without a TTY no SIGHUP arrives, and with no new line to write no EPIPE either; but sshd's
 * session ends with the connection, so the process that started us is no longer our parent.
 */
export function watchCallerGone(onGone: (why: string) => void, options: { everyMs?: number } = {}): () => void {
  // Every ancestor, not only the parent: `ssh host 'cd x && ./deploy.ts logs -f'` runs under a shell that outlives sshd.
  const ancestors = ancestorsOf(process.pid);
  let done = false;
  const gone = (why: string) => {
    if (done) return;
    done = true;
    stop();
    onGone(why);
  };
  const onHangUp = () => gone('SIGHUP');
  const onStdoutError = (error: NodeJS.ErrnoException) => gone(`stdout ${error.code ?? error.message}`);
  process.on('SIGHUP', onHangUp);
  process.stdout.on('error', onStdoutError);
  const timer = setInterval(() => {
    const lost = ancestors.find((ancestor) => procStat(ancestor.pid)?.startTicks !== ancestor.start);
    if (lost) gone(`process ${lost.pid}, which started this one, exited`);
  }, options.everyMs ?? 500);
  timer.unref();
  function stop() {
    clearInterval(timer);
    process.off('SIGHUP', onHangUp);
    process.stdout.off('error', onStdoutError);
  }
  return stop;
}

/** The chain of parents up to (not including) pid 1, each with its start time (a reused pid is not the same process). */
function ancestorsOf(pid: number): { pid: number; start: number }[] {
  const chain: { pid: number; start: number }[] = [];
  let current = procStat(pid)?.ppid;
  while (current && current > 1 && chain.length < 64) {
    const stat = procStat(current);
    if (!stat) break;
    chain.push({ pid: current, start: stat.startTicks });
    current = stat.ppid;
  }
  return chain;
}
