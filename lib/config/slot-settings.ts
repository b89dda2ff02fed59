import { SLOTS, type SlotName } from './slots.ts';

/** PORT_A, PORT_B, INSTANCES and SLOT_LISTEN, validated together (the slots' port ranges must not overlap). Pure. */

type SlotKey = 'PORT_A' | 'PORT_B' | 'INSTANCES' | 'SLOT_LISTEN';

export type SlotSettings = { ports: Record<SlotName, number>; instances: number; slotListen: string; width: number };

/** `value` gives a key's value or its default; problems are pushed in the words the rest of the configuration uses. */
export function parseSlotSettings(value: (key: SlotKey) => string, problems: string[]): SlotSettings {
  const port = (key: 'PORT_A' | 'PORT_B'): number => {
    const text = value(key);
    const parsed = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(parsed >= 1 && parsed <= 65535)) problems.push(`${key} must be a port number 1-65535; got ${JSON.stringify(text)}`);
    return parsed;
  };
  const ports = { a: port('PORT_A'), b: port('PORT_B') };
  const instancesText = value('INSTANCES');
  const instances = /^\d{1,2}$/.test(instancesText) ? Number(instancesText) : NaN;
  if (!(instances >= 1 && instances <= 64)) problems.push(`INSTANCES must be a whole number from 1 to 64; got ${JSON.stringify(instancesText)}`);
  const slotListen = value('SLOT_LISTEN');
  if (!['port', 'socket'].includes(slotListen)) problems.push(`SLOT_LISTEN must be port or socket; got ${JSON.stringify(slotListen)}`);
  const width = instances >= 1 ? instances : 1;
  if (slotListen === 'port' && ports.a === ports.b) problems.push(`PORT_A and PORT_B must differ; both are ${ports.a}`);
  else if (slotListen === 'port' && ports.a + width - 1 >= ports.b && ports.b + width - 1 >= ports.a) {
    problems.push(`the port ranges of the slots overlap: with INSTANCES=${width}, slot a uses ${ports.a}-${ports.a + width - 1} and slot b ${ports.b}-${ports.b + width - 1}; move PORT_B to ${ports.a + width} or more`);
  }
  if (slotListen === 'port') for (const slot of SLOTS) {
    if (ports[slot] + width - 1 > 65535) problems.push(`with INSTANCES=${width}, slot ${slot}'s ports ${ports[slot]}-${ports[slot] + width - 1} go past 65535; lower PORT_${slot.toUpperCase()}`);
  }
  return { ports, instances, slotListen, width };
}
