/** The docs cannot drift: every error code is documented, and the README's example is the one that runs. */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { errorCodes, httpOnlyCodes, httpStatus } from '../src/error-codes.js'

const root = join(import.meta.dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')

describe('README', () => {
  it('documents every error code, and each HTTP-only one with its status', () => {
    for (const code of Object.keys(errorCodes))
      expect(readme).toMatch(new RegExp(`\\| \`${code}\` +\\|`))
    for (const code of httpOnlyCodes)
      expect(readme).toMatch(new RegExp(`\\| \`${code}\` +\\| ${httpStatus[code]} +\\|`))
  })

  it('shows examples/engine-quickstart.ts verbatim, and it runs as described', () => {
    const source = readFileSync(join(root, 'examples', 'engine-quickstart.ts'), 'utf8')
    expect(readme).toContain(source.trim())
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
    const blocks = [...readme.matchAll(/^```.*\n([\s\S]*?)^```/gm)].map((m) => m[1]!)
    expect(blocks.join('\n')).toContain('node dist/cli/main.js push')
    expect(blocks.join('\n')).not.toContain('npx slew')
  })

  it('names the two commands', () => {
    expect(readme).toContain('npm ci')
    expect(readme).toContain('npm test')
  })
})
