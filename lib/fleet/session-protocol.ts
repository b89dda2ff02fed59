import { LEASE_ID } from '../record/fleet-lease.ts';
import type { GroupExpectation } from './group.ts';

/**
 * What a rollout's controller and a host's `fleet session` say to each other: one JSON request a line
 * on the session's stdin, answered one at a time on its stdout. A request's answer ends with exactly one
 * line carrying `session`: `done` (with the exit code, and the answer of a probe or release), or `error`;
 * a deploy's or rollback's `--json` events come before it, as they would from the command alone. Pure.
 */

/**
 * The number of this protocol, in every probe's answer: two builds of one version may still speak it
 * differently (a host installed from a branch), and the preflight refuses a host that does not speak the
 * controller's. 1: before it was numbered (no `turn`); 2: `turn`.
 */
export const SESSION_PROTOCOL = 2;

/** The lease a probe takes: the same words `fleet probe --take` gets. */
export type TakeRequest = { id: string; command: string; holder: string; ttlS: number; controllerHost: string; controllerPid: number };

export type SessionRequest =
  /** Today's `fleet probe`: version, state, lock, the lease taken (or replaced), a revision resolved. */
  | { op: 'probe'; take?: TakeRequest; replace?: string; resolve?: string }
  /** A host command run in the session's own process: `deploy` or `rollback` with its words, and the env the command gets. */
  | { op: 'run'; argv: string[]; env: Record<string, string> }
  /** A fetch of REPO, then the revision (empty or none: DEPLOY_BRANCH) as a full SHA; blue-green asks the idle group's first host. */
  | { op: 'resolve'; revision?: string }
  /** `fleet group`: this host records its blue-green group `group` as live (after the switch, before the release). */
  | { op: 'group'; group: 'A' | 'B'; id: string; commit: string | null }
  /**
   * Blue-green rollback's confirmation once the front has moved: the lease `take` taken; if this host shows
   * what the controller's record expects, `group` recorded as live and the lease given back (fleet history:
   * success); otherwise nothing written and the lease kept, for the controller to give back.
   */
  | { op: 'turn'; take: TakeRequest; group: 'A' | 'B'; commit: string | null; expect: GroupExpectation }
  /** A session opened again (the first one died): renew the rollout's lease and keep renewing it. */
  | { op: 'keep'; id: string; ttlS: number }
  /** `fleet lease release`: the lease given back, the record kept in fleet history; then the session ends. */
  | { op: 'release'; id: string; record?: { outcome: string; command: string; holder: string; commit: string | null; reason?: string } };

export type SessionEnd = { session: 'done'; exitCode: number; answer?: unknown } | { session: 'error'; error: string };

/** The commands a session runs for the controller: those a rollout changes a host with. */
export const SESSION_COMMANDS = ['deploy', 'rollback'] as const;

const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;

type Fields = Record<string, unknown>;
const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown, max = 1000): value is string => typeof value === 'string' && value.length <= max;
const isId = (value: unknown): value is string => typeof value === 'string' && LEASE_ID.test(value);
const isSeconds = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 99_999;

/** One line of the session's stdin as a request, or why it is not one (the session answers that as an error). */
export function parseRequest(line: string): SessionRequest | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: `not a JSON request: ${JSON.stringify(line.slice(0, 80))}` };
  }
  if (!isObject(value)) return { error: 'a request is a JSON object with "op"' };
  switch (value.op) {
    case 'probe':
      return probeRequest(value);
    case 'run':
      return runRequest(value);
    case 'resolve':
      return value.revision === undefined ? { op: 'resolve' } : isText(value.revision) ? { op: 'resolve', revision: value.revision } : { error: 'resolve: "revision" must be a revision' };
    case 'group':
      return groupRequest(value);
    case 'turn':
      return turnRequest(value);
    case 'keep':
      return isId(value.id) && isSeconds(value.ttlS) ? { op: 'keep', id: value.id, ttlS: value.ttlS } : { error: 'keep needs "id" (a fleet id) and "ttlS" (seconds)' };
    case 'release':
      return releaseRequest(value);
    default:
      return { error: `unknown op ${JSON.stringify(value.op)} (probe, run, resolve, group, turn, keep or release)` };
  }
}

/** A lease asked for, or undefined when `take` is not one. */
function takeOf(take: unknown): TakeRequest | undefined {
  if (!isObject(take) || !isId(take.id) || !isText(take.command, 40) || !isText(take.holder, 200) || !isSeconds(take.ttlS)
    || !isText(take.controllerHost, 255) || !Number.isInteger(take.controllerPid)) return undefined;
  const { id, command, holder, ttlS, controllerHost } = take;
  return { id, command, holder, ttlS, controllerHost, controllerPid: take.controllerPid as number };
}

