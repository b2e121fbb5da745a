import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, expect } from 'vitest'
import { type App, buildApp } from '../src/app.js'
import { admin, anonymous, type Identity, userIdentity } from '../src/auth/identity.js'
import { createUserWithToken } from './factories.js'
import { bearer, createTestDatabase, onPostgres, resetDatabase, testConfig, TOKEN_MODE } from './helper.js'

/**
 * The world every cell of the authorization matrix runs in: a group chat with an owner and members,
 * a user who is no member, and a message by each. Built once per mode, rebuilt after a cell changed it.
 */

export const modes = ['open', 'token'] as const
export type Mode = (typeof modes)[number]

/** The callers of the matrix, in the order of the table's columns. */
export const callers = ['anonymous', 'non-member', 'member', 'owner', 'admin'] as const
export type Caller = (typeof callers)[number]

/** Ids no row will ever have (sequences start at 1 and tests create a few hundred rows). */
const MISSING = { chat: 900_000_001, message: 900_000_002 }

export interface Fixture {
  /**
   * The users and their tokens (the admin presents {@link TOKEN_MODE}'s key, set in both modes).
   * `member2` is the member others remove and open direct chats with; `candidate` the user they add.
   */
  users: Record<'owner' | 'member' | 'member2' | 'nonMember' | 'candidate', { id: number; token: string }>
  /** The group chat: `owner` created it with `member`, `member2` and `nonMember`; `nonMember` then left. */
  chat: number
  /**
   * A message by each, sent with the client_message_id `key-<name>`: `nonMember`'s from before it
   * left; `nobody`'s without sender (anonymous in open mode, the admin in token mode).
   */
  messages: Record<'owner' | 'member' | 'nonMember' | 'nobody', number>
}

/** Builds the fixture through the services (the rules apply, HTTP is skipped). */
export async function buildFixture(app: App, mode: Mode): Promise<Fixture> {
  const make = (name: string) => createUserWithToken(app, name)
  const [owner, member, member2, nonMember, candidate] = [
    await make('owner'),
    await make('member'),
    await make('member2'),
    await make('nonmember'),
    await make('candidate'),
  ]
  const as = (user: { id: number }) => userIdentity(user.id)
  const chat = await app.services.chats.createChat(as(owner), {
    title: 'The group',
    member_ids: [member.id, member2.id, nonMember.id],
  })
  const send = async (identity: Identity, key: keyof Fixture['messages'], text: string) =>
    (await app.services.messages.sendMessage(identity, chat.id, { text, client_message_id: `key-${key}` })).message.id
  const messages = {
    owner: await send(as(owner), 'owner', 'by the owner'),
    member: await send(as(member), 'member', 'by the member'),
    nonMember: await send(as(nonMember), 'nonMember', 'by the non-member, before it left'),
    // Token mode has no anonymous sender; the admin's sends carry no sender either.
    nobody: await send(mode === 'open' ? anonymous : admin, 'nobody', 'without a sender'),
  }
  await app.services.chats.removeMember(as(nonMember), chat.id, nonMember.id)
  const strip = ({ id, token }: { id: number; token: string }) => ({ id, token })
  return {
    users: {
      owner: strip(owner),
      member: strip(member),
      member2: strip(member2),
      nonMember: strip(nonMember),
      candidate: strip(candidate),
    },
    chat: chat.id,
    messages,
  }
}

/** The same fixture with the chat's and messages' ids replaced by ids that do not exist. */
export function withMissingIds(fixture: Fixture): Fixture {
  const { message } = MISSING
  return {
    ...fixture,
    chat: MISSING.chat,
    messages: { owner: message, member: message, nonMember: message, nobody: message },
  }
}

/** Empties the database and builds the fixture again (ids keep counting). */
export async function rebuildFixture(app: App, mode: Mode): Promise<Fixture> {
  await resetDatabase(app)
  return buildFixture(app, mode)
}

/** The bearer token a caller presents, if any. */
export function tokenOf(fixture: Fixture, caller: Caller): string | undefined {
  switch (caller) {
    case 'anonymous':
      return undefined
    case 'admin':
      return TOKEN_MODE.ADMIN_KEY
    case 'non-member':
      return fixture.users.nonMember.token
    case 'member':
      return fixture.users.member.token
    case 'owner':
      return fixture.users.owner.token
  }
}

