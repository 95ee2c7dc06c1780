/**
 * fast-check arbitraries for the fuzz: requests to one route (its method
 * mostly, any other sometimes), with odd path parameters and queries,
 * tokens of every scope or none or malformed ones, every content type, and
 * bodies from the nearly valid (so the routes also succeed and change
 * state) to the hostile: wrong types, deep nesting, huge arrays,
 * `__proto__`, non-JSON bytes, oversize, NDJSON.
 *
 * Ids that only exist once the coordinator runs (rollouts) are written as
 * placeholders (`{R0}`…) and filled in when the request is sent, so a seed
 * replays the same requests.
 */
import fc from 'fast-check'
import { DEV_KID, DEV_SIGNING_KEY } from '../../../src/protocol/dev-key.js'
import { signMessage } from '../../../src/protocol/sign.js'
import { printable, type RawRequest } from './http.js'
import type { BodyKind, Route } from './routes.js'

export const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const

/** The tokens the fuzz's coordinator knows: one per scope, and a client token bound to `app-*`. */
export const TOKENS = {
  push: 'fuzz-push-token-0123456789',
  admin: 'fuzz-admin-token-0123456789',
  read: 'fuzz-read-token-0123456789',
  client: 'fuzz-client-token-0123456789',
  bound: 'fuzz-bound-token-0123456789',
  metrics: 'fuzz-metrics-token-0123456789',
} as const

export const tokenConfig = [
  { name: 'push-job', scopes: ['push', 'read'] as const, secret: TOKENS.push },
  { name: 'ops', scopes: ['admin'] as const, secret: TOKENS.admin },
  { name: 'dash', scopes: ['read'] as const, secret: TOKENS.read },
  { name: 'apps', scopes: ['client'] as const, secret: TOKENS.client },
  { name: 'app-servers', scopes: ['client'] as const, secret: TOKENS.bound, clientIds: ['app-*'] },
  { name: 'order-service', scopes: ['metrics'] as const, secret: TOKENS.metrics },
].map((t) => ({ ...t, scopes: [...t.scopes] }))

/** What the arbitraries need to know of the coordinator they aim at. */
export interface FuzzLimits {
  readonly fleet: string
  readonly bodyBytes: number
  readonly maxKeys: number
}

/** How many rollouts the world seeds (placeholders {R0}…{R3}). */
export const SEEDED_ROLLOUTS = 4

// ---- small pieces ----

/** Header-safe text: what node:http puts on the wire (tab, printable ASCII, Latin-1). */
const headerText = (maxLength = 60) =>
  fc
    .array(
      fc.oneof(
        fc.integer({ min: 0x20, max: 0x7e }),
        fc.constant(0x09),
        fc.integer({ min: 0x80, max: 0xff }),
      ),
      { maxLength },
    )
    .map((cs) => String.fromCharCode(...cs).trim())

const encode = (s: string): string => {
  try {
    return encodeURIComponent(s)
  } catch {
    return 'lone-surrogate'
  }
}

/** A path parameter: a good id mostly, anything a path can carry sometimes. */
const idArb = (good: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 24, arbitrary: good },
    fc.constantFrom(
      '',
      '..',
      '.',
      '%00',
      '%',
      '%zz',
      '%2F',
      '%2e%2e',
      'a%00b',
      '%E2%80%AE',
      '%F0%9F%92%A9',
      '%ff%fe',
      '__proto__',
      'constructor',
      'toString',
      'null',
      '-1',
      '1e3',
    ),
    fc.string({ unit: 'grapheme', maxLength: 40 }).map(encode),
    fc.string({ unit: 'binary', maxLength: 20 }).map(encode),
    fc.integer({ min: 190, max: 6000 }).map((n) => 'x'.repeat(n)),
    // Raw characters in a request-target (no `?`, `#` or `/`: they would change its shape; no
    // backslash or byte past ASCII: Node's HTTP parser answers those 400 before any route sees them).
    fc
      .array(fc.integer({ min: 0x21, max: 0x7e }), { maxLength: 20 })
      .map((cs) =>
        String.fromCharCode(...cs.filter((c) => !'?#/\\'.includes(String.fromCharCode(c)))),
      ),
  )

