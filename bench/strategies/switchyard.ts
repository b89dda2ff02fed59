import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import type { Mark, Strategy, SwitchWindow } from '../types.ts';
import { parseEvents as readEvents, type Stamped } from '../../lib/cli/events.ts';

type StepEvent = Stamped & { step?: string; ms?: number; ok?: boolean; message?: string; detail?: string };

/** Step events of `./deploy.ts deploy|rollback --json`, one JSON object a line. */
export function parseEvents(stdout: string): StepEvent[] {
  return readEvents(stdout) as StepEvent[];
}

/**
 * Phase durations from the step events (fetch includes resolving the revision), and the toolkit's
 * own overhead: everything in the wall time that is not the app's install, build, boot or drain.
 * `startup` is from the bench spawning ./deploy.ts to its first step (lock) beginning.
 */
export function phasesOf(events: StepEvent[], start: number, end: number): Record<string, number> {
  const step: Record<string, number> = {};
  for (const event of events) if (event.event === 'step' && event.step && typeof event.ms === 'number') step[event.step] = (step[event.step] ?? 0) + event.ms;
  const get = (name: string) => step[name] ?? 0;
  const first = events.find((event) => event.event === 'step' && event.at && typeof event.ms === 'number');
  const wallMs = end - start;
  const phases = {
    startup: first ? Date.parse(first.at!) - first.ms! - start : 0,
    'fetch/checkout': get('fetch') + get('checkout'),
    install: get('install'),
    build: get('build'),
    boot: get('start') + get('health'),
    switch: get('switch'),
    drain: get('drain'),
  };
  return { ...phases, overhead: wallMs - phases.install - phases.build - phases.boot - phases.drain };
}

/** Where each step ended (and where the switch began), for the chart. */
function marksOf(events: StepEvent[]): Mark[] {
  const marks: Mark[] = [];
  for (const event of events) {
    if (event.event !== 'step' || !event.step || !event.at) continue;
    const end = Date.parse(event.at);
    if (event.step === 'switch' && typeof event.ms === 'number') marks.push({ name: 'switch-start', at: end - event.ms });
    marks.push({ name: event.step, at: end });
  }
  return marks;
}

/**
 * Switchyard itself on the harness host: deploy v1 (not measured), then deploy, deploy, rollback,
 * deploy, rollback ... each deploy of a new commit. With `bake` (switchyard-bake): the bake window
 * on (BAKE_TIME=5m), and deploy, rollback, deploy, rollback ..., so each rollback comes right after
 * a deploy, inside its window, while the previous slot is still warm.
 */
const DESCRIPTIONS = {
  'nginx-live-file': ['switchyard', 'Switchyard, the default SWITCH=nginx-live-file: per-slot upstream groups, the site picks one per request from a live-file; no reload; drained at the proxy before SIGTERM'],
  'nginx-reload': ['switchyard-reload', 'Switchyard, SWITCH=nginx-reload: rewrite the upstream, reload nginx, wait until the old workers stop taking requests, drain at the proxy'],
  passive: ['switchyard-passive', 'Switchyard, SWITCH=passive: both slots listed (max_fails=0), traffic moves when the old slot stops listening'],
} as const;

const BAKE = [
  'switchyard-bake',
  'Switchyard, the default SWITCH=nginx-live-file with the bake window on (BAKE_TIME=5m): deploy, rollback, deploy, rollback ...; after a deploy the previous slot stays warm, so a rollback right after it only switches (no process started)',
] as const;

/** Wall time of one `node -e 0`, spawned without blocking the event loop (the load runs in this process). */
function nodeStart(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(Number(process.hrtime.bigint() - started) / 1e6));
  });
}

/** The bake-watch processes a run's commands started (their pids are in the step details). */
function watcherPids(stdout: string): number[] {
  return [...stdout.matchAll(/watcher pid (\d+)/g)].map((match) => Number(match[1]));
}

