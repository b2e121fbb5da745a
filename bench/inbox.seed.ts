import postgres from 'postgres'

/** The inbox benchmark's data set; see seedInbox. */
export interface InboxSeedOptions {
  /** The user whose inbox is read (created through the API, so that it has a token). */
  readerId: number
  /** Chats the reader belongs to: every fifth a direct chat, the others groups of five. */
  chats: number
  /** Messages spread over those chats, unevenly. */
  messages: number
}

export interface InboxSeed {
  firstChatId: number
  lastChatId: number
  /** What was actually stored (per-chat counts are rounded). */
  messages: number
  /** Messages the reader has not read, over all its chats. */
  unread: number
  seconds: number
}

/** Other users: one per direct chat, and a pool the groups draw their four other members from. */
const GROUP_PEERS = 100

/**
 * Seeds a reader's inbox in a handful of set-based statements (10⁶ messages in seconds), keeping
 * the invariants the app keeps (src/db/schema.ts):
 * - every membership has its `member.added` event, and every event and message takes its id from
 *   log_id_seq and the chat's next seq (members first, then messages), so chats.last_seq is the
 *   newest seq; messages are inserted in time order, so ids ascend with created_at everywhere;
 * - chats.last_message_at is the newest message's created_at (null in a chat without messages);
 * - read markers never lag behind the member's own newest message (sending moves the sender's marker).
 *
 * Chat i gets a weight ((i·7919 mod 1000) + 1)², so a few chats are busy, many quiet, and a few
 * empty; its messages run from its creation to an end scattered over the last 30 days, so the
 * inbox order has nothing to do with chat ids. The reader wrote some of the first quarter of each
 * chat; its marker is at the end in a quarter of the chats, a few messages short in another
 * quarter, halfway in another, and in the rest only where its own last message put it (about a
 * quarter in): unread counts from 0 to thousands.
 */
