/** `slew/sdk`: the client app servers embed. */

export {
  HttpError,
  NotConnectedError,
  OverBudgetError,
  RefusingError,
  SlewError,
  WrongFleetError,
} from '../errors.js'
export type { Change } from '../model/change.js'
export { DEV_KID, DEV_SIGNING_KEY, devSigningKeys } from '../protocol/dev-key.js'
export { createClient, SlewClient } from './client.js'
export { type SlewKeyvStore, type SlewKeyvStoreOptions, slewKeyvStore } from './keyv.js'
export { type AttachLruOptions, attachLruCache } from './lru-hook.js'
export type { ClientOptions, ClientStats, SlewClientEvents } from './options.js'
