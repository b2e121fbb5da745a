import fc from 'fast-check'

/** One route as the router knows it: a path template (`/api/v1/chats/:id`) and its methods. */
export interface RouteEntry {
  path: string
  methods: string[]
}

/**
 * Every route of a ready app, read from `printRoutes`, so a route added tomorrow is fuzzed without
 * anyone listing it. Each line is a tree node: its indentation gives the depth, its text the part
 * of the path below its parent, and the methods in brackets mark a route.
 */
export function routesOf(app: { printRoutes(options: { commonPrefix: boolean }): string }): RouteEntry[] {
  const routes: RouteEntry[] = []
  const parents: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const node = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!node) continue
    const depth = (node[1] ?? '').length / 4
    const parent = parents[depth - 1] ?? ''
    const segment = node[2] ?? ''
    const path = segment.startsWith('/') || parent.endsWith('/') ? parent + segment : `${parent}/${segment}`
    parents[depth] = path
    parents.length = depth + 1
    if (node[3]) routes.push({ path, methods: node[3].split(/,\s*/) })
  }
  return routes
}

/** The names of body fields, query parameters and headers the routes declare. */
export interface FieldNames {
  body: string[]
  query: string[]
  headers: string[]
}

interface OpenApiOperation {
  parameters?: { in: string; name: string }[]
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }
}

/**
 * Field names read from the app's OpenAPI document, so that a field added tomorrow gets wrong
 * values too. Hidden routes (the unprefixed aliases) share their handlers' schemas.
 */
export function fieldsOf(app: { swagger(): unknown }): FieldNames {
  const document = app.swagger() as { paths?: Record<string, Record<string, OpenApiOperation>> }
  const fields = { body: new Set<string>(), query: new Set<string>(), headers: new Set<string>() }
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'query') fields.query.add(parameter.name)
        if (parameter.in === 'header') fields.headers.add(parameter.name.toLowerCase())
      }
      for (const content of Object.values(operation.requestBody?.content ?? {})) {
        for (const name of Object.keys(content.schema?.properties ?? {})) fields.body.add(name)
      }
    }
  }
  return { body: [...fields.body], query: [...fields.query], headers: [...fields.headers] }
}

/** What a generated request turns into once the ids of live rows are known. */
export interface MalformedRequest {
  route: RouteEntry
  method: string
  /** One value per path parameter (or wildcard); `chat`/`message` stand for a live row's id. */
  params: string[]
  pathMutation: string | null
  query: string | null
  body: string | Buffer | null
  contentType: string | null
  headers: Record<string, string>
}

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE']

/**
 * Percent-encodes the UTF-8 bytes of any string. Unlike encodeURIComponent it does not throw on a
 * lone surrogate (which UTF-8 turns into U+FFFD; raw surrogate bytes are in `rawJunk`).
 */
export function percentEncode(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => String.fromCharCode(byte))
    .map((char) =>
      /[A-Za-z0-9\-._~]/.test(char) ? char : `%${char.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`,
    )
    .join('')
}

const loneSurrogates = fc.constantFrom('\ud800', 'a\udfffb', '\udc00\ud800', 'x\ud83d')

/** Any text, lone surrogates and NUL included. */
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  loneSurrogates,
  fc.constantFrom('\u0000', 'a\u0000b', '   ', '\t\n', '\u00a0\u2028', '🥾'.repeat(201)),
)

/** Things that are not a positive 64-bit integer, or are one only just. */
const badNumber = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1.5',
    '1e3',
    '0x10',
    ' 1',
    '+1',
    '01',
    '9007199254740992',
    '9223372036854775807',
    '9223372036854775808',
    '99999999999999999999999999999',
    'NaN',
    'Infinity',
    'null',
    'true',
    '[]',
  ),
  fc.integer({ min: -(2 ** 53), max: 2 ** 53 }).map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
)

/** Raw path text: invalid or odd percent-encoding, traversal, separators, overlong values. */
const rawJunk = fc.constantFrom(
  '%',
  '%zz',
  '%00',
  '%E0%A4%A',
  '%ED%A0%80',
  '%F0%9F%98%80',
  '%C0%AF',
  '..',
  '%2e%2e',
  '%2F',
  '1;2',
  '1,2',
  '*',
  'x'.repeat(201),
  '9'.repeat(400),
)

const param = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('chat', 'message', '1', '2') },
  { weight: 3, arbitrary: badNumber },
  { weight: 3, arbitrary: rawJunk },
  { weight: 2, arbitrary: anyText.map(percentEncode) },
)

/** Changes to a valid path, named so that a failing case reads plainly. */
const pathMutations: Record<string, (path: string) => string> = {
  'trailing slash': (path) => `${path}/`,
  'two trailing slashes': (path) => `${path}//`,
  'extra segment': (path) => `${path}/x`,
  'dot-dot': (path) => `${path}/..`,
  'upper case': (path) => path.toUpperCase(),
  'unknown version': (path) => path.replace('/api/v1', '/api/v2'),
  'last segment dropped': (path) => path.replace(/\/[^/]*$/, ''),
  'doubled slashes': (path) => path.replaceAll('/', '//'),
  'NUL appended': (path) => `${path}%00`,
  fragment: (path) => `${path}#fragment`,
}

