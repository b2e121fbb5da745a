import {
  type Caller,
  type Fixture,
  type Mode,
  othersMessage,
  ownKey,
  ownMessage,
  selfOf,
} from './authorization.fixture.js'

/**
 * The authorization matrix: every /api/v1 route × caller × mode → what the caller gets. Each cell is
 * written out by hand from issue 7 (where the issue is silent, from the access table in the README);
 * nothing here is computed from the implementation. A case is named by its OpenAPI route, with what
 * it does after a comma when one route has several cases.
 *
 * Columns, per mode: anon (no credentials) · non (a non-member: it once was a member, sent a
 * message, then left) · mem (a member) · own (the chat's owner) · adm (ADMIN_KEY). `NA`: the caller
 * has no such action (the anonymous caller and the admin are nobody, so they cannot leave a chat);
 * no request is made.
 */
export const NA = 'n/a'
type Cells<T> = readonly [T, T, T, T, T]
/** Open mode's cells, then token mode's. */
type Expected<T> = readonly [open: Cells<T | typeof NA>, token: Cells<T | typeof NA>]

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  /** Below /api/v1. */
  url: string
  payload?: object
}

interface HttpCase {
  /** The chat or message the route names: for a non-member its 404 must equal a missing one's. */
  names?: 'chat' | 'message'
  /**
   * A successful answer takes away (or adds) something later cells rely on: the fixture is rebuilt
   * before the next cell. Other writes (a new chat, message, user, edit, read marker) leave the
   * fixture as the table assumes it, so they are kept.
   */
  rebuilds?: boolean
  request: (fixture: Fixture, caller: Caller) => HttpRequest
}

const get = (url: string): HttpRequest => ({ method: 'GET', url })
const post = (url: string, payload: object): HttpRequest => ({ method: 'POST', url, payload })
const del = (url: string): HttpRequest => ({ method: 'DELETE', url })
const patch = (url: string, payload: object): HttpRequest => ({ method: 'PATCH', url, payload })
let usernames = 0

/** What each case sends, for a caller. */
const httpCases = {
  'POST /chats': { request: () => post('/chats', { title: 'New' }) },
  'GET /chats': { request: () => get('/chats') },
  'GET /chats/{id}': { names: 'chat', request: (f) => get(`/chats/${f.chat}`) },
  'DELETE /chats/{id}': { names: 'chat', rebuilds: true, request: (f) => del(`/chats/${f.chat}`) },

  'POST /chats/{id}/messages': { names: 'chat', request: (f) => post(`/chats/${f.chat}/messages`, { text: 'hi' }) },
  'POST /chats/{id}/messages, its own key again': {
    names: 'chat',
    request: (f, c) => post(`/chats/${f.chat}/messages`, { text: 'again', client_message_id: ownKey(c) }),
  },
  'GET /chats/{id}/messages': { names: 'chat', request: (f) => get(`/chats/${f.chat}/messages`) },
  'GET /messages': { request: () => get('/messages') },
  'GET /messages, ?chat_id= the chat': { names: 'chat', request: (f) => get(`/messages?chat_id=${f.chat}`) },
  'DELETE /messages/{id}, another member’s': {
    names: 'message',
    rebuilds: true,
    request: (f, c) => del(`/messages/${othersMessage(f, c)}`),
  },
  'DELETE /messages/{id}, its own': { names: 'message', rebuilds: true, request: (f, c) => del(`/messages/${ownMessage(f, c)}`) },
  'PATCH /messages/{id}, its own': {
    names: 'message',
    request: (f, c) => patch(`/messages/${ownMessage(f, c)}`, { text: 'edited' }),
  },
  'PATCH /messages/{id}, another member’s': {
    names: 'message',
    request: (f, c) => patch(`/messages/${othersMessage(f, c)}`, { text: 'edited' }),
  },
  'GET /messages/{id}/edits': { names: 'message', request: (f) => get(`/messages/${f.messages.member}/edits`) },

  'GET /chats/{id}/members': { names: 'chat', request: (f) => get(`/chats/${f.chat}/members`) },
  'POST /chats/{id}/members': {
    names: 'chat',
    rebuilds: true,
    request: (f) => post(`/chats/${f.chat}/members`, { user_id: f.users.candidate.id }),
  },
  'DELETE /chats/{id}/members/{user_id}, another member': {
    names: 'chat',
    rebuilds: true,
    request: (f) => del(`/chats/${f.chat}/members/${f.users.member2.id}`),
  },
  'DELETE /chats/{id}/members/{user_id}, itself (leave)': {
    names: 'chat',
    rebuilds: true,
    request: (f, c) => del(`/chats/${f.chat}/members/${selfOf(f, c)}`),
  },

  'POST /chats/{id}/read': {
    names: 'chat',
    request: (f) => post(`/chats/${f.chat}/read`, { message_id: f.messages.member }),
  },
  'POST /dms': { request: (f) => post('/dms', { user_id: f.users.member2.id }) },
  'GET /me/chats': { request: () => get('/me/chats') },

  'POST /users': { request: () => post('/users', { username: `new_user_${++usernames}` }) },
  'GET /users': { request: () => get('/users') },
  'GET /users/{id}': { request: (f) => get(`/users/${f.users.member.id}`) },
  'GET /me': { request: () => get('/me') },
  'PATCH /me': { request: () => patch('/me', { display_name: 'Renamed' }) },
  'POST /users/{id}/tokens': { request: (f) => post(`/users/${f.users.member.id}/tokens`, {}) },
} satisfies Record<string, HttpCase>

