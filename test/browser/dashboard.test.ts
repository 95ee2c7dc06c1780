/**
 * The dashboard in a real browser (issue 16): headless Chromium on a
 * coordinator with auth on and twelve SDK clients. Without a token the page
 * says what it needs (never "undefined"); with a read token it shows the
 * rollout and its actions stay disabled; with an admin token (typed in,
 * kept in session storage, never in the URL) a person watches the waves
 * advance, pauses the rollout from the keyboard with a reason, sees the
 * reason, and resumes it with the mouse. axe-core finds no WCAG 2 A/AA
 * violation (contrast included). A screenshot of the rollout mid-flight is
 * kept in test/output/.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, devSigningKeys } from '../../src/sdk/index.js'
import { closeAfterAll, post, startCoordinator } from '../helpers/coordinator.js'

const CHROMIUM = process.env.SLEW_CHROMIUM ?? '/usr/bin/chromium'
const OUTPUT = join(import.meta.dirname, '..', 'output')
const ADMIN = 'admin-secret-0123456789'
const READ = 'read-secret-0123456789'
const CLIENT = 'client-secret-0123456789'

describe('the dashboard in a browser', () => {
  const closers = closeAfterAll()
  let browser: Browser

  beforeAll(async () => {
    try {
      readFileSync(CHROMIUM)
    } catch {
      throw new Error(
        `no Chromium at ${CHROMIUM}: the dashboard test drives a real browser. ` +
          "Install Debian's chromium (apt-get install chromium; .ci/run does), or set SLEW_CHROMIUM.",
      )
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
      ],
    })
  })
  afterAll(async () => {
    await browser?.close()
  })

  /** The rollout's card on the page. */
  const cardOf = (page: Page, id: string) => page.locator(`article[data-rollout="${id}"]`)

  it('shows a rollout mid-flight and pauses and resumes it', { timeout: 90_000 }, async () => {
    const { co, url } = await startCoordinator({
      waves: { steps: [0.25, 0.5, 0.75, 1], bakeMs: 5_000 },
      auth: {
        tokens: [
          { name: 'ops', scopes: ['admin'], secret: ADMIN },
          { name: 'dash', scopes: ['read'], secret: READ },
          { name: 'apps', scopes: ['client'], secret: CLIENT },
        ],
      },
    })
    closers.push(() => co.close())
    const fleet = Array.from({ length: 12 }, (_, i) =>
      createClient<string>({
        url,
        clientId: `app-${i}`,
        token: CLIENT,
        signingKeys: devSigningKeys,
        load: async (k) => k,
      }),
    )
    for (const c of fleet) closers.push(() => c.close())
    await Promise.all(fleet.map((c) => c.start()))

    // axe-core goes in as a script: the page's own policy allows none inline.
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 }, bypassCSP: true })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(url)
    // No token: it says what it needs, not "undefined clients connected".
    await expect
      .poll(() => page.locator('#summary').textContent())
      .toMatch(/needs a token: type one with the read scope/)
    expect(await page.locator('body').textContent()).not.toMatch(/undefined/)

    // A read token: the fleet and rollouts, no actions.
    const pushed = await post(
      `${url}/v1/changes`,
      { kind: 'invalidate', target: { all: true }, reason: 'price file', confirm: true },
      { authorization: `Bearer ${ADMIN}` },
    )
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }
    await page.fill('#token', READ)
    await page.click('#token-form button[type=submit]')
    await expect.poll(() => page.locator('#summary').textContent()).toMatch(/^12 clients connected/)
    await expect.poll(() => cardOf(page, id).count()).toBe(1)
    expect(await cardOf(page, id).locator('button[data-action=pause]').isDisabled()).toBe(true)
    await expect
      .poll(() => page.locator('#token-state').textContent())
      .toMatch(/actions need an admin token/)
    expect(page.url()).not.toContain(READ)

    // An admin token: the waves advance on the page.
    await page.click('#forget')
    await page.fill('#token', ADMIN)
    await page.click('#token-form button[type=submit]')
    await expect
      .poll(() => page.locator('#token-state').textContent())
      .toMatch(/admin token: actions enabled/)
    expect(await page.evaluate("sessionStorage.getItem('slew.token')")).toBe(ADMIN)
    await expect
      .poll(() => cardOf(page, id).locator('.head').textContent(), { timeout: 20_000 })
      .toMatch(/wave 2\/4/)
    await expect.poll(() => cardOf(page, id).textContent()).toMatch(/next wave in \d+ s/)
    await expect.poll(() => page.locator('#budget svg').count()).toBe(4)
    mkdirSync(OUTPUT, { recursive: true })
    await page.screenshot({ path: join(OUTPUT, 'dashboard-mid-flight.png'), fullPage: true })

    // Pause it from the keyboard: Tab to the button, Enter, a reason, Enter.
    let found = false
    for (let i = 0; i < 40 && !found; i++) {
      await page.keyboard.press('Tab')
      // Strings: the test's TypeScript knows no DOM.
      found = await page.evaluate(
        `(() => { const el = document.activeElement; return el?.dataset?.action === 'pause' && el.dataset.id === ${JSON.stringify(id)} })()`,
      )
    }
    expect(found, 'the Pause button is reachable with Tab').toBe(true)
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('#confirm').getAttribute('open')).toBe('')
    await page.keyboard.type('origin p99 climbing')
    await page.keyboard.press('Enter')
    await expect
      .poll(() => cardOf(page, id).locator('[data-field=reason]').textContent())
      .toBe('paused: origin p99 climbing')
    await expect.poll(() => cardOf(page, id).locator('.state').textContent()).toBe('paused')
    const paused = (await (
      await fetch(`${url}/v1/changes/${id}`, { headers: { authorization: `Bearer ${READ}` } })
    ).json()) as { state: string; reason: string }
    expect(paused).toMatchObject({ state: 'paused', reason: 'origin p99 climbing' })

    // A reason is required.
    await cardOf(page, id).locator('button[data-action=resume]').click()
    await page.click('#confirm-go')
    expect(await page.locator('#confirm').getAttribute('open')).toBe('')
    await page.fill('#reason', 'p99 back to normal')
    await page.click('#confirm-go')
    await expect.poll(() => cardOf(page, id).locator('.state').textContent()).toBe('rolling')

    // Accessibility: axe-core on the page as it is, WCAG 2 A and AA (contrast included).
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
    await page.addScriptTag({ content: axe })
    const violations = (await page.evaluate(
      `axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }).then((r) =>
        r.violations.map((v) => v.id + ': ' + v.help + ' at ' + v.nodes.map((n) => n.target).join(' ')))`,
    )) as string[]
    expect(violations).toEqual([])
    expect(errors).toEqual([])
  })
})
