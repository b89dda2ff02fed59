import { defineConfig } from 'vitest/config';

// Nothing a test runs leaves 127.0.0.1, so no process of the suite needs a CA bundle. Where the host
// sets NODE_EXTRA_CA_CERTS (these CI machines do), every node process reads and parses it at start:
// 60 → 110 ms for `node -e 0`, and the suite starts over a thousand (every ./deploy.ts, supervisor,
// hook and HAProxy tool). The workers and everything they start inherit this environment.
delete process.env.NODE_EXTRA_CA_CERTS;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The end-to-end files each run a real nginx and real apps on their own free ports and temp
    // folders, so they run side by side; most of their time is waiting (health checks, drains,
    // load windows), which is what several files at once on 2 cores overlap. The kill tests are
    // split over faults-*.test.ts for the same reason. (4 at a time measured no faster than 3: 6 min 25 s
    // either way for 344 tests, each file slower.)
    fileParallelism: true,
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
