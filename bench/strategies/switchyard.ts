import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import type { Mark, Strategy, SwitchWindow } from '../types.ts';

type StepEvent = { event: string; step?: string; ms?: number; at?: string; ok?: boolean; message?: string };

/** Step events of `./deploy.ts deploy|rollback --json`, one JSON object a line. */
export function parseEvents(stdout: string): StepEvent[] {
  const events: StepEvent[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      events.push(JSON.parse(line));
    } catch {
      // not an event line
    }
  }
  return events;
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
 * deploy, rollback ... each deploy of a new commit.
 */
const DESCRIPTIONS = {
  'nginx-live-file': ['switchyard', 'Switchyard, the default SWITCH=nginx-live-file: per-slot upstream groups, the site picks one per request from a live-file; no reload; drained at the proxy before SIGTERM'],
  'nginx-reload': ['switchyard-reload', 'Switchyard, SWITCH=nginx-reload: rewrite the upstream, reload nginx, wait until the old workers stop taking requests, drain at the proxy'],
  passive: ['switchyard-passive', 'Switchyard, SWITCH=passive: both slots listed (max_fails=0), traffic moves when the old slot stops listening'],
} as const;

const NO_HANDLER_APP = fileURLToPath(new URL('../../test/fixtures/apps/no-handler.js', import.meta.url));
/** The no-handler app's load: a fifth of the requests are POSTs the app answers only after 0.3-1.5 s. */
export const SLOW_POST_MIX = { fast: 0.5, post: 0.2, slow: 0.1, slowpost: 0.2 };

/**
 * `app: 'no-handler'` deploys an app as frameworks generate it (no SIGTERM handler: it dies at once
 * with whatever it has in flight) under a load with slow POSTs, which nginx never retries.
 */
export function switchyardStrategy(switchKind: 'nginx-reload' | 'nginx-live-file' | 'passive', options: { app?: 'example' | 'no-handler' } = {}): Strategy {
  const noHandler = options.app === 'no-handler';
  const useApp = (dir: string) => {
    if (noHandler) copyFileSync(NO_HANDLER_APP, path.join(dir, 'server.js'));
  };
  let host: TestHost | undefined;
  let versions = 1;
  let live = 'v1';
  let idle: string | undefined;
  return {
    name: noHandler ? `${DESCRIPTIONS[switchKind][0]}-no-handler` : DESCRIPTIONS[switchKind][0],
    description: noHandler
      ? `${DESCRIPTIONS[switchKind][1]}; an app with NO SIGTERM handler (a default Express/Fastify server) under a load with 20 % slow POSTs`
      : DESCRIPTIONS[switchKind][1],
    mix: noHandler ? SLOW_POST_MIX : undefined,
    async setUp() {
      host = await createTestHost({ switchKind });
      if (noHandler) host.example.commit('v1', useApp);
      const first = await host.run(['deploy', '--json']);
      if (first.exitCode !== 0) throw new Error(`deploy of v1 failed (exit ${first.exitCode}): ${first.output.slice(-2000)}`);
      return { port: host.nginx.port };
    },
    async cycle(index) {
      const command = index === 1 || index % 2 === 0 ? 'deploy' : 'rollback';
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
      const ok = result.exitCode === 0 && events.some((event) => event.event === 'success');
      if (ok) {
        idle = fromVersion;
        live = toVersion;
      }
      const window: SwitchWindow = { cycle: index, command, start, end, ok, fromVersion, toVersion, phases: phasesOf(events, start, end), marks: marksOf(events) };
      if (!ok) window.error = `exit ${result.exitCode}: ${result.output.slice(-1500)}`;
      return window;
    },
    async tearDown() {
      await host?.cleanUp();
    },
  };
}
