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
 * Whether new requests stop reaching the old slot at the switch itself (the nginx modes), so the old
 * slot can be drained at the proxy before it gets SIGTERM (and kept warm in a bake window). Passive
 * mode moves traffic only as the old slot stops listening, so there the signal must come first. Pure.
 */
export function drainsAtProxy(kind: SwitchKind): boolean {
  return kind === 'nginx-live-file' || kind === 'nginx-reload';
}
