import { otherSlot, SLOTS, type SlotName } from '../config/config.ts';
import type { State } from './state-shape.ts';

/** What is really on the host, gathered by the caller. */
export type HostFacts = {
  slots: Record<SlotName, { runningPid: number | undefined; healthy: boolean }>;
  /** The slot the traffic switch sends traffic to (null: to neither slot's address, as after a change of PORT_A/PORT_B); undefined when it cannot tell. */
  switchSlot: SlotName | null | undefined;
  /** Whether the process named in the state's journal still runs (a command in progress, not a crash). */
  journalHolderAlive?: boolean;
  /** Whether the bake window's watcher still runs: then its warm slot is meant to run. */
  bakeWatcherAlive?: boolean;
  /** Whether the canary's watcher still runs: then the canary slot is meant to run and keep its share. */
  canaryWatcherAlive?: boolean;
  /** The canary the files in NGINX_LIVE_DIR send users to, if any. */
  canaryFiles?: { slot: SlotName; share: number };
};

export type Assessment = {
  live: SlotName | null;
  /** Disagreements between the state file and the host, in words for the operator. */
  findings: string[];
  /** Slots whose processes should be stopped (left over from an interrupted command). */
  stop: SlotName[];
  /** Whether the switch must be applied again so nginx surely points at `live`. */
  reswitch: boolean;
  /** Whether the canary's files must go (its watcher is gone, or no canary is recorded): first of all. */
  endCanary: boolean;
};

export type AssessOptions = {
  /**
   * The recorded live slot stays live while its process runs and the switch points at it (or cannot
   * tell), healthy or not: a rollback's purpose is to move off it, and its target (the warm slot, the
   * previous good release) is the record's, not what one failed probe would make of it.
   */
  keepRecordedLive?: boolean;
};

/**
 * Decide which slot is live when the state and the host disagree. Pure.
 * Order of trust: a healthy slot nginx points at, then the recorded live slot if healthy, then any healthy slot.
 */
export function assessHost(state: State, facts: HostFacts, options: AssessOptions = {}): Assessment {
  const findings: string[] = [];
  const slots = SLOTS;
  const portSlot = facts.switchSlot ?? undefined;
  const warm = state.bake && facts.bakeWatcherAlive ? state.bake.previous : undefined;
  if (state.canary && !facts.canaryWatcherAlive) {
    findings.push(`the canary of slot ${state.canary.slot} (${state.canary.share}% of users) lost its watcher (pid ${state.canary.watcherPid ?? 'none'}): it ends now, everyone goes to slot ${state.canary.live} and slot ${state.canary.slot} is stopped`);
  } else if (facts.canaryFiles && !state.canary) {
    findings.push(`canary files send ${facts.canaryFiles.share}% of users to slot ${facts.canaryFiles.slot} but no canary is recorded: they are removed`);
  }
  if (state.bake && !facts.bakeWatcherAlive) {
    findings.push(`the bake window of slot ${state.bake.previous} (until ${state.bake.endsAt}) lost its watcher (pid ${state.bake.watcherPid ?? 'none'}): the window ends now and slot ${state.bake.previous} is stopped`);
  }
  if (state.journal && !facts.journalHolderAlive) {
    findings.push(`a ${state.journal.command} (pid ${state.journal.pid}) stopped during its "${state.journal.phase}" phase, started ${state.journal.startedAt}`);
  }
  for (const slot of slots) {
    const recorded = state.slots[slot].pid;
    const running = facts.slots[slot].runningPid;
    if (recorded && !running) findings.push(`slot ${slot}: recorded pid ${recorded} is not running`);
    if (running && running !== recorded) findings.push(`slot ${slot}: pid ${running} is running but the state does not record it`);
    if (running && !facts.slots[slot].healthy) findings.push(`slot ${slot}: pid ${running} is running but not healthy`);
  }
  if (facts.switchSlot !== undefined && state.live && portSlot !== state.live) {
    findings.push(`nginx sends traffic to ${portSlot ? `slot ${portSlot}` : "neither slot's address"} but the state says slot ${state.live} is live`);
  }

  const healthy = (slot: SlotName | undefined | null): slot is SlotName => Boolean(slot && facts.slots[slot].healthy);
  let live: SlotName | null;
  const kept =
    options.keepRecordedLive &&
    state.live &&
    facts.slots[state.live].runningPid !== undefined &&
    (facts.switchSlot === undefined || portSlot === state.live)
      ? state.live
      : undefined;
  if (kept) live = kept;
  else if (healthy(portSlot)) live = portSlot;
  else if (healthy(state.live)) live = state.live;
  else live = slots.find((slot) => healthy(slot)) ?? state.live;
  if (kept && !healthy(kept)) findings.push(`slot ${kept} stays recorded as live for this rollback, which moves traffic off it`);
  else if (live && !healthy(live)) findings.push(`no slot is healthy: the site is down`);
  if (live !== state.live) findings.push(`slot ${live ?? 'none'} is what really serves; the state will record it as live`);

  // A canary goes on only while its watcher runs and its live slot is still the live one.
  const canary = state.canary && facts.canaryWatcherAlive && live === state.canary.live ? state.canary.slot : undefined;
  const endCanary = Boolean((state.canary && !canary) || (facts.canaryFiles && !canary));
  const stop = slots.filter((slot) => slot !== live && slot !== warm && slot !== canary && facts.slots[slot].runningPid !== undefined);
  const reswitch =
    live !== null &&
    healthy(live) &&
    ((Boolean(state.journal) && !facts.journalHolderAlive) || (facts.switchSlot !== undefined && portSlot !== live));
  return { live, findings, stop, reswitch, endCanary };
}

/** The state after reconciliation (pids refreshed, journal cleared). Pure. */
export function reconciledState(state: State, facts: HostFacts, assessment: Assessment): State {
  const next: State = structuredClone(state);
  next.live = assessment.live;
  next.next_deploy = assessment.live ? otherSlot(assessment.live) : state.next_deploy;
  for (const slot of SLOTS) {
    const running = facts.slots[slot].runningPid;
    const keepsRunning = running !== undefined && !assessment.stop.includes(slot);
    next.slots[slot].pid = keepsRunning ? running : null;
    if (!keepsRunning) next.slots[slot].startedAt = null;
  }
  next.journal = null;
  if (next.bake && (!facts.bakeWatcherAlive || assessment.live !== next.bake.live)) next.bake = null;
  if (assessment.endCanary) next.canary = null;
  return next;
}