const pathMutation = fc.oneof(
  fc.constantFrom(...Object.keys(pathMutations)),
  rawJunk.map((junk) => `segment ${junk}`),
)

/** Applies a mutation named by `pathMutation`. */
export function mutatePath(path: string, mutation: string): string {
  if (mutation.startsWith('segment ')) return `${path}/${mutation.slice('segment '.length)}`
  return pathMutations[mutation]?.(path) ?? path
}

const queryKey = (known: string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known, 'limit') },
    { weight: 1, arbitrary: fc.constantFrom('', '__proto__', 'constructor', 'limit[]', 'a[b]') },
    { weight: 1, arbitrary: anyText.map(percentEncode) },
  )
const queryValue = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('1', '20', '100', '101', '') },
  { weight: 3, arbitrary: badNumber.map(percentEncode) },
  { weight: 2, arbitrary: rawJunk },
  { weight: 1, arbitrary: anyText.map(percentEncode) },
)
const query = (known: string[]) =>
  fc
    .array(fc.tuple(queryKey(known), queryValue), { minLength: 1, maxLength: 4 })
    .map((pairs) => pairs.map(([key, value]) => `${key}=${value}`).join('&'))

/** JSON values of every type, and strings at and past the limits. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 64, [], {}, ['x'], { title: 'x' }),
  { weight: 3, arbitrary: anyText },
  fc.integer(),
  fc.double(),
  fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.string()), { maxLength: 5 }),
  fc.nat({ max: 6000 }).map((n) => 'x'.repeat(n)),
  fc.constantFrom(' '.repeat(50), 'a'.repeat(200), 'a'.repeat(201), 'b'.repeat(5000), 'b'.repeat(5001)),
  fc.constantFrom('c'.repeat(100_000)),
)

/** Bodies: field-shaped objects with wrong values, any JSON, broken JSON, invalid UTF-8, oversize. */
const body = (known: string[]): fc.Arbitrary<string | Buffer> =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .array(fc.tuple(fc.constantFrom(...known, 'title', 'text'), anyValue), { maxLength: 4 })
        .map((entries) => JSON.stringify(Object.fromEntries(entries))),
    },
    { weight: 2, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '',
        '{',
        '}',
        '{"title":',
        '{"title":"x",}',
        "{'title':'x'}",
        '{"title":"x"}{"title":"y"}',
        '{"title": NaN}',
        'undefined',
        '{"__proto__":{"title":"x"},"title":"p"}',
        '{"constructor":{"prototype":{"x":1}},"text":"p"}',
        '{"text":"\\ud800"}',
        '{"title":"a\\u0000b"}',
        '{"text":"\\',
        '['.repeat(10_000),
        `{"title":"${'x'.repeat(1_048_577)}"}`,
      ),
    },
    { weight: 1, arbitrary: anyText },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Buffer.from([0xff, 0xfe, 0xfd]),
        Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
        Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
        Buffer.from('\u0000\u0000\u0000'),
      ),
    },
  )

const otherContentTypes = fc.constantFrom(
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/problem+json',
  'application/jsonx',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '*/*',
  ';',
  '',
)
/** Mostly JSON, so that bodies reach validation; otherwise anything. */
const contentType = fc.oneof(
  { weight: 3, arbitrary: fc.constant('application/json') },
  { weight: 2, arbitrary: otherContentTypes },
)

const headerValue = fc.oneof(badNumber, rawJunk, anyText.map(percentEncode))
const headers = (known: string[]) =>
  fc
    .tuple(
      fc.record(
        {
          origin: fc.constantFrom('https://listed.example', 'https://stranger.example', 'null', ''),
          'access-control-request-method': fc.constantFrom('POST', 'DELETE', 'BREW', ''),
          accept: fc.constantFrom('text/event-stream', 'application/xml', '*/*', ''),
        },
        { requiredKeys: [] },
      ),
      fc.array(fc.tuple(fc.constantFrom(...known, 'last-event-id'), headerValue), { maxLength: 2 }),
    )
    .map(([fixed, declared]) => ({ ...fixed, ...Object.fromEntries(declared) }))

/** `arbitrary` in `weight` of 4 cases, null otherwise. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, weight: number) =>
  fc.oneof({ weight: 4 - weight, arbitrary: fc.constant(null) }, { weight, arbitrary })

/** A request that is wrong in one or more ways: method, path, id, query, body, content type. */
export function malformedRequest(routes: RouteEntry[], fields: FieldNames): fc.Arbitrary<MalformedRequest> {
  return fc
    .record({
      route: fc.constantFrom(...routes),
      ownMethod: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
      anyMethod: fc.constantFrom(...METHODS),
      ownIndex: fc.nat(),
      params: fc.array(param, { minLength: 3, maxLength: 3 }),
      pathMutation: sometimes(pathMutation, 1),
      query: sometimes(query(fields.query), 2),
      body: sometimes(body(fields.body), 3),
      contentType: sometimes(contentType, 3),
      headers: headers(fields.headers),
    })
    .map(({ route, ownMethod, anyMethod, ownIndex, ...rest }) => ({
      route,
      method: ownMethod ? (route.methods[ownIndex % route.methods.length] ?? anyMethod) : anyMethod,
      ...rest,
    }))
}