export async function seedInbox(url: string, options: InboxSeedOptions): Promise<InboxSeed> {
  const started = performance.now()
  const db = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const reader = options.readerId
    const directs = Math.floor(options.chats / 5)

    const [peers] = await db.unsafe<{ first: string }[]>(
      `WITH inserted AS (
         INSERT INTO users (username, display_name)
         SELECT 'peer' || g, 'Peer ' || g FROM generate_series(1, $1::int) g ORDER BY g RETURNING id)
       SELECT min(id) AS first FROM inserted`,
      [directs + GROUP_PEERS],
    )
    const firstPeer = Number(peers?.first)
    // The plan of every chat: kind, the users in it (position 1 is the owner of a group), its size.

    await db.unsafe(
      `CREATE TEMP TABLE plan AS
       SELECT i, i % 5 = 0 AS direct, ((i::bigint * 7919) % 1000 + 1) ^ 2 AS weight,
              now() - interval '40 days' + i * interval '1 second' AS created,
              now() - interval '30 days' * (((i::bigint * 104729) % 997) / 997.0) AS last_at,
              CASE WHEN i % 5 = 0 THEN ARRAY[$1::bigint, $2::bigint + i / 5 - 1]
                   ELSE ARRAY[$2::bigint + $3 + (i * 7) % $4, $1::bigint,
                              $2::bigint + $3 + (i * 7 + 13) % $4, $2::bigint + $3 + (i * 7 + 26) % $4,
                              $2::bigint + $3 + (i * 7 + 39) % $4] END AS members
       FROM generate_series(1, $5::int) i`,
      [reader, firstPeer, directs, GROUP_PEERS, options.chats],
    )

    await db.unsafe('ALTER TABLE plan ADD COLUMN n int, ADD COLUMN chat_id bigint')

    await db.unsafe('UPDATE plan SET n = round($1::bigint * weight / (SELECT sum(weight) FROM plan))', [options.messages])

    await db.unsafe(
      `WITH inserted AS (
         INSERT INTO chats (kind, title, direct_key, created_at)
         SELECT CASE WHEN direct THEN 'direct' ELSE 'group' END, CASE WHEN direct THEN NULL ELSE 'Group ' || i END,
                CASE WHEN direct THEN least(members[1], members[2]) || ':' || greatest(members[1], members[2]) END,
                created
         FROM plan ORDER BY i RETURNING id, created_at)
       UPDATE plan SET chat_id = inserted.id FROM inserted WHERE inserted.created_at = plan.created`,
    )

    await db.unsafe(
      `WITH m AS (
         SELECT p.chat_id, p.created, u.user_id, u.pos,
                CASE WHEN NOT p.direct AND u.pos = 1 THEN 'owner' ELSE 'member' END AS role
         FROM plan p, unnest(p.members) WITH ORDINALITY AS u(user_id, pos)
       ), added AS (
         INSERT INTO events (chat_id, seq, type, user_id, data, created_at)
         SELECT chat_id, pos, 'member.added', user_id, jsonb_build_object('role', role), created
         FROM m ORDER BY chat_id, pos RETURNING id, chat_id, user_id)
       INSERT INTO chat_members (chat_id, user_id, role, joined_at, joined_event_id)
       SELECT m.chat_id, m.user_id, m.role, m.created, added.id FROM m JOIN added USING (chat_id, user_id)`,
    )
    // The reader writes every fifth message of a chat's first quarter; the others take turns.
    // Without the foreign-key triggers (two lookups per row, most of the time of a row-by-row check;
    // the references are checked below in one pass instead), with room to sort in memory, and with
    // the non-unique indexes built afterwards from their own definitions (rows arrive in time order,
    // so each insert into a (chat_id, …) index lands on a random page): 10⁶ rows in ~10 s, not ~45.
    const deferred = await db.unsafe<{ name: string; definition: string }[]>(
      `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition
       FROM pg_index WHERE indrelid = 'messages'::regclass AND NOT indisunique`,
    )
    for (const index of deferred) await db.unsafe(`DROP INDEX ${index.name}`)
    await db.unsafe(`SET session_replication_role = replica; SET work_mem = '256MB'; SET maintenance_work_mem = '256MB'`)

    await db.unsafe(
      `INSERT INTO messages (chat_id, seq, sender_id, text, created_at)
       SELECT p.chat_id, cardinality(p.members) + s,
              CASE WHEN s <= p.n / 4 AND s % 5 = 0 THEN $1::bigint
                   WHEN p.direct THEN p.members[2]
                   ELSE p.members[1 + (s % 4) + (s % 4 >= 1)::int] END,
              'Message ' || s || ' of chat ' || p.chat_id || ', an ordinary line of chat text.',
              p.created + (p.last_at - p.created) * s / p.n
       FROM plan p, generate_series(1, p.n) s
       ORDER BY 5, 1`,
      [reader],
    )
    for (const index of deferred) await db.unsafe(index.definition)
    await db.unsafe(`RESET session_replication_role; RESET work_mem; RESET maintenance_work_mem`)
    const [orphans] = await db.unsafe<{ count: string }[]>(
      `SELECT count(*) AS count FROM messages m
       WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = m.chat_id)
          OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.sender_id)`,
    )
    if (Number(orphans?.count) !== 0) throw new Error(`${orphans?.count} seeded messages reference nothing`)

    await db.unsafe(
      `UPDATE chats c SET last_seq = cardinality(p.members) + p.n,
              last_message_at = CASE WHEN p.n > 0 THEN p.created + (p.last_at - p.created) END
       FROM plan p WHERE c.id = p.chat_id`,
    )
    // Markers: the others have read everything; the reader as described above. Each side of the
    // GREATEST is found in one pass over messages (there is no index on seq).

    await db.unsafe(
      `WITH own AS (
         SELECT chat_id, sender_id, max(id) AS id FROM messages WHERE sender_id IS NOT NULL GROUP BY 1, 2
       ), newest AS (
         SELECT chat_id, max(id) AS id FROM messages GROUP BY 1
       ), reader_target AS (
         SELECT m.chat_id, m.id FROM plan p JOIN messages m ON m.chat_id = p.chat_id
           AND m.seq = cardinality(p.members) + CASE p.i % 4 WHEN 0 THEN p.n WHEN 1 THEN p.n - 3 WHEN 2 THEN p.n / 2 END
       ), marker AS (
         SELECT cm.chat_id, cm.user_id,
                GREATEST(own.id, CASE WHEN cm.user_id = $1 THEN reader_target.id ELSE newest.id END, 0) AS id
         FROM chat_members cm
         LEFT JOIN own ON own.chat_id = cm.chat_id AND own.sender_id = cm.user_id
         LEFT JOIN newest ON newest.chat_id = cm.chat_id
         LEFT JOIN reader_target ON reader_target.chat_id = cm.chat_id)
       UPDATE chat_members cm SET last_read_message_id = marker.id
       FROM marker WHERE cm.chat_id = marker.chat_id AND cm.user_id = marker.user_id`,
      [reader],
    )

    const [totals] = await db.unsafe<{ first: string; last: string; messages: string; unread: string }[]>(
      `SELECT min(chat_id) AS first, max(chat_id) AS last,
              (SELECT count(*) FROM messages) AS messages,
              (SELECT count(*) FROM chat_members cm JOIN messages m ON m.chat_id = cm.chat_id
               WHERE cm.user_id = $1 AND m.id > cm.last_read_message_id AND m.sender_id IS DISTINCT FROM $1) AS unread
       FROM plan`,
      [reader],
    )

    await db.unsafe('VACUUM ANALYZE')
    return {
      firstChatId: Number(totals?.first),
      lastChatId: Number(totals?.last),
      messages: Number(totals?.messages),
      unread: Number(totals?.unread),
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    await db.end({ timeout: 5 })
  }
}
