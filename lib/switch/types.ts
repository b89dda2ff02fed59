import type { SlotName, SwitchKind } from '../config.ts';

export type SlotTarget = { slot: SlotName; port: number; commit: string | null };

export type SwitchReport = (message: string) => void;

/** One traffic-switch strategy. `moveTo` returns only once traffic really reaches `live`. */
export interface TrafficSwitch {
  readonly kind: SwitchKind;
  /**
   * True when new requests stop reaching the old slot at the switch itself (nginx modes), so the old
   * slot can be drained at the proxy before it gets SIGTERM. Passive mode moves traffic only as the
   * old slot stops listening, so the signal must come first.
   */
  readonly drainsAtProxy: boolean;
  moveTo(live: SlotTarget, previous: SlotTarget | null, report: SwitchReport): Promise<string>;
  /** The port the switch currently sends traffic to, when it can tell. */
  currentPort(): number | undefined;
}
