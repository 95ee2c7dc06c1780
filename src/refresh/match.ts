/** Does an invalidation target touch a cached entry? */
import type { Target } from '../model/change.js'

export const matchesTarget = (target: Target, key: string, tags: readonly string[]): boolean => {
  if (target.all) return true
  if (target.keys?.includes(key)) return true
  if (target.tags?.length && tags.some((t) => target.tags!.includes(t))) return true
  if (target.prefixes?.some((p) => key.startsWith(p))) return true
  return false
}
