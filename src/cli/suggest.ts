/**
 * "Did you mean": the known word closest to a mistyped one, offered only
 * when it is close (a slip of one or two keys, or a unique start of it), so
 * a suggestion is never a guess at something else.
 */

/** Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`: optimal string alignment. */
export const editDistance = (a: string, b: string): number => {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** How many edits still read as a slip: 1 for short words, 2 from 5 letters, 3 from 9. */
const closeEnough = (word: string): number => (word.length >= 9 ? 3 : word.length >= 5 ? 2 : 1)

/**
 * The known words `typed` is a slip of, best first: those at the least edit
 * distance within `closeEnough` (case ignored), or else the one word it is a
 * unique start of (3 letters at least). Empty when none is close.
 */
export const closest = (typed: string, known: Iterable<string>): string[] => {
  const t = typed.toLowerCase()
  const words = [...new Set(known)]
  let best = Number.POSITIVE_INFINITY
  let found: string[] = []
  for (const w of words) {
    const d = editDistance(t, w.toLowerCase())
    if (d > closeEnough(t) || d > best) continue
    if (d < best) found = []
    best = d
    found.push(w)
  }
  if (found.length > 0) return found
  const starts = t.length >= 3 ? words.filter((w) => w.toLowerCase().startsWith(t)) : []
  return starts.length === 1 ? starts : []
}

/** `did you mean "status"?` (or `"a" or "b"`), quoted with `q`; undefined when nothing is close. */
export const didYouMean = (
  typed: string,
  known: Iterable<string>,
  q: (word: string) => string = (w) => `"${w}"`,
): string | undefined => {
  const words = closest(typed, known).slice(0, 3)
  return words.length === 0 ? undefined : `did you mean ${words.map(q).join(' or ')}?`
}