const clientIdArb = fc.oneof(
  fc.constantFrom('app-0', 'app-1', 'app-2', 'app-3'),
  fc.constantFrom('other-1', 'x', 'a.b:c@d_e-f', 'app-'),
  fc.string({ unit: fc.constantFrom(...'abc019_.:@-'), minLength: 1, maxLength: 200 }),
)

const rolloutIdArb = fc.oneof(
  fc.integer({ min: 0, max: SEEDED_ROLLOUTS - 1 }).map((i) => `{R${i}}`),
  fc.constantFrom('chg-404', 'chg-', 'chg-1'),
)

const pathParam = (name: string): fc.Arbitrary<string> =>
  name === 'id' ? idArb(fc.oneof(clientIdArb, rolloutIdArb)) : idArb(rolloutIdArb)

/** Present once in `n` times (fc.option's `freq` is the other way round: absent once in n). */
const sometimes = <T>(a: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a })

/** `a` mostly, an edge value sometimes. */
const mostly = <T>(a: fc.Arbitrary<T>, ...edges: T[]): fc.Arbitrary<T> =>
  fc.oneof({ weight: 4 * edges.length, arbitrary: a }, fc.constantFrom(...edges))

/** Odd values for any JSON field: wrong types, boundaries, huge. */
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -0,
    -1,
    0.5,
    1,
    2 ** 31,
    2 ** 53,
    2 ** 53 - 1,
    -(2 ** 53),
    1e308,
    -1e308,
    5e-324,
    '',
    ' ',
    '0',
    '1',
    'true',
    '__proto__',
    [],
    {},
    [null],
    { __proto__: null },
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 30 }),
  fc.integer({ min: 200, max: 3000 }).map((n) => 'z'.repeat(n)),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 5 }),
  fc.jsonValue({ maxDepth: 2 }),
)

/** An object with some of `fields` (good values mostly), maybe a stray field, maybe a weird value. */
const objectOf = (
  fields: Record<string, fc.Arbitrary<unknown>>,
  required: readonly string[] = [],
): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .tuple(
      fc.record(
        Object.fromEntries(
          Object.entries(fields).map(([k, a]) => [
            k,
            fc.oneof({ weight: 24, arbitrary: a }, { weight: 1, arbitrary: weirdValue }),
          ]),
        ),
        { requiredKeys: required as string[] },
      ),
      sometimes(fc.tuple(fc.constantFrom('extra', 'urgentPlease', 'v', 'kid'), weirdValue), 30),
    )
    .map(([o, extra]) => (extra ? { ...o, [extra[0]]: extra[1] } : o))

const nameList = (prefix: string) =>
  fc.array(
    fc.oneof(
      fc.constantFrom(...[1, 2, 3, 4].map((i) => `${prefix}${i}`)),
      fc.string({ maxLength: 12 }),
    ),
    { maxLength: 6 },
  )

const targetArb = objectOf({
  keys: nameList('k'),
  tags: nameList('t'),
  prefixes: nameList('p'),
  all: fc.boolean(),
  hotSet: fc.boolean(),
})

const reasonArb = mostly(
  fc.oneof(fc.constantFrom('fuzz', 'a reason'), fc.string({ maxLength: 40 })),
  '',
  'r'.repeat(501),
)

const changeArb = objectOf(
  {
    kind: fc.constantFrom('invalidate', 'rewarm', 'config'),
    target: targetArb,
    values: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), {
      maxKeys: 4,
    }),
    unset: nameList('u'),
    mode: fc.constantFrom('soft', 'hard'),
    priority: fc.constantFrom('normal', 'urgent'),
    reason: reasonArb,
    confirm: fc.boolean(),
    idempotencyKey: mostly(fc.constantFrom('idem-1', 'idem-2'), 'x'.repeat(201)),
    waves: objectOf({
      steps: fc.oneof(
        fc.constant([1]),
        fc.constant([0.1, 1]),
        fc.array(fc.double({ noNaN: true }), { maxLength: 4 }),
      ),
      bakeMs: mostly(fc.integer({ min: 0, max: 5000 }), 86_400_001),
    }),
  },
  ['kind'],
)

