/**
 * The docs' links hold: every relative link and `#anchor` in the README, the
 * benchmarks, the architecture page (once it exists) and docs/ points at a
 * file that exists and a heading it has (GitHub's slugs). No network: links
 * with a scheme (https:, mailto:) are not followed. And the README stays a
 * front door: at most 15 KiB, linking every page of docs/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')

const docFiles = () =>
  [
    'README.md',
    'BENCHMARKS.md',
    'ARCHITECTURE.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ].filter((f) => existsSync(join(root, f)))

/** The text outside fenced code blocks, with inline code spans kept as plain text. */
const prose = (markdown: string) =>
  markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, _ticks, code: string) =>
      code.replace(/[[\]()]/g, ' '),
    )

/** GitHub's heading anchor (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link reads as its text
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-')

/** Every anchor a file offers: its headings' slugs (repeats get -1, -2, …) and HTML ids/names. */
const anchorsOf = (markdown: string) => {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
  for (const [, heading] of text.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = slug(heading!)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    anchors.add(n === 0 ? base : `${base}-${n}`)
  }
  for (const [, id] of text.matchAll(/<a\s[^>]*(?:name|id)="([^"]+)"/g)) anchors.add(id!)
  return anchors
}

/** The link targets of a markdown text: inline links and images, reference definitions, HTML href/src. */
const linksOf = (markdown: string) => {
  const text = prose(markdown)
  return [
    ...[...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]!),
    ...[...text.matchAll(/<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g)].map((m) => m[1]!),
  ]
}

/** What is wrong with each relative link of `file` (path from the repository root): none if all resolve. */
const brokenLinks = (file: string, markdown: string, readFile = readTarget) => {
  const broken: string[] = []
  for (const link of linksOf(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue // https:, mailto: — not followed
    const [path = '', anchor] = link.split('#', 2) as [string, string | undefined]
    const target = path === '' ? file : relative(root, join(root, dirname(file), decodeURI(path)))
    const text = readFile(target)
    if (text === undefined) {
      broken.push(`${link}: no file ${target}`)
      continue
    }
    if (anchor === undefined || anchor === '') continue
    if (!target.endsWith('.md')) broken.push(`${link}: an anchor into ${target}, not markdown`)
    else if (!anchorsOf(text).has(decodeURIComponent(anchor)))
      broken.push(`${link}: ${target} has no heading #${anchor}`)
  }
  return broken
}

/** A file's text ('' for a folder), or undefined if it does not exist. */
function readTarget(path: string): string | undefined {
  const full = join(root, path)
  if (!existsSync(full)) return undefined
  try {
    return readFileSync(full, 'utf8')
  } catch {
    return '' // a folder
  }
}

describe('doc links', () => {
  it('slugs headings as GitHub does', () => {
    expect(slug('Try it: an app server, a push, a rollout')).toBe(
      'try-it-an-app-server-a-push-a-rollout',
    )
    expect(slug('`--scenario rewarm` and `--scenario metastable`')).toBe(
      '--scenario-rewarm-and---scenario-metastable',
    )
    expect(slug('Running on Redis: several coordinators')).toBe(
      'running-on-redis-several-coordinators',
    )
    expect(slug('SDK `get()` on a fresh hit')).toBe('sdk-get-on-a-fresh-hit')
    expect(slug('Config values as state (issue 12, item 4)')).toBe(
      'config-values-as-state-issue-12-item-4',
    )
    expect(slug('Budget decisions/s ÷ one, B1–S')).toBe('budget-decisionss--one-b1s')
  })

  it('finds a broken file, a broken anchor and a link inside code it must skip', () => {
    const doc = [
      '# Title',
      '## Title',
      '[ok](#title) [ok](#title-1) [ok](README.md#slew) [web](https://example.com/x.md)',
      '[gone](docs/nowhere.md) [bad](#no-such-heading) [bad](README.md#no-such-heading)',
      '`[code](docs/nowhere.md)`',
      '```md',
      '[code](docs/nowhere.md)',
      '```',
    ].join('\n')
    const files: Record<string, string> = { 'x.md': doc, 'README.md': '# slew\n' }
    expect(brokenLinks('x.md', doc, (p) => files[p])).toEqual([
      'docs/nowhere.md: no file docs/nowhere.md',
      '#no-such-heading: x.md has no heading #no-such-heading',
      'README.md#no-such-heading: README.md has no heading #no-such-heading',
    ])
  })

  it.each(docFiles())('%s: every relative link and anchor resolves', (file) => {
    expect(brokenLinks(file, readFileSync(join(root, file), 'utf8'))).toEqual([])
  })

  it('README.md is a front door: at most 15 KiB, and it links every page of docs/', () => {
    const readme = readFileSync(join(root, 'README.md'))
    expect(readme.byteLength).toBeLessThanOrEqual(15 * 1024)
    const linked = new Set(linksOf(readme.toString('utf8')).map((l) => l.split('#')[0]))
    const pages = docFiles().filter((f) => f.startsWith('docs/'))
    expect(pages.filter((page) => !linked.has(page))).toEqual([])
  })
})
