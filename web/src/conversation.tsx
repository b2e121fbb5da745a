import type { ParleyClient } from '@parley/client'
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import { chatName } from './chat.js'
import { describeError } from './session.js'
import type { ConnectionState, EventFrame, InboxChat, MemberInfo, Message, UserInfo } from './types.js'

/** Messages per page, newest first on opening, older ones as one scrolls up. */
const PAGE = 50
/** How close to the top (px) starts loading older messages, and to the bottom counts as "at the end". */
const EDGE = 80

/** Merges pages and events by id (the later copy wins: it may be an edit), in the chat's order. */
function merge(current: Message[], incoming: Message[]): Message[] {
  const byId = new Map(current.map((message) => [message.id, message]))
  for (const message of incoming) byId.set(message.id, message)
  return [...byId.values()].sort((a, b) => a.id - b.id)
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' })

function when(timestamp: string): string {
  const date = new Date(timestamp)
  const today = new Date().toDateString() === date.toDateString()
  return today ? timeFormat.format(date) : `${dayFormat.format(date)}, ${timeFormat.format(date)}`
}

interface Props {
  client: ParleyClient
  me: UserInfo
  chatId: number
  chat: InboxChat | undefined
  /** Bumped when the stream had to resync: everything is read again. */
  generation: number
  connection: ConnectionState
  subscribe: (listener: (event: EventFrame) => void) => () => void
  onRead: (chatId: number, marker: { last_read_message_id: number; unread_count: number }) => void
  onBack: () => void
}

/** One conversation: history on scroll, live events, the composer, edits, deletes and read markers. */
export function Conversation({ client, me, chatId, chat, generation, connection, subscribe, onRead, onBack }: Props) {
  const [messages, setMessages] = useState<Message[]>([])
  const [loaded, setLoaded] = useState(false)
  const [hasOlder, setHasOlder] = useState(false)
  const [loadingOlder, setLoadingOlder] = useState(false)
  const [members, setMembers] = useState<MemberInfo[]>([])
  const [names, setNames] = useState<Map<number, string>>(new Map())
  const [draft, setDraft] = useState('')
  const [editing, setEditing] = useState<{ id: number; text: string } | null>(null)
  const [confirming, setConfirming] = useState<number | null>(null)
  const [error, setError] = useState<string | null>(null)

  const log = useRef<HTMLDivElement>(null)
  const composer = useRef<HTMLTextAreaElement>(null)
  /** Whether the view sat at the newest message before the last change (then it follows new ones). */
  const atBottom = useRef(true)
  /** Set just before older messages are prepended: where the view was, to keep it still. */
  const anchor = useRef<{ height: number; top: number } | null>(null)
  /** Whether history older than the oldest message shown remains to be loaded (for event handlers). */
  const older = useRef(false)
  /** The read marker as far as this page knows; it only moves forward. */
  const marked = useRef(chat?.last_read_message_id ?? 0)

  const loadMembers = useCallback(async () => {
    const list = await client.chats.members.list(chatId)
    setMembers(list.members)
    const missing = list.members.filter((member) => member.user_id !== me.id && !names.has(member.user_id))
    const users = await Promise.all(missing.map((member) => client.users.get(member.user_id).catch(() => null)))
    setNames((known) => {
      const next = new Map(known)
      for (const user of users) if (user) next.set(user.id, user.display_name)
      return next
    })
  }, [client, chatId, me.id])

  useEffect(() => composer.current?.focus(), [])

  // The newest page and the members; again after a resync.
  useEffect(() => {
    let current = true
    Promise.all([client.messages.list(chatId, { limit: PAGE }), loadMembers()]).then(
      ([page]) => {
        if (!current) return
        atBottom.current = true
        // First load: events may have arrived meanwhile, keep them. After a resync: start afresh.
        // Either way nothing older than the page stays, or the view would show a hole before it.
        const oldest = page.messages[0]?.id ?? 0
        const more = page.messages.length === PAGE
        setMessages((known) =>
          (generation === 0 ? merge(known, page.messages) : page.messages).filter(
            (message) => !more || message.id >= oldest,
          ),
        )
        older.current = more
        setHasOlder(more)
        setLoaded(true)
      },
      (failure: unknown) => current && setError(describeError(failure)),
    )
    return () => {
      current = false
    }
  }, [client, chatId, generation, loadMembers])

  // Live events of this chat, from the user's stream (which resumes without gaps or duplicates).
  useEffect(
    () =>
      subscribe((event) => {
        if (event.chat_id !== chatId) return
        switch (event.type) {
          case 'message.created':
            // One older than the oldest shown, with more history above, comes with its page.
            setMessages((known) =>
              older.current && known[0] !== undefined && event.message.id < known[0].id
                ? known
                : merge(known, [event.message]),
            )
            return
          case 'message.updated':
            setMessages((known) =>
              known.some((message) => message.id === event.message.id) ? merge(known, [event.message]) : known,
            )
            return
          case 'message.deleted':
            setMessages((known) => known.filter((message) => message.id !== event.message_id))
            return
          case 'chat.read':
            setMembers((known) =>
              known.map((member) =>
                member.user_id === event.user_id
                  ? { ...member, last_read_message_id: Math.max(member.last_read_message_id, event.last_read_message_id) }
                  : member,
              ),
            )
            return
          case 'member.added':
          case 'member.removed':
            void loadMembers()
            return
          case 'chat.joined':
          case 'chat.left':
          case 'chat.deleted':
            return
        }
      }),
    [subscribe, chatId, loadMembers],
  )

  /** Marks read up to the newest message that is (at least partly) on screen, if the page is seen. */
  const markSeen = useCallback(() => {
    const view = log.current
    if (!view || document.visibilityState !== 'visible' || !document.hasFocus()) return
    const bottom = view.getBoundingClientRect().bottom
    const items = view.querySelectorAll<HTMLElement>('[data-id]')
    for (let index = items.length - 1; index >= 0; index--) {
      const item = items[index]!
      if (item.getBoundingClientRect().top < bottom) {
        const id = Number(item.dataset.id)
        if (id > marked.current) {
          marked.current = id
          client.chats.read(chatId, id).then(
            (marker) => onRead(chatId, marker),
            () => {
              // Not marked after all: try again when next seen.
              marked.current = Math.min(marked.current, id - 1)
            },
          )
        }
        return
      }
    }
  }, [client, chatId, onRead])

  useEffect(() => {
    const again = () => markSeen()
    document.addEventListener('visibilitychange', again)
    window.addEventListener('focus', again)
    return () => {
      document.removeEventListener('visibilitychange', again)
      window.removeEventListener('focus', again)
    }
  }, [markSeen])

  // After each change: keep older history from moving the view, follow new messages when at the end.
  useLayoutEffect(() => {
    const view = log.current
    if (!view) return
    if (anchor.current) {
      view.scrollTop = anchor.current.top + (view.scrollHeight - anchor.current.height)
      anchor.current = null
    } else if (atBottom.current) {
      view.scrollTop = view.scrollHeight
    }
    markSeen()
  }, [messages, loaded, markSeen])

  const loadOlder = async () => {
    const view = log.current
    const oldest = messages[0]
    if (!view || !oldest || loadingOlder || !hasOlder) return
    setLoadingOlder(true)
    try {
      const page = await client.messages.list(chatId, { before: oldest.id, limit: PAGE })
      anchor.current = { height: view.scrollHeight, top: view.scrollTop }
      older.current = page.messages.length === PAGE
      setHasOlder(older.current)
      setMessages((known) => merge(known, page.messages))
    } catch (failure) {
      setError(describeError(failure))
    } finally {
      setLoadingOlder(false)
    }
  }

  const onScroll = () => {
    const view = log.current
    if (!view) return
    atBottom.current = view.scrollHeight - view.scrollTop - view.clientHeight < EDGE
    if (view.scrollTop < EDGE) void loadOlder()
    markSeen()
  }

  const send = async () => {
    const text = draft
    if (text.trim() === '') return
    setDraft('')
    setError(null)
    atBottom.current = true
    try {
      const message = await client.messages.send(chatId, { text })
      setMessages((known) => merge(known, [message]))
    } catch (failure) {
      setDraft((now) => (now === '' ? text : now))
      setError(`Not sent: ${describeError(failure)}`)
    }
  }

  const saveEdit = async () => {
    if (!editing) return
    const { id, text } = editing
    if (text.trim() === '') return
    try {
      const message = await client.messages.edit(id, { text })
      setMessages((known) => merge(known, [message]))
      setEditing(null)
    } catch (failure) {
      setError(`Not saved: ${describeError(failure)}`)
    }
  }

  const remove = async (id: number) => {
    setConfirming(null)
    try {
      await client.messages.delete(id)
      setMessages((known) => known.filter((message) => message.id !== id))
    } catch (failure) {
      setError(`Not deleted: ${describeError(failure)}`)
    }
  }

  const title = chat ? chatName(chat) : 'Conversation'
  const direct = chat?.kind === 'direct'
  const nameOf = (userId: number | null) =>
    userId === null ? 'Someone' : userId === me.id ? 'You' : (names.get(userId) ?? `User ${userId}`)

  // "Seen" under my newest message: members (not me) whose read marker reached it.
  const mine = [...messages].reverse().find((message) => message.sender_id === me.id)
  const seenBy = mine
    ? members.filter((member) => member.user_id !== me.id && member.last_read_message_id >= mine.id)
    : []
  const seenText = direct ? 'Seen' : `Seen by ${seenBy.map((member) => nameOf(member.user_id)).join(', ')}`

  return (
    <section class="conversation" aria-label={`Conversation: ${title}`}>
      <header class="bar">
        <button type="button" class="back" aria-label="Back to conversations" onClick={onBack}>
          ←
        </button>
        <h2>{title}</h2>
        {chat && !direct && typeof chat.members === 'number' && (
          <span class="muted">{chat.members} members</span>
        )}
        {connection !== 'open' && (
          <span class={`connection ${connection}`}>{connection === 'closed' ? 'Offline' : 'Reconnecting…'}</span>
        )}
      </header>
      <div class="log" ref={log} role="log" aria-live="polite" aria-label={`Messages with ${title}`} onScroll={onScroll}>
        {hasOlder && (
          <button type="button" class="link older" disabled={loadingOlder} onClick={() => void loadOlder()}>
            {loadingOlder ? 'Loading…' : 'Load older messages'}
          </button>
        )}
        {loaded && messages.length === 0 && <p class="muted pad">No messages yet. Say hello!</p>}
        <ol class="messages">
          {messages.map((message) => {
            const own = message.sender_id === me.id
            const isEditing = editing?.id === message.id
            return (
              <li key={message.id} data-id={message.id} class={`message${own ? ' own' : ''}`}>
                {!own && !direct && <span class="sender">{nameOf(message.sender_id)}</span>}
                {isEditing ? (
                  <form
                    class="edit"
                    onSubmit={(event) => {
                      event.preventDefault()
                      void saveEdit()
                    }}
                  >
                    <textarea
                      aria-label="Edit message"
                      value={editing.text}
                      maxLength={5000}
                      autoFocus
                      onInput={(event) => setEditing({ id: message.id, text: event.currentTarget.value })}
                      onKeyDown={(event) => {
                        if (event.key === 'Escape') setEditing(null)
                        if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
                          event.preventDefault()
                          void saveEdit()
                        }
                      }}
                    />
                    <div class="row">
                      <button type="submit">Save</button>
                      <button type="button" class="link" onClick={() => setEditing(null)}>
                        Cancel
                      </button>
                    </div>
                  </form>
                ) : (
                  <p class="text">{message.text}</p>
                )}
                <span class="meta">
                  <time dateTime={message.created_at}>{when(message.created_at)}</time>
                  {message.edited_at !== null && <span class="edited">edited</span>}
                  {own && !isEditing && confirming !== message.id && (
                    <>
                      <button
                        type="button"
                        class="link"
                        aria-label="Edit message"
                        onClick={() => setEditing({ id: message.id, text: message.text })}
                      >
                        Edit
                      </button>
                      <button
                        type="button"
                        class="link"
                        aria-label="Delete message"
                        onClick={() => setConfirming(message.id)}
                      >
                        Delete
                      </button>
                    </>
                  )}
                  {confirming === message.id && (
                    <>
                      <button type="button" class="link danger" onClick={() => void remove(message.id)}>
                        Confirm delete
                      </button>
                      <button type="button" class="link" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </>
                  )}
                </span>
                {message === mine && seenBy.length > 0 && <span class="seen">{seenText}</span>}
              </li>
            )
          })}
        </ol>
      </div>
      {error && (
        <p role="alert" class="error pad">
          {error}
        </p>
      )}
      <form
        class="composer"
        onSubmit={(event) => {
          event.preventDefault()
          void send()
        }}
      >
        <textarea
          ref={composer}
          aria-label="Message"
          placeholder="Write a message…"
          title="Enter sends; Shift+Enter starts a new line"
          rows={1}
          maxLength={5000}
          value={draft}
          onInput={(event) => setDraft(event.currentTarget.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
              event.preventDefault()
              void send()
            }
          }}
        />
        <button type="submit" disabled={draft.trim() === ''}>
          Send
        </button>
      </form>
    </section>
  )
}
