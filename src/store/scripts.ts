/**
 * The Lua scripts, one per file (src/store/lua, copied to dist by the build),
 * registered under versioned names (`slew_<version>_<name>`) with the
 * version stamped into their text: two slew versions on one Redis never run
 * each other's scripts, not even by SHA.
 */
import { readdirSync, readFileSync } from 'node:fs'

const dir = new URL('./lua/', import.meta.url)

export interface Script {
  /** e.g. gcraTake */
  readonly name: string
  /** Fixed key count from the file name (`gcraTake-1.lua`), or undefined when the caller passes it. */
  readonly keys: number | undefined
  readonly lua: string
}

/** The package version, from package.json (two folders up, in src/ and dist/ alike). */
export const packageVersion = (): string =>
  (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
  ).version

export const loadScripts = (version: string): Script[] => {
  const scripts = readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .sort()
    .map((file) => {
      const m = /^(\w+)-(\d+)\.lua$/.exec(file)
      if (!m) throw new Error(`Lua script ${file} is not named <name>-<keys>.lua`)
      const lua = readFileSync(new URL(file, dir), 'utf8').replaceAll('__SLEW_VERSION__', version)
      // commit-3 takes extra keys after its three fixed ones: the caller passes the count.
      return { name: m[1]!, keys: m[1] === 'commit' ? undefined : Number(m[2]), lua }
    })
  // Two files of one name (e.g. a stale copy left in dist/ after a key count changed)
  // would make which one runs depend on directory order: refuse instead.
  const names = scripts.map((s) => s.name)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice) throw new Error(`Lua script ${twice} is defined by two files in ${dir.pathname}`)
  return scripts
}

export const commandName = (version: string, name: string): string =>
  `slew_${version.replace(/[^\w]/g, '_')}_${name}`
