// An app server that caches its origin through the slew SDK.
// Run (with the coordinator running: `npm start`): npx tsx examples/app-server.ts
//   curl localhost:3000/product/1   → served from the cache after the first call
//   npx tsx examples/push-job.ts 1  → the coordinator rolls the invalidation out
import { createServer } from 'node:http'
import { createClient, devSigningKeys } from 'slew-rate/sdk'

// The origin: a slow "database" whose prices change when a push job runs.
const prices = new Map<string, number>()
const origin = async (key: string) => {
  await new Promise((r) => setTimeout(r, 20))
  const id = key.split(':')[1] ?? '0'
  return { id, price: prices.get(id) ?? 100, fetchedAt: new Date().toISOString() }
}

const slew = createClient({
  url: process.env.SLEW_URL ?? 'http://127.0.0.1:7070',
  clientId: process.env.SLEW_CLIENT_ID ?? `app-${process.pid}`,
  // The coordinator's signing keys; without configured keys it uses the public dev key.
  signingKeys: process.env.SLEW_SIGNING_KEY ? { k1: process.env.SLEW_SIGNING_KEY } : devSigningKeys,
  ...(process.env.SLEW_TOKEN && { token: process.env.SLEW_TOKEN }),
  load: origin,
})
slew.on('change', (c) =>
  console.log(`change ${c.id}: ${c.kind} ${JSON.stringify(c.target ?? c.values)}`),
)
slew.on('config', (values) => console.log('config', values))

const server = createServer(async (req, res) => {
  const m = /^\/product\/(\w+)$/.exec(req.url ?? '')
  if (req.method === 'POST' && req.url === '/origin/reprice') {
    // Test hook: change every price at the origin (what a content push would follow).
    for (const id of ['1', '2', '3']) prices.set(id, (prices.get(id) ?? 100) + 1)
    res.writeHead(204).end()
    return
  }
  if (!m) {
    res.writeHead(404).end()
    return
  }
  const product = await slew.get(`product:${m[1]}`, { tags: ['catalog'] })
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(product))
})

await slew.start()
const port = Number(process.env.PORT ?? 3000)
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address() as { port: number }
  console.log(`app server on http://127.0.0.1:${bound}, following ${slew.options.url}`)
})

const stop = async () => {
  server.close()
  await slew.close()
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