function isBakeWatcher(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bake-watch') && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

const NO_HANDLER_APP = fileURLToPath(new URL('../../test/fixtures/apps/no-handler.js', import.meta.url));
/** The no-handler app's load: a fifth of the requests are POSTs the app answers only after 0.3-1.5 s. */
export const SLOW_POST_MIX = { fast: 0.5, post: 0.2, slow: 0.1, slowpost: 0.2 };

/**
 * `app: 'no-handler'` deploys an app as frameworks generate it (no SIGTERM handler: it dies at once
 * with whatever it has in flight) under a load with slow POSTs, which nginx never retries.
 */
export function switchyardStrategy(switchKind: 'nginx-reload' | 'nginx-live-file' | 'passive', options: { app?: 'example' | 'no-handler'; bake?: boolean } = {}): Strategy {
  const noHandler = options.app === 'no-handler';
  const bake = options.bake === true;
  const watchers = new Set<number>();
  const useApp = (dir: string) => {
    if (noHandler) copyFileSync(NO_HANDLER_APP, path.join(dir, 'server.js'));
  };
  let host: TestHost | undefined;
  let versions = 1;
  let live = 'v1';
  let idle: string | undefined;
  return {
    name: bake ? BAKE[0] : noHandler ? `${DESCRIPTIONS[switchKind][0]}-no-handler` : DESCRIPTIONS[switchKind][0],
    description: bake
      ? BAKE[1]
      : noHandler
        ? `${DESCRIPTIONS[switchKind][1]}; an app with NO SIGTERM handler (a default Express/Fastify server) under a load with 20 % slow POSTs`
        : DESCRIPTIONS[switchKind][1],
    mix: noHandler ? SLOW_POST_MIX : undefined,
    async setUp() {
      host = await createTestHost({ switchKind, ...(bake ? { env: { BAKE_TIME: '5m' } } : {}) });
      if (noHandler) host.example.commit('v1', useApp);
      const first = await host.run(['deploy', '--json']);
      for (const pid of watcherPids(first.stdout)) watchers.add(pid);
      if (first.exitCode !== 0) throw new Error(`deploy of v1 failed (exit ${first.exitCode}): ${first.output.slice(-2000)}`);
      return { port: host.nginx.port };
    },
    async cycle(index) {
      const command = bake ? (index % 2 === 1 ? 'deploy' : 'rollback') : index === 1 || index % 2 === 0 ? 'deploy' : 'rollback';
      const fromVersion = live;
      let toVersion: string;
      if (command === 'deploy') {
        toVersion = `v${++versions}`;
        host!.example.commit(toVersion, useApp);
      } else {
        toVersion = idle ?? '?';
      }
      const start = Date.now();
      const result = await host!.run([command, '--json']);
      const end = Date.now();
      const events = parseEvents(result.stdout);
      for (const pid of watcherPids(result.stdout)) watchers.add(pid);
      const ok = result.exitCode === 0 && events.some((event) => event.event === 'success');
      if (ok) {
        idle = fromVersion;
        live = toVersion;
      }
      const window: SwitchWindow = {
        cycle: index,
        command,
        start,
        end,
        ok,
        fromVersion,
        toVersion,
        phases: phasesOf(events, start, end),
        marks: marksOf(events),
      };
      if (!ok) window.error = `exit ${result.exitCode}: ${result.output.slice(-1500)}`;
      if (bake && command === 'rollback') {
        window.switchOnly = ok && !events.some((event) => event.event === 'step' && event.step === 'start');
        // node's own start, right after and under the same load: what the rollback is held against.
        const starts: number[] = [];
        for (let i = 0; i < 5; i++) starts.push(await nodeStart());
        window.nodeStartMs = starts.sort((a, b) => a - b)[2];
      }
      return window;
    },
    async tearDown() {
      await host?.cleanUp();
      // The bake watchers see their window gone with DEPLOY_ROOT and exit; stop any that did not, by pid.
      const deadline = Date.now() + 10_000;
      while ([...watchers].some(isBakeWatcher) && Date.now() < deadline) await sleep(200);
      for (const pid of watchers) if (isBakeWatcher(pid)) process.kill(pid, 'SIGTERM');
    },
  };
}
