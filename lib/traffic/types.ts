import type { Config, SlotName, SwitchKind } from '../config/config.ts';
import { slotEndpoints, type Endpoint } from '../slot/endpoints.ts';

/** A slot as a switch sees it: where its instances listen, and what it runs. */
export type SlotTarget = { slot: SlotName; endpoints: Endpoint[]; commit: string | null };

export function trafficTarget(config: Config, slot: SlotName, commit: string | null): SlotTarget {
  return { slot, endpoints: slotEndpoints(config, slot), commit };
}

export type SwitchReport = (message: string) => void;

/** One traffic-switch strategy. `moveTo` returns only once traffic really reaches `live`. */
export interface TrafficSwitch {
  readonly kind: SwitchKind;
  moveTo(live: SlotTarget, previous: SlotTarget | null, report: SwitchReport): Promise<string>;
  /** The slot the switch currently sends traffic to; null when it sends it to neither slot's address; undefined when it cannot tell. */
  currentSlot(): SlotName | null | undefined;
}

/**
 * Whether new requests stop reaching the old slot at the switch itself (the nginx modes, and a
 * SWITCH_CMD that took the old slot out), so the old slot can be drained at the proxy before it gets
 * SIGTERM (and kept warm in a bake window). Passive mode moves traffic only as the old slot stops
 * listening, so there the signal must come first. Pure.
 */
export function drainsAtProxy(kind: SwitchKind): boolean {
  return kind === 'nginx-live-file' || kind === 'nginx-reload' || kind === 'command';
}

/** What connects to the slots, in messages: nginx, or the operator's load balancer. Pure. */
export function proxyName(kind: SwitchKind): string {
  return kind === 'command' ? 'the load balancer' : 'nginx';
}

/** SWITCH=command: SWITCH_CHECK_CMD must exit 0 this many times in a row, this far apart. */
export const CHECK_PASSES = 3;
export const CHECK_PAUSE_MS = 200;

/** How long SWITCH_CHECK_CMD may take to pass CHECK_PASSES times in a row: HEALTH_TIMEOUT, at least 10 s. Pure. */
export function checkDeadlineMs(config: Config): number {
  return Math.max(config.healthTimeoutMs, 10_000);
}
