import { backoffDelay, sleep } from './backoff.js'
import { newClientMessageId } from './ids.js'
import { type FetchLike, HttpTransport, isRetryable } from './http.js'
import { ChatSubscription, type ChatSubscriptionOptions } from './chat-subscription.js'
import type { RealtimeOptions, WebSocketConstructorLike } from './realtime.js'
import { UserStream, type UserStreamOptions } from './user-stream.js'
import type {
  AddedMember,
  Chat,
  ChatList,
  ChatMessagesQuery,
  ChatWithMessages,
  CreateChatBody,
  CreatedUser,
  CreateMessageBody,
  CreateUserBody,
  EditMessageBody,
  GetChatQuery,
  Inbox,
  InboxQuery,
  IssuedToken,
  IssueTokenBody,
  ListChatsQuery,
  ListUsersQuery,
  MemberList,
  Message,
  MessageEdits,
  MessagePage,
  MessagesQuery,
  ReadMarker,
  UpdateMeBody,
  User,
  UserList,
} from './types.js'

export interface ParleyClientOptions {
  /** Where Parley runs, e.g. `http://127.0.0.1:3000`. `''` (the default): the page's own origin. */
  baseUrl?: string
  /** A user's token (or the admin key), sent as `Authorization: Bearer …`. */
  token?: string | undefined
  /** The `fetch` to use; the global one by default. */
  fetch?: FetchLike
  /**
   * A request whose answer has not fully arrived after this long is abandoned as a ParleyNetworkError
   * (outcome unknown; `messages.send` then retries). 30 000 ms by default; 0: wait for ever.
   */
  timeoutMs?: number
  /** The WebSocket class for realtime; the global one by default (Node 20 has none: pass `ws`'s). */
  WebSocket?: WebSocketConstructorLike
  /** Reconnect and liveness settings for realtime connections. */
  realtime?: RealtimeOptions
  /** How `messages.send` retries a send whose outcome is unknown. */
  sendRetry?: SendRetryOptions
}

export interface SendRetryOptions {
  /** Attempts in all, the first included (5 by default). */
  attempts?: number
  initialDelayMs?: number
  maxDelayMs?: number
}

/** Options of a call that may be aborted. */
export interface CallOptions {
  signal?: AbortSignal
}

type Id = number | string

/** A path segment from an id. */
const seg = (id: Id) => encodeURIComponent(String(id))

/**
 * The Parley client: every /api/v1 route as a method, typed from the server's schemas, and realtime
 * connections that reconnect, resume and deliver each event once.
 */
export class ParleyClient {
  /** The token sent with every later request and realtime (re)connect. */
  token: string | undefined
  readonly baseUrl: string
  private readonly http: HttpTransport
  private readonly WebSocketImpl: WebSocketConstructorLike | undefined
  private readonly realtimeOptions: RealtimeOptions
  private readonly sendRetry: Required<SendRetryOptions>

  constructor(options: ParleyClientOptions = {}) {
    this.baseUrl = options.baseUrl ?? ''
    this.token = options.token
    // Called as a plain function: browsers refuse `fetch` called as a method of another object.
    const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.http = new HttpTransport(this.baseUrl, fetchImpl, () => this.token, options.timeoutMs ?? 30_000)
    this.WebSocketImpl =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket
    this.realtimeOptions = options.realtime ?? {}
    this.sendRetry = { attempts: 5, initialDelayMs: 250, maxDelayMs: 10_000, ...options.sendRetry }
  }

  private async json<T>(method: string, path: string, options: Parameters<HttpTransport['request']>[2] = {}) {
    return (await this.http.request<T>(method, path, options)).body
  }

  readonly users = {
    /** `POST /users`: open mode, anyone (the answer carries a token); token mode, the admin. */
    create: (body: CreateUserBody, options?: CallOptions) =>
      this.json<CreatedUser>('POST', '/users', { body, ...options }),
    /** `GET /users`: list or search (`q` is a prefix of the username or display name), keyset `after`. */
    list: (query: ListUsersQuery = {}, options?: CallOptions) =>
      this.json<UserList>('GET', '/users', { query, ...options }),
    get: (id: Id, options?: CallOptions) => this.json<User>('GET', `/users/${seg(id)}`, options),
  }

  readonly me = {
    get: (options?: CallOptions) => this.json<User>('GET', '/me', options),
    update: (body: UpdateMeBody, options?: CallOptions) => this.json<User>('PATCH', '/me', { body, ...options }),
    /** `GET /me/chats`: the inbox, most recent activity first; pass `next_cursor` as `cursor` for more. */
    chats: (query: InboxQuery = {}, options?: CallOptions) =>
      this.json<Inbox>('GET', '/me/chats', { query, ...options }),
  }

  readonly tokens = {
    /** `POST /users/{id}/tokens`: the admin key issues a token for a user. */
    issue: (userId: Id, body: IssueTokenBody = {}, options?: CallOptions) =>
      this.json<IssuedToken>('POST', `/users/${seg(userId)}/tokens`, { body, ...options }),
  }

