/**
 * How many clients the gates' pacing rule picks, against `gates.maxPaced`,
 * over many rollouts: the count the heartbeat-load bench sees once, here for
 * `ROLLOUTS` rollout ids of the same fleet, from the rule itself (no
 * coordinator, no network). Pure functions of src/: shardOf (who a wave
 * reaches), controlSample (the control cohort), paceRank (who is paced).
 *
 * Per rollout (ids as the coordinator makes them, `chg-<epoch>-1`), per wave
 * of `steps` once its clients are in: compared = the treated clients (shards
 * the waves so far reached) and the control (controlSample of the last
 * wave's clients, as many as the treated); share = paceShare(maxPaced,
 * compared); paced = the compared clients whose paceRank is below share.
 * The coordinator applies the same: GateWatcher.tick sets the share,
 * GateWatcher.watching tells a client.
 *
 * `node --import tsx bench/heartbeat-pace-count.ts [clients] [rollouts] [ids]`
 * ids: `seq` (c0, c1, …, as the bench names them) or `host` (web-00001.prod)
 */
import { controlSample } from '../src/gates/cohorts.js'
import { paceRank, paceShare } from '../src/gates/pacing.js'
import { changeId, newEpoch } from '../src/invalidation/ids.js'
import { shardOf } from '../src/invalidation/shard.js'

const CLIENTS = Number(process.argv[2] ?? 10_000)
const ROLLOUTS = Number(process.argv[3] ?? 200)
const IDS = process.argv[4] ?? 'seq'
const MAX_PACED = 2_000
const SHARDS = 100
const STEPS = [0.01, 0.05, 0.25, 1]

const ids = Array.from({ length: CLIENTS }, (_, i) =>
  IDS === 'host' ? `web-${String(i).padStart(5, '0')}.prod` : `c${i}`,
)
/** Shard ranges of the waves: [0, hi) reached after wave k. */
const his = STEPS.map((s) => Math.ceil(s * SHARDS))
const lastLo = his[his.length - 2] ?? 0

const counts: number[][] = STEPS.map(() => [])
const compared: number[][] = STEPS.map(() => [])
for (let r = 0; r < ROLLOUTS; r++) {
  const id = changeId(1, newEpoch(Date.now() + r * 1000))
  const shard = ids.map((c) => shardOf(c, id, SHARDS))
  const last = ids.filter((_, i) => shard[i]! >= lastLo)
  his.forEach((hi, k) => {
    const treated = ids.filter((_, i) => shard[i]! < hi)
    const set = new Set(treated)
    for (const c of controlSample(last, treated.length, id)) set.add(c)
    const share = paceShare(MAX_PACED, set.size)
    let paced = 0
    for (const c of set) if (paceRank(c) < share) paced++
    counts[k]!.push(paced)
    compared[k]!.push(set.size)
  })
}

const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.round(p * (xs.length - 1))]!
console.log(
  `${CLIENTS.toLocaleString('en-US')} clients (${IDS} ids), ${ROLLOUTS} rollouts, steps ${STEPS.join(', ')}, maxPaced ${MAX_PACED}`,
)
console.log(
  '| wave | compared (median) | paced: min | median | p95 | max | rollouts over maxPaced |',
)
console.log('| --- | --- | --- | --- | --- | --- | --- |')
STEPS.forEach((s, k) => {
  const c = counts[k]!
  const over = c.filter((n) => n > MAX_PACED).length
  console.log(
    `| ${k} (${s * 100} %) | ${q(compared[k]!, 0.5)} | ${q(c, 0)} | ${q(c, 0.5)} | ${q(c, 0.95)} | ${q(c, 1)} | ${over} of ${ROLLOUTS} |`,
  )
})
