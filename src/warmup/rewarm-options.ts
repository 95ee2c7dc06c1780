/**
 * The `rewarm` config section: the adaptive fleet rate (AIMD on the origin's
 * latency and errors, from heartbeats) and the bounds of a rewarm. Here, in
 * the core, so the coordinator and the simulator run the same defaults.
 */
import { between } from '../validate.js'
import { aimdSchema } from './aimd.js'

/** How often a client heartbeats while a rewarm runs, ms (the SDK's `rewarmHeartbeatMs` default). */
export const REWARM_HEARTBEAT_MS = 1000

export const rewarmSchema = aimdSchema.extend({
  /** Most keys one rewarm change may list, at most 10 million (larger sets: several changes, or hotSet). @default 100000 */
  maxKeys: between(1, 10_000_000, { int: true }).default(100_000),
  /** Largest NDJSON body of keys, bytes (at most 1 GiB). @default 16 MiB */
  maxBodyBytes: between(1, 1024 ** 3, { int: true }).default(16 * 1024 * 1024),
  /** Control interval, ms, in [10, 3600000]. @default 1000 */
  intervalMs: between(10, 3_600_000).default(1000),
  /** How long clients' rewarm checkpoints are kept after their last report, ms (at most 30 days). @default 7 days */
  checkpointTtlMs: between(1, 30 * 86_400_000, { int: true }).default(7 * 24 * 3600 * 1000),
  /**
   * A client that has not reported its unfinished rewarm for this long counts
   * as gone (its keys orphaned), even if connected: it restarted without
   * continuing, or stopped reporting. @default 60000
   */
  staleAfterMs: between(1, 86_400_000).default(60_000),
})
