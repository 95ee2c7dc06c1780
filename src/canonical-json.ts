/**
 * Canonical JSON: object keys sorted, undefined members dropped, so equal
 * values always have equal text. Used for identities (coalescing) and for
 * what HMAC signatures cover. Written with an explicit stack, not recursion:
 * any depth is written without overflowing the call stack (the text is the
 * one the recursive version wrote; signatures depend on it).
 */

/** Text to write as is; anything else on the work stack is a value still to write. */
class Text {
  constructor(readonly text: string) {}
}

const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0)

export const canonicalJson = (value: unknown): string => {
  let out = ''
  // Work in reverse order of writing: the top of the stack is written next.
  const work: unknown[] = [value]
  while (work.length > 0) {
    const v = work.pop()
    if (v instanceof Text) {
      out += v.text
    } else if (v === null || typeof v !== 'object') {
      out += JSON.stringify(v) ?? 'null'
    } else if (Array.isArray(v)) {
      if (v.length === 0) {
        out += '[]'
        continue
      }
      out += '['
      work.push(new Text(']'))
      for (let i = v.length - 1; i >= 0; i--) {
        work.push(v[i])
        if (i > 0) work.push(new Text(','))
      }
    } else {
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(byKey)
      out += '{'
      work.push(new Text('}'))
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, x] = entries[i]!
        work.push(x, new Text(`${i > 0 ? ',' : ''}${JSON.stringify(k)}:`))
      }
    }
  }
  return out
}