export const headersOf = (fixture: Fixture, caller: Caller): Record<string, string> => {
  const token = tokenOf(fixture, caller)
  return token === undefined ? {} : bearer(token)
}

/** The caller's own user id; the anonymous caller and the admin are nobody. */
export function selfOf(fixture: Fixture, caller: Caller): number | undefined {
  if (caller === 'non-member') return fixture.users.nonMember.id
  if (caller === 'member' || caller === 'owner') return fixture.users[caller].id
  return undefined
}

/** A message the caller sent (for the anonymous caller and the admin: one without sender). */
export function ownMessage(fixture: Fixture, caller: Caller): number {
  if (caller === 'non-member') return fixture.messages.nonMember
  if (caller === 'member' || caller === 'owner') return fixture.messages[caller]
  return fixture.messages.nobody
}

/** The client_message_id the caller sent its own message with. */
export function ownKey(caller: Caller): string {
  if (caller === 'non-member') return 'key-nonMember'
  if (caller === 'member' || caller === 'owner') return `key-${caller}`
  return 'key-nobody'
}

/** Another member's message: the owner's for the member, the member's for everyone else. */
export const othersMessage = (fixture: Fixture, caller: Caller): number =>
  caller === 'member' ? fixture.messages.owner : fixture.messages.member

/** One app per mode, each on its own fresh database; the admin key works in both (open mode allows it). */
export function useModeApps(): Record<Mode, App> {
  const apps = {} as Record<Mode, App>
  const drops: (() => Promise<void>)[] = []
  beforeAll(async () => {
    for (const mode of modes) {
      const overrides: Record<string, string> = {
        RATE_LIMIT: 'off',
        ...(mode === 'token' ? TOKEN_MODE : { ADMIN_KEY: TOKEN_MODE.ADMIN_KEY }),
      }
      if (onPostgres) {
        const database = await createTestDatabase()
        drops.push(database.drop)
        overrides.DATABASE_URL = database.url
      }
      apps[mode] = await buildApp(testConfig(overrides), { logger: false })
      await apps[mode].ready()
    }
  })
  afterAll(async () => {
    for (const mode of modes) await apps[mode]?.close()
    for (const drop of drops) await drop()
  })
  return apps
}

/** A problem's body with every number inside `detail` (and nowhere else) replaced by `#`, as sent. */
export function normaliseDetail(body: string): string {
  return body.replace(/"detail":"((?:[^"\\]|\\.)*)"/, (_, detail: string) => `"detail":"${detail.replace(/\d+/g, '#')}"`)
}

/** A response as the no-existence-leak rule compares it. */
export interface Answer {
  status: number
  /** Every header but `date` and `content-length` (the body is compared itself). */
  headers: Record<string, string>
  body: string
}

const comparedHeaders = (entries: Iterable<[string, unknown]>): Record<string, string> =>
  Object.fromEntries(
    [...entries]
      .filter(([name]) => name !== 'date' && name !== 'content-length')
      .map(([name, value]) => [name.toLowerCase(), String(value)] as const)
      .sort(([x], [y]) => x.localeCompare(y)),
  )

/** An injected response as an {@link Answer}. */
export const answerOf = (response: LightMyRequestResponse): Answer => ({
  status: response.statusCode,
  headers: comparedHeaders(Object.entries(response.headers)),
  body: response.body,
})

/** A fetched response's status and headers as an {@link Answer}, with the body read already. */
export const fetchedAnswer = (response: Response, body: string): Answer => ({
  status: response.status,
  headers: comparedHeaders(response.headers.entries()),
  body,
})

/**
 * The no-existence-leak rule: the answer to a caller who may not see a chat (or message) is the very
 * answer to an id that does not exist, byte for byte, apart from ids inside `detail`.
 */
export function expectSameAsMissing(hidden: Answer, missing: Answer): void {
  expect(hidden.status).toBe(404)
  expect(missing.status).toBe(404)
  expect(hidden.headers).toEqual(missing.headers)
  expect(normaliseDetail(hidden.body)).toBe(normaliseDetail(missing.body))
}
