/**
 * The `config` frame a new client starts from, signed once per version of
 * the fleet's stable config, not once per connection: a config of a few
 * megabytes takes tens of milliseconds to sign and frame, and admission lets
 * hundreds of clients in per second. Shared by every runtime.
 *
 * The frame carries the sequence number it was signed at; a client resumes
 * from it. Entries after it are only ever replayed to a client they were
 * for, so an older number is as good as the newest, as long as the log
 * still holds it: the frame is signed again once the log has moved on by
 * more than half of what it holds, so a client that got it keeps at least
 * that much log to resume within.
 */
import type { LogPosition } from './catch-up.js'

/** A frame signed at `seq` is still good at `at` (the log keeps its resume point, with room to spare). */
export const stillFresh = (seq: number, at: Pick<LogPosition, 'last' | 'floor'>): boolean =>
  seq >= at.floor && at.last - seq <= (at.last - at.floor) / 2

export class ConfigFrames {
  #cached: { version: unknown; epoch: string; seq: number; frame: string } | undefined

  /**
   * The frame for config `version` (anything compared with ===: the values
   * object, a digest) at log position `at`; `make(seq)` signs a new one.
   */
  frame(version: unknown, at: LogPosition, make: (seq: number) => string): string {
    const c = this.#cached
    if (c && c.version === version && c.epoch === at.epoch && stillFresh(c.seq, at)) return c.frame
    const frame = make(at.last)
    this.#cached = { version, epoch: at.epoch, seq: at.last, frame }
    return frame
  }
}
