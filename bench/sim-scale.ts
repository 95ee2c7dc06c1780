/**
 * Simulator scale: one invalidate-all over 1,000,000 clients (100 entries
 * each, budget 1,000/s). Baseline in the same run: the naive pass alone over
 * the same fleet, the least any simulator of this event must do.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

const child = join(import.meta.dirname, 'sim-scale-child.ts')
const run = (what: string, clients: number) =>
  JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', child, what, String(clients)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    }),
  ) as {
    wallMs: number
    maxRssMb: number
    amplification?: number
    efficiency?: number
    naivePeak: number
    slewPeak?: number
  }

export const simScale = (clients = Number(process.env.SLEW_BENCH_CLIENTS ?? 1_000_000)) => {
  const baseline = run('naive', clients)
  const slew = run('slew', clients)
  return {
    name: `simulate invalidate-all, ${clients.toLocaleString('en-US')} clients × 100 entries, budget 1,000/s`,
    rows: [
      [
        'naive pass alone (baseline)',
        `${(baseline.wallMs / 1000).toFixed(1)} s`,
        `${baseline.maxRssMb} MB`,
        '1.00',
      ],
      [
        'full simulate (naive + slew)',
        `${(slew.wallMs / 1000).toFixed(1)} s`,
        `${slew.maxRssMb} MB`,
        (slew.wallMs / baseline.wallMs).toFixed(2),
      ],
    ],
    header: ['run', 'wall', 'peak RSS', 'time ÷ baseline'],
    notes: [
      `slew amplification ${slew.amplification?.toFixed(3)}, efficiency ${slew.efficiency?.toFixed(3)}, naive peak ${slew.naivePeak.toLocaleString('en-US')}/s vs slew ${slew.slewPeak?.toLocaleString('en-US')}/s`,
      `target: full simulate under 30 s on 2 cores: ${slew.wallMs < 30_000 ? 'met' : 'NOT met'}`,
    ],
  }
}
