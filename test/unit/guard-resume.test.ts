/**
 * A rewarm checkpoint handed back at a restart is taken up only if the
 * coordinator signed it for this fleet, this client and the nonce the client
 * asked with, and the change beside it is the one signed for: anything else
 * is refused and counted like a bad stream message.
 */
import { describe, expect, it } from 'vitest'
import type { Change } from '../../src/model/change.js'
import { changeDigest } from '../../src/protocol/messages.js'
import { signMessage } from '../../src/protocol/sign.js'
import { Guard } from '../../src/sdk/guard.js'
import { devSigningKeys } from '../../src/sdk/index.js'

const [kid, key] = Object.entries(devSigningKeys)[0]!
const NONCE = 'n0nce-1234'
const change = {
  id: 'chg-7',
  kind: 'rewarm',
  mode: 'soft',
  target: { keys: ['a', 'b'] },
} as unknown as Change
const signed = (over: Record<string, unknown> = {}) =>
  signMessage(
    {
      v: 1,
      type: 'rewarm-resume',
      fleet: 'blue',
      clientId: 'app-1',
      nonce: NONCE,
      changeId: 'chg-7',
      digest: changeDigest(change),
      checkpoint: { done: 1, total: 2, cursor: 1 },
      ...over,
    },
    kid,
    key,
  )

describe('Guard.checkResume', () => {
  it('takes a checkpoint signed for this fleet, client and nonce, with its change', () => {
    const g = new Guard(devSigningKeys, 'blue')
    const v = g.checkResume({ signed: signed(), change }, 'app-1', NONCE)
    expect(v).toEqual({
      ok: true,
      resume: { changeId: 'chg-7', checkpoint: { done: 1, total: 2, cursor: 1 }, change },
    })
    // A finished one comes without its change: enough to do nothing when it is replayed.
    const done = signed({ checkpoint: { done: 2, total: 2, cursor: 2 } })
    expect(g.checkResume({ signed: done }, 'app-1', NONCE)).toMatchObject({
      ok: true,
      resume: { changeId: 'chg-7', checkpoint: { done: 2 } },
    })
    expect(g.rejected).toEqual({})
  })

  const other = { ...change, target: { keys: ['a', 'x'] } } as Change
  it.each([
    ['unsigned', { signed: { ...signed(), sig: undefined }, change }, 'unsigned'],
    [
      'with a forged checkpoint',
      { signed: { ...signed(), checkpoint: { done: 0, total: 2, cursor: 0 } }, change },
      'bad-signature',
    ],
    ['with another change beside it', { signed: signed(), change: other }, 'bad-signature'],
    ['for another fleet', { signed: signed({ fleet: 'green' }), change }, 'wrong-fleet'],
    ['for another client', { signed: signed({ clientId: 'app-2' }), change }, 'replayed'],
    ['answering another nonce', { signed: signed({ nonce: 'old-nonce-1' }), change }, 'replayed'],
    [
      'whose total is not its list',
      { signed: signed({ checkpoint: { done: 1, total: 3, cursor: 1 } }), change },
      'malformed',
    ],
    [
      'whose checkpoint names fewer keys than it counts',
      { signed: signed({ checkpoint: { done: 2, total: 2, cursor: 0 } }), change },
      'malformed',
    ],
    ['of another kind of message', { signed: signed({ type: 'change' }), change }, 'malformed'],
    ['that is nothing', null, 'malformed'],
  ])('refuses one %s', (_, entry, reason) => {
    const g = new Guard(devSigningKeys, 'blue')
    expect(g.checkResume(entry, 'app-1', NONCE)).toEqual({ ok: false, reason })
    expect(g.rejected).toEqual({ [reason]: 1 })
  })
})
