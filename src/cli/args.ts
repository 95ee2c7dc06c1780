/**
 * Flag parsing on node:util's parseArgs (strict): unknown flags and bad
 * values become coded errors (exit code 2) before anything runs.
 */
import { accessSync, constants, statSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { InvalidOptionError, UnknownFlagError } from '../errors.js'
import { didYouMean } from './suggest.js'

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
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
      throw unknownFlag(/'([^']+)'/.exec(message)?.[1] ?? message, spec)
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

/** An unknown flag, with the command's own flag it is a slip of, if one is close (`--resaon`: `--reason`). */
const unknownFlag = (flag: string, spec: Options): UnknownFlagError => {
  const error = new UnknownFlagError(flag)
  const hint = flag.startsWith('--')
    ? didYouMean(flag.slice(2), Object.keys(spec), (name) => `\`--${name}\``)
    : undefined
  if (hint) error.message = `${error.message}: ${hint}`
  return error
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

/**
 * An output file named by a flag, checked before anything runs: not empty,
 * not a directory, in a directory that exists and can be written to (or, if
 * the file exists, the file can be written to). Otherwise an
 * InvalidOptionError naming the flag, the rule and the path.
 */
export const checkOutputPath = (field: string, path: string): void => {
  if (path === '') throw new InvalidOptionError(field, 'a file path', path)
  const target = statOf(resolve(path))
  if (target?.isDirectory()) throw new InvalidOptionError(field, 'a file, not a directory', path)
  const dir = dirname(resolve(path))
  const parent = statOf(dir)
  if (!parent)
    throw new InvalidOptionError(field, `a path in an existing directory (no ${dir})`, path)
  if (!parent.isDirectory()) {
    throw new InvalidOptionError(field, `a path in a directory (${dir} is not one)`, path)
  }
  try {
    accessSync(target ? resolve(path) : dir, constants.W_OK)
  } catch {
    const what = target ? 'a writable file' : `a path in a writable directory (${dir} is not)`
    throw new InvalidOptionError(field, what, path)
  }
}

/** Write an output file named by a flag; a failure is an InvalidOptionError naming the flag, not a stack. */
export const writeOutput = (field: string, path: string, data: string): void => {
  try {
    writeFileSync(path, data)
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new InvalidOptionError(
      field,
      `a file that can be written (writing it failed: ${reason})`,
      path,
    )
  }
}

const statOf = (path: string) => {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}
