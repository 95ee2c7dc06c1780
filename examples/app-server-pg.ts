// An app server that caches a PostgreSQL catalog through the slew SDK: examples/app-server.ts
// with a real database behind `load` (one prepared primary-key query, see examples/pg-origin.ts).
// On first start it creates its own database (slew_example) and seeds 1,000,000 products.
// Run (PostgreSQL on 127.0.0.1:5432, the coordinator running: `npm start`):
//   npx tsx examples/app-server-pg.ts [--database-url URL] [--port N] [--rows N]
//   curl localhost:3000/product/42   → the row, from the cache after the first call
//   npx tsx examples/push-job.ts 42  → after an UPDATE, the coordinator rolls the invalidation out
// Environment (flags win): DATABASE_URL, PORT, SEED_ROWS, and SLEW_URL, SLEW_CLIENT_ID,
// SLEW_SIGNING_KEY, SLEW_TOKEN as for app-server.ts.
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { createClient, devSigningKeys } from 'slew-rate/sdk'
import { DEFAULT_DATABASE_URL, DEFAULT_ROWS, openOrigin, redact } from './pg-origin.js'

const { values: flags } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    port: { type: 'string' },
    rows: { type: 'string' },
  },
})
const databaseUrl = flags['database-url'] ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL
const rows = Number(flags.rows ?? process.env.SEED_ROWS ?? DEFAULT_ROWS)
const port = Number(flags.port ?? process.env.PORT ?? 3000)
/** Origin calls in flight at once: the SDK's refetch.concurrency, and as many pooled connections. */
const CONCURRENCY = 8

const seedStarted = performance.now()
const origin = await openOrigin({ url: databaseUrl, rows, connections: CONCURRENCY }).catch(
  (error: Error) => {
    console.error(`app-server-pg: ${redact(databaseUrl)}: ${error.message}`)
    process.exit(1)
  },
)
console.log(
  `origin ${redact(databaseUrl)}: ${origin.rows.toLocaleString('en-US')} products` +
    (origin.added > 0
      ? ` (${origin.added.toLocaleString('en-US')} seeded in ${Math.round(performance.now() - seedStarted)} ms)`
      : ''),
)

const slew = createClient({
  url: process.env.SLEW_URL ?? 'http://127.0.0.1:7070',
  clientId: process.env.SLEW_CLIENT_ID ?? `app-pg-${process.pid}`,
  // The coordinator's signing keys; without configured keys it uses the public dev key.
  signingKeys: process.env.SLEW_SIGNING_KEY ? { k1: process.env.SLEW_SIGNING_KEY } : devSigningKeys,
  ...(process.env.SLEW_TOKEN && { token: process.env.SLEW_TOKEN }),
  load: origin.load,
  refetch: { concurrency: CONCURRENCY },
})
// A rewarm may list thousands of keys: a few of them are enough to say what it is.
const keysOf = (keys: string[]) =>
  keys.length <= 5 ? keys.join(', ') : `${keys.slice(0, 3).join(', ')} … (${keys.length} keys)`
slew.on('change', (c) =>
  console.log(
    `change ${c.id}: ${c.kind} ${c.target?.keys ? keysOf(c.target.keys) : JSON.stringify(c.target ?? c.values)}`,
  ),
)

const server = createServer(async (req, res) => {
  const m = /^\/product\/(\d{1,15})$/.exec(req.url ?? '')
  if (!m) {
    res.writeHead(404).end()
    return
  }
  try {
    const product = await slew.get(`product:${m[1]}`, { tags: ['catalog'] })
    if (!product) res.writeHead(404).end()
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(product))
  } catch (error) {
    // The database failed and nothing was cached: say so, keep serving the rest.
    res.writeHead(503, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`)
  }
})

await slew.start()
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address() as { port: number }
  console.log(`app server on http://127.0.0.1:${bound}, following ${slew.options.url}`)
})

const stop = async () => {
  server.close()
  await slew.close()
  await origin.close()
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
