/**
 * The fleet's log and state in Redis: a fenced, all-or-nothing commit (one
 * Lua script: log entries, state fields, delivered sets), and the reads of
 * the log (a range, a blocking tail, its bounds).
 */
import { FencedError } from '../errors.js'
import type { RedisConnection } from './redis-connection.js'
import type { LogRecord, StateOp } from './store.js'

export const commit = async (
  r: RedisConnection,
  fence: number,
  ops: readonly StateOp[],
  logMaxLength: number,
  epoch?: string,
): Promise<void> => {
  const sets: string[] = []
  const setIndex = (name: string) => {
    const key = r.keys.set(name)
    let i = sets.indexOf(key)
    if (i < 0) i = sets.push(key) - 1
    return 5 + i
  }
  const args: (string | number)[] = []
  for (const op of ops) {
    if (op.op === 'log') args.push('X', op.seq, op.to.join(','), op.message, op.meta ?? '')
    else if (op.op === 'set') args.push('H', op.field, op.value)
    else if (op.op === 'del') args.push('D', op.field)
    else if (op.op === 'drop') args.push('R', setIndex(op.set))
    else args.push('S', setIndex(op.set), op.members.length, ...op.members)
  }
  const keys = [r.keys.fence, r.keys.log, r.keys.state, r.keys.epoch, ...sets]
  try {
    await r.script('commit')(keys.length, ...keys, fence, logMaxLength, epoch ?? '', ...args)
  } catch (error) {
    const msg = (error as Error).message ?? ''
    const fenced = /FENCED (\d+)/.exec(msg)
    if (fenced) throw new FencedError(fence, Number(fenced[1]))
    const gone = /EPOCH (\S*)/.exec(msg)
    if (gone && epoch !== undefined)
      throw new FencedError(fence, fence, { mine: epoch, current: gone[1] || undefined })
    const seq = /SEQ (\d+)/.exec(msg)
    if (seq) throw new RangeError(`log seq does not follow ${seq[1]}`)
    throw r.unavailable(error)
  }
}

export const read = async (
  r: RedisConnection,
  afterSeq: number,
  count: number,
): Promise<LogRecord[]> => {
  const rows = await r.plain(() =>
    r.client.xrange(r.keys.log, `(${afterSeq}-0`, '+', 'COUNT', count),
  )
  return rows.map(([id, fields]) => recordOf(id, fields))
}

/** Wait up to `blockMs` for entries after `afterSeq` (XREAD BLOCK, on its own connection). */
export const tail = async (
  r: RedisConnection,
  afterSeq: number,
  count: number,
  blockMs: number,
): Promise<LogRecord[]> => {
  const res = await r.plain(() =>
    r
      .blocking('log')
      .then((c) =>
        c.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', r.keys.log, `${afterSeq}-0`),
      ),
  )
  return res?.[0]?.[1].map(([id, fields]) => recordOf(id, fields)) ?? []
}

export const bounds = async (r: RedisConnection) => {
  const [first, last, length, floor] = await r.plain(() =>
    Promise.all([
      r.client.xrange(r.keys.log, '-', '+', 'COUNT', 1),
      r.client.xrevrange(r.keys.log, '+', '-', 'COUNT', 1),
      r.client.xlen(r.keys.log),
      r.client.hget(r.keys.state, 'logFloor'),
    ]),
  )
  return {
    first: first[0] ? seqOf(first[0][0]) : 0,
    last: last[0] ? seqOf(last[0][0]) : 0,
    length,
    floor: Number(floor ?? 0),
  }
}

const seqOf = (id: string): number => Number(id.slice(0, id.indexOf('-')))

const recordOf = (id: string, fields: string[]): LogRecord => {
  const f: Record<string, string> = {}
  for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!
  return {
    seq: seqOf(id),
    to: f.to ? f.to.split(',') : [],
    message: f.m ?? '',
    ...(f.x && { meta: f.x }),
  }
}
