/**
 * The docs cannot drift: every error code is documented, the engine's example
 * is the one that runs, and the config file's example is one slew accepts.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { validateConfig } from '../src/config/check.js'
import { configSchema } from '../src/config/schema.js'
import { errorCodes, httpOnlyCodes, httpStatus } from '../src/error-codes.js'

const root = join(import.meta.dirname, '..')
const read = (file: string) => readFileSync(join(root, file), 'utf8')
const readme = read('README.md')
const docs = readdirSync(join(root, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => ({ file: `docs/${f}`, text: read(`docs/${f}`) }))
const codeBlocks = (text: string) =>
  [...text.matchAll(/^```.*\n([\s\S]*?)^```/gm)].map((m) => m[1]!)

describe('docs', () => {
  it('documents every error code (docs/errors.md), and each HTTP-only one with its status', () => {
    const errors = read('docs/errors.md')
    for (const code of Object.keys(errorCodes))
      expect(errors).toMatch(new RegExp(`\\| \`${code}\` +\\|`))
    for (const code of httpOnlyCodes)
      expect(errors).toMatch(new RegExp(`\\| \`${code}\` +\\| ${httpStatus[code]} +\\|`))
  })

  it('shows examples/engine-quickstart.ts verbatim (docs/engine.md), and it runs as described', () => {
    const source = readFileSync(join(root, 'examples', 'engine-quickstart.ts'), 'utf8')
    expect(read('docs/engine.md')).toContain(source.trim())
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'examples', 'engine-quickstart.ts')],
      {
        encoding: 'utf8',
      },
    )
    expect(out).toContain('1000 clients, 50000 units, done at t=101300 ms')
  })

  it("runs the checkout's CLI as node dist/cli/main.js: npx slew there reinstalls it and rebuilds dist/", () => {
    expect(codeBlocks(readme).join('\n')).toContain('node dist/cli/main.js push')
    for (const { file, text } of [{ file: 'README.md', text: readme }, ...docs])
      expect(codeBlocks(text).join('\n'), file).not.toContain('npx slew')
  })

  it('names the two commands (README)', () => {
    expect(readme).toContain('npm ci')
    expect(readme).toContain('npm test')
  })

  it("shows a config file slew accepts, and names every section of the config's schema (docs/config.md)", () => {
    const config = read('docs/config.md')
    const yaml = /^```yaml\n([\s\S]*?)^```/m.exec(config)![1]!
    const secrets = Object.fromEntries(
      [...yaml.matchAll(/secretEnv: (\w+)/g)].map((m) => [m[1]!, 'a-secret-of-16-chars-or-more']),
    )
    const check = validateConfig(parse(yaml), secrets)
    expect(check.issues).toEqual([])
    const named = new Set([
      ...[...yaml.matchAll(/^(\w+):/gm)].map((m) => m[1]!),
      ...[...config.matchAll(/`(\w+)[`:.]/g)].map((m) => m[1]!),
    ])
    expect(Object.keys(configSchema.shape).filter((section) => !named.has(section))).toEqual([])
  })
})
