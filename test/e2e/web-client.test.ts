import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { ParleyClient } from '@parley/client'
import type { Browser, WebSocketRoute } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Person,
  assertWebBuilt,
  connected,
  expectCount,
  launch,
  openPerson,
  PHONE,
  publish,
  screenshot,
  shownTexts,
  signUp,
  tokenOf,
  type PageGlobals,
  WAIT_MS,
} from './browser.js'
import {
  cleanUpAfterAll,
  type FreshDatabase,
  freePort,
  freshDatabase,
  root,
  type Server,
  startServer,
  waitUntilHealthy,
} from '../server-process.js'

cleanUpAfterAll()

/**
 * Two people in two browser windows against a real server process (open mode, PGlite on disk or
 * PostgreSQL with TEST_DATABASE_URL, so that a restart keeps the data). The steps build on each
 * other, as two people's afternoon would.
 */
describe('the web client in two browsers', () => {
  let browser: Browser
  let database: FreshDatabase
  let port: number
  let server: Server
  let base: string
  let ann: Person
  let bob: Person

  const start = async () => {
    server = startServer({ PORT: String(port), ...database.overrides })
    await waitUntilHealthy(server)
  }

  beforeAll(async () => {
    assertWebBuilt()
    database = await freshDatabase()
    port = await freePort()
    await start()
    base = server.base
    browser = await launch()
    ann = await openPerson(browser, base)
    bob = await openPerson(browser, base)
  })

  afterAll(async () => {
    await browser?.close()
    server.child.kill('SIGKILL')
    await server.exited
    await database?.drop()
  })

  const annChat = () => ann.page.getByRole('log')
  const bobChat = () => bob.page.getByRole('log')
  const bobInboxItem = () => bob.page.getByRole('list', { name: 'Inbox' }).getByRole('button', { name: /^Ann Lee/ })

  it('ships under 100 KB of gzipped JavaScript', async () => {
    const assets = join(root, 'web', 'dist', 'assets')
    const scripts = (await readdir(assets)).filter((name) => name.endsWith('.js'))
    let gzipped = 0
    for (const name of scripts) gzipped += gzipSync(await readFile(join(assets, name)), { level: 9 }).length
    process.stdout.write(`web client: ${scripts.length} script(s), ${(gzipped / 1024).toFixed(1)} KB gzipped\n`)
    expect(scripts.length).toBeGreaterThan(0)
    expect(gzipped).toBeLessThan(100 * 1024)
  })

  it('signs both people up by username', async () => {
    await ann.page.goto('/')
    await ann.page.getByLabel('Username').waitFor()
    await screenshot(ann.page, 'sign-in-desktop')
    await signUp(ann, 'ann', 'Ann Lee')
    await signUp(bob, 'bob', 'Bob Stone')
    await expect.poll(() => ann.page.getByText('Signed in as').textContent()).toContain('Ann Lee')
  })

  it('opens a direct conversation by search; the other sees it arrive with an unread badge, live', async () => {
    await ann.page.getByRole('button', { name: 'New message' }).click()
    await ann.page.getByLabel('Find a person to message').fill('bo')
    await ann.page.getByRole('list', { name: 'People found' }).getByRole('button', { name: /Bob Stone/ }).click()
    await ann.page.getByRole('heading', { name: 'Bob Stone' }).waitFor()

    const composer = ann.page.getByRole('textbox', { name: 'Message' })
    await composer.fill('Hello Bob')
    await composer.press('Shift+Enter')
    await composer.pressSequentially('are you there?')
    await composer.press('Enter')
    await expectCount(annChat().getByText('Hello Bob\nare you there?'), 1)
    await expect.poll(() => composer.inputValue()).toBe('')

    await bobInboxItem().and(bob.page.getByRole('button', { name: /1 unread/ })).waitFor()
    await expect.poll(() => bobInboxItem().locator('.badge').textContent()).toBe('1')
    await expect.poll(() => bobInboxItem().locator('.preview').textContent()).toBe('Hello Bob\nare you there?')
    await expect.poll(() => bob.page.title()).toBe('(1) Parley')
    await screenshot(bob.page, 'inbox-desktop')
  })

  it('marks the message read when the other opens it, and the sender sees "Seen"', async () => {
    await bob.page.bringToFront()
    await bobInboxItem().click()
    await expectCount(bobChat().getByText('Hello Bob\nare you there?'), 1)
    await expectCount(bob.page.locator('.badge'), 0)
    await ann.page.bringToFront()
    await ann.page.locator('.message.own .seen', { hasText: 'Seen' }).waitFor()
  })

  it('shows a reply live, and edits and deletes on both sides', async () => {
    await bob.page.bringToFront()
    const bobComposer = bob.page.getByRole('textbox', { name: 'Message' })
    await bobComposer.fill('Yes! Hiking on Saturday?')
    await bobComposer.press('Enter')
    await expectCount(annChat().getByText('Yes! Hiking on Saturday?'), 1)

    await ann.page.bringToFront()
    const annComposer = ann.page.getByRole('textbox', { name: 'Message' })
    await annComposer.fill('Sure, at 9')
    await annComposer.press('Enter')
    await expectCount(bobChat().getByText('Sure, at 9'), 1)

    const mine = ann.page.locator('.message.own', { hasText: 'Sure, at 9' })
    await mine.getByRole('button', { name: 'Edit message' }).click()
    const editor = ann.page.getByRole('textbox', { name: 'Edit message' })
    await editor.fill('Sure, at 10')
    await editor.press('Enter')
    await expectCount(bobChat().getByText('Sure, at 10'), 1)
    await expectCount(bobChat().getByText('Sure, at 9'), 0)
    await bob.page.locator('.message', { hasText: 'Sure, at 10' }).locator('.edited').waitFor()
    await ann.page.locator('.message', { hasText: 'Sure, at 10' }).locator('.edited').waitFor()

    await annComposer.fill('Oops, wrong chat')
    await annComposer.press('Enter')
    await expectCount(bobChat().getByText('Oops, wrong chat'), 1)
    const oops = ann.page.locator('.message.own', { hasText: 'Oops, wrong chat' })
    await oops.getByRole('button', { name: 'Delete message' }).click()
    await oops.getByRole('button', { name: 'Confirm delete' }).click()
    await expectCount(annChat().getByText('Oops, wrong chat'), 0)
    await expectCount(bobChat().getByText('Oops, wrong chat'), 0)
  })

  it('renders markup in a message as text: no element, no script', async () => {
    const attack = '<img src=x onerror=alert(1)>'
    const annComposer = ann.page.getByRole('textbox', { name: 'Message' })
    await annComposer.fill(attack)
    await annComposer.press('Enter')
    for (const person of [ann, bob]) {
      await expectCount(person.page.getByRole('log').getByText(attack, { exact: true }), 1)
      expect(await person.page.locator('img').count()).toBe(0)
      expect(person.dialogs).toEqual([])
    }
    // Seen as soon as Bob's window has the focus: the open conversation's badge goes.
    await bob.page.bringToFront()
    await expectCount(bob.page.locator('.badge'), 0)
    await publish(await screenshot(bob.page, 'conversation-desktop'), 'desktop.png')
  })

  it('creates a group with members; it appears live in the other’s inbox', async () => {
    await ann.page.getByRole('button', { name: 'New group' }).click()
    await ann.page.getByLabel('Group name').fill('Book club')
    await ann.page.getByLabel('Find people to add').fill('bob')
    await ann.page.getByRole('list', { name: 'People found' }).getByRole('button', { name: /Bob Stone/ }).click()
    await ann.page.getByRole('list', { name: 'Members to add' }).getByText('Bob Stone').waitFor()
    await ann.page.getByRole('button', { name: 'Create group' }).click()
    await ann.page.getByRole('heading', { name: 'Book club' }).waitFor()
    const composer = ann.page.getByRole('textbox', { name: 'Message' })
    await composer.fill('First book: Middlemarch')
    await composer.press('Enter')

    const item = bob.page.getByRole('list', { name: 'Inbox' }).getByRole('button', { name: /^Book club, 1 unread/ })
    await item.waitFor()
    await bob.page.bringToFront()
    await item.click()
    await bob.page.getByRole('log').getByText('First book: Middlemarch').waitFor()
    // In a group, others' messages carry the sender's name; the sender sees who has read.
    await bob.page.locator('.message', { hasText: 'First book: Middlemarch' }).getByText('Ann Lee').waitFor()
    await ann.page.bringToFront()
    await ann.page.locator('.message.own .seen', { hasText: 'Seen by Bob Stone' }).waitFor()

    // Back to the direct conversation for the next steps.
    for (const person of [ann, bob]) {
      const other = person === ann ? /^Bob Stone/ : /^Ann Lee/
      await person.page.getByRole('list', { name: 'Inbox' }).getByRole('button', { name: other }).click()
      await person.page.getByRole('log').getByText('<img src=x onerror=alert(1)>', { exact: true }).waitFor()
    }
  })

  it('catches up after the server restarts, with nothing missing or doubled', async () => {
    const before = await shownTexts(bob.page)
    const annClient = new ParleyClient({ baseUrl: base, token: await tokenOf(ann.page) })
    const chatId = (await annClient.me.chats()).chats.find((chat) => chat.kind === 'direct')!.id

    // Down hard, mid-conversation; both pages notice.
    server.child.kill('SIGKILL')
    await server.exited
    for (const person of [ann, bob]) await person.page.getByRole('status', { name: /Reconnecting|Connecting/ }).waitFor()

    // Back on the same port and data; messages arrive through the API while the pages reconnect.
    await start()
    const sent: string[] = []
    for (let index = 1; index <= 5; index++) {
      const text = `after the restart #${index}`
      await annClient.messages.send(chatId, { text })
      sent.push(text)
    }
    for (const person of [ann, bob]) await connected(person.page, 90_000)

    const expected = [...before, ...sent]
    for (const person of [ann, bob]) {
      await expect.poll(() => shownTexts(person.page), { timeout: WAIT_MS }).toEqual(expected)
    }
    // And they go on working live.
    const bobComposer = bob.page.getByRole('textbox', { name: 'Message' })
    await bobComposer.fill('Still here')
    await bobComposer.press('Enter')
    await expect.poll(() => shownTexts(ann.page), { timeout: WAIT_MS }).toEqual([...expected, 'Still here'])
  })

  it('keeps the view still while older messages load above', async () => {
    const annClient = new ParleyClient({ baseUrl: base, token: await tokenOf(ann.page) })
    const bobId = (await annClient.users.list({ q: 'bob' })).users[0]!.id
    const group = await annClient.chats.create({ title: 'Trip planning', member_ids: [bobId] })
    for (let index = 1; index <= 120; index++) await annClient.messages.send(group.id, { text: `plan ${index}` })

    const trip = ann.page.getByRole('list', { name: 'Inbox' }).getByRole('button', { name: /^Trip planning/ })
    await trip.locator('.preview', { hasText: 'You: plan 120' }).waitFor()
    await trip.click()
    await ann.page.getByRole('log').getByText('plan 120', { exact: true }).waitFor()
    await expectCount(ann.page.locator('.log .messages > li'), 50)

    // Scroll to the top: the next page loads above; the first message seen stays where it was.
    const first = ann.page.getByRole('log').getByText('plan 71', { exact: true })
    const top = await ann.page.getByRole('log').evaluate((log) => {
      log.scrollTo({ top: 0 })
      // Measured in the same task as the scroll: before the older page can arrive.
      const oldest = [...log.querySelectorAll('.text')].find((text) => text.textContent === 'plan 71')
      return oldest?.getBoundingClientRect().top
    })
    expect(top).toBeTypeOf('number')
    await expectCount(ann.page.locator('.log .messages > li'), 100)
    const after = await first.evaluate((element) => element.getBoundingClientRect().top)
    expect(Math.abs(after - (top ?? 0))).toBeLessThan(2)
    expect((await shownTexts(ann.page))[0]).toBe('plan 21')
  })

  it('works at phone width: the inbox, then a conversation with a way back', async () => {
    const phone = await openPerson(browser, base, PHONE)
    await phone.context.addInitScript(
      (token) => (globalThis as unknown as PageGlobals).localStorage.setItem('parley.token', token),
      await tokenOf(bob.page),
    )
    await phone.page.goto('/')
    await connected(phone.page)
    const inbox = phone.page.getByRole('list', { name: 'Inbox' })
    await inbox.getByRole('button', { name: /^Ann Lee/ }).waitFor()
    const width = await phone.page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth)
    expect(width).toBeLessThanOrEqual(PHONE.width)
    await publish(await screenshot(phone.page, 'inbox-phone'), 'phone.png')

    await inbox.getByRole('button', { name: /^Ann Lee/ }).click()
    await phone.page.getByRole('log').getByText('Still here').waitFor()
    expect(await inbox.isVisible()).toBe(false)
    expect(await phone.page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width)
    await screenshot(phone.page, 'conversation-phone')
    await phone.page.getByRole('button', { name: 'Back to conversations' }).click()
    await inbox.waitFor()
    expect(phone.errors).toEqual([])
    await phone.context.close()
  })

  it('catches up after its network drops, with nothing missing or doubled', async () => {
    // A third window, whose WebSocket runs through a switch: on, it reaches the server; off, the
    // connection drops and every reconnect fails, as when the network goes away.
    const laptop = await openPerson(browser, base)
    const sockets: WebSocketRoute[] = []
    let online = true
    await laptop.page.routeWebSocket(/\/api\/v1\/ws/, (socket) => {
      if (!online) return void socket.close()
      socket.connectToServer()
      sockets.push(socket)
    })
    await laptop.context.addInitScript(
      (token) => (globalThis as unknown as PageGlobals).localStorage.setItem('parley.token', token),
      await tokenOf(bob.page),
    )
    await laptop.page.goto('/')
    await connected(laptop.page)
    await laptop.page.getByRole('list', { name: 'Inbox' }).getByRole('button', { name: /^Ann Lee/ }).click()
    await laptop.page.getByRole('log').getByText('Still here').waitFor()
    const before = await shownTexts(laptop.page)

    online = false
    for (const socket of sockets.splice(0)) await socket.close()
    await laptop.page.getByRole('status', { name: /Reconnecting|Connecting/ }).waitFor()
    const annClient = new ParleyClient({ baseUrl: base, token: await tokenOf(ann.page) })
    const chatId = (await annClient.me.chats()).chats.find((chat) => chat.kind === 'direct')!.id
    const sent = ['while you were away #1', 'while you were away #2', 'while you were away #3']
    for (const text of sent) await annClient.messages.send(chatId, { text })

    online = true
    await connected(laptop.page, 90_000)
    await expect.poll(() => shownTexts(laptop.page), { timeout: WAIT_MS }).toEqual([...before, ...sent])
    await laptop.context.close()
  })

  it('logged no errors in either page', () => {
    // The restart makes the browser log failed connections; anything else is a bug.
    const unexpected = (person: Person) =>
      person.errors.filter((error) => !/ERR_CONNECTION_REFUSED|WebSocket connection|Failed to load resource/.test(error))
    expect(unexpected(ann)).toEqual([])
    expect(unexpected(bob)).toEqual([])
  })
})
