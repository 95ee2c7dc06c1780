/**
 * Rewarm checkpoints in the store: each client's latest progress record per
 * rewarm change. Progress in the API is their sum, so a restarted (or newly
 * elected) coordinator reports what was done before it; a restarted client
 * reads its own record back and skips what it had settled.
 */
import { type RewarmReport, rewarmReportSchema } from '../protocol/messages.js'
import type { Store } from '../store/store.js'

export class RewarmLedger {
  constructor(
    private readonly store: Pick<Store, 'setRewarm' | 'rewarm' | 'rewarmOf'>,
    private readonly ttlMs: () => number,
  ) {}

  async record(clientId: string, reports: Readonly<Record<string, RewarmReport>>): Promise<void> {
    await Promise.all(
      Object.entries(reports).map(([changeId, r]) =>
        this.store.setRewarm(changeId, clientId, JSON.stringify(r), this.ttlMs()),
      ),
    )
  }

  /**
   * Keys done, failed and to do, summed over every client's checkpoint;
   * `orphaned`: keys left on clients not `connected` any more (`gone`).
   */
  async progress(changeId: string, connected: ReadonlySet<string>) {
    const out = { done: 0, failed: 0, orphaned: 0, total: 0, clients: 0, gone: 0 }
    for (const [clientId, raw] of Object.entries(await this.store.rewarm(changeId))) {
      const r = parse(raw)
      if (!r) continue
      const failed = r.failed ?? 0
      out.done += r.done
      out.failed += failed
      out.total += r.total
      out.clients++
      const left = r.total - r.done - failed
      if (left > 0 && !connected.has(clientId)) {
        out.orphaned += left
        out.gone++
      }
    }
    return out
  }

  async of(changeId: string, clientId: string): Promise<RewarmReport | undefined> {
    const raw = await this.store.rewarmOf(changeId, clientId)
    return raw === undefined ? undefined : parse(raw)
  }
}

/** A record we wrote ourselves; one that does not parse is skipped, never fatal. */
const parse = (raw: string): RewarmReport | undefined => {
  try {
    const r = rewarmReportSchema.safeParse(JSON.parse(raw))
    return r.success ? r.data : undefined
  } catch {
    return undefined
  }
}
