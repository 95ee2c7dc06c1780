/**
 * Salted shard hashing: shard(clientId, salt) = fnv1a32(salt + ':' + clientId) mod shards.
 * The salt is the change id by default, so the first wave is not always the same clients.
 */

/** FNV-1a's state (signed 32 bit) after `s` from state `h`: a common prefix is hashed once. */
export const fnv1a32From = (h: number, s: string): number => {
  let x = h
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i)
    x = Math.imul(x, 0x01000193)
  }
  return x
}

/** FNV-1a, 32 bit, over the UTF-16 code units of `s` (stable across platforms). */
export const fnv1a32 = (s: string): number => fnv1a32From(0x811c9dc5, s) >>> 0

export const shardOf = (clientId: string, salt: string, shards: number): number =>
  fnv1a32(`${salt}:${clientId}`) % shards

/**
 * shardOf for one salt and many clients: the salt and its ':' are hashed
 * once, then each client id alone (no string built per client). A wave
 * start hashes every live client; at a catalog's rate that is the fleet
 * hundreds of times a second.
 */
export const shardsOf = (salt: string, shards: number): ((clientId: string) => number) => {
  const prefix = fnv1a32From(0x811c9dc5, `${salt}:`)
  return (clientId) => (fnv1a32From(prefix, clientId) >>> 0) % shards
}