/** The expected statuses. */
const httpExpected: Record<keyof typeof httpCases, Expected<number>> = {
  //                                                        open mode                  token mode
  //                                                        anon non  mem  own  adm    anon non  mem  own  adm
  'POST /chats':                                          [[201, 201, 201, 201, 201], [401, 201, 201, 201, 201]],
  'GET /chats':                                           [[200, 200, 200, 200, 200], [401, 200, 200, 200, 200]],
  'GET /chats/{id}':                                      [[200, 200, 200, 200, 200], [401, 404, 200, 200, 200]],
  'DELETE /chats/{id}':                                   [[204, 204, 204, 204, 204], [401, 404, 403, 204, 204]],

  'POST /chats/{id}/messages':                            [[201, 201, 201, 201, 201], [401, 404, 201, 201, 201]],
  'POST /chats/{id}/messages, its own key again':         [[200, 200, 200, 200, 200], [401, 404, 200, 200, 200]],
  'GET /chats/{id}/messages':                             [[200, 200, 200, 200, 200], [401, 404, 200, 200, 200]],
  'GET /messages':                                        [[200, 200, 200, 200, 200], [401, 200, 200, 200, 200]],
  'GET /messages, ?chat_id= the chat':                    [[200, 200, 200, 200, 200], [401, 404, 200, 200, 200]],
  'DELETE /messages/{id}, another member’s':              [[204, 204, 204, 204, 204], [401, 404, 403, 204, 204]],
  'DELETE /messages/{id}, its own':                       [[204, 204, 204, 204, 204], [401, 404, 204, 204, 204]],
  'PATCH /messages/{id}, its own':                        [[401, 200, 200, 200, 403], [401, 404, 200, 200, 403]],
  'PATCH /messages/{id}, another member’s':               [[401, 403, 403, 403, 403], [401, 404, 403, 403, 403]],
  'GET /messages/{id}/edits':                             [[200, 200, 200, 200, 200], [401, 404, 200, 200, 200]],

  'GET /chats/{id}/members':                              [[200, 200, 200, 200, 200], [401, 404, 200, 200, 200]],
  'POST /chats/{id}/members':                             [[201, 201, 201, 201, 201], [401, 404, 403, 201, 201]],
  'DELETE /chats/{id}/members/{user_id}, another member': [[204, 204, 204, 204, 204], [401, 404, 403, 204, 204]],
  'DELETE /chats/{id}/members/{user_id}, itself (leave)': [[NA,  404, 204, 204, NA ], [NA,  404, 204, 204, NA ]],

  'POST /chats/{id}/read':                                [[401, 403, 200, 200, 403], [401, 404, 200, 200, 403]],
  'POST /dms':                                            [[401, 201, 201, 201, 403], [401, 201, 201, 201, 403]],
  'GET /me/chats':                                        [[401, 200, 200, 200, 403], [401, 200, 200, 200, 403]],

  'POST /users':                                          [[201, 201, 201, 201, 201], [401, 403, 403, 403, 201]],
  'GET /users':                                           [[200, 200, 200, 200, 200], [401, 200, 200, 200, 200]],
  'GET /users/{id}':                                      [[200, 200, 200, 200, 200], [401, 200, 200, 200, 200]],
  'GET /me':                                              [[401, 200, 200, 200, 403], [401, 200, 200, 200, 403]],
  'PATCH /me':                                            [[401, 200, 200, 200, 403], [401, 200, 200, 200, 403]],
  'POST /users/{id}/tokens':                              [[401, 403, 403, 403, 201], [401, 403, 403, 403, 201]],
}

