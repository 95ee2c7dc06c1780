/**
 * The embedded store: the Store interface in one process's memory, with the
 * same semantics as the Redis store (the conformance suite runs on both).
 */
import { FencedError } from '../errors.js'
import { Asking, gcraGrantShare } from '../limiter/fair.js'
import { type GcraParams, gcraGrant, gcraTake } from '../limiter/gcra.js'
import { type BucketName, EVENTS_KEPT, type LogRecord, type StateOp, type Store } from './store.js'

export class MemoryStore implements Store {
  readonly #buckets = new Map<BucketName, number>()
  readonly #asking = new Map<BucketName, Asking>()
  readonly #state = new Map<string, string>()
  readonly #sets = new Map<string, Set<string>>()
  readonly #log: LogRecord[] = []
  readonly #presence = new Map<string, string>()
  readonly #rewarm = new Map<string, { until: number; records: Map<string, string> }>()
  readonly #events: { id: string; event: string }[] = []
  readonly #replicas = new Map<string, number>()
  #eventSeq = 0
  #epoch: string | undefined
  #floor = 0
  readonly #waiters = new Set<() => void>()
  #leader: { replica: string; fence: number; until: number } | undefined
  #fence = 0

  constructor(
    private readonly now: () => number = () => performance.timeOrigin + performance.now(),
  ) {}

