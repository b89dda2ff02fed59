import type { SlotName, SwitchKind } from '../config.ts';

export type SlotTarget = { slot: SlotName; port: number; commit: string | null };

export type SwitchReport = (message: string) => void;

/** One traffic-switch strategy. `moveTo` returns only once traffic really reaches `live`. */
export interface TrafficSwitch {
  readonly kind: SwitchKind;
  moveTo(live: SlotTarget, previous: SlotTarget | null, report: SwitchReport): Promise<string>;
  /** The port the switch currently sends traffic to, when it can tell. */
  currentPort(): number | undefined;
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
