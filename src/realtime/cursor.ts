/**
 * A user stream's position, as the opaque `cursor` clients hold: a log position `base` up to which
 * the client has every event of its chats, plus, for each chat with events delivered beyond `base`,
 * the log id of the last one. Within a chat the log ascends in commit order, so "after id X" is
 * exact per chat; `base` only advances to the stable watermark (see log-tail.ts), below which no
 * event can still appear, so the per-chat list stays short: usually the chats active in the last
 * second or two.
 *
 * Text form: base36 numbers, `<base>` then `.<chat>-<id>` per chat — URL-safe, no escaping needed.
 */
export interface UserCursor {
  base: number
  chats: Map<number, number>
}

const CURSOR_PATTERN = /^[0-9a-z]{1,11}(\.[0-9a-z]{1,11}-[0-9a-z]{1,11}){0,10000}$/

export function encodeCursor(cursor: UserCursor): string {
  let text = cursor.base.toString(36)
  for (const [chatId, id] of cursor.chats) if (id > cursor.base) text += `.${chatId.toString(36)}-${id.toString(36)}`
  return text
}

/** Undefined for anything that is not a cursor this server wrote. */
export function decodeCursor(text: string): UserCursor | undefined {
  if (text.length > 200_000 || !CURSOR_PATTERN.test(text)) return undefined
  const [head, ...rest] = text.split('.')
  const base = Number.parseInt(head as string, 36)
  if (!Number.isSafeInteger(base)) return undefined
  const chats = new Map<number, number>()
  for (const part of rest) {
    const [chat, id] = part.split('-').map((value) => Number.parseInt(value, 36))
    if (!Number.isSafeInteger(chat) || !Number.isSafeInteger(id) || (chat as number) < 1) return undefined
    chats.set(chat as number, id as number)
  }
  return { base, chats }
}

/** The pattern, for request schemas (the realtime routes validate `cursor` before upgrading). */
export const CURSOR_SCHEMA_PATTERN = CURSOR_PATTERN.source
