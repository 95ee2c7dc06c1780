/**
 * Rewarm checkpoints in the store: each client's latest progress record per
 * rewarm change, with when it came. Progress in the API is their sum, so a
 * restarted (or newly elected) coordinator reports what was done before it;
 * a restarted client reads its own records back and continues where it was.
 */
import { type RewarmReport, rewarmReportSchema } from '../protocol/messages.js'
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

export class RewarmLedger {
  constructor(
    private readonly store: Pick<Store, 'setRewarm' | 'rewarm' | 'rewarmOf'>,
    private readonly opts: LedgerOptions,
  ) {}

  async record(clientId: string, reports: Readonly<Record<string, RewarmReport>>): Promise<void> {
    const at = this.opts.now()
    await Promise.all(
      Object.entries(reports).map(([changeId, r]) =>
        this.store.setRewarm(changeId, clientId, JSON.stringify({ ...r, at }), this.opts.ttlMs()),
      ),
    )
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
    for (const [clientId, raw] of Object.entries(await this.store.rewarm(changeId))) {
      const rec = parse(raw)
      if (!rec) continue
      const r = rec.report
      const failed = r.failed ?? 0
      const skipped = r.skipped ?? 0
      out.done += r.done
      out.failed += failed
      out.skipped += skipped
      out.total += r.total - skipped
      out.clients++
      const left = r.total - skipped - r.done - failed
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
