import { ParleyClient } from '@parley/client'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TOKEN_MODE } from '../helper.js'
import {
  cleanUpAfterAll,
  type FreshDatabase,
  freePort,
  freshDatabase,
  type Server,
  startServer,
  waitUntilHealthy,
} from '../server-process.js'
import { assertWebBuilt, connected, launch, openPerson, type PageGlobals, PHONE, screenshot, tokenOf } from './browser.js'

cleanUpAfterAll()

/** Token mode: the application issues tokens; the page takes one pasted or from its `/#token=…` link. */
describe('the web client in token mode', () => {
  let browser: Browser
  let database: FreshDatabase
  let server: Server
  let token: string

  beforeAll(async () => {
    assertWebBuilt()
    database = await freshDatabase()
    server = startServer({ PORT: String(await freePort()), ...TOKEN_MODE, ...database.overrides })
    await waitUntilHealthy(server)
    // What the application's backend does: create the user, issue a token.
    const admin = new ParleyClient({ baseUrl: server.base, token: TOKEN_MODE.ADMIN_KEY })
    const carol = await admin.users.create({ username: 'carol', display_name: 'Carol Diaz' })
    token = (await admin.tokens.issue(carol.id)).token
    browser = await launch()
  })

  afterAll(async () => {
    await browser?.close()
    server?.child.kill('SIGKILL')
    await server?.exited
    await database?.drop()
  })

  it('asks for a token instead of a username, and refuses one that is not valid', async () => {
    const person = await openPerson(browser, server.base, PHONE)
    await person.page.goto('/')
    await person.page.getByText('This server signs people in with tokens').waitFor()
    await screenshot(person.page, 'sign-in-token-phone')
    expect(await person.page.getByLabel('Username').count()).toBe(0)
    await person.page.getByLabel('Token', { exact: true }).fill('not-a-token')
    await person.page.getByRole('button', { name: 'Sign in' }).click()
    await person.page.getByText('That sign-in is not valid').waitFor()

    await person.page.getByLabel('Token', { exact: true }).fill(token)
    await person.page.getByRole('button', { name: 'Sign in' }).click()
    await connected(person.page)
    await person.page.getByText('Carol Diaz').first().waitFor()
    expect(await tokenOf(person.page)).toBe(token)
    await person.context.close()
  })

  it('signs in from a /#token= link and takes the token out of the address bar', async () => {
    const person = await openPerson(browser, server.base)
    await person.page.goto(`/#token=${encodeURIComponent(token)}`)
    await connected(person.page)
    await person.page.getByText('Carol Diaz').first().waitFor()
    expect(person.page.url()).toBe(`${server.base}/`)
    expect(await person.page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('parley.token'))).toBe(token)

    // Signing out forgets it.
    await person.page.getByRole('button', { name: 'Sign out' }).click()
    await person.page.getByLabel('Token', { exact: true }).waitFor()
    expect(await person.page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('parley.token'))).toBeNull()
    expect(person.errors.filter((error) => !/401|Unauthorized/.test(error))).toEqual([])
    await person.context.close()
  })
})
