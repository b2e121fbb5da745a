import { ParleyClient, ParleyError, ParleyNetworkError } from '@parley/client'

/** Where the signed-in user's token is kept between visits. */
const TOKEN_KEY = 'parley.token'

export type AuthMode = 'open' | 'token'

/**
 * A token handed over in the URL (`/#token=…`, what an application links to), taken out of the
 * address bar at once so that it is neither bookmarked nor shared by copying the URL.
 */
export function takeTokenFromUrl(): string | null {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash)
  if (!match?.[1]) return null
  history.replaceState(null, '', location.pathname + location.search)
  return decodeURIComponent(match[1])
}

export function storedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY)
  } catch {
    return null
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token === null) localStorage.removeItem(TOKEN_KEY)
    else localStorage.setItem(TOKEN_KEY, token)
  } catch {
    // Private browsing without storage: the session lasts as long as the tab.
  }
}

/**
 * Open mode lets anyone list users; token mode answers 401 to an anonymous caller. An existing
 * public route tells the two apart, so the page needs no endpoint of its own.
 */
export async function detectMode(): Promise<AuthMode> {
  try {
    await new ParleyClient({}).users.list({ limit: 1 })
    return 'open'
  } catch (error) {
    if (error instanceof ParleyError && (error.status === 401 || error.status === 403)) return 'token'
    throw error
  }
}

/** A short sentence for an error shown to the user. */
export function describeError(error: unknown): string {
  if (error instanceof ParleyNetworkError) return 'The server cannot be reached. Check your connection and try again.'
  if (error instanceof ParleyError) return error.detail
  return error instanceof Error ? error.message : String(error)
}
