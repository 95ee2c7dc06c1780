/**
 * The delivery log's budget counts what its entries hold: frames, and the
 * recipient list of each (a fleet-wide delivery's is a fleet of ids), so
 * maxBytes bounds its memory whatever the fleet's size. A client whose
 * resume point was trimmed away is told so ('gap': it gets a reset).
 */
import { describe, expect, it } from 'vitest'
import { createSigner, DeliveryLog, RECIPIENT_BYTES } from '../../src/coordinator/log.js'
import { DEV_KID, DEV_SIGNING_KEY } from '../../src/protocol/dev-key.js'

const signer = createSigner(
  'f',
  { activeKid: DEV_KID, keys: { [DEV_KID]: DEV_SIGNING_KEY } },
  'e1',
  () => {},
)
const change = (n: number) =>
  ({
    type: 'change',
    change: { id: `chg-${n}`, seq: n, kind: 'invalidate', target: { all: true }, submittedAt: 0 },
  }) as never

describe('DeliveryLog', () => {
  it('counts recipient lists against maxBytes, and keeps at least the newest entry', () => {
    const fleet = Array.from({ length: 10_000 }, (_, i) => `c${i}`)
    // Room for three fleet-wide entries' recipients, not four.
    const log = new DeliveryLog(signer, 10_000, 0, 3.5 * 10_000 * RECIPIENT_BYTES)
    for (let n = 1; n <= 20; n++) log.append(change(n), fleet)
    expect(log.length).toBe(3)
    expect(log.bytes).toBeLessThanOrEqual(3.5 * 10_000 * RECIPIENT_BYTES)
    expect(log.oldest).toBe(18)
    // c0 resumes from before what is held: a gap (a reset); from within it, what it missed.
    expect(log.after(5, 'c0')).toBe('gap')
    expect((log.after(18, 'c0') as { seq: number }[]).map((e) => e.seq)).toEqual([19, 20])
    // Small deliveries still fit by the thousand.
    for (let n = 21; n <= 2_000; n++) log.append(change(n), ['c1'])
    expect(log.length).toBeGreaterThan(1_000)
    // One entry larger than the whole budget is still kept (the newest always is).
    const tiny = new DeliveryLog(signer, 100, 0, 1024)
    tiny.append(change(1), fleet)
    expect(tiny.length).toBe(1)
  })
})
