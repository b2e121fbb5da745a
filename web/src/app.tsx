import { ParleyClient, ParleyError } from '@parley/client'
import { useEffect, useState } from 'preact/hooks'
import { Chat } from './chat.js'
import { describeError, storeToken, storedToken, takeTokenFromUrl } from './session.js'
import { SignIn } from './sign-in.js'
import type { UserInfo } from './types.js'

type Phase =
  | { kind: 'loading' }
  | { kind: 'signed-out'; notice?: string }
  | { kind: 'failed'; error: string }
  | { kind: 'signed-in'; client: ParleyClient; me: UserInfo }

/** Signs in with a token: the server says who it belongs to, or that it is not (or no longer) valid. */
async function signInWith(token: string): Promise<Phase> {
  const client = new ParleyClient({ token })
  try {
    const me = await client.me.get()
    storeToken(token)
    return { kind: 'signed-in', client, me }
  } catch (error) {
    if (error instanceof ParleyError && (error.status === 401 || error.status === 403)) {
      storeToken(null)
      return { kind: 'signed-out', notice: 'That sign-in is not valid (any more). Please sign in again.' }
    }
    return { kind: 'failed', error: describeError(error) }
  }
}

/** The whole page: sign-in until there is a user, then the chat. */
export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' })

  const start = async () => {
    const token = takeTokenFromUrl() ?? storedToken()
    setPhase(token === null ? { kind: 'signed-out' } : await signInWith(token))
  }

  useEffect(() => {
    void start()
  }, [])

  switch (phase.kind) {
    case 'loading':
      return (
        <main class="center" aria-busy="true">
          <p role="status">Loading…</p>
        </main>
      )
    case 'failed':
      return (
        <main class="center">
          <div class="card">
            <h1>Parley</h1>
            <p role="alert">{phase.error}</p>
            <button type="button" onClick={() => void start()}>
              Try again
            </button>
          </div>
        </main>
      )
    case 'signed-out':
      return (
        <SignIn
          notice={phase.notice}
          onToken={async (token) => setPhase(await signInWith(token))}
          onSignedIn={(client, me, token) => {
            storeToken(token)
            setPhase({ kind: 'signed-in', client, me })
          }}
        />
      )
    case 'signed-in':
      return (
        <Chat
          client={phase.client}
          me={phase.me}
          onSignOut={(notice) => {
            storeToken(null)
            setPhase({ kind: 'signed-out', notice })
          }}
        />
      )
  }
}
