// A PostgreSQL origin for the examples (examples/app-server-pg.ts) and the rewarm bench
// (bench/rewarm-pg.ts): a database of its own with a `products` table, created and seeded
// if missing, and the primary-key query an app server's `load` runs.
//
// It touches only the database it is pointed at, and only one it created itself: a new
// database gets a comment marking it as this example's, and an existing one without that
// mark is refused, so a URL pointing at someone's database never changes it. It reads the
// server's catalog and runs CREATE DATABASE from the `postgres` maintenance database; it
// drops nothing.
import pg from 'pg'

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/slew_example'
/** Rows seeded by default: a catalog of a million products. */
export const DEFAULT_ROWS = 1_000_000
/** The comment a database this module created carries. */
export const MARK = 'slew example origin (examples/pg-origin.ts): safe to drop'

export interface Product {
  readonly id: number
  readonly name: string
  readonly priceCents: number
  readonly stock: number
  readonly updatedAt: string
}

/** The one query `load` runs: one row by primary key (a prepared statement, parsed once per connection). */
export const PRODUCT_BY_ID = {
  name: 'slew_product_by_id',
  text: 'SELECT id, name, price_cents, stock, updated_at FROM products WHERE id = $1',
} as const

const NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** The database a URL names (lower case letters, digits and `_`: it is quoted into DDL). */
export const databaseOf = (url: string): string => {
  const name = decodeURIComponent(new URL(url).pathname.slice(1))
  if (!NAME.test(name))
    throw new Error(
      `database name "${name}" in ${redact(url)}: expected 1-63 of [a-z0-9_], not starting with a digit`,
    )
  return name
}

/** The URL without its password, for messages. */
export const redact = (url: string): string => {
  const u = new URL(url)
  if (u.password) u.password = '***'
  return u.toString()
}

/** The same server's maintenance database, `postgres`. */
const adminUrl = (url: string): string => {
  const u = new URL(url)
  u.pathname = '/postgres'
  return u.toString()
}

/**
 * Create the database `url` names if it does not exist, marked as this module's.
 * An existing database without the mark is refused (it is someone else's).
 * Returns whether it was created now.
 */
export const ensureDatabase = async (url: string): Promise<{ created: boolean }> => {
  const name = databaseOf(url)
  const admin = new pg.Client({ connectionString: adminUrl(url) })
  await admin.connect()
  try {
    const mark = async () =>
      (
        await admin.query<{ mark: string | null }>(
          "SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1",
          [name],
        )
      ).rows[0]
    let found = await mark()
    let created = false
    if (!found) {
      try {
        await admin.query(`CREATE DATABASE "${name}"`)
        await admin.query(`COMMENT ON DATABASE "${name}" IS '${MARK}'`)
        created = true
      } catch (error) {
        // Created meanwhile by another process (an app server started at the same time),
        // which may be between its CREATE and its COMMENT: give it a moment.
        if ((error as { code?: string }).code !== '42P04') throw error
        for (let i = 0; i < 50 && (await mark())?.mark !== MARK; i++)
          await new Promise((r) => setTimeout(r, 100))
      }
      found = await mark()
    }
    if (found?.mark !== MARK)
      throw new Error(
        `database "${name}" exists and was not created by this example: not touching it (pick another name in the URL)`,
      )
    return { created }
  } finally {
    await admin.end()
  }
}

/**
 * Create the `products` table if missing and fill it up to `rows` rows (ids 1…rows), in
 * one INSERT … SELECT generate_series (a million rows in a few seconds). Several
 * processes seeding at once take turns (an advisory lock); a table already that full
 * is left as it is. Returns the rows it holds.
 */
export const seed = async (url: string, rows: number): Promise<{ rows: number; added: number }> => {
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    await db.query('SELECT pg_advisory_lock(hashtext($1))', ['slew-example-seed'])
    await db.query(`CREATE TABLE IF NOT EXISTS products (
      id bigint PRIMARY KEY,
      name text NOT NULL,
      price_cents integer NOT NULL,
      stock integer NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows: r } = await db.query<{ n: string }>(
      'SELECT coalesce(max(id), 0) AS n FROM products',
    )
    const have = Number(r[0]!.n)
    if (have >= rows) return { rows: have, added: 0 }
    await db.query(
      `INSERT INTO products (id, name, price_cents, stock)
       SELECT g, 'product ' || g, 100 + (g * 7919) % 99900, (g * 31) % 500
       FROM generate_series($1::bigint, $2::bigint) AS g`,
      [have + 1, rows],
    )
    await db.query('ANALYZE products')
    return { rows, added: rows - have }
  } finally {
    await db.end()
  }
}

/** The id in a key `product:<id>`, or undefined. */
export const idOf = (key: string): number | undefined => {
  const m = /^product:(\d{1,15})$/.exec(key)
  return m ? Number(m[1]) : undefined
}

/**
 * The SDK's `load` for `product:<id>` keys: one prepared primary-key query on `pool`.
 * A product that does not exist loads as null (cached like any value); a key of
 * another shape is an error.
 */
export const productLoader =
  (pool: pg.Pool) =>
  async (key: string): Promise<Product | null> => {
    const id = idOf(key)
    if (id === undefined) throw new Error(`not a product key: ${key}`)
    const { rows } = await pool.query<{
      id: string
      name: string
      price_cents: number
      stock: number
      updated_at: Date
    }>({ ...PRODUCT_BY_ID, values: [id] })
    const row = rows[0]
    if (!row) return null
    return {
      id: Number(row.id),
      name: row.name,
      priceCents: row.price_cents,
      stock: row.stock,
      updatedAt: row.updated_at.toISOString(),
    }
  }

/**
 * The origin: the database created if missing, seeded to `rows`, and a pool of
 * `connections` (one per origin call the SDK makes at once: `refetch.concurrency`).
 */
export const openOrigin = async (o: { url: string; rows: number; connections: number }) => {
  const { created } = await ensureDatabase(o.url)
  const seeded = await seed(o.url, o.rows)
  const pool = new pg.Pool({ connectionString: o.url, max: o.connections })
  // An idle connection the server dropped must not crash the app server.
  pool.on('error', (error) => console.error(`postgres: ${error.message}`))
  return { pool, created, ...seeded, load: productLoader(pool), close: () => pool.end() }
}
