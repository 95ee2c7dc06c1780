/**
 * Rewarm checkpoints in the store: each client's latest progress record per
 * rewarm change, with when it came. Progress in the API is their sum, so a
 * restarted (or newly elected) coordinator reports what was done before it;
 * a restarted client reads its own records back and continues where it was.
 */
import { keysLeft, type RewarmReport } from '../model/rewarm.js'
import { rewarmReportSchema } from '../protocol/messages.js'
import type { Store } from '../store/store.js'

export interface LedgerOptions {
  readonly now: () => number
  /** How long a checkpoint is kept after its last report, ms. */
  readonly ttlMs: () => number
  /** An unfinished checkpoint not reported for this long is abandoned, ms. */
  readonly staleAfterMs: () => number
}

/** A stored checkpoint: the client's report and when it came. */
interface Record_ {
  readonly report: RewarmReport
  readonly at: number | undefined
}

/** A change's checkpoints read from the store are reused this long (other replicas' reports show within it), ms. */
const REREAD_MS = 1000

export class RewarmLedger {
  /**
   * Each change's checkpoints as last read from the store, with this
   * process's own reports written through: progress polled by many (a
   * dashboard, `status --watch`) reads the store once a second per change,
   * not once per request.
   */
  readonly #read = new Map<string, { at: number; records: Promise<Map<string, Record_>> }>()
  #writes = 0

  constructor(
    private readonly store: Pick<Store, 'setRewarm' | 'rewarm' | 'rewarmOf'>,
    private readonly opts: LedgerOptions,
  ) {}

  /** Checkpoints written so far (what a request changed, for `inspect()`). */
  get writes(): number {
    return this.#writes
  }

  async record(clientId: string, reports: Readonly<Record<string, RewarmReport>>): Promise<void> {
    const at = this.opts.now()
    this.#writes += Object.keys(reports).length
    await Promise.all(
      Object.entries(reports).map(async ([changeId, report]) => {
        await this.store.setRewarm(
          changeId,
          clientId,
          JSON.stringify({ ...report, at }),
          this.opts.ttlMs(),
        )
        // Written through to what was read (a failed read has nothing to write to).
        await this.#read.get(changeId)?.records.then(
          (records) => records.set(clientId, { report, at }),
          () => {},
        )
      }),
    )
  }

  /** Every client's checkpoint of `changeId`, read from the store at most once per REREAD_MS. */
  #records(changeId: string): Promise<Map<string, Record_>> {
    const now = this.opts.now()
    const read = this.#read.get(changeId)
    if (read && now - read.at < REREAD_MS) return read.records
    for (const [id, r] of this.#read) if (now - r.at > 60_000) this.#read.delete(id)
    const records = this.store.rewarm(changeId).then((raw) => {
      const out = new Map<string, Record_>()
      for (const [clientId, text] of Object.entries(raw)) {
        const rec = parse(text)
        if (rec) out.set(clientId, rec)
      }
      return out
    })
    this.#read.set(changeId, { at: now, records })
    // A failed read is not kept: the next request tries the store again.
    records.catch(() => {
      if (this.#read.get(changeId)?.records === records) this.#read.delete(changeId)
    })
    return records
  }

  /**
   * Keys done, failed and to fetch, summed over every client's checkpoint
   * (`total` leaves out the `skipped`: keys a client's cache could not hold);
   * `orphaned`: keys left on clients that are gone (`gone`): not `connected`
   * any more, or silent about it for `staleAfterMs`.
   */
  async progress(changeId: string, connected: ReadonlySet<string>) {
    const out = { done: 0, failed: 0, skipped: 0, orphaned: 0, total: 0, clients: 0, gone: 0 }
    const silentSince = this.opts.now() - this.opts.staleAfterMs()
    for (const [clientId, rec] of await this.#records(changeId)) {
      const r = rec.report
      const skipped = r.skipped ?? 0
      out.done += r.done
      out.failed += r.failed ?? 0
      out.skipped += skipped
      out.total += r.total - skipped
      out.clients++
      const left = keysLeft(r)
      const silent = rec.at !== undefined && rec.at < silentSince
      if (left > 0 && (!connected.has(clientId) || silent)) {
        out.orphaned += left
        out.gone++
      }
    }
    return out
  }

  async one(changeId: string, clientId: string): Promise<RewarmReport | undefined> {
    const raw = await this.store.rewarmOf(changeId, clientId)
    return raw === undefined ? undefined : parse(raw)?.report
  }

  /** `clientId`'s checkpoints of those of `changeIds` it has one of. */
  async of(
    clientId: string,
    changeIds: readonly string[],
  ): Promise<{ changeId: string; checkpoint: RewarmReport }[]> {
    const found = await Promise.all(changeIds.map((id) => this.one(id, clientId)))
    const out: { changeId: string; checkpoint: RewarmReport }[] = []
    found.forEach((checkpoint, i) => {
      if (checkpoint) out.push({ changeId: changeIds[i]!, checkpoint })
    })
    return out
  }
}

/** A record we wrote ourselves; one that does not parse is skipped, never fatal. */
const parse = (raw: string): Record_ | undefined => {
  try {
    const { at, ...rest } = JSON.parse(raw) as { at?: unknown }
    const r = rewarmReportSchema.safeParse(rest)
    if (!r.success) return undefined
    return { report: r.data, at: typeof at === 'number' ? at : undefined }
  } catch {
    return undefined
  }
}
