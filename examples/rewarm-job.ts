// A content push's rewarm: send the keys the push touched (NDJSON, any number up to
// rewarm.maxKeys), then follow the fleet prefetching them at the rate the origin bears.
// Run: npx tsx examples/rewarm-job.ts [--confirm] page:1 page:2 ...   (or pipe keys, one per line, on stdin)
// --confirm: the keys may be more than `confirmAbove` of what the fleet caches now.
const url = process.env.SLEW_URL ?? 'http://127.0.0.1:7070'
const token = process.env.SLEW_TOKEN
const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}

const confirm = process.argv.includes('--confirm')
const fromArgs = process.argv.slice(2).filter((a) => a !== '--confirm')
const keys =
  fromArgs.length > 0
    ? fromArgs
    : (await new Response(process.stdin).text()).split('\n').filter(Boolean)
const body = [
  JSON.stringify({ kind: 'rewarm', reason: 'content push', confirm }),
  ...keys.map((k) => JSON.stringify(k)),
].join('\n')
const res = await fetch(`${url}/v1/changes`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-ndjson', ...auth },
  body,
})
// biome-ignore lint/suspicious/noExplicitAny: a script reading JSON
const answer: any = await res.json()
if (!res.ok) {
  console.error(
    `rewarm refused: ${answer.code}: ${answer.title}${answer.detail ? ` (${answer.detail})` : ''}`,
  )
  process.exit(1)
}
console.log(`rewarm ${answer.id}: ${keys.length} keys on every client`)
for (;;) {
  // biome-ignore lint/suspicious/noExplicitAny: a script reading JSON
  const r: any = await (await fetch(`${url}/v1/changes/${answer.id}`, { headers: auth })).json()
  const { keysDone, keysFailed, keysOrphaned, keysTotal, ratePerSec, etaMs } = r.rewarm
  console.log(
    `${r.state}: ${keysDone}/${keysTotal} keys at ${Math.round(ratePerSec)}/s, ETA ${Math.round(etaMs / 1000)} s`,
  )
  // Done when every key is fetched, given up on, or left on a client that went away.
  if (r.state !== 'rolling' && keysTotal > 0 && keysDone + keysFailed + keysOrphaned >= keysTotal)
    break
  if (['aborted', 'failed'].includes(r.state)) break
  await new Promise((resolve) => setTimeout(resolve, 1000))
}
