import { parseArgs } from 'node:util';

export const ALL_STRATEGIES = ['switchyard', 'switchyard-bake', 'switchyard-no-handler', 'switchyard-reload', 'switchyard-passive', 'restart', 'passive-naive', 'pm2'] as const;
export type StrategyName = (typeof ALL_STRATEGIES)[number];

export type BenchArgs = { cycles: number; strategies: StrategyName[]; out: string };

const USAGE = `Usage: npm run bench -- [--cycles N] [--strategies ${ALL_STRATEGIES.join(',')}] [--out DIR]`;

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      cycles: { type: 'string', default: '10' },
      strategies: { type: 'string', default: ALL_STRATEGIES.join(',') },
      out: { type: 'string', default: 'bench/results' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const cycles = Number(values.cycles);
  if (!Number.isInteger(cycles) || cycles < 1 || cycles > 100) throw new Error(`--cycles must be an integer from 1 to 100\n${USAGE}`);
  const strategies = values.strategies.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of strategies) {
    if (!(ALL_STRATEGIES as readonly string[]).includes(name)) throw new Error(`unknown strategy ${name}\n${USAGE}`);
  }
  return { cycles, strategies: strategies as StrategyName[], out: values.out };
}