const controlArb = objectOf({ reason: reasonArb })

const configValuesArb = objectOf({
  confirmAbove: mostly(fc.double({ min: 0, max: 1, noNaN: true }), 2),
  defaultEntries: fc.integer({ min: 0, max: 10_000 }),
  retainFinished: fc.integer({ min: 0, max: 1000 }),
  waves: objectOf({
    steps: fc.constantFrom([1], [0.5, 1], [0.2, 0.1]),
    bakeMs: fc.integer({ min: 0, max: 5000 }),
  }),
  budgets: fc.record({
    invalidate: objectOf({
      ratePerSec: fc.integer({ min: 1, max: 2000 }),
      burst: fc.integer({ min: 1, max: 2000 }),
    }),
  }),
  admission: objectOf({
    ratePerSec: fc.integer({ min: 1, max: 500 }),
    burst: fc.integer({ min: 1, max: 500 }),
  }),
  listen: fc.constant({ port: 1 }),
  auth: fc.constant({ tokens: [] }),
  fleet: fc.constant('another'),
  limits: fc.constant({ jsonDepth: 8 }),
})

const configPutArb = objectOf({ config: configValuesArb, reason: reasonArb }, ['config'])
const configRollbackArb = objectOf({
  version: mostly(fc.integer({ min: -2, max: 6 }), 2 ** 53),
  reason: reasonArb,
})

const reportArb = objectOf(
  {
    done: fc.integer({ min: -1, max: 6 }),
    total: fc.integer({ min: 0, max: 6 }),
    failed: fc.integer({ min: 0, max: 3 }),
    skipped: fc.integer({ min: 0, max: 3 }),
    cursor: fc.integer({ min: 0, max: 7 }),
    ahead: fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 3 }),
  },
  ['done', 'total'],
)

const heartbeatArb = objectOf({
  ackedSeq: mostly(fc.nat(), 2 ** 53 - 1),
  entries: mostly(fc.nat(10_000), 1e9, 1e9 + 1),
  capacity: mostly(fc.integer({ min: 0, max: 10_000 }), 1e9),
  latencyP50: mostly(fc.double({ min: 0, max: 3_600_000, noNaN: true }), 3_600_001),
  latencyP99: mostly(fc.double({ min: 0, max: 3_600_000, noNaN: true }), 3_600_001),
  errorRate: mostly(fc.double({ min: 0, max: 1, noNaN: true }), -0.5, 1.5, 1e308),
  rejected: fc.dictionary(
    fc.constantFrom('malformed', 'unsigned', 'wrong-epoch', 'oversized', 'new-reason'),
    mostly(fc.nat(), 2 ** 53 - 1, -1),
  ),
  refusing: objectOf({
    reason: mostly(fc.constantFrom('malformed', 'bad-signature'), 'nope'),
    count: mostly(fc.integer({ min: 1, max: 1e10 }), 0, -1),
  }),
  configDigest: fc.string({ maxLength: 70 }),
  epoch: fc.string({ maxLength: 70 }),
  calls: mostly(fc.nat(1000), 1e9 + 1),
  rewarm: fc.dictionary(
    fc.oneof(
      { weight: 4, arbitrary: rolloutIdArb },
      fc.string({ maxLength: 10 }),
      fc.constant('c'.repeat(201)),
    ),
    reportArb,
    { maxKeys: 3 },
  ),
  metrics: fc.dictionary(fc.string({ maxLength: 10 }), mostly(fc.double({ noNaN: true }), 1e13), {
    maxKeys: 4,
  }),
})

/** Points of a business series: the watched metric mostly, at times near the coordinator's clock. */
const pointArb = objectOf(
  {
    name: mostly(fc.constantFrom('orders', 'payments'), '', 'x'.repeat(101), 'no spaces'),
    value: mostly(fc.double({ min: -1e6, max: 1e6, noNaN: true }), 1e13, -1e13, 0),
    at: mostly(
      fc
        .integer({ min: -3_700_000, max: 10_000 })
        .map((d) => new Date(1_700_000_000_000 + d).toISOString()),
      'yesterday',
      '2026-13-01T00:00:00Z',
    ),
  },
  ['name', 'value'],
)

