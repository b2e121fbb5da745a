import type { App } from '../src/app.js'

/** Creates a chat through the service layer (the rules apply, HTTP is skipped). */
export async function createChat(app: App, title = 'A chat') {
  return app.services.chats.createChat({ title })
}

/** Sends `count` messages to a chat, one after another; returns them in send order. */
export async function sendMessages(
  app: App,
  chatId: number,
  count: number,
  text = (i: number) => `message ${i}`,
) {
  const sent = []
  for (let i = 0; i < count; i++)
    sent.push(await app.services.messages.sendMessage(chatId, { text: text(i) }))
  return sent
}
