import type { SlotName } from '../config.ts';

export type SlotTarget = { slot: SlotName; port: number; commit: string | null };

export type SwitchReport = (message: string) => void;

/** One traffic-switch strategy. `moveTo` returns only once traffic really reaches `live`. */
export interface TrafficSwitch {
  readonly kind: 'nginx' | 'nginx-live-file' | 'passive' | 'none';
  moveTo(live: SlotTarget, previous: SlotTarget | null, report: SwitchReport): Promise<string>;
  /** The port the switch currently sends traffic to, when it can tell. */
  currentPort(): number | undefined;
}
