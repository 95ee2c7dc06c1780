/**
 * SDK memory per cached entry (issue 18, item 3): heap bytes per entry for
 * 200,000 small values put through `createClient(...).set` (created, not
 * started) against a bare lru-cache v11 holding the same keys and values, in
 * the same run. Each figure is one fresh process (sdk-memory-child.ts), the
 * variants taking turns, REPS rounds; the median is reported. Also shown:
 * entries loaded by a `client.get` miss, the same entries as `set` each
 * read once through `client.get` (a read keeps the settled promise a fresh
 * hit hands back), and entries set with tags.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { median } from './proc.js'

const child = join(import.meta.dirname, 'sdk-memory-child.ts')
const ENTRIES = Number(process.env.SLEW_BENCH_SDK_MEM_ENTRIES ?? 200_000)
const REPS = Number(process.env.SLEW_BENCH_SDK_MEM_REPS ?? 3)
const TARGET = 1.3

const VARIANTS = {
  bare: 'bare lru-cache v11 `set` (baseline)',
  set: 'slew `client.set(k, v)`',
  load: 'slew `await client.get(k)` on a miss (loaded by `load`)',
  setGet: 'slew `client.set(k, v)`, then each read once with `client.get(k)`',
  tagged: 'slew `client.set(k, v, { tags })`, a new array per call, 100 distinct tag sets',
} as const
type Variant = keyof typeof VARIANTS

const measure = (variant: Variant): number =>
  (
    JSON.parse(
      execFileSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', child, variant, String(ENTRIES)],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      ),
    ) as { bytesPerEntry: number }
  ).bytesPerEntry

export const sdkMemory = () => {
  const names = Object.keys(VARIANTS) as Variant[]
  const samples = Object.fromEntries(names.map((v) => [v, [] as number[]])) as Record<
    Variant,
    number[]
  >
  for (let rep = 0; rep < REPS; rep++)
    for (let k = 0; k < names.length; k++) {
      const v = names[(k + rep) % names.length]!
      samples[v].push(measure(v))
    }
  const bare = median(samples.bare)
  const row = (v: Variant) => {
    const xs = samples[v]
    const m = median(xs)
    return [
      VARIANTS[v],
      m.toFixed(1),
      `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`,
      v === 'bare' ? '—' : `+${(m - bare).toFixed(1)}`,
      (m / bare).toFixed(2),
    ]
  }
  const ratio = median(samples.set) / bare
  return {
    name: `SDK memory per cached entry: ${ENTRIES.toLocaleString('en-US')} small values`,
    header: ['what', 'bytes/entry (median)', 'range', 'over bare', '÷ bare'],
    rows: names.map(row),
    notes: [
      `heap used after a full GC, before and after filling one cache (\`max\` ${ENTRIES.toLocaleString('en-US')}), keys and values \`{ key, n }\` included; one fresh process per figure, median of ${REPS}`,
      `target: slew \`set\` ÷ bare ≤ ${TARGET} — ${ratio.toFixed(2)}: ${ratio <= TARGET ? 'met' : 'NOT met'}`,
    ],
  }
}
