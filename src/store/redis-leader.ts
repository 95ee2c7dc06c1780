/**
 * The leader lease in Redis: one replica at a time drives the engine, under
 * a fencing token that only grows, each term recorded (newest first) so a
 * failover can be checked afterwards. Each step is one Lua script with the
 * leaders' clock passed in.
 */
import type { RedisConnection } from './redis-connection.js'

/** One term of the leader lease, as recorded in Redis (times from the leaders' clocks). */
export interface LeaseTerm {
  readonly fence: number
  readonly replica: string
  /** When this replica took the lease. */
  readonly acquiredAt: number
  /** Its last renewal (or its acquisition, if never renewed). */
  readonly renewedAt: number
}

/** Lease terms kept in Redis (newest first). */
const TERMS_KEPT = 32

export const acquireLeader = async (
  r: RedisConnection,
  replica: string,
  ttlMs: number,
  now: number,
): Promise<number> =>
  Number(
    await r.run(
      'leaderAcquire',
      r.keys.leader,
      r.keys.fence,
      r.keys.terms,
      replica,
      Math.ceil(ttlMs),
      now,
      TERMS_KEPT,
    ),
  )

export const renewLeader = async (
  r: RedisConnection,
  replica: string,
  fence: number,
  ttlMs: number,
  now: number,
): Promise<boolean> =>
  (await r.run(
    'leaderRenew',
    r.keys.leader,
    r.keys.terms,
    `${replica}|${fence}`,
    Math.ceil(ttlMs),
    now,
  )) === 1

export const releaseLeader = async (
  r: RedisConnection,
  replica: string,
  fence: number,
): Promise<boolean> => (await r.run('leaderRelease', r.keys.leader, `${replica}|${fence}`)) === 1

export const leader = async (r: RedisConnection) => {
  const v = await r.plain(() => r.client.get(r.keys.leader))
  const m = v ? /^(.*)\|(\d+)$/.exec(v) : null
  return m ? { replica: m[1]!, fence: Number(m[2]) } : undefined
}

/** The lease's recent terms, newest first. */
export const leaseTerms = async (r: RedisConnection): Promise<LeaseTerm[]> => {
  const rows = await r.plain(() => r.client.lrange(r.keys.terms, 0, -1))
  return rows.flatMap((row) => {
    const m = /^(\d+)\|([^|]*)\|([^|]*)\|(.*)$/.exec(row)
    return m
      ? [
          {
            fence: Number(m[1]),
            acquiredAt: Number(m[2]),
            renewedAt: Number(m[3]),
            replica: m[4]!,
          },
        ]
      : []
  })
}
