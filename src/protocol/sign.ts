/**
 * Stream messages are signed with HMAC-SHA256 over their canonical JSON
 * (every field but `sig`, the key id included), once per message however
 * many clients receive it. A key id (`kid`) names the key, so keys rotate:
 * clients hold the old and the new key while the coordinator switches.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { canonicalJson } from '../canonical-json.js'

/** Key id → secret. */
export type SigningKeys = Readonly<Record<string, string | Uint8Array>>

export interface Signed {
  readonly kid: string
  readonly sig: string
}

const mac = (key: string | Uint8Array, text: string): Buffer =>
  createHmac('sha256', key).update(text).digest()

/**
 * An HMAC-SHA256 as signMessage writes it: exactly 43 base64url characters.
 * Node's decoder skips what it cannot read and ignores the last
 * character's spare bits, so without this a signature with junk appended,
 * or another spelling of its last character, verified too.
 */
const SIG = /^[A-Za-z0-9_-]{43}$/

/** The signature's bytes if `sig` is their one exact spelling, else undefined. */
const sigBytes = (sig: string): Buffer | undefined => {
  if (!SIG.test(sig)) return undefined
  const bytes = Buffer.from(sig, 'base64url')
  return bytes.toString('base64url') === sig ? bytes : undefined
}

export const signMessage = <T extends object>(
  payload: T,
  kid: string,
  key: string | Uint8Array,
): T & Signed => {
  const unsigned = { ...payload, kid }
  return { ...unsigned, sig: mac(key, canonicalJson(unsigned)).toString('base64url') }
}

export type VerifyFailure = 'malformed' | 'unsigned' | 'unknown-kid' | 'bad-signature'

export type Verified<T> = { ok: true; message: T & Signed } | { ok: false; reason: VerifyFailure }

/** Check a parsed message's signature against the keys we trust. Constant-time compare. */
export const verifyMessage = <T extends object>(
  message: unknown,
  keys: SigningKeys,
): Verified<T> => {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    return { ok: false, reason: 'malformed' }
  }
  const { sig, ...unsigned } = message as Record<string, unknown>
  const kid = unsigned.kid
  if (typeof sig !== 'string' || typeof kid !== 'string') return { ok: false, reason: 'unsigned' }
  const key = Object.hasOwn(keys, kid) ? keys[kid] : undefined
  if (key === undefined) return { ok: false, reason: 'unknown-kid' }
  const given = sigBytes(sig)
  if (given === undefined) return { ok: false, reason: 'bad-signature' }
  const expected = mac(key, canonicalJson(unsigned))
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad-signature' }
  }
  return { ok: true, message: message as T & Signed }
}
