/**
 * A rewarm handed back at a restart is taken up only if the coordinator
 * signed it, for this fleet and this client: an unsigned or forged one, or
 * one meant for another client, is refused and counted like a bad stream
 * message.
 */
import { describe, expect, it } from 'vitest'
import { signMessage } from '../../src/protocol/sign.js'
import { Guard } from '../../src/sdk/guard.js'
import { devSigningKeys } from '../../src/sdk/index.js'

const [kid, key] = Object.entries(devSigningKeys)[0]!
const resume = (over: Record<string, unknown> = {}) => ({
  v: 1,
  type: 'rewarm-resume',
  fleet: 'blue',
  clientId: 'app-1',
  change: { id: 'chg-7', kind: 'rewarm', target: { keys: ['a', 'b'] } },
  checkpoint: { done: 1, total: 2, cursor: 1 },
  ...over,
})

describe('Guard.checkResume', () => {
  it('takes a signed rewarm for this fleet and client', () => {
    const g = new Guard(devSigningKeys, 'blue')
    const v = g.checkResume(signMessage(resume(), kid, key), 'app-1')
    expect(v.ok && v.message.change.id).toBe('chg-7')
    expect(g.rejected).toEqual({})
  })

  it.each([
    ['unsigned', resume(), 'unsigned'],
    [
      'forged',
      { ...signMessage(resume(), kid, key), checkpoint: { done: 0, total: 2 } },
      'bad-signature',
    ],
    ['for another fleet', signMessage(resume({ fleet: 'green' }), kid, key), 'wrong-fleet'],
    ['for another client', signMessage(resume({ clientId: 'app-2' }), kid, key), 'malformed'],
    [
      'not a rewarm',
      signMessage(resume({ change: { id: 'c', kind: 'invalidate' } }), kid, key),
      'malformed',
    ],
    ['another kind of message', signMessage(resume({ type: 'change' }), kid, key), 'malformed'],
  ])('refuses one %s', (_, entry, reason) => {
    const g = new Guard(devSigningKeys, 'blue')
    expect(g.checkResume(entry, 'app-1')).toEqual({ ok: false, reason })
    expect(g.rejected).toEqual({ [reason]: 1 })
  })
})
