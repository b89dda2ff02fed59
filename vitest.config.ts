import { defineConfig } from 'vitest/config';

// Nothing a test runs leaves 127.0.0.1, so no process of the suite needs a CA bundle. Where the host
// sets NODE_EXTRA_CA_CERTS (these CI machines do), every node process reads and parses it at start:
// 60 → 110 ms for `node -e 0`, and the suite starts over a thousand (every ./deploy.ts, supervisor,
// hook and HAProxy tool). The workers and everything they start inherit this environment.
delete process.env.NODE_EXTRA_CA_CERTS;

// Two projects, one folder each: `unit` (pure logic and in-process checks: seconds) and `e2e` (real
// nginx, sshd, HAProxy, namespaced hosts and deploys: minutes). `npm run test:unit` runs the first
// alone; the e2e project can be split over machines with `vitest run --project e2e --shard 1/3`.
export default defineConfig({
  test: {
    // Each file gets its own TMPDIR; a process still pointing into it after the file fails the file (test/support/process-leaks.ts).
    setupFiles: ['test/support/process-leaks.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The end-to-end files each run a real nginx and real apps on their own free ports and temp
    // folders, so they run side by side: much of a file's time is waiting (health checks, drains,
    // load windows), which several files at once overlap. The kill tests are split over
    // faults-*.test.ts for the same reason. Beyond 3 the suite is CPU-bound on 2 cores (~300 real
    // deploys): 4 at a time measured slower (5 min 36 s against 5 min 0-17 s for 345 tests).
    fileParallelism: true,
    maxWorkers: 3,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
    ],
  },
});
