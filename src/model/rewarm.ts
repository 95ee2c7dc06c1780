/**
 * A client's progress on one rewarm, and its checkpoint: every key of the
 * change's list before `cursor` is settled, and so are the listed ones after
 * it. The SDK keeps it (warmup/progress.ts), heartbeats carry it (the wire
 * schema in protocol/ checks it), the coordinator keeps the last one.
 */

/** Indexes past the cursor a report carries at most; beyond them a resumed client refetches. */
export const MAX_AHEAD = 1000

export interface RewarmReport {
  /** Keys fetched (or found fresh). */
  done: number
  /** Keys of the rewarm on this client (the change's list, or its own hot set). */
  total: number
  /** Keys given up on after retries (origin errors). */
  failed?: number
  /** Keys not fetched: this client's cache could not hold them (they would evict hotter ones). */
  skipped?: number
  /** Keys of the change's list settled in order: all those before this index. */
  cursor?: number
  /** Indexes past the cursor that are settled too (at most MAX_AHEAD). */
  ahead?: number[]
}

/** Keys a rewarm report has not settled or skipped yet (0: finished). */
export function keysLeft(r: Pick<RewarmReport, 'done' | 'total' | 'failed' | 'skipped'>): number {
  return r.total - r.done - (r.failed ?? 0) - (r.skipped ?? 0)
}
