/**
 * One measured run of the SDK get() bench, in a fresh process: prints
 * { maps, variant: { median, min, max, ops } (ns per op), ... } as JSON. See sdk-get.ts.
 *
 * Every variant is its own function (so each call site stays monomorphic),
 * runs the same round-robin over the same 1,000 keys, and is timed for about
 * SAMPLE_MS per sample; the variants take turns, warm-ups first.
 */
import { LRUCache } from 'lru-cache'
import { createClient, devSigningKeys } from '../dist/sdk/index.js'
import { median } from './proc.js'

const KEYS = 1000
const SAMPLE_MS = Number(process.env.SLEW_BENCH_SAMPLE_MS ?? 150)
const WARMUPS = 3
const REPS = Number(process.env.SLEW_BENCH_SDK_REPS ?? 9)

type Value = { key: string; n: number }
const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`)
const makeValue = (key: string): Value => ({ key, n: key.length })

// The code under test: a client created, not started (no coordinator), every key warm and fresh.
const client = createClient<Value>({
  url: 'http://127.0.0.1:9',
  clientId: 'bench',
  signingKeys: devSigningKeys,
  load: async (key) => makeValue(key),
})
for (const k of keys) await client.get(k)
for (const k of keys)
  if ((await client.get(k)) !== client.cache.lru.get(k)?.value) throw new Error('not cached')

// The baseline: a bare lru-cache v11 holding the same values.
const lru = new LRUCache<string, Value>({ max: 10_000 })
for (const k of keys) lru.set(k, makeValue(k))

const asyncBareGet = async (key: string): Promise<Value | undefined> => lru.get(key)

// How many hidden classes (V8 maps) the 1,000 fresh envelopes have: needs --allow-natives-syntax,
// reached through Function so this file stays plain TypeScript.
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (
  a: object,
  b: object,
) => boolean
const hiddenClasses = (xs: object[]) => {
  const seen: object[] = []
  for (const x of xs) if (!seen.some((m) => sameMap(m, x))) seen.push(x)
  return seen.length
}
const maps = { slew: hiddenClasses(keys.map((k) => client.cache.lru.get(k)!)) }

let sink: unknown

// ---- variants: n ops each, returns elapsed ns ----------------------------------
const bareSync = (n: number) => {
  const t = process.hrtime.bigint()
  let j = 0
  let v: Value | undefined
  for (let i = 0; i < n; i++) {
    v = lru.get(keys[j]!)
    if (++j === KEYS) j = 0
  }
  sink = v
  return Number(process.hrtime.bigint() - t)
}
const bareAsyncAwaited = async (n: number) => {
  const t = process.hrtime.bigint()
  let j = 0
  let v: Value | undefined
  for (let i = 0; i < n; i++) {
    v = await asyncBareGet(keys[j]!)
    if (++j === KEYS) j = 0
  }
  sink = v
  return Number(process.hrtime.bigint() - t)
}
const slewAwaited = async (n: number) => {
  const t = process.hrtime.bigint()
  let j = 0
  let v: Value | undefined
  for (let i = 0; i < n; i++) {
    v = await client.get(keys[j]!)
    if (++j === KEYS) j = 0
  }
  sink = v
  return Number(process.hrtime.bigint() - t)
}
const slewSyncCall = (n: number) => {
  const t = process.hrtime.bigint()
  let j = 0
  let p: Promise<Value> | undefined
  for (let i = 0; i < n; i++) {
    p = client.get(keys[j]!)
    if (++j === KEYS) j = 0
  }
  sink = p
  return Number(process.hrtime.bigint() - t)
}
const slewPeek = (n: number) => {
  const t = process.hrtime.bigint()
  let j = 0
  let v: Value | undefined
  for (let i = 0; i < n; i++) {
    v = client.peek(keys[j]!)
    if (++j === KEYS) j = 0
  }
  sink = v
  return Number(process.hrtime.bigint() - t)
}

const variants: Record<string, (n: number) => number | Promise<number>> = {
  bareSync,
  bareAsyncAwaited,
  slewAwaited,
  slewSyncCall,
  slewPeek,
}

// Warm every variant up, then calibrate: ops per sample so that each sample takes about SAMPLE_MS.
for (const f of Object.values(variants)) await f(200_000)
const ops: Record<string, number> = {}
for (const [name, f] of Object.entries(variants)) {
  let n = 10_000
  for (;;) {
    const ns = await f(n)
    if (ns > 20e6) {
      ops[name] = Math.round((n * SAMPLE_MS * 1e6) / ns)
      break
    }
    n *= 4
  }
}

const samples: Record<string, number[]> = Object.fromEntries(
  Object.keys(variants).map((k) => [k, []]),
)
const names = Object.keys(variants)
for (let rep = 0; rep < WARMUPS + REPS; rep++) {
  // Rotate the order each round so no variant always runs right after another's garbage.
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + rep) % names.length]!
    const n = ops[name]!
    const ns = await variants[name]!(n)
    if (rep >= WARMUPS) samples[name]!.push(ns / n)
  }
}
if (sink === undefined) throw new Error('unreachable')
await client.close()
console.log(
  JSON.stringify({
    maps,
    ...Object.fromEntries(
      Object.entries(samples).map(([k, xs]) => [
        k,
        { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), ops: ops[k] },
      ]),
    ),
  }),
)
