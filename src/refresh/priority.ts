/**
 * Order of refetches waiting for a token: a reader blocked on a hard miss
 * first, then stale entries someone asked for, then background rewarm.
 * Higher runs first (p-queue's convention).
 */
export const refreshPriority = { hardMiss: 3, softRefresh: 2, rewarm: 1 } as const
export type RefreshReason = keyof typeof refreshPriority