  async take(bucket: BucketName, params: GcraParams, cost: number, now: number) {
    const r = gcraTake(this.#buckets.get(bucket) ?? Number.NEGATIVE_INFINITY, now, cost, params)
    if (r.ok) this.#buckets.set(bucket, r.tat)
    return { ok: r.ok, retryAfterMs: r.retryAfterMs }
  }

  async grant(bucket: BucketName, params: GcraParams, want: number, now: number) {
    const r = gcraGrant(this.#buckets.get(bucket) ?? Number.NEGATIVE_INFINITY, now, want, params)
    if (r.granted > 0) this.#buckets.set(bucket, r.tat)
    return { granted: r.granted, retryAfterMs: r.retryAfterMs }
  }

  async grantShare(
    bucket: BucketName,
    clientId: string,
    params: GcraParams,
    want: number,
    now: number,
    inBursts = false,
  ) {
    let asking = this.#asking.get(bucket)
    if (!asking) {
      asking = new Asking()
      this.#asking.set(bucket, asking)
    }
    const who = asking.ask(clientId, now)
    const tat = this.#buckets.get(bucket) ?? Number.NEGATIVE_INFINITY
    const r = gcraGrantShare(
      tat,
      who.clientTat,
      who.asking,
      now,
      want,
      params,
      asking.windowMs,
      asking.hold,
      inBursts,
    )
    if (r.granted > 0) this.#buckets.set(bucket, r.tat)
    asking.set(clientId, r.clientTat)
    asking.hold = r.hold
    return { granted: r.granted, retryAfterMs: r.retryAfterMs }
  }

  async acquireLeader(replica: string, ttlMs: number): Promise<number> {
    const held = this.#held()
    if (held) {
      if (held.replica !== replica) return 0
      held.until = this.now() + ttlMs
      return held.fence
    }
    this.#fence++
    this.#leader = { replica, fence: this.#fence, until: this.now() + ttlMs }
    return this.#fence
  }

  async renewLeader(replica: string, fence: number, ttlMs: number): Promise<boolean> {
    const held = this.#held()
    if (!held || held.replica !== replica || held.fence !== fence) return false
    held.until = this.now() + ttlMs
    return true
  }

  async releaseLeader(replica: string, fence: number): Promise<boolean> {
    const held = this.#held()
    if (!held || held.replica !== replica || held.fence !== fence) return false
    this.#leader = undefined
    return true
  }

  async leader() {
    const held = this.#held()
    return held && { replica: held.replica, fence: held.fence }
  }

  async commit(
    fence: number,
    ops: readonly StateOp[],
    logMaxLength: number,
    epoch?: string,
  ): Promise<void> {
    if (fence !== this.#fence) throw new FencedError(fence, this.#fence)
    if (epoch !== undefined && epoch !== this.#epoch)
      throw new FencedError(fence, this.#fence, { mine: epoch, current: this.#epoch })
    let last = this.#log.at(-1)?.seq ?? 0
    for (const op of ops) {
      if (op.op !== 'log') continue
      if (op.seq <= last) throw new RangeError(`log seq ${op.seq} does not follow ${last}`)
      last = op.seq
    }
    for (const op of ops) {
      if (op.op === 'log') {
        this.#log.push({
          seq: op.seq,
          to: [...op.to],
          message: op.message,
          ...(op.meta && { meta: op.meta }),
        })
      } else if (op.op === 'set') this.#state.set(op.field, op.value)
      else if (op.op === 'del') this.#state.delete(op.field)
      else if (op.op === 'drop') this.#sets.delete(op.set)
      else {
        let set = this.#sets.get(op.set)
        if (!set) {
          set = new Set()
          this.#sets.set(op.set, set)
        }
        for (const m of op.members) set.add(m)
      }
    }
    if (this.#log.length > logMaxLength) {
      const trimmed = this.#log.splice(0, this.#log.length - logMaxLength)
      this.#floor = trimmed.at(-1)!.seq
      this.#state.set('logFloor', String(this.#floor))
    }
    this.#wake()
  }

  async state(): Promise<Record<string, string>> {
    return Object.fromEntries(this.#state)
  }

  async members(set: string): Promise<string[]> {
    return [...(this.#sets.get(set) ?? [])]
  }

  async isMember(set: string, member: string): Promise<boolean> {
    return this.#sets.get(set)?.has(member) ?? false
  }

  async read(afterSeq: number, count: number): Promise<LogRecord[]> {
    const out: LogRecord[] = []
    for (const r of this.#log) {
      if (r.seq <= afterSeq) continue
      out.push(r)
      if (out.length >= count) break
    }
    return out
  }

  async bounds() {
    return {
      first: this.#log[0]?.seq ?? 0,
      last: this.#log.at(-1)?.seq ?? 0,
      length: this.#log.length,
      floor: this.#floor,
    }
  }

  async tail(afterSeq: number, count: number, blockMs: number): Promise<LogRecord[]> {
    const now = await this.read(afterSeq, count)
    if (now.length > 0 || blockMs <= 0) return now
    await this.#wait(blockMs)
    return this.read(afterSeq, count)
  }

  async stateField(field: string): Promise<string | undefined> {
    return this.#state.get(field)
  }

  async epoch(candidate: string): Promise<string> {
    this.#epoch ??= candidate
    return this.#epoch
  }

  async setPresence(clientId: string, record: string | undefined): Promise<void> {
    if (record === undefined) this.#presence.delete(clientId)
    else this.#presence.set(clientId, record)
  }

  async dropPresence(clientId: string, record: string): Promise<boolean> {
    if (this.#presence.get(clientId) !== record) return false
    return this.#presence.delete(clientId)
  }

  async presence(): Promise<Record<string, string>> {
    return Object.fromEntries(this.#presence)
  }

  async setRewarm(changeId: string, clientId: string, record: string, ttlMs: number) {
    const now = this.now()
    for (const [id, r] of this.#rewarm) if (r.until <= now) this.#rewarm.delete(id)
    let r = this.#rewarm.get(changeId)
    if (!r) {
      r = { until: 0, records: new Map() }
      this.#rewarm.set(changeId, r)
    }
    r.until = now + ttlMs
    r.records.set(clientId, record)
  }

  async rewarm(changeId: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.#live(changeId)?.records ?? [])
  }

  async rewarmOf(changeId: string, clientId: string): Promise<string | undefined> {
    return this.#live(changeId)?.records.get(clientId)
  }

  #live(changeId: string) {
    const r = this.#rewarm.get(changeId)
    return r && r.until > this.now() ? r : undefined
  }

  async publish(event: string): Promise<string> {
    const id = `${++this.#eventSeq}-0`
    this.#events.push({ id, event })
    if (this.#events.length > EVENTS_KEPT) this.#events.splice(0, this.#events.length - EVENTS_KEPT)
    this.#wake()
    return id
  }

  async firstEventId(): Promise<string> {
    return this.#events[0]?.id ?? '0-0'
  }

  async lastEventId(): Promise<string> {
    return this.#events.at(-1)?.id ?? '0-0'
  }

  async events(afterId: string, count: number, blockMs: number) {
    const after = Number(afterId.split('-')[0])
    const pick = () =>
      this.#events.filter((e) => Number(e.id.split('-')[0]) > after).slice(0, count)
    const now = pick()
    if (now.length > 0 || blockMs <= 0) return now
    await this.#wait(blockMs)
    return pick()
  }

  async heartbeatReplica(replica: string, until: number): Promise<void> {
    this.#replicas.set(replica, until)
  }

  async replicas(): Promise<Record<string, number>> {
    return Object.fromEntries(this.#replicas)
  }

  async close(): Promise<void> {
    this.#wake()
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        this.#waiters.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      this.#waiters.add(done)
    })
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w()
  }

  #held() {
    if (this.#leader && this.#leader.until <= this.now()) this.#leader = undefined
    return this.#leader
  }
}
