import type { Static } from 'typebox'
import type { EventFrame } from '../../src/schemas/frames.schema.js'
import type { inboxSchema } from '../../src/schemas/conversations.schema.js'
import type { Member } from '../../src/schemas/chats.schema.js'
import type { Message } from '../../src/schemas/messages.schema.js'
import type { User } from '../../src/schemas/users.schema.js'

// The server's own schemas, as the SDK uses them: type-only imports, erased from the bundle.
export type { EventFrame, Message }
export type UserInfo = Static<typeof User>
export type MemberInfo = Static<typeof Member>
export type InboxChat = Static<(typeof inboxSchema.response)[200]>['chats'][number]
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'
