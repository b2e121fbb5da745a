import { type ParleyClient, ParleyError } from '@parley/client'
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { Conversation } from './conversation.js'
import { NewDirect, NewGroup } from './people.js'
import { describeError } from './session.js'
import type { ConnectionState, EventFrame, InboxChat, UserInfo } from './types.js'

/** What a chat is called in the list and its header: the other person, or the group's title. */
export function chatName(chat: InboxChat): string {
  if (typeof chat.members === 'object') return chat.members.display_name
  return chat.title ?? 'Untitled'
}

const stateText: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  open: 'Online',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
}

/** Moves one chat to the top of the inbox (it just had activity), changed by `update`. */
function bump(chats: InboxChat[], id: number, update: (chat: InboxChat) => InboxChat): InboxChat[] {
  const chat = chats.find((candidate) => candidate.id === id)
  if (!chat) return chats
  return [update(chat), ...chats.filter((candidate) => candidate !== chat)]
}

function patch(chats: InboxChat[], id: number, update: (chat: InboxChat) => InboxChat): InboxChat[] {
  return chats.map((chat) => (chat.id === id ? update(chat) : chat))
}

interface Props {
  client: ParleyClient
  me: UserInfo
  onSignOut: (notice?: string) => void
}

/** The signed-in page: the inbox beside the open conversation, kept live by the user's stream. */
export function Chat({ client, me, onSignOut }: Props) {
  const [connection, setConnection] = useState<ConnectionState>('connecting')
  const [inbox, setInbox] = useState<InboxChat[] | null>(null)
  const [inboxError, setInboxError] = useState<string | null>(null)
  const [openId, setOpenId] = useState<number | null>(null)
  const [panel, setPanel] = useState<'none' | 'direct' | 'group'>('none')
  const [generation, setGeneration] = useState(0)
  const listeners = useRef(new Set<(event: EventFrame) => void>())
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  // The inbox as last rendered, for event handlers (state updaters run later, during rendering).
  const inboxNow = useRef<InboxChat[] | null>(null)
  inboxNow.current = inbox
  // The latest callback, without restarting the stream when the parent re-renders.
  const signOut = useRef(onSignOut)
  signOut.current = onSignOut

  const loadInbox = useCallback(async () => {
    try {
      const page = await client.me.chats({ limit: 100 })
      setInbox(page.chats)
      setInboxError(null)
    } catch (error) {
      // The token expired or its user is gone: back to sign-in rather than a page that cannot work.
      if (error instanceof ParleyError && error.status === 401) {
        signOut.current('Your session has ended. Please sign in again.')
      } else setInboxError(describeError(error))
    }
  }, [client])

  /** Several events in a row (a catch-up) cost one reload. */
  const reloadSoon = useCallback(() => {
    clearTimeout(reloadTimer.current)
    reloadTimer.current = setTimeout(() => void loadInbox(), 150)
  }, [loadInbox])

  const applyToInbox = useCallback(
    (event: EventFrame) => {
      switch (event.type) {
        case 'message.created': {
          const message = event.message
          // A chat the inbox does not list yet (joined a moment ago): read the inbox again.
          if (inboxNow.current !== null && !inboxNow.current.some((chat) => chat.id === event.chat_id)) reloadSoon()
          setInbox((chats) => {
            if (chats === null) return chats
            return bump(chats, event.chat_id, (chat) => {
              // Ids ascend in a chat: one not above the last message is already counted.
              if (chat.last_message && chat.last_message.id >= message.id) return chat
              const unread =
                message.sender_id !== me.id && message.id > chat.last_read_message_id
                  ? chat.unread_count + 1
                  : chat.unread_count
              return { ...chat, last_message: message, unread_count: unread }
            })
          })
          return
        }
        case 'message.updated':
          setInbox(
            (chats) =>
              chats &&
              patch(chats, event.chat_id, (chat) =>
                chat.last_message?.id === event.message.id ? { ...chat, last_message: event.message } : chat,
              ),
          )
          return
        case 'chat.read':
          if (event.user_id !== me.id) return
          setInbox(
            (chats) =>
              chats &&
              patch(chats, event.chat_id, (chat) =>
                event.last_read_message_id >= (chat.last_message?.id ?? 0)
                  ? { ...chat, last_read_message_id: event.last_read_message_id, unread_count: 0 }
                  : chat,
              ),
          )
          reloadSoon()
          return
        case 'chat.left':
        case 'chat.deleted':
          setOpenId((id) => (id === event.chat_id ? null : id))
          reloadSoon()
          return
        case 'message.deleted':
        case 'chat.joined':
        case 'member.added':
        case 'member.removed':
          reloadSoon()
          return
      }
    },
    [me.id, reloadSoon],
  )

  useEffect(() => {
    const stream = client.realtime.user()
    setConnection(stream.state)
    stream.on('state', setConnection)
    stream.on('event', (event: EventFrame) => {
      applyToInbox(event)
      for (const listener of listeners.current) listener(event)
    })
    stream.on('resync_required', () => {
      // Too long away to replay: read everything again.
      void loadInbox()
      setGeneration((value) => value + 1)
    })
    void loadInbox()
    return () => {
      clearTimeout(reloadTimer.current)
      stream.close()
    }
  }, [client, applyToInbox, loadInbox])

  // The tab's title counts unread messages, for a window in the background.
  const unread = inbox?.reduce((total, chat) => total + chat.unread_count, 0) ?? 0
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Parley` : 'Parley'
  }, [unread])

  const subscribe = useCallback((listener: (event: EventFrame) => void) => {
    listeners.current.add(listener)
    return () => void listeners.current.delete(listener)
  }, [])

  const markedRead = useCallback((chatId: number, marker: { last_read_message_id: number; unread_count: number }) => {
    setInbox(
      (chats) =>
        chats &&
        patch(chats, chatId, (chat) => ({
          ...chat,
          last_read_message_id: Math.max(chat.last_read_message_id, marker.last_read_message_id),
          unread_count: marker.unread_count,
        })),
    )
  }, [])

  const opened = async (chatId: number) => {
    setPanel('none')
    await loadInbox()
    setOpenId(chatId)
  }

  const open = inbox?.find((chat) => chat.id === openId)
  return (
    <div class="layout" data-view={openId === null ? 'inbox' : 'conversation'}>
      <aside class="sidebar" aria-label="Conversations">
        <header class="bar">
          <h1>Parley</h1>
          <span class={`connection ${connection}`} role="status" aria-label={`Connection: ${stateText[connection]}`}>
            {stateText[connection]}
          </span>
        </header>
        <div class="me">
          <span>
            Signed in as <strong>{me.display_name}</strong> <span class="muted">@{me.username}</span>
          </span>
          <button type="button" class="link" onClick={() => onSignOut()}>
            Sign out
          </button>
        </div>
        <div class="actions">
          <button
            type="button"
            aria-expanded={panel === 'direct'}
            onClick={() => setPanel(panel === 'direct' ? 'none' : 'direct')}
          >
            New message
          </button>
          <button
            type="button"
            aria-expanded={panel === 'group'}
            onClick={() => setPanel(panel === 'group' ? 'none' : 'group')}
          >
            New group
          </button>
        </div>
        {panel === 'direct' && <NewDirect client={client} me={me} onOpened={opened} onCancel={() => setPanel('none')} />}
        {panel === 'group' && <NewGroup client={client} me={me} onOpened={opened} onCancel={() => setPanel('none')} />}
        {inboxError && (
          <p role="alert" class="error">
            {inboxError}
          </p>
        )}
        {inbox === null ? (
          <p class="muted pad">Loading conversations…</p>
        ) : inbox.length === 0 ? (
          <p class="muted pad">No conversations yet. Start one with “New message”.</p>
        ) : (
          <ul class="inbox" aria-label="Inbox">
            {inbox.map((chat) => (
              <InboxItem key={chat.id} chat={chat} me={me} current={chat.id === openId} onOpen={() => setOpenId(chat.id)} />
            ))}
          </ul>
        )}
      </aside>
      <main class="main">
        {openId !== null ? (
          <Conversation
            key={openId}
            client={client}
            me={me}
            chatId={openId}
            chat={open}
            generation={generation}
            connection={connection}
            subscribe={subscribe}
            onRead={markedRead}
            onBack={() => setOpenId(null)}
          />
        ) : (
          <div class="empty">
            <p>Pick a conversation, or start one.</p>
          </div>
        )}
      </main>
    </div>
  )
}

function InboxItem({ chat, me, current, onOpen }: { chat: InboxChat; me: UserInfo; current: boolean; onOpen: () => void }) {
  const name = chatName(chat)
  const last = chat.last_message
  const preview = last === null ? 'No messages yet' : `${last.sender_id === me.id ? 'You: ' : ''}${last.text}`
  const unread = chat.unread_count
  return (
    <li>
      <button
        type="button"
        class={`chat-item${current ? ' current' : ''}${unread > 0 ? ' unread' : ''}`}
        aria-current={current ? 'true' : undefined}
        aria-label={`${name}${unread > 0 ? `, ${unread} unread` : ''}`}
        onClick={onOpen}
      >
        <span class="avatar" aria-hidden="true">
          {initials(name)}
        </span>
        <span class="chat-text">
          <span class="chat-name">{name}</span>
          <span class="preview">{preview}</span>
        </span>
        {unread > 0 && (
          <span class="badge" aria-hidden="true">
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
    </li>
  )
}

/** One or two letters for the avatar circle. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter((word) => word !== '')
  const letters =
    words.length > 1 ? [words[0], words[1]].map((word) => Array.from(word ?? '')[0] ?? '') : Array.from(words[0] ?? '?').slice(0, 2)
  return letters.join('').toUpperCase()
}
