/**
 * The public API, pinned: each entry's runtime exports, by name. Widening
 * (or narrowing) what users can import is a decision made here, in review,
 * never the side effect of an `export *`.
 */
import { describe, expect, it } from 'vitest'
import * as engine from '../../src/engine.js'
import * as root from '../../src/index.js'
import * as sdk from '../../src/sdk/index.js'
import * as sim from '../../src/sim/index.js'

const names = (m: object) => Object.keys(m).sort()

describe('the public API', () => {
  it('slew-rate: the coordinator, config loading and the errors', () => {
    expect(names(root)).toEqual([
      'AddressInUseError',
      'ClosedError',
      'ConfigTooLargeError',
      'FencedError',
      'HttpError',
      'IdempotencyConflictError',
      'IllegalTransitionError',
      'InvalidOptionError',
      'InvalidOptionsError',
      'NotConfigChangeError',
      'NotConnectedError',
      'OverBudgetError',
      'RefusingError',
      'SlewError',
      'SnapshotError',
      'StoreUnavailableError',
      'UnknownFlagError',
      'UnknownRolloutError',
      'WrongFleetError',
      'checkConfig',
      'configSchema',
      'createCoordinator',
      'describeIssue',
      'errorCodes',
      'invalidOptions',
      'loadConfig',
    ])
  })

  it('slew-rate/engine: about ten names of the pure core', () => {
    expect(names(engine)).toEqual([
      'Engine',
      'VirtualClock',
      'budgetClasses',
      'parseChange',
      'planChange',
      'realClock',
      'rolloutStates',
      'shardOf',
    ])
  })

  it('slew-rate/sdk: the client, its adapters, its errors and the dev key', () => {
    expect(names(sdk)).toEqual([
      'DEV_KID',
      'DEV_SIGNING_KEY',
      'HttpError',
      'NotConnectedError',
      'OverBudgetError',
      'RefusingError',
      'SlewClient',
      'SlewError',
      'WrongFleetError',
      'attachLruCache',
      'createClient',
      'devSigningKeys',
      'slewKeyvStore',
    ])
  })

  it('slew-rate/sim: the simulator', () => {
    expect(names(sim)).toEqual([
      'FleetSim',
      'Origin',
      'clientId',
      'generateFleet',
      'mulberry32',
      'plotSvg',
      'runNaive',
      'simulate',
    ])
  })
})
