import { ParleyClient } from '@parley/client'
import { useEffect, useState } from 'preact/hooks'
import { type AuthMode, describeError, detectMode } from './session.js'
import type { UserInfo } from './types.js'

interface Props {
  notice?: string | undefined
  /** A pasted token, to be checked by the caller. */
  onToken: (token: string) => Promise<void>
  /** Signed up in open mode: the new user and its token. */
  onSignedIn: (client: ParleyClient, me: UserInfo, token: string) => void
}

/**
 * Open mode: pick a username (the user is created and its token kept in the browser). Token mode:
 * paste the token the application issued (or follow its `/#token=…` link).
 */
export function SignIn({ notice, onToken, onSignedIn }: Props) {
  const [mode, setMode] = useState<AuthMode | 'unknown'>('unknown')
  const [useToken, setUseToken] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    detectMode().then(setMode, (failure: unknown) => setError(describeError(failure)))
  }, [])

  const signUp = async (event: SubmitEvent) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const username = String(form.get('username') ?? '').trim()
    const displayName = String(form.get('display_name') ?? '').trim()
    setBusy(true)
    setError(null)
    try {
      const client = new ParleyClient({})
      const created = await client.users.create({
        username,
        ...(displayName === '' ? {} : { display_name: displayName }),
      })
      if (!created.token) throw new Error('The server issued no token: it is in token mode. Paste a token instead.')
      client.token = created.token
      const { token: _token, ...me } = created
      onSignedIn(client, me, created.token)
    } catch (failure) {
      setError(describeError(failure))
    } finally {
      setBusy(false)
    }
  }

  const pasteToken = async (event: SubmitEvent) => {
    event.preventDefault()
    const token = String(new FormData(event.currentTarget as HTMLFormElement).get('token') ?? '').trim()
    if (token === '') return
    setBusy(true)
    setError(null)
    await onToken(token)
    setBusy(false)
  }

  const tokenForm = mode === 'token' || useToken
  return (
    <main class="center">
      <div class="card">
        <h1>Parley</h1>
        {notice && <p class="notice">{notice}</p>}
        {mode === 'unknown' && !error && <p role="status">Connecting…</p>}
        {mode !== 'unknown' && !tokenForm && (
          <form onSubmit={(event) => void signUp(event)} aria-label="Sign up">
            <p>Pick a username to start chatting.</p>
            <label>
              Username
              <input
                name="username"
                required
                minLength={3}
                maxLength={50}
                pattern="[A-Za-z0-9_.\-]+"
                title="3–50 letters, digits, _ . or -"
                autoComplete="username"
                autoFocus
              />
            </label>
            <label>
              Display name <span class="muted">(optional)</span>
              <input name="display_name" maxLength={100} autoComplete="name" />
            </label>
            <button type="submit" disabled={busy}>
              Start chatting
            </button>
            <button type="button" class="link" onClick={() => setUseToken(true)}>
              I have a token
            </button>
          </form>
        )}
        {mode !== 'unknown' && tokenForm && (
          <form onSubmit={(event) => void pasteToken(event)} aria-label="Sign in with a token">
            <p>
              {mode === 'token'
                ? 'This server signs people in with tokens issued by its application. Paste yours.'
                : 'Paste a token issued for your user.'}
            </p>
            <label>
              Token
              <textarea name="token" required rows={3} spellcheck={false} autoFocus />
            </label>
            <button type="submit" disabled={busy}>
              Sign in
            </button>
            {mode === 'open' && (
              <button type="button" class="link" onClick={() => setUseToken(false)}>
                Pick a username instead
              </button>
            )}
          </form>
        )}
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </div>
    </main>
  )
}