const TAKE_FIELDS = '"take" needs id, command, holder, ttlS, controllerHost and controllerPid';
const isGroup = (value: unknown): value is 'A' | 'B' => value === 'A' || value === 'B';
const isCommit = (value: unknown): value is string | null => value === null || isText(value, 64);

function probeRequest(value: Fields): SessionRequest | { error: string } {
  const { take, replace, resolve } = value;
  if (replace !== undefined && !isId(replace)) return { error: 'probe: "replace" must be a fleet id' };
  if (resolve !== undefined && !isText(resolve)) return { error: 'probe: "resolve" must be a revision' };
  if (take === undefined) return { op: 'probe', ...(resolve !== undefined ? { resolve } : {}) };
  const lease = takeOf(take);
  if (!lease) return { error: `probe: ${TAKE_FIELDS}` };
  return { op: 'probe', take: lease, ...(replace !== undefined ? { replace } : {}), ...(resolve !== undefined ? { resolve } : {}) };
}

function turnRequest(value: Fields): SessionRequest | { error: string } {
  const { group, commit, expect } = value;
  const take = takeOf(value.take);
  if (!take) return { error: `turn: ${TAKE_FIELDS}` };
  if (!isGroup(group) || !isCommit(commit) || !isObject(expect) || !isGroup(expect.group) || !isId(expect.fleetId)
    || !(expect.commit === undefined || isText(expect.commit, 64))) {
    return { error: 'turn needs "group" (A or B), "commit" (a SHA or null) and "expect" (group, fleetId, and the warm commit or none)' };
  }
  const warm = expect.commit !== undefined ? { commit: expect.commit as string } : {};
  return { op: 'turn', take, group, commit, expect: { group: expect.group, fleetId: expect.fleetId, ...warm } };
}

function runRequest(value: Fields): SessionRequest | { error: string } {
  const { argv, env = {} } = value;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((word) => isText(word))) return { error: 'run needs "argv": the command and its words' };
  if (!(SESSION_COMMANDS as readonly string[]).includes(argv[0])) return { error: `run: ${JSON.stringify(argv[0])} is not a command a session runs (${SESSION_COMMANDS.join(' or ')})` };
  if (!isObject(env) || !Object.entries(env).every(([key, text]) => ENV_NAME.test(key) && isText(text))) return { error: 'run: "env" must map variable names to strings' };
  return { op: 'run', argv: argv as string[], env: env as Record<string, string> };
}

function groupRequest(value: Fields): SessionRequest | { error: string } {
  const { group, id, commit } = value;
  if (!isGroup(group) || !isId(id) || !isCommit(commit)) {
    return { error: 'group needs "group" (A or B), "id" (a fleet id) and "commit" (a SHA or null)' };
  }
  return { op: 'group', group, id, commit };
}

function releaseRequest(value: Fields): SessionRequest | { error: string } {
  const { id, record } = value;
  if (!isId(id)) return { error: 'release needs "id", a fleet id' };
  if (record === undefined) return { op: 'release', id };
  if (!isObject(record) || !isText(record.outcome, 40) || !isText(record.command, 40) || !isText(record.holder, 200)
    || !(record.commit === null || isText(record.commit, 64)) || !(record.reason === undefined || isText(record.reason))) {
    return { error: 'release: "record" needs outcome, command, holder and commit (or null)' };
  }
  return {
    op: 'release',
    id,
    record: {
      outcome: record.outcome,
      command: record.command,
      holder: record.holder,
      commit: record.commit as string | null,
      ...(record.reason !== undefined ? { reason: record.reason as string } : {}),
    },
  };
}

/** A line of the session's stdout that ends the answer to a request, or undefined for a line of it (a host event, a warning). */
export function parseEnd(line: string): SessionEnd | undefined {
  if (!line.startsWith('{"session":')) return undefined;
  try {
    const value = JSON.parse(line) as Fields;
    if (value.session === 'done' && Number.isInteger(value.exitCode)) {
      return { session: 'done', exitCode: value.exitCode as number, ...('answer' in value ? { answer: value.answer } : {}) };
    }
    if (value.session === 'error' && typeof value.error === 'string') return { session: 'error', error: value.error };
  } catch {
    // Not ours after all: a line like any other.
  }
  return undefined;
}

/** The line ending an answer. */
export const endLine = (end: SessionEnd): string => JSON.stringify(end);
