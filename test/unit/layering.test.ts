/**
 * The import rule (ARCHITECTURE.md) is enforced by biome.json's
 * noRestrictedImports overrides, which `npm run lint` runs in CI. Here the
 * repository's own biome.json lints a scratch tree with one import per line,
 * each forbidden or allowed by the rule: without the overrides (or with one
 * loosened), a forbidden line goes unflagged and this fails.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repo = resolve(import.meta.dirname, '../..')
const biome = join(repo, 'node_modules/.bin/biome')

/** Per file of the scratch tree: the modules it imports, and whether the rule refuses each. */
const cases: Record<string, Record<string, boolean>> = {
  'src/invalidation/x.ts': {
    '../limiter/bucket.js': false,
    '../model/change.js': false,
    '../warmup/aimd.js': false,
    '../validate.js': false,
    zod: false,
    '../sdk/client.js': true,
    '../coordinator/fleet.js': true,
    '../store/redis.js': true,
    '../cli/main.js': true,
    '../protocol/messages.js': true,
    hono: true,
    '@hono/node-server': true,
    'node:http': true,
    ioredis: true,
  },
  'src/warmup/x.ts': {
    '../refresh/driver.js': false,
    '../model/rewarm.js': false,
    '../protocol/messages.js': true,
    '../coordinator/fleet.js': true,
    '../config/schema.js': true,
  },
  'src/watch/x.ts': {
    '../gates/moments.js': false,
    '../model/clock.js': false,
    '../coordinator/fleet.js': true,
    '../store/redis.js': true,
    ioredis: true,
  },
  'src/model/x.ts': {
    './clock.js': false,
    '../validate.js': false,
    '../limiter/bucket.js': true,
    '../invalidation/change.js': true,
  },
  'src/protocol/x.ts': {
    '../model/change.js': false,
    '../canonical-json.js': false,
    '../invalidation/change.js': true,
    '../limiter/bucket.js': true,
    hono: true,
  },
  'src/sim/x.ts': {
    '../invalidation/engine.js': false,
    '../limiter/virtual-clock.js': false,
    '../model/budget.js': false,
    '../coordinator/fleet.js': true,
    '../sdk/options.js': true,
    '../config/schema.js': true,
    '../store/memory.js': true,
  },
  'src/sdk/x.ts': {
    '../protocol/messages.js': false,
    '../model/change.js': false,
    '../refresh/driver.js': false,
    '../coordinator/fleet.js': true,
    '../store/store.js': true,
    ioredis: true,
  },
  'src/coordinator/replica/x.ts': {
    '../../store/redis.js': false,
    '../../protocol/messages.js': false,
    '../../invalidation/engine.js': false,
    hono: false,
    '../../sdk/client.js': true,
    '../../sim/fleet.js': true,
  },
  'src/store/x.ts': {
    '../limiter/gcra.js': false,
    ioredis: false,
    '../coordinator/fleet.js': true,
    '../sdk/client.js': true,
  },
}

let dir: string
let flagged: Set<string>

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'slew-layering-'))
  const config = JSON.parse(readFileSync(join(repo, 'biome.json'), 'utf8'))
  delete config.$schema
  writeFileSync(join(dir, 'biome.json'), JSON.stringify(config))
  for (const [file, imports] of Object.entries(cases)) {
    const names = Object.keys(imports).map((_, i) => `m${i}`)
    const lines = Object.keys(imports).map((m, i) => `import * as ${names[i]} from '${m}'`)
    lines.push(`export const all = [${names.join(', ')}]`)
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    writeFileSync(join(dir, file), `${lines.join('\n')}\n`)
  }
  const run = spawnSync(biome, ['lint', '--reporter=github', '--max-diagnostics=none', '.'], {
    cwd: dir,
    encoding: 'utf8',
  })
  expect(run.error).toBeUndefined()
  flagged = new Set()
  for (const m of run.stdout.matchAll(
    /^::error title=lint\/style\/noRestrictedImports,file=([^,]+),line=(\d+),/gm,
  )) {
    flagged.add(`${relative(dir, resolve(dir, m[1]!))}:${m[2]}`)
  }
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('the import rule (biome noRestrictedImports)', () => {
  for (const [file, imports] of Object.entries(cases)) {
    it(`${file}: refuses exactly the imports against the layers`, () => {
      const got = Object.keys(imports).filter((_, i) => flagged.has(`${file}:${i + 1}`))
      const want = Object.keys(imports).filter((m) => imports[m])
      expect(got).toEqual(want)
    })
  }
})
