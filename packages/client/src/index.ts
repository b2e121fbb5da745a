/**
 * @parley/client: the typed client for Parley's /api/v1. See the README's "SDK" section.
 */
export { ParleyClient, type ParleyClientOptions, type SendRetryOptions, type CallOptions } from './client.js'
export { ParleyError, ParleyNetworkError, type FieldError } from './errors.js'
export type { FetchLike } from './http.js'
export type {
  ConnectionState,
  RealtimeOptions,
  WebSocketConstructorLike,
  WebSocketLike,
} from './realtime.js'
export { UserStream, type UserStreamEvents, type UserStreamOptions } from './user-stream.js'
export {
  ChatSubscription,
  type ChatSubscriptionEvents,
  type ChatSubscriptionOptions,
} from './chat-subscription.js'
export type * from './types.js'
