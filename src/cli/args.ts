/**
 * Flag parsing on node:util's parseArgs (strict): unknown flags and bad
 * values become coded errors (exit code 2) before anything runs.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { InvalidOptionError, UnknownFlagError } from '../errors.js'

type Options = NonNullable<ParseArgsConfig['options']>

export type FlagValues<S extends Options> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : string
}

/** `--budget -1` reads as a flag to parseArgs; a negative number after a value flag is its value. */
const joinNegatives = (argv: readonly string[], spec: Options): string[] => {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const next = argv[i + 1]
    const name = arg.startsWith('--') ? arg.slice(2) : undefined
    if (name && spec[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}

export const parseFlags = <const S extends Options>(
  argv: string[],
  spec: S,
): { values: FlagValues<S>; positionals: string[] } => {
  try {
    return parseArgs({
      args: joinNegatives(argv, spec),
      options: spec,
      strict: true,
      allowPositionals: true,
    }) as {
      values: FlagValues<S>
      positionals: string[]
    }
  } catch (error) {
    const code = (error as { code?: string }).code
    const message = (error as Error).message
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new UnknownFlagError(/'([^']+)'/.exec(message)?.[1] ?? message)
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const flag = /'(-[^']+)'/.exec(message)?.[1] ?? 'flag'
      const name = flag.replace(/^-+/, '').split(' ')[0]!
      const rule = spec[name]?.type === 'boolean' ? 'given without a value' : 'given a value'
      throw new InvalidOptionError(name, rule, undefined)
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new InvalidOptionError('arguments', 'flags only', message)
    }
    throw error
  }
}

/** A flag's text as a number; a non-number is an InvalidOptionError naming the flag. */
export const num = (field: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const n = text.trim() === '' ? Number.NaN : Number(text.replace(/_/g, ''))
  if (Number.isNaN(n)) throw new InvalidOptionError(field, 'a number', text)
  return n
}

/** "0.01,0.05,1" → [0.01, 0.05, 1] */
export const numList = (field: string, text: string | undefined): number[] | undefined => {
  if (text === undefined) return undefined
  return text.split(',').map((part) => {
    const n = part.trim() === '' ? Number.NaN : Number(part)
    if (Number.isNaN(n)) throw new InvalidOptionError(field, 'comma-separated numbers', text)
    return n
  })
}

/** Drop undefined values so schema defaults apply. */
export const defined = <T extends Record<string, unknown>>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
