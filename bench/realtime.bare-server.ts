/**
 * The ceiling for realtime.bench.ts: the least a server can do to deliver what Parley delivers.
 * A node:http server with a `ws` WebSocketServer, the same paths and frames as Parley, no database,
 * no validation: a POST builds the message, serializes the frame once and sends it to every
 * subscriber of the chat. Forked by the benchmark; reports its port over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { type WebSocket, WebSocketServer } from 'ws'
import type { BareServerReady } from './realtime.protocol.js'

const subscribers = new Map<number, Set<WebSocket>>()
let nextChatId = 1
let nextMessageId = 1

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>
}

const MESSAGES_PATH = /^\/api\/v1\/chats\/(\d+)\/messages$/

async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = request.url ?? '/'
  if (request.method === 'GET' && url === '/ready') return json(response, 200, { status: 'ok' })
  if (request.method === 'POST' && url === '/api/v1/chats') {
    const body = await readJson(request)
    return json(response, 201, { id: nextChatId++, title: body.title, created_at: new Date().toISOString() })
  }
  const match = request.method === 'POST' ? MESSAGES_PATH.exec(url) : null
  if (match) {
    const chatId = Number(match[1])
    const body = await readJson(request)
    const message = {
      id: nextMessageId++,
      chat_id: chatId,
      text: body.text,
      created_at: new Date().toISOString(),
    }
    const frame = JSON.stringify({ type: 'message.created', chat_id: chatId, message })
    for (const socket of subscribers.get(chatId) ?? []) socket.send(frame)
    return json(response, 201, message)
  }
  json(response, 404, { title: 'Not Found' })
}

const server = createServer((request, response) => {
  route(request, response).catch(() => json(response, 400, { title: 'Bad Request' }))
})
const wss = new WebSocketServer({ server, path: '/api/v1/ws', perMessageDeflate: false })

wss.on('connection', (socket) => {
  const chats = new Set<number>()
  socket.on('message', (data) => {
    let frame: { type?: unknown; chat_id?: unknown }
    try {
      frame = JSON.parse((data as Buffer).toString()) as typeof frame
    } catch {
      return
    }
    if (frame.type !== 'subscribe' || typeof frame.chat_id !== 'number') return
    const chatId = frame.chat_id
    const set = subscribers.get(chatId) ?? new Set<WebSocket>()
    subscribers.set(chatId, set)
    set.add(socket)
    chats.add(chatId)
    socket.send(JSON.stringify({ type: 'subscribed', chat_id: chatId }))
  })
  socket.once('close', () => {
    for (const chatId of chats) subscribers.get(chatId)?.delete(socket)
  })
  socket.on('error', () => {})
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (typeof address === 'object' && address) process.send?.({ port: address.port } satisfies BareServerReady)
})
process.once('SIGTERM', () => {
  for (const socket of wss.clients) socket.terminate()
  server.close(() => process.exit(0))
})
process.once('disconnect', () => process.exit(0))
