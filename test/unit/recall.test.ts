/**
 * What clients prove to a coordinator that lost its state is taken only if
 * this fleet signed it, in an epoch before this one: the config it adds up
 * to is adopted once, each hard invalidation is rolled out again once, and
 * each client is heard once per epoch.
 */
import { describe, expect, it } from 'vitest'
import { type Signer, signFor } from '../../src/coordinator/log.js'
import { Recall } from '../../src/coordinator/recall.js'
import { Engine } from '../../src/invalidation/engine.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import { configDigest } from '../../src/protocol/messages.js'
import { devSigningKeys } from '../../src/sdk/index.js'

const KID = Object.keys(devSigningKeys)[0]!
const old: Signer = { fleet: 'shop', epoch: 'old1', kid: KID, keys: devSigningKeys }
const forged: Signer = {
  fleet: 'shop',
  epoch: 'old1',
  kid: KID,
  keys: { [KID]: 'not-the-key-at-all!' },
}
const otherFleet: Signer = { ...old, fleet: 'elsewhere' }

const hard = (s: Signer, id: string, seq = 5) =>
  signFor(s, {
    type: 'change' as const,
    seq,
    change: {
      id,
      seq: 1,
      kind: 'invalidate' as const,
      target: { keys: ['price'] },
      mode: 'hard' as const,
      priority: 'normal' as const,
      submittedAt: 0,
    },
  })
const snapshot = (s: Signer, values: Record<string, unknown>) =>
  signFor(s, { type: 'config' as const, seq: 1, values })
const configChange = (s: Signer, values: Record<string, unknown>) =>
  signFor(s, {
    type: 'change' as const,
    seq: 2,
    change: {
      id: 'chg-old1-2',
      seq: 2,
      kind: 'config' as const,
      values,
      mode: 'soft' as const,
      priority: 'normal' as const,
      submittedAt: 0,
    },
  })

const setup = () => {
  const engine = new Engine({ clock: new VirtualClock(), epoch: 'new1', config: { fleet: 'shop' } })
  engine.join('a', { predates: true })
  const recall = new Recall({ fleet: 'shop', keys: devSigningKeys, epoch: () => 'new1' })
  return { engine, recall }
}

describe('Recall', () => {
  it('adopts the proven config and rolls each proven hard invalidation out again, once', () => {
    const { engine, recall } = setup()
    const values = { 'feature.x': 7, price: 'low' }
    const out = recall.receive(engine, 'a', {
      epoch: 'old1',
      configDigest: configDigest(values),
      config: [snapshot(old, { 'feature.x': 7 }), configChange(old, { price: 'low' })],
      hard: [hard(old, 'chg-old1-3'), hard(forged, 'chg-old1-4'), hard(otherFleet, 'chg-old1-5')],
    })
    expect(out).toEqual({ adopted: true, recovered: ['chg-old1-3'], refused: 2 })
    expect(engine.stableConfigValues).toEqual(values)
    expect(engine.get('chg-old1-3')).toMatchObject({ delivered: 1, change: { mode: 'hard' } })
    expect(recall.hard()).toEqual([{ id: 'chg-old1-3', target: { keys: ['price'] } }])
    // Heard once: the same client again changes nothing; another one adds only what is new.
    expect(
      recall.receive(engine, 'a', {
        epoch: 'old1',
        configDigest: '',
        hard: [hard(old, 'chg-old1-9')],
      }),
    ).toEqual({ adopted: false, recovered: [], refused: 0 })
    const again = recall.receive(engine, 'b', {
      epoch: 'old1',
      configDigest: configDigest({ other: true }),
      config: [snapshot(old, { other: true })],
      hard: [hard(old, 'chg-old1-3'), hard(old, 'chg-old1-9')],
    })
    expect(again).toEqual({ adopted: false, recovered: ['chg-old1-9'], refused: 0 })
    expect(engine.stableConfigValues).toEqual(values)
  })

  it('takes nothing of this epoch, nothing unsigned, and no chain that does not add up', () => {
    const { engine, recall } = setup()
    const now: Signer = { ...old, epoch: 'new1' }
    expect(
      recall.receive(engine, 'a', {
        epoch: 'old1',
        configDigest: configDigest({ 'feature.x': 1 }),
        // A chain whose digest is not what the client runs, and a change of this very epoch.
        config: [snapshot(old, { 'feature.x': 2 })],
        hard: [hard(now, 'chg-new1-1'), { kind: 'invalidate' }],
      }),
    ).toEqual({ adopted: false, recovered: [], refused: 2 })
    expect(engine.stableConfigValues).toEqual({})
    expect(engine.list()).toEqual([])
  })
})
