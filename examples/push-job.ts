// A content-push job: invalidate the products whose prices changed, then
// follow the rollout until it is done.
// Run: npx tsx examples/push-job.ts [--confirm] 1 2 3
// --confirm: the push may touch more than `confirmAbove` of the fleet's cached
// entries (a demo app server caching one product: that product is all of it).
const url = process.env.SLEW_URL ?? 'http://127.0.0.1:7070'
const token = process.env.SLEW_TOKEN
const headers = {
  'content-type': 'application/json',
  ...(token && { authorization: `Bearer ${token}` }),
}
const args = process.argv.slice(2)
const confirm = args.includes('--confirm')
const ids = args.filter((a) => a !== '--confirm')
if (ids.length === 0) {
  console.error('usage: push-job.ts [--confirm] PRODUCT_ID...')
  process.exit(2)
}

const res = await fetch(`${url}/v1/changes`, {
  method: 'POST',
  headers,
  body: JSON.stringify({
    kind: 'invalidate',
    target: { keys: ids.map((id) => `product:${id}`) },
    mode: 'soft',
    reason: `price file ${new Date().toISOString().slice(0, 10)}`,
    confirm,
    // The same push retried (a crashed job run again) is one change, not two.
    idempotencyKey: `prices-${ids.join('-')}-${process.env.PUSH_RUN ?? Date.now()}`,
  }),
})
// biome-ignore lint/suspicious/noExplicitAny: a script reading JSON
const answer: any = await res.json()
if (!res.ok) {
  console.error(
    `push refused: ${answer.code}: ${answer.title}${answer.detail ? ` (${answer.detail})` : ''}`,
  )
  process.exit(1)
}
console.log(
  `pushed ${answer.id}: ${answer.plan.waves.length} waves, about ${answer.plan.estimatedMs} ms`,
)

for (;;) {
  // biome-ignore lint/suspicious/noExplicitAny: a script reading JSON
  const r: any = await (await fetch(`${url}/v1/changes/${answer.id}`, { headers })).json()
  console.log(
    `${r.state} wave ${r.wave + 1}/${r.waves.length} delivered ${r.delivered} progress ${Math.round(r.progress * 100)}%`,
  )
  if (!['planned', 'rolling', 'paused'].includes(r.state)) break
  await new Promise((resolve) => setTimeout(resolve, 500))
}
