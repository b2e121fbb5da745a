/**
 * A URL with the value of every `access_token` query parameter replaced, for logs. Keys are
 * compared after percent-decoding (`acc%65ss_token` is the same parameter to the query parser) and
 * ignoring case, so no spelling of the parameter slips through.
 */
export function redactTokens(url: string): string {
  const start = url.indexOf('?')
  if (start === -1) return url
  const query = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=')
      if (equals === -1) return pair
      const rawKey = pair.slice(0, equals)
      let key = rawKey
      try {
        key = decodeURIComponent(rawKey.replace(/\+/g, ' '))
      } catch {
        // Not valid percent-encoding: compare it as it is.
      }
      return key.trim().toLowerCase() === 'access_token' ? `${rawKey}=[redacted]` : pair
    })
    .join('&')
  return `${url.slice(0, start)}?${query}`
}
