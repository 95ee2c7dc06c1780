/**
 * Salted shard hashing: shard(clientId, salt) = fnv1a32(salt + ':' + clientId) mod shards.
 * The salt is the change id by default, so the first wave is not always the same clients.
 */

/** FNV-1a, 32 bit, over the UTF-16 code units of `s` (stable across platforms). */
export const fnv1a32 = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export const shardOf = (clientId: string, salt: string, shards: number): number =>
  fnv1a32(`${salt}:${clientId}`) % shards
