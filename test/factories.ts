import type { App } from '../src/app.js'
import { anonymous, type Identity } from '../src/auth/identity.js'

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