/**
 * Whether the group chat shows in the caller's lists (`null` where the caller gets an error). Open
 * mode lists everything to everyone; token mode only the caller's chats; the inbox is always the
 * caller's own.
 */
const listedExpected: Record<'/chats' | '/messages' | '/me/chats', Expected<boolean | null>> = {
  //             open mode                        token mode
  //             anon  non    mem   own   adm     anon  non    mem   own   adm
  '/chats':    [[true, true,  true, true, true], [null, false, true, true, true]],
  '/messages': [[true, true,  true, true, true], [null, false, true, true, true]],
  '/me/chats': [[null, false, true, true, null], [null, false, true, true, null]],
}

/** A WebSocket handshake's status (101 when upgraded), or what a subscribe frame gets back. */
export type RealtimeOutcome = number | 'subscribed' | 'not_found'

interface RealtimeCase {
  /** A WebSocket handshake; one, then a subscribe frame; or a Server-Sent Events stream. */
  kind: 'handshake' | 'subscribe' | 'stream'
  /** The chat the case names: for a non-member its 404 (or error frame) must equal a missing chat's. */
  names?: 'chat'
}

/** Realtime cases; a subscribe frame is only sent once the handshake succeeded (else: its status). */
const realtimeCases = {
  'GET /ws': { kind: 'handshake' },
  'GET /ws, subscribe to the chat': { kind: 'subscribe', names: 'chat' },
  'GET /chats/{id}/events': { kind: 'stream', names: 'chat' },
  'GET /me/events': { kind: 'stream' },
} satisfies Record<string, RealtimeCase>

/** A subscribe frame answered with `subscribed`. */
const S = 'subscribed'
const realtimeExpected: Record<keyof typeof realtimeCases, Expected<RealtimeOutcome>> = {
  //                                  open mode                  token mode
  //                                  anon non  mem  own  adm    anon non          mem  own  adm
  'GET /ws':                        [[101, 101, 101, 101, 101], [401, 101,         101, 101, 101]],
  'GET /ws, subscribe to the chat': [[S,   S,   S,   S,   S  ], [401, 'not_found', S,   S,   S  ]],
  'GET /chats/{id}/events':         [[200, 200, 200, 200, 200], [401, 404,         200, 200, 200]],
  'GET /me/events':                 [[401, 200, 200, 200, 403], [401, 200,         200, 200, 403]],
}

const modeIndex = { open: 0, token: 1 } as const

export interface Row<T> {
  /** The case's name: its route, and what it does when one route has several cases. */
  name: string
  /** The OpenAPI operation: method and path below /api/v1 (the name up to its first comma). */
  route: string
  /** What each caller gets, in the order of `callers`, in a mode. */
  expected: (mode: Mode) => Cells<T | typeof NA>
}

function rows<T>(table: Record<string, Expected<T>>): Row<T>[] {
  return Object.entries(table).map(([name, cells]) => ({
    name,
    route: name.split(',')[0] as string,
    expected: (mode) => cells[modeIndex[mode]],
  }))
}

export type HttpRow = Row<number> & HttpCase
export const httpMatrix: HttpRow[] = rows(httpExpected).map((row) => ({
  ...row,
  ...httpCases[row.name as keyof typeof httpCases],
}))

/** A list route (below /api/v1) and whether it shows the group chat to each caller. */
export const listedMatrix: Row<boolean | null>[] = rows(listedExpected)

export type RealtimeRow = Row<RealtimeOutcome> & RealtimeCase
export const realtimeMatrix: RealtimeRow[] = rows(realtimeExpected).map((row) => ({
  ...row,
  ...realtimeCases[row.name as keyof typeof realtimeCases],
}))
