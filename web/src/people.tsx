import type { ParleyClient } from '@parley/client'
import { useEffect, useState } from 'preact/hooks'
import { describeError } from './session.js'
import type { UserInfo } from './types.js'

interface SearchProps {
  client: ParleyClient
  me: UserInfo
  label: string
  exclude?: number[]
  onPick: (user: UserInfo) => void
}

/** Finds people by the start of their username or display name, as one types. */
function UserSearch({ client, me, label, exclude = [], onPick }: SearchProps) {
  const [query, setQuery] = useState('')
  const [users, setUsers] = useState<UserInfo[]>([])
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    let current = true
    const timer = setTimeout(() => {
      const q = query.trim()
      client.users.list({ ...(q === '' ? {} : { q }), limit: 20 }).then(
        (page) => {
          if (!current) return
          setUsers(page.users)
          setError(null)
        },
        (failure: unknown) => current && setError(describeError(failure)),
      )
    }, 200)
    return () => {
      current = false
      clearTimeout(timer)
    }
  }, [client, query])

  const shown = users.filter((user) => user.id !== me.id && !exclude.includes(user.id))
  return (
    <div class="search">
      <input
        type="search"
        aria-label={label}
        placeholder="Search people by name"
        value={query}
        onInput={(event) => setQuery(event.currentTarget.value)}
        maxLength={100}
        autoFocus
      />
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <ul class="people" aria-label="People found">
        {shown.map((user) => (
          <li key={user.id}>
            <button type="button" class="person" onClick={() => onPick(user)}>
              <strong>{user.display_name}</strong> <span class="muted">@{user.username}</span>
            </button>
          </li>
        ))}
        {shown.length === 0 && <li class="muted">Nobody found.</li>}
      </ul>
    </div>
  )
}

interface PanelProps {
  client: ParleyClient
  me: UserInfo
  onOpened: (chatId: number) => Promise<void>
  onCancel: () => void
}

/** Starts (or reopens) a direct conversation with someone found by search. */
export function NewDirect({ client, me, onOpened, onCancel }: PanelProps) {
  const [error, setError] = useState<string | null>(null)
  const pick = async (user: UserInfo) => {
    try {
      const { chat } = await client.dms.open(user.id)
      await onOpened(chat.id)
    } catch (failure) {
      setError(describeError(failure))
    }
  }
  return (
    <section class="panel" aria-label="New message">
      <UserSearch client={client} me={me} label="Find a person to message" onPick={(user) => void pick(user)} />
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <button type="button" class="link" onClick={onCancel}>
        Cancel
      </button>
    </section>
  )
}

/** Creates a group with a title and the people picked. */
export function NewGroup({ client, me, onOpened, onCancel }: PanelProps) {
  const [title, setTitle] = useState('')
  const [members, setMembers] = useState<UserInfo[]>([])
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const create = async (event: SubmitEvent) => {
    event.preventDefault()
    setBusy(true)
    try {
      const chat = await client.chats.create({ title, member_ids: members.map((user) => user.id) })
      await onOpened(chat.id)
    } catch (failure) {
      setError(describeError(failure))
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="panel" aria-label="New group">
      <form onSubmit={(event) => void create(event)}>
        <label>
          Group name
          <input value={title} required maxLength={200} onInput={(event) => setTitle(event.currentTarget.value)} />
        </label>
        {members.length > 0 && (
          <ul class="chips" aria-label="Members to add">
            {members.map((user) => (
              <li key={user.id}>
                {user.display_name}
                <button
                  type="button"
                  class="chip-remove"
                  aria-label={`Remove ${user.display_name}`}
                  onClick={() => setMembers(members.filter((other) => other.id !== user.id))}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
        <UserSearch
          client={client}
          me={me}
          label="Find people to add"
          exclude={members.map((user) => user.id)}
          onPick={(user) => setMembers([...members, user])}
        />
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <div class="row">
          <button type="submit" disabled={busy || title.trim() === ''}>
            Create group
          </button>
          <button type="button" class="link" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  )
}
