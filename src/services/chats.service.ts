import type { Identity } from '../auth/identity.js'
import { userIdOf } from '../auth/identity.js'
import type { EventBus } from '../bus/bus.js'
import type { DatabaseHandle, Transaction } from '../db/client.js'
import { AppError, notFound, validationFailed } from '../errors.js'
import type { ChatRow, ChatsRepository, ChatWithMessagesRow, MemberRole } from '../repositories/chats.repository.js'
import type { LogRepository } from '../repositories/log.repository.js'
import { TITLE_MAX } from '../schemas/chats.schema.js'
import type { LogEvent } from '../schemas/events.schema.js'
import type { Access } from './access.js'
import { codePointLength } from './text.js'

export const MAX_INITIAL_MEMBERS = 100

export interface CreateChatInput {
  title: string
  member_ids?: number[] | undefined
  owner_id?: number | undefined
}

export interface MemberView {
  user_id: number
  role: MemberRole
  joined_at: string
  last_read_message_id: number
}

/** The rules for chats and their members. Knows nothing of HTTP. Events are published after the commit. */
export function createChatService({
  database,
  chats,
  log,
  bus,
  access,
}: {
  database: Pick<DatabaseHandle, 'transaction'>
  chats: ChatsRepository
  log: Pick<LogRepository, 'append'>
  bus: Pick<EventBus, 'publish'>
  access: Access
}) {
  /** Adds a member inside `tx` and returns its `member.added` event (to publish after the commit). */
  async function addMemberIn(tx: Transaction, chat: ChatRow, userId: number, role: MemberRole): Promise<LogEvent> {
    const appended = await log.append(tx, { chatId: chat.id, type: 'member.added', userId, data: { role } })
    if (!appended) throw notFound('Chat')
    await chats.insertMember(tx, { chatId: chat.id, userId, role, joinedEventId: appended.id })
    return { type: 'member.added', ...appended, chat_id: chat.id, user_id: userId, role, chat }
  }

  /** Deletes a chat inside `tx` (its row lock held) and returns its `chat.deleted` event. */
  async function deleteIn(tx: Transaction, chatId: number): Promise<LogEvent> {
    const appended = await log.append(tx, { chatId, type: 'chat.deleted' })
    if (!appended) throw notFound('Chat')
    await chats.delete(tx, chatId, appended.id)
    return { type: 'chat.deleted', ...appended, chat_id: chatId }
  }

  const publishAll = (events: LogEvent[]) => {
    for (const event of events) bus.publish(event)
  }

  return {
    /** Creates a group chat; a user creating it becomes its owner, `member_ids` become members. */
    async createChat(actor: Identity, input: CreateChatInput): Promise<ChatRow> {
      const title = input.title.trim()
      const length = codePointLength(title)
      if (length === 0) throw validationFailed([{ path: '/body/title', message: 'must not be blank' }])
      if (length > TITLE_MAX) {
        throw validationFailed([
          { path: '/body/title', message: `must be at most ${TITLE_MAX} characters after trimming (got ${length})` },
        ])
      }
      const creator = userIdOf(actor)
      if (input.owner_id !== undefined && creator !== null && input.owner_id !== creator) {
        throw validationFailed([{ path: '/body/owner_id', message: 'can only be set by the admin' }])
      }
      const ownerId = creator ?? input.owner_id ?? null
      const memberIds = [...new Set(input.member_ids ?? [])].filter((id) => id !== ownerId)
      const wanted = ownerId === null ? memberIds : [ownerId, ...memberIds]

      const { chat, events } = await database.transaction(async (tx) => {
        const known = await chats.existingUsers(wanted, tx)
        const unknown = wanted.filter((id) => !known.has(id))
        if (unknown.length > 0) {
          const path = unknown.includes(ownerId ?? 0) && input.owner_id !== undefined ? '/body/owner_id' : '/body/member_ids'
          throw validationFailed([{ path, message: `names users that do not exist: ${unknown.slice(0, 10).join(', ')}` }])
        }
        const chat = await chats.insert(tx, { kind: 'group', title })
        const events: LogEvent[] = []
        if (ownerId !== null) events.push(await addMemberIn(tx, chat, ownerId, 'owner'))
        for (const id of memberIds) events.push(await addMemberIn(tx, chat, id, 'member'))
        return { chat, events }
      })
      publishAll(events)
      return chat
    },

    async getChat(actor: Identity, id: number, limit: number): Promise<ChatWithMessagesRow> {
      const chat = await chats.findWithLastMessages(id, limit, access.memberFilter(actor))
      if (!chat) throw notFound('Chat')
      return chat
    },

    /** The caller's chats (every chat for the admin and in open mode), keyset by id. */
    async listChats(actor: Identity, page: { after: number; limit: number }): Promise<ChatRow[]> {
      return chats.list({ ...page, memberId: access.memberFilter(actor) })
    },

    /** Deletes the chat with its messages, then tells its subscribers. Owner or admin in token mode. */
    async deleteChat(actor: Identity, id: number): Promise<void> {
      const chat = access.visible(actor, await chats.access(id, userIdOf(actor)))
      access.assertCanManage(actor, chat)
      const event = await database.transaction(async (tx) => {
        if (!(await chats.lock(tx, id))) throw notFound('Chat')
        return deleteIn(tx, id)
      })
      bus.publish(event)
    },

    async listMembers(actor: Identity, chatId: number): Promise<MemberView[]> {
      access.visible(actor, await chats.access(chatId, userIdOf(actor)))
      const members = await chats.members(chatId)
      return members.map(({ joined_event_id: _, ...member }) => member)
    },

    /** Adds a member: 'added' (201) or 'existing' (200). Owner or admin; never in a direct chat. */
    async addMember(actor: Identity, chatId: number, userId: number): Promise<{ outcome: 'added' | 'existing'; member: MemberView }> {
      const chat = access.visible(actor, await chats.access(chatId, userIdOf(actor)))
      if (chat.kind === 'direct') throw new AppError('conflict', 'A direct chat’s members cannot change.')
      access.assertCanManage(actor, chat)
      const result = await database.transaction(async (tx) => {
        if (!(await chats.lock(tx, chatId))) throw notFound('Chat')
        const members = await chats.members(chatId, tx)
        const existing = members.find((member) => member.user_id === userId)
        if (existing) return { outcome: 'existing' as const, member: existing, event: undefined }
        if ((await chats.existingUsers([userId], tx)).size === 0) {
          throw validationFailed([{ path: '/body/user_id', message: 'names a user that does not exist' }])
        }
        const row = await chats.findById(chatId, tx)
        if (!row) throw notFound('Chat')
        const event = await addMemberIn(tx, row, userId, 'member')
        const added = (await chats.members(chatId, tx)).find((member) => member.user_id === userId)
        if (!added) throw new Error('member vanished inside its own transaction')
        return { outcome: 'added' as const, member: added, event }
      })
      if (result.event) bus.publish(result.event)
      const { joined_event_id: _, ...member } = result.member
      return { outcome: result.outcome, member }
    },

    /**
     * Removes a member, or lets one leave. When the owner leaves, the longest-standing member
     * becomes owner; when the last member leaves, the chat is deleted.
     */
    async removeMember(actor: Identity, chatId: number, userId: number): Promise<void> {
      const chat = access.visible(actor, await chats.access(chatId, userIdOf(actor)))
      if (chat.kind === 'direct') throw new AppError('conflict', 'A direct chat’s members cannot change.')
      const leaving = userIdOf(actor) === userId
      if (!leaving) access.assertCanManage(actor, chat)
      const events = await database.transaction(async (tx) => {
        if (!(await chats.lock(tx, chatId))) throw notFound('Chat')
        const members = await chats.members(chatId, tx)
        const member = members.find((candidate) => candidate.user_id === userId)
        if (!member) throw notFound('Member')
        const reason = leaving ? 'left' : 'removed'
        const appended = await log.append(tx, { chatId, type: 'member.removed', userId, data: { reason } })
        if (!appended) throw notFound('Chat')
        await chats.deleteMember(tx, chatId, userId, appended.id)
        const events: LogEvent[] = [{ type: 'member.removed', ...appended, chat_id: chatId, user_id: userId, reason }]
        const rest = members.filter((candidate) => candidate.user_id !== userId)
        if (rest.length === 0) {
          events.push(await deleteIn(tx, chatId))
        } else if (member.role === 'owner') {
          // Members come ordered by joined_at, then user id: the first is the longest-standing.
          await chats.setRole(tx, chatId, (rest[0] as (typeof rest)[number]).user_id, 'owner')
        }
        return events
      })
      publishAll(events)
    },
  }
}

export type ChatService = ReturnType<typeof createChatService>
