/**
 * Margins (issue 17, item 4): the simulator's rewarm over capacities 500 /
 * 1,000 / 2,000 / 5,000 fetches/s × seeds 1–5 (1,000,000 keys over 100
 * clients, budget 3 × capacity, latency 50 ms, target 100 ms), and its
 * metastable recovery with the origin serving 20 / 30 / 40 % of the
 * traffic × seeds 1–5. Each cell in a fresh process, two at a time; the
 * baseline is the ideal (work ÷ capacity), the figure each cell's ratio.
 */
import { execFile } from 'node:child_process'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const child = join(import.meta.dirname, 'margins-child.ts')

interface Cell {
  kind: 'rewarm' | 'metastable'
  x: number
  seed: number
  ratio: number | null
  overTarget: number
  peakPerSec: number
  boundPerSec?: number
}

const CAPACITIES = [500, 1000, 2000, 5000]
const SHARES = [0.2, 0.3, 0.4]
const SEEDS = [1, 2, 3, 4, 5]

const cells = async (): Promise<Cell[]> => {
  const todo = [
    ...CAPACITIES.flatMap((x) => SEEDS.map((seed) => ({ kind: 'rewarm' as const, x, seed }))),
    ...SHARES.flatMap((x) => SEEDS.map((seed) => ({ kind: 'metastable' as const, x, seed }))),
  ]
  const out: Cell[] = []
  const worker = async () => {
    for (let c = todo.shift(); c; c = todo.shift()) {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', child, c.kind, String(c.x), String(c.seed)],
        { maxBuffer: 1 << 20 },
      )
      out.push({ ...c, ...JSON.parse(stdout) })
      process.stderr.write('.')
    }
  }
  await Promise.all(Array.from({ length: Math.min(2, cpus().length) }, worker))
  process.stderr.write('\n')
  return out
}

const fmt = (r: number | null) => (r === null ? 'never' : r.toFixed(3))
const pct = (f: number) => `${(100 * f).toFixed(2)} %`

export const margins = async () => {
  const all = await cells()
  const row = (kind: Cell['kind'], x: number) => {
    const cs = all.filter((c) => c.kind === kind && c.x === x).sort((a, b) => a.seed - b.seed)
    const ratios = cs.map((c) => c.ratio ?? Number.POSITIVE_INFINITY)
    return {
      cs,
      worst: Math.max(...ratios),
      worstSeed: cs[ratios.indexOf(Math.max(...ratios))]!.seed,
      over: Math.max(...cs.map((c) => c.overTarget)),
      overB2: cs.some((c) => c.boundPerSec !== undefined && c.peakPerSec > c.boundPerSec),
    }
  }
  const rewarm = CAPACITIES.map((x) => ({ x, ...row('rewarm', x) }))
  const meta = SHARES.map((x) => ({ x, ...row('metastable', x) }))
  const worstRewarm = Math.max(...rewarm.map((r) => r.worst))
  const worstOver = Math.max(...rewarm.map((r) => r.over))
  const worstMeta = Math.max(...meta.map((r) => r.worst))
  return {
    name: 'margins: simulated rewarm and metastable recovery ÷ ideal, seeds 1–5',
    header: [
      'scenario',
      'seeds 1–5: ÷ ideal',
      'worst (seed)',
      'most over target',
      'peak ÷ B2 bound',
    ],
    rows: [
      ...rewarm.map((r) => [
        `rewarm, capacity ${r.x.toLocaleString('en-US')}/s`,
        r.cs.map((c) => fmt(c.ratio)).join(' '),
        `${r.worst.toFixed(3)} (${r.worstSeed})`,
        pct(r.over),
        '–',
      ]),
      ...meta.map((r) => [
        `metastable, origin ${r.x * 100} % of traffic`,
        r.cs.map((c) => fmt(c.ratio)).join(' '),
        `${r.worst.toFixed(3)} (${r.worstSeed})`,
        pct(r.over),
        Math.max(...r.cs.map((c) => c.peakPerSec / (c.boundPerSec ?? 1))).toFixed(2),
      ]),
    ],
    notes: [
      `rewarm: worst ${worstRewarm.toFixed(3)} × ideal (target ≤ 1.1: ${worstRewarm <= 1.1 ? 'met' : 'NOT met'}), most over its latency target ${pct(worstOver)} (target ≤ 0.5 %: ${worstOver <= 0.005 ? 'met' : 'NOT met'})`,
      `metastable: worst ${worstMeta.toFixed(3)} × ideal (target ≤ 1.15: ${worstMeta <= 1.15 ? 'met' : 'NOT met'}); over budget: ${meta.some((r) => r.overB2) ? 'YES' : 'never'}`,
    ],
  }
}
