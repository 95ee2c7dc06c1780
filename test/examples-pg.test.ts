/**
 * examples/app-server-pg.ts as written, against the local PostgreSQL
 * (127.0.0.1:5432, user postgres; SLEW_TEST_PG_URL to point elsewhere): it
 * creates and seeds a database of its own, serves its rows through the SDK,
 * follows an invalidation after an UPDATE, rewarms keys; and refuses a
 * database it did not create. The test's database has a name of its own
 * (never the example's), and it drops only that one, which it saw did not
 * exist before.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCoordinator, waitFor } from './helpers/coordinator.js'

const root = join(import.meta.dirname, '..')
const ADMIN_URL = process.env.SLEW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const DB = `slew_example_test_${process.pid}_${Date.now().toString(36)}`
const urlOf = (db: string) => {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${db}`
  return u.toString()
}
const ROWS = 2000

const tsx = (file: string, args: string[], env: Record<string, string>, stdin?: string) => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'examples', file), ...args],
    {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    },
  )
  if (stdin !== undefined) child.stdin!.end(stdin)
  return child
}

const output = (child: ChildProcess) => {
  const lines: string[] = []
  child.stdout!.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)))
  child.stderr!.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)))
  return lines
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.once('exit', r),
  )

const query = async <R extends pg.QueryResultRow>(
  url: string,
  text: string,
  values?: unknown[],
) => {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return (await c.query<R>(text, values)).rows
  } finally {
    await c.end()
  }
}

const databaseExists = async (name: string) =>
  (await query(ADMIN_URL, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length > 0

describe('examples/app-server-pg.ts', () => {
  const children: ChildProcess[] = []
  let created = false
  let stop: () => Promise<void> = async () => {}

  beforeAll(async () => {
    try {
      await query(ADMIN_URL, 'SELECT 1')
    } catch (error) {
      throw new Error(
        `these tests need PostgreSQL at ${ADMIN_URL} (user postgres, trust auth on loopback; ` +
          `SLEW_TEST_PG_URL to point elsewhere): ${(error as Error).message}`,
      )
    }
    // A name no one else uses; if it were there, this test would not have made it.
    expect(await databaseExists(DB)).toBe(false)
    created = true
  })

  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM')
    await Promise.all(children.map(exited))
    await stop()
    // Only the database this test created (it checked it did not exist before).
    if (created) await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`)
  })

  const startApp = async (env: Record<string, string>) => {
    const app = tsx('app-server-pg.ts', ['--port', '0'], env)
    children.push(app)
    const out = output(app)
    await waitFor('the app server', () => out.some((l) => l.startsWith('app server on')), 60_000)
    const url = /on (http:\/\/\S+),/.exec(out.find((l) => l.startsWith('app server on'))!)![1]!
    return { app, out, url }
  }

  it('creates and seeds its database, serves rows through the SDK, follows an UPDATE and a rewarm', {
    timeout: 120_000,
  }, async () => {
    const { co, url } = await startCoordinator({ waves: { steps: [1], bakeMs: 0 } })
    stop = () => co.close()
    const env = { SLEW_URL: url, DATABASE_URL: urlOf(DB), SEED_ROWS: String(ROWS) }
    const { out, url: appUrl } = await startApp({ ...env, SLEW_CLIENT_ID: 'example-pg-app' })
    expect(out[0]).toMatch(
      new RegExp(`^origin .*/${DB}: 2,000 products \\(2,000 seeded in \\d+ ms\\)$`),
    )

    // Seeded as the doc says: ids 1…ROWS, and marked as the example's own database.
    const [count] = await query<{ n: string; max: string }>(
      urlOf(DB),
      'SELECT count(*) AS n, max(id) AS max FROM products',
    )
    expect(count).toEqual({ n: String(ROWS), max: String(ROWS) })
    const [mark] = await query<{ mark: string }>(
      ADMIN_URL,
      "SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1",
      [DB],
    )
    expect(mark?.mark).toMatch(/^slew example origin/)

    type Product = { id: number; name: string; priceCents: number; stock: number }
    const product = async (id: number) => {
      const res = await fetch(`${appUrl}/product/${id}`)
      return res.status === 200 ? ((await res.json()) as Product) : res.status
    }
    const [row] = await query<{ price_cents: number; stock: number }>(
      urlOf(DB),
      'SELECT price_cents, stock FROM products WHERE id = 42',
    )
    expect(await product(42)).toMatchObject({
      id: 42,
      name: 'product 42',
      priceCents: row!.price_cents,
      stock: row!.stock,
    })
    expect(await product(ROWS)).toMatchObject({ id: ROWS })
    expect(await product(ROWS + 1)).toBe(404) // no such row

    // The price changes in the database; the cache serves the old one until the push.
    await query(urlOf(DB), 'UPDATE products SET price_cents = price_cents + 1 WHERE id = 42')
    expect(await product(42)).toMatchObject({ priceCents: row!.price_cents })
    await waitFor(
      "the app server's first heartbeat",
      async () => {
        const fleet = (await (await fetch(`${url}/v1/fleet`)).json()) as {
          clients: { entries?: number }[]
        }
        return (fleet.clients[0]?.entries ?? 0) > 0
      },
      20_000,
      200,
    )
    const push = tsx('push-job.ts', ['--confirm', '42'], { SLEW_URL: url, PUSH_RUN: DB })
    const pushOut = output(push)
    expect(await exited(push), pushOut.join('\n')).toBe(0)
    await waitFor(
      'the new price',
      async () => ((await product(42)) as Product).priceCents === row!.price_cents + 1,
      10_000,
    )

    // A rewarm of 500 keys: the app server fetches every one from the database.
    const keys = Array.from({ length: 500 }, (_, i) => `product:${1000 + i}`)
    const rewarm = tsx('rewarm-job.ts', ['--confirm'], { SLEW_URL: url }, keys.join('\n'))
    const rewarmOut = output(rewarm)
    expect(await exited(rewarm), rewarmOut.join('\n')).toBe(0)
    expect(rewarmOut.at(-1)).toMatch(/^completed: 500\/500 keys/)

    // A second app server on the same database: nothing seeded again.
    const second = await startApp({ ...env, SLEW_CLIENT_ID: 'example-pg-app-2' })
    expect(second.out[0]).toMatch(new RegExp(`^origin .*/${DB}: 2,000 products$`))
    expect(await product(7)).toMatchObject({ id: 7, name: 'product 7' })
  })

  it('refuses a database it did not create, and changes nothing in it', {
    timeout: 60_000,
  }, async () => {
    const tableBefore = await query(ADMIN_URL, "SELECT to_regclass('public.products') AS t")
    const app = tsx('app-server-pg.ts', ['--port', '0', '--database-url', ADMIN_URL], {
      SLEW_URL: 'http://127.0.0.1:9',
      SEED_ROWS: '10',
    })
    children.push(app)
    const out = output(app)
    expect(await exited(app)).not.toBe(0)
    expect(out.join('\n')).toMatch(/database "postgres" exists and was not created by this example/)
    expect(await query(ADMIN_URL, "SELECT to_regclass('public.products') AS t")).toEqual(
      tableBefore,
    )
  })
})