const metricsArb = objectOf({ series: fc.array(pointArb, { maxLength: 20 }) }, ['series'])

const leaseArb = objectOf(
  {
    clientId: clientIdArb,
    want: mostly(fc.integer({ min: 1, max: 60 }), 0, -1, 100_001, 0.5),
    class: mostly(fc.constantFrom('invalidate', 'rewarm', 'urgent'), 'config', ''),
  },
  ['clientId', 'want'],
)

/**
 * Stream messages as the fleet's (public, dev) key signs them, of an epoch
 * before the coordinator's: what a client could hand back in a recall.
 * Their shapes are the sender's: whatever a signer put in them.
 */
const valuesArb = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), {
  maxKeys: 3,
})

/** What a signer could have put in a stream message: near what the coordinator sends, or not. */
const payloadArb = (fleet: string): fc.Arbitrary<Record<string, unknown>> => {
  const envelope = {
    v: fc.constant(1),
    fleet: fc.oneof({ weight: 4, arbitrary: fc.constant(fleet) }, fc.constant('another')),
    epoch: fc.constantFrom('oldepoch1', 'oldepoch2'),
    seq: fc.nat(),
  }
  const required = ['type', 'fleet', 'epoch']
  const change = (kind: fc.Arbitrary<string>) =>
    objectOf(
      {
        id: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('chg-old-1', 'chg-old-2', 'chg-old-3') },
          weirdValue,
        ),
        seq: fc.nat(),
        kind,
        mode: fc.constantFrom('hard', 'hard', 'soft'),
        priority: fc.constantFrom('normal', 'urgent'),
        target: fc.oneof({ weight: 3, arbitrary: targetArb }, weirdValue),
        values: valuesArb,
        unset: nameList('u'),
        reason: reasonArb,
        submittedAt: fc.nat(),
      },
      ['id', 'kind'],
    )
  return fc.oneof(
    // A hard invalidation (what a client proves it applied).
    objectOf(
      { ...envelope, type: fc.constant('change'), change: change(fc.constant('invalidate')) },
      [...required, 'change'],
    ),
    // A config snapshot, or a config change after it.
    objectOf({ ...envelope, type: fc.constant('config'), values: valuesArb }, [
      ...required,
      'values',
    ]),
    objectOf({ ...envelope, type: fc.constant('change'), change: change(fc.constant('config')) }, [
      ...required,
      'change',
    ]),
    // Anything at all.
    objectOf(
      {
        ...envelope,
        type: fc.constantFrom('config', 'change', 'hello', 'reset', 'rewarm-resume'),
        values: fc.oneof(valuesArb, weirdValue),
        change: change(fc.constantFrom('invalidate', 'config', 'rewarm')),
      },
      required,
    ),
  )
}

/**
 * Stream messages as the fleet's (public, dev) key signs them, of an epoch
 * before the coordinator's: what a client could hand back in a recall.
 * Their shapes are the signer's: whatever it put in them.
 */
const signedArb = (fleet: string): fc.Arbitrary<unknown> =>
  fc
    .tuple(payloadArb(fleet), fc.constantFrom('sign', 'sign', 'sign', 'bad-sig', 'unknown-kid'))
    .map(([payload, how]) => {
      const signed = signMessage(payload, DEV_KID, DEV_SIGNING_KEY)
      if (how === 'bad-sig') return { ...signed, sig: 'A'.repeat(43) }
      if (how === 'unknown-kid') return { ...signed, kid: 'k9' }
      return signed
    })

const recallArb = (fleet: string) =>
  objectOf(
    {
      epoch: fc.constantFrom('oldepoch1', 'oldepoch2', 'oldepoch1', 'oldepoch2', ''),
      configDigest: fc.oneof(
        { weight: 6, arbitrary: fc.string({ maxLength: 10 }) },
        fc.constant('d'.repeat(65)),
      ),
      config: fc.array(fc.oneof({ weight: 4, arbitrary: signedArb(fleet) }, weirdValue), {
        maxLength: 4,
      }),
      hard: fc.array(fc.oneof({ weight: 4, arbitrary: signedArb(fleet) }, weirdValue), {
        maxLength: 4,
      }),
    },
    ['epoch', 'configDigest'],
  )

