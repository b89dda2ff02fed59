export type SlotName = 'a' | 'b';
/** The two slots, in the order everything lists them: the one home of that list. */
export const SLOTS: readonly SlotName[] = ['a', 'b'];

export function otherSlot(slot: SlotName): SlotName {
  return slot === 'a' ? 'b' : 'a';
}
