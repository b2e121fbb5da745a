import type { App } from '../src/app.js'
import { admin, anonymous, type Identity } from '../src/auth/identity.js'

/** Creates a chat through the service layer (the rules apply, HTTP is skipped). */
export async function createChat(app: App, title = 'A chat', as: Identity = anonymous) {
  return app.services.chats.createChat(as, { title })
}

/** Sends one message through the service layer; returns the stored message. */
export async function sendMessage(app: App, chatId: number, text: string, as: Identity = anonymous) {
  return (await app.services.messages.sendMessage(as, chatId, { text })).message
}

/** Sends `count` messages to a chat, one after another; returns them in send order. */
export async function sendMessages(
  app: App,
  chatId: number,
  count: number,
  text = (i: number) => `message ${i}`,
  as: Identity = anonymous,
) {
  const sent = []
  for (let i = 0; i < count; i++) sent.push(await sendMessage(app, chatId, text(i), as))
  return sent
}

/** Creates a user through the service layer as the admin (allowed in both modes); returns its row. */
export async function createUser(app: App, username: string, displayName?: string) {
  return app.services.users.createUser(admin, { username, display_name: displayName })
}

/** A valid token for the user, signed with the app's secret (AUTH_SECRET, or open mode's stored one). */
export async function tokenFor(app: App, userId: number, ttlSeconds = 3600): Promise<string> {
  return (await app.auth.tokens.sign(userId, ttlSeconds)).token
}

/** Creates a user and returns it with `headers` that authenticate as it. */
export async function createUserWithToken(app: App, username: string) {
  const user = await createUser(app, username)
  const token = await tokenFor(app, user.id)
  return { ...user, token, headers: { authorization: `Bearer ${token}` } }
}

/** Creates a chat as the admin with these users as members (no owner): visible to them in token mode. */
export async function createChatFor(app: App, userIds: number[], title = 'A chat') {
  return app.services.chats.createChat(admin, { title, member_ids: userIds })
}