const bodyOf = (kind: BodyKind, fleet: string): fc.Arbitrary<unknown> => {
  switch (kind) {
    case 'change':
      return changeArb
    case 'control':
      return controlArb
    case 'config-put':
      return configPutArb
    case 'config-rollback':
      return configRollbackArb
    case 'heartbeat':
      return heartbeatArb
    case 'recall':
      return recallArb(fleet)
    case 'lease':
      return leaseArb
    case 'metrics':
      return metricsArb
    case 'none':
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/** JSON text that is hostile in shape: deep, wide, with keys JavaScript objects treat specially. */
const hostileJson = (limits: FuzzLimits): fc.Arbitrary<string> =>
  fc.oneof(
    fc.integer({ min: 1, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
    fc.integer({ min: 1, max: 5000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
    fc.integer({ min: 60, max: 70 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
    fc.integer({ min: 1, max: limits.bodyBytes / 2 }).map((n) => `[${'0,'.repeat(n)}0]`),
    fc.integer({ min: limits.maxKeys - 1, max: limits.maxKeys + 2 }).map((n) =>
      JSON.stringify({
        kind: 'rewarm',
        target: { keys: Array.from({ length: n }, (_, i) => `k${i}`) },
      }),
    ),
    fc.constantFrom(
      '{"__proto__":{"admin":true}}',
      '{"kind":"invalidate","target":{"keys":["a"]},"__proto__":{"confirm":true}}',
      '{"constructor":{"prototype":{"x":1}}}',
      '{"config":{"__proto__":{"confirmAbove":0}},"reason":"x"}',
      '{"kind":"config","values":{"a":{"__proto__":1}}}',
      '{"kind":"config","values":{"prototype":1}}',
      '{"clientId":"app-1","want":1,"__proto__":null}',
      '{"a":1,"a":2}',
      '{"kind":"invalidate","kind":"rewarm","target":{"keys":["a"]}}',
    ),
    fc.integer({ min: 1, max: 300 }).map((n) =>
      JSON.stringify({
        kind: 'config',
        values: Object.fromEntries(Array.from({ length: n }, (_, i) => [`v${i}`, i])),
      }),
    ),
  )

/** A key list as a push job sends it (the change on the first line), and bent versions of one. */
const ndjsonArb = (limits: FuzzLimits): fc.Arbitrary<string> => {
  const keyLine = fc.oneof(
    fc.constantFrom(
      '"k1"',
      'k2',
      '""',
      '"',
      '"\\u0000"',
      '5',
      'null',
      '{}',
      '[]',
      '"a"b',
      '\r',
      ' ',
    ),
    fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
    fc.string({ maxLength: 20 }),
  )
  const head = fc.oneof(
    { weight: 4, arbitrary: changeArb.map((c) => JSON.stringify(c)) },
    fc.constantFrom(
      '',
      'null',
      '[]',
      '"rewarm"',
      '5',
      '{',
      '{"kind":"rewarm"}',
      '{"kind":"rewarm","target":null}',
    ),
    fc.constant('{"kind":"rewarm","target":"abc"}'),
    fc.constant('{"kind":"rewarm","target":["a","b"]}'),
    fc.constant('{"kind":"rewarm","target":{"keys":5}}'),
    fc.constant('{"kind":"rewarm","target":{"keys":[1,{}]}}'),
    hostileJson(limits),
  )
  return fc.oneof(
    fc
      .tuple(head, fc.array(keyLine, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'))
      .map(([h, keys, eol]) => [h, ...keys].join(eol)),
    fc
      .integer({ min: limits.maxKeys - 1, max: limits.maxKeys + 2 })
      .map((n) =>
        ['{"kind":"rewarm","target":{}}', ...Array.from({ length: n }, (_, i) => `"k${i}"`)].join(
          '\n',
        ),
      ),
  )
}

/** A body: nearly valid for the route mostly, then everything else. */
export const bodyArb = (kind: BodyKind, limits: FuzzLimits): fc.Arbitrary<Buffer | undefined> =>
  fc.oneof(
    {
      weight: 40,
      arbitrary: bodyOf(kind, limits.fleet).map((v) => Buffer.from(JSON.stringify(v))),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('', ' ', '\n', '{}', '[]', 'null', '0', '""')
        .map((s) => Buffer.from(s)),
    },
    { weight: 2, arbitrary: fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))) },
    { weight: 2, arbitrary: hostileJson(limits).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
    {
      weight: 1,
      arbitrary: fc.string({ maxLength: 100 }).map((s) => Buffer.from(s)),
    },
    {
      // Just over, or well over, the body limit.
      weight: 1,
      arbitrary: fc
        .integer({ min: limits.bodyBytes - 2, max: limits.bodyBytes * 3 })
        .map((n) => Buffer.from(JSON.stringify({ reason: 'r'.repeat(Math.max(0, n - 14)) }))),
    },
    { weight: kind === 'change' ? 3 : 1, arbitrary: ndjsonArb(limits).map((s) => Buffer.from(s)) },
  )

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/problem+json',
  'application/merge-patch+json',
  'application/jsonx',
  'application/x-ndjson',
  'application/ndjson',
  'Application/X-NDJSON; charset=utf-8',
  'text/plain',
  'text/event-stream',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  '',
  ' application/json',
  'json',
]

const authArb = (scope: Route['scope']): fc.Arbitrary<string | undefined> => {
  const own = scope === 'none' ? TOKENS.read : scope === 'client' ? TOKENS.client : TOKENS[scope]
  return fc.oneof(
    { weight: 30, arbitrary: fc.constant(`Bearer ${own}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${TOKENS.bound}`) },
    { weight: 2, arbitrary: fc.constantFrom(...Object.values(TOKENS)).map((t) => `Bearer ${t}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        undefined,
        '',
        'Bearer',
        'Bearer ',
        'Bearer wrong-token-0123456789',
        `bearer   ${own}   `,
        `Bearer ${own} extra`,
        `Bearer ${own.slice(0, -1)}`,
        `Basic ${Buffer.from(`x:${own}`).toString('base64')}`,
        own,
        `Bearer\t${own}`,
      ),
    },
    { weight: 1, arbitrary: headerText(80).map((t) => `Bearer ${t}`) },
  )
}

const optionalHeader = (values: fc.Arbitrary<string>) => sometimes(values, 4)

const headersArb = (route: Route, hasBody: boolean): fc.Arbitrary<Record<string, string>> =>
  fc
    .record({
      authorization: authArb(route.scope),
      'content-type': fc.oneof(
        {
          weight: hasBody ? 30 : 1,
          arbitrary:
            route.body === 'change'
              ? fc.constantFrom('application/json', 'application/x-ndjson')
              : fc.constant('application/json'),
        },
        { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
        { weight: 2, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: headerText(40) },
      ),
      origin: optionalHeader(
        fc.oneof(
          fc.constantFrom('http://localhost:3000', 'https://evil.example', 'null', 'file://'),
          headerText(30),
        ),
      ),
      'idempotency-key': optionalHeader(fc.oneof(fc.constantFrom('idem-1', ''), headerText(250))),
      'last-event-id': optionalHeader(
        fc.oneof(
          fc.constantFrom('0', '1', '1e3', '-1', '0x10', '', ' 7', '99999999999999999999'),
          fc.nat().map(String),
          headerText(30),
        ),
      ),
      accept: optionalHeader(
        fc.constantFrom('text/event-stream', 'application/json', '*/*', 'text/html', ''),
      ),
      extra: optionalHeader(headerText(100)),
    })
    .map(({ extra, ...h }) => {
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = v
      if (extra !== undefined) out['x-fuzz'] = extra
      return out
    })

const QUERY_VALUES: Record<string, fc.Arbitrary<string>> = {
  dryRun: fc.constantFrom('1', '0', 'false', 'true', ''),
  state: fc.constantFrom('rolling', 'paused', 'completed', 'aborted', 'nope', ''),
  clientId: fc.oneof({ weight: 4, arbitrary: clientIdArb }, idArb(clientIdArb)),
  since: fc.constantFrom('0', '1', '1e3', '-1', '', '18446744073709551616', 'abc'),
  entries: fc.constantFrom('0', '10', '1000000000', '1000000001', '-1', '1.5', 'x'),
  epoch: fc.constantFrom('abc123', 'ABC', '', 'e'.repeat(65), 'oldepoch1'),
  nonce: fc.constantFrom('nonce-12345678', 'short', '', 'n'.repeat(65), 'bad nonce!'),
  fleet: fc.constantFrom('fuzz', 'another', '', 'bad fleet', 'f'.repeat(65)),
  limit: fc.constantFrom('0', '1', '-5', '1e9', 'NaN', '', '10001'),
}

/** A query string with some of the route's parameters (odd values too), sometimes a stray one. */
const queryArb = (route: Route): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.record(
        Object.fromEntries(
          route.query.map((q) => [
            q,
            q === 'clientId'
              ? fc.option(QUERY_VALUES[q]!, { freq: 10, nil: undefined })
              : sometimes(QUERY_VALUES[q] ?? headerText(10), 3),
          ]),
        ),
        { requiredKeys: [] },
      ),
      sometimes(fc.tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 })), 6),
      fc.boolean(),
    )
    .map(([params, stray, repeat]) => {
      const parts: string[] = []
      for (const [k, v] of Object.entries(params))
        if (v !== null && v !== undefined) {
          parts.push(`${k}=${encode(v as string)}`)
          if (repeat) parts.push(`${k}=${encode(v as string)}`)
        }
      if (stray) parts.push(`${encode(stray[0])}=${encode(stray[1])}`)
      return parts.length > 0 ? `?${parts.join('&')}` : ''
    })

/** The route's path with its parameters filled (odd ones too), sometimes bent (a trailing slash, case). */
const pathArb = (route: Route): fc.Arbitrary<string> => {
  const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!)
  return fc
    .tuple(
      fc.tuple(...names.map(pathParam)),
      fc.oneof(
        { weight: 12, arbitrary: fc.constant('as-is') },
        fc.constantFrom('slash', 'double', 'upper'),
      ),
    )
    .map(([values, bend]) => {
      let i = 0
      const path = route.path.replace(/:(\w+)/g, () => values[i++]!)
      if (bend === 'slash') return `${path}/`
      if (bend === 'double') return path.replace('/v1/', '//v1/')
      if (bend === 'upper') return path.toUpperCase()
      return path
    })
}

/**
 * One request aimed at `route`: half of them as a client of the route
 * would send it (its method, path, token and content type; its body near
 * valid), so routes also succeed and move state; the other half bent
 * anywhere (method, path, query, headers, body, framing).
 */
export const requestArb = (route: Route, limits: FuzzLimits): fc.Arbitrary<RawRequest> =>
  fc.oneof(cleanArb(route, limits), bentArb(route, limits))

/** A good value for each path parameter. */
const goodParam = (name: string) =>
  name === 'id' ? fc.oneof(clientIdArb, rolloutIdArb) : rolloutIdArb

const cleanArb = (route: Route, limits: FuzzLimits): fc.Arbitrary<RawRequest> => {
  const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!)
  const own = route.scope === 'none' ? TOKENS.read : TOKENS[route.scope]
  return fc
    .tuple(
      fc.tuple(...names.map(goodParam)),
      queryArb(route),
      route.body === 'none'
        ? fc.constant(undefined)
        : fc.oneof(
            {
              weight: 3,
              arbitrary: bodyOf(route.body, limits.fleet).map((v) =>
                Buffer.from(JSON.stringify(v)),
              ),
            },
            {
              weight: route.body === 'change' ? 1 : 0,
              arbitrary: ndjsonArb(limits).map((s) => Buffer.from(s)),
            },
          ),
    )
    .map(([values, query, body]) => {
      let i = 0
      const path = route.path.replace(/:(\w+)/g, () => values[i++]!)
      const ndjson = route.body === 'change' && body !== undefined && body.includes(0x0a)
      return printable({
        method: route.method,
        path: `${path}${query}`,
        headers: {
          authorization: `Bearer ${own}`,
          ...(body !== undefined && {
            'content-type': ndjson ? 'application/x-ndjson' : 'application/json',
          }),
        },
        body,
        framing: 'length',
      })
    })
}

const bentArb = (route: Route, limits: FuzzLimits): fc.Arbitrary<RawRequest> =>
  fc
    .tuple(
      fc.oneof(
        { weight: 24, arbitrary: fc.constant(route.method) },
        // HEAD runs a GET route's handler (hono): as much of a GET route's fuzz as any.
        { weight: route.method === 'GET' ? 3 : 0, arbitrary: fc.constant('HEAD') },
        { weight: 3, arbitrary: fc.constantFrom(...METHODS) },
      ),
      pathArb(route),
      queryArb(route),
      route.body === 'none'
        ? // A GET or HEAD carries a body only sometimes (fetch never sends one; a raw client may).
          fc.oneof(
            { weight: 4, arbitrary: fc.constant(undefined) },
            { weight: 2, arbitrary: bodyArb('none', limits) },
            // More than a socket buffers: a handler that reads no body leaves the rest unread.
            {
              weight: 1,
              arbitrary: fc
                .integer({ min: 64 * 1024, max: 1024 * 1024 })
                .map((n) => Buffer.alloc(n, 'x')),
            },
          )
        : bodyArb(route.body, limits),
      fc.constantFrom('length', 'length', 'length', 'chunked') as fc.Arbitrary<
        'length' | 'chunked'
      >,
    )
    .chain(([method, path, query, body, framing]) =>
      headersArb(route, body !== undefined).map(
        (headers): RawRequest =>
          printable({ method, path: `${path}${query}`, headers, body, framing }),
      ),
    )

/** A request to any path at all, with any method. */
export const anywhereArb = (routes: readonly Route[], limits: FuzzLimits) =>
  fc.oneof(
    fc.constantFrom(...routes).chain((r) => requestArb(r, limits)),
    fc
      .tuple(
        fc.constantFrom(...METHODS),
        fc.array(idArb(fc.constantFrom('v1', 'changes', 'clients', 'config', 'stream')), {
          maxLength: 5,
        }),
        bodyArb('none', limits),
      )
      .chain(([method, segments, body]) =>
        headersArb(
          { method: 'POST', path: '/', scope: 'admin', body: 'none', query: [] },
          body !== undefined,
        ).map(
          (headers): RawRequest =>
            printable({ method, path: `/${segments.join('/')}`, headers, body, framing: 'length' }),
        ),
      ),
  )

/**
 * A change for NDJSON (its first line, an object) and its key lines (one
 * at least), with the same change as a JSON body: the lines joined to its
 * target.keys; where the change's target or list has another shape, the
 * change as it is (JSON refuses it for that).
 */
export const ndjsonAndJsonArb = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: changeArb },
      fc.constantFrom<Record<string, unknown>>(
        { kind: 'rewarm' },
        { kind: 'rewarm', target: null },
        { kind: 'rewarm', target: 'abc' },
        { kind: 'rewarm', target: ['a', 'b'] },
        { kind: 'rewarm', target: { keys: 5 } },
        { kind: 'invalidate', target: { keys: { 0: 'a' } } },
        { kind: 'rewarm', target: { keys: [1, {}] } },
      ),
    ),
    fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
  )
  .map(([change, keys]) => {
    const t = change.target
    const joinable =
      t === undefined ||
      (t !== null &&
        typeof t === 'object' &&
        !Array.isArray(t) &&
        ((t as { keys?: unknown }).keys === undefined ||
          Array.isArray((t as { keys?: unknown }).keys)))
    const given = ((t as { keys?: unknown[] } | undefined)?.keys ?? []) as unknown[]
    const json = joinable
      ? { ...change, target: { ...(t as object | undefined), keys: [...given, ...keys] } }
      : change
    return {
      ndjson: [JSON.stringify(change), ...keys.map((k) => JSON.stringify(k))].join('\n'),
      json: JSON.stringify(json),
    }
  })
