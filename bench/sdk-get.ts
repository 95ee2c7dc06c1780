/**
 * SDK get() on a fresh hit: time per `client.get(key)` of a warm, fresh entry
 * of a SlewClient (created, not started; 1,000 keys, round-robin) against a
 * bare lru-cache v11 `get()` of the same keys, in the same process and run
 * (sdk-get-child.ts, a fresh process). `client.get` returns a Promise, so it
 * is measured two ways: awaited each time, and the synchronous cost of the
 * call alone; plus the floor any Promise-returning get pays here (the bare
 * get behind an async function, awaited), and the synchronous `peek`.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

type Stat = { median: number; min: number; max: number; ops: number }

const child = join(import.meta.dirname, 'sdk-get-child.ts')

export const sdkGet = () => {
  const r = JSON.parse(
    execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', child], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    }),
  ) as Record<string, Stat> & { maps: { slew: number } }
  const bare = r.bareSync!.median
  const row = (what: string, s: Stat, base = bare) => [
    what,
    s.median.toFixed(1),
    `${s.min.toFixed(1)}–${s.max.toFixed(1)}`,
    Math.round(1e9 / s.median).toLocaleString('en-US'),
    (s.median / base).toFixed(2),
  ]
  const awaited = r.slewAwaited!.median / bare
  const sync = r.slewSyncCall!.median / bare
  return {
    name: 'SDK get() on a fresh hit: 1,000 warm keys, round-robin',
    header: ['what', 'ns/op (median)', 'range', 'ops/s', '÷ bare get()'],
    rows: [
      row('bare lru-cache v11 `get()` (baseline)', r.bareSync!),
      row('slew `await client.get(k)`', r.slewAwaited!),
      row('slew `client.get(k)`, synchronous cost (Promise not awaited)', r.slewSyncCall!),
      row('slew `client.peek(k)` (synchronous read, no Promise)', r.slewPeek!),
      row('floor: bare `get()` inside an async function, awaited', r.bareAsyncAwaited!),
    ],
    notes: [
      'median of 9 samples per variant (~150 ms each) after warm-ups, variants taking turns',
      `hidden classes among the 1,000 fresh envelopes in slew's cache: ${r.maps.slew}`,
      `slew awaited ÷ the async floor: ${(r.slewAwaited!.median / r.bareAsyncAwaited!.median).toFixed(2)}`,
      `target: slew ÷ bare ≤ 1.3 — awaited ${awaited.toFixed(2)}: ${awaited <= 1.3 ? 'met' : 'NOT met'}; synchronous cost ${sync.toFixed(2)}: ${sync <= 1.3 ? 'met' : 'NOT met'}`,
    ],
  }
}