  readonly chats = {
    create: (body: CreateChatBody, options?: CallOptions) => this.json<Chat>('POST', '/chats', { body, ...options }),
    /** `GET /chats/{id}`: the chat with its newest `limit` messages, oldest first. */
    get: (id: Id, query: GetChatQuery = {}, options?: CallOptions) =>
      this.json<ChatWithMessages>('GET', `/chats/${seg(id)}`, { query, ...options }),
    /** `GET /chats`: the caller's chats by id (keyset `after`). */
    list: (query: ListChatsQuery = {}, options?: CallOptions) =>
      this.json<ChatList>('GET', '/chats', { query, ...options }),
    delete: async (id: Id, options?: CallOptions): Promise<void> => {
      await this.http.request('DELETE', `/chats/${seg(id)}`, options)
    },
    /** `POST /chats/{id}/read`: moves the caller's read marker forward to `messageId`. */
    read: (chatId: Id, messageId: number, options?: CallOptions) =>
      this.json<ReadMarker>('POST', `/chats/${seg(chatId)}/read`, { body: { message_id: messageId }, ...options }),
    members: {
      list: (chatId: Id, options?: CallOptions) =>
        this.json<MemberList>('GET', `/chats/${seg(chatId)}/members`, options),
      /** Adds a member; also resolves when it already was one (`created` tells which). */
      add: async (chatId: Id, userId: number, options?: CallOptions) => {
        const response = await this.http.request<AddedMember>('POST', `/chats/${seg(chatId)}/members`, {
          body: { user_id: userId },
          ...options,
        })
        return { member: response.body, created: response.status === 201 }
      },
      /** Removes a member; removing yourself is leaving. */
      remove: async (chatId: Id, userId: Id, options?: CallOptions): Promise<void> => {
        await this.http.request('DELETE', `/chats/${seg(chatId)}/members/${seg(userId)}`, options)
      },
    },
  }

  readonly dms = {
    /** `POST /dms`: the direct chat with a user, created (201) or the existing one (200). */
    open: async (userId: number, options?: CallOptions): Promise<{ chat: Chat; created: boolean }> => {
      const response = await this.http.request<Chat>('POST', '/dms', { body: { user_id: userId }, ...options })
      return { chat: response.body, created: response.status === 201 }
    },
  }

  readonly messages = {
    /**
     * `POST /chats/{id}/messages`, idempotently: a `client_message_id` is generated when absent, and a
     * send whose outcome is unknown (no answer, 503, 429) is retried with the same one, honouring
     * `Retry-After`. The server stores one message per key, so retries never duplicate; the original
     * (answered 200 to a retry) is returned like a fresh 201.
     */
    send: async (chatId: Id, body: CreateMessageBody, options?: CallOptions): Promise<Message> => {
      const payload = { ...body, client_message_id: body.client_message_id ?? newClientMessageId() }
      const { attempts, initialDelayMs, maxDelayMs } = this.sendRetry
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.json<Message>('POST', `/chats/${seg(chatId)}/messages`, { body: payload, ...options })
        } catch (error) {
          if (!isRetryable(error) || attempt + 1 >= attempts || options?.signal?.aborted) throw error
          const retryAfter = 'retryAfter' in error ? error.retryAfter : undefined
          const delay =
            retryAfter !== undefined ? retryAfter * 1000 : backoffDelay(attempt, { initialDelayMs, maxDelayMs })
          await sleep(delay, options?.signal)
          if (options?.signal?.aborted) throw error
        }
      }
    },
    /** `GET /chats/{id}/messages`: keyset pages, oldest first (`before`, `after`, `limit`). */
    list: (chatId: Id, query: ChatMessagesQuery = {}, options?: CallOptions) =>
      this.json<MessagePage>('GET', `/chats/${seg(chatId)}/messages`, { query, ...options }),
    /** `GET /messages`: every visible message, or one chat's (`chat_id`), same paging. */
    listAll: (query: MessagesQuery = {}, options?: CallOptions) =>
      this.json<MessagePage>('GET', '/messages', { query, ...options }),
    edit: (id: Id, body: EditMessageBody, options?: CallOptions) =>
      this.json<Message>('PATCH', `/messages/${seg(id)}`, { body, ...options }),
    delete: async (id: Id, options?: CallOptions): Promise<void> => {
      await this.http.request('DELETE', `/messages/${seg(id)}`, options)
    },
    /** `GET /messages/{id}/edits`: the earlier versions, oldest first. */
    edits: (id: Id, options?: CallOptions) => this.json<MessageEdits>('GET', `/messages/${seg(id)}/edits`, options),
  }

  readonly realtime = {
    /** The signed-in user's stream (`/api/v1/ws`): every event of every chat it belongs to. Needs a user token. */
    user: (options: UserStreamOptions = {}) => new UserStream(this.connector(), options),
    /** One chat's events (a `subscribe` on its own connection); works anonymously in open mode. */
    chat: (chatId: number, options: ChatSubscriptionOptions = {}) =>
      new ChatSubscription(this.connector(), chatId, options),
  }

  /** What a realtime connection needs from the client: the URL (with the current token) and the socket class. */
  private connector() {
    const WebSocketImpl = this.WebSocketImpl
    if (!WebSocketImpl) {
      throw new Error('No WebSocket: pass the WebSocket option (in Node 20: `import { WebSocket } from "ws"`).')
    }
    // Fails here, synchronously, when there is no origin to connect to (Node without baseUrl).
    this.websocketUrl({})
    return {
      WebSocket: WebSocketImpl,
      options: this.realtimeOptions,
      token: () => this.token,
      url: (query: Record<string, string | undefined>) => this.websocketUrl(query),
    }
  }

  private websocketUrl(query: Record<string, string | undefined>): string {
    const relative = this.http.url('/ws', query)
    const origin = (globalThis as { location?: { href: string } }).location?.href
    if (!/^https?:\/\//i.test(relative) && origin === undefined) {
      throw new Error('baseUrl is required outside a browser (e.g. http://127.0.0.1:3000).')
    }
    const url = new URL(relative, origin)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    return url.toString()
  }
}
