/** close() leaves nothing running: a process that closes its client and coordinator exits by itself. */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

describe('close()', () => {
  it('leaves no timer or socket that keeps the process alive', { timeout: 30_000 }, async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', 'fixtures', 'close-exits.ts')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
    })
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString()
    })
    const exited = await new Promise<number | null | 'hung'>((resolve) => {
      const t = setTimeout(() => resolve('hung'), 15_000)
      child.on('exit', (code) => {
        clearTimeout(t)
        resolve(code)
      })
    })
    if (exited === 'hung') child.kill('SIGKILL')
    expect(exited, out).toBe(0)
    expect(out).toContain('closed')
  })
})
