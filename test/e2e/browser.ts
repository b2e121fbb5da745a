import { existsSync } from 'node:fs'
import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core'
import { expect } from 'vitest'
import { root } from '../server-process.js'

/** Debian's chromium (`apt-get install chromium`); nothing downloads a browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Generous: the machine may be busy with other suites; every wait is a condition, never a sleep. */
export const WAIT_MS = 30_000

/** Where the screenshots go: a git-ignored artefact folder. */
export const ARTEFACTS = join(root, 'test-results', 'e2e')

export const DESKTOP = { width: 1200, height: 780 }
export const PHONE = { width: 360, height: 740 }

/** Fails early, and says what to do, when the web client has not been built. */
export function assertWebBuilt(): void {
  if (!existsSync(join(root, 'web', 'dist', 'index.html'))) {
    throw new Error('web/dist is missing: run `npm run build -w web` (npm run test:e2e does).')
  }
}

/**
 * The page's own globals, typed for code that `page.evaluate` runs in the browser (this file is
 * compiled for Node, without the DOM library).
 */
export type PageGlobals = {
  localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void }
  document: { documentElement: { scrollWidth: number } }
}

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium`)
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
}

/** A browser window of its own (its own localStorage): one user. Collects dialogs and page errors. */
export interface Person {
  context: BrowserContext
  page: Page
  dialogs: string[]
  errors: string[]
}

export async function openPerson(browser: Browser, base: string, viewport = DESKTOP): Promise<Person> {
  const context = await browser.newContext({ viewport, baseURL: base })
  const page = await context.newPage()
  page.setDefaultTimeout(WAIT_MS)
  const person: Person = { context, page, dialogs: [], errors: [] }
  page.on('dialog', (dialog) => {
    person.dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  page.on('pageerror', (error) => person.errors.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error') person.errors.push(message.text())
  })
  return person
}

/** Signs up through the page in open mode: pick a username. */
export async function signUp(person: Person, username: string, displayName: string): Promise<void> {
  const { page } = person
  await page.goto('/')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Display name').fill(displayName)
  await page.getByRole('button', { name: 'Start chatting' }).click()
  await connected(page)
}

/**
 * The connection badge says the user stream is open. After an outage the SDK's backoff (full jitter,
 * capped at 30 s) decides when it tries again, so callers then wait longer.
 */
export async function connected(page: Page, timeout = WAIT_MS): Promise<void> {
  await page.getByRole('status', { name: 'Connection: Online' }).waitFor({ timeout })
}

/** The user's token, as the page keeps it. */
export async function tokenOf(page: Page): Promise<string> {
  const token = await page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('parley.token'))
  expect(token).toBeTruthy()
  return token as string
}

/** The texts of the messages shown in the open conversation, oldest first. */
export async function shownTexts(page: Page): Promise<string[]> {
  return page.locator('.log .messages > li .text').allTextContents()
}

/** Waits until `locator` matches exactly `count` elements. */
export async function expectCount(locator: Locator, count: number): Promise<void> {
  await expect.poll(() => locator.count(), { timeout: WAIT_MS }).toBe(count)
}

/** Saves a screenshot to the artefacts folder and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTEFACTS, { recursive: true })
  const path = join(ARTEFACTS, `${name}.png`)
  await page.screenshot({ path })
  return path
}

/** Copies an artefact into docs/screenshots for the README. */
export async function publish(path: string, name: string): Promise<void> {
  const dir = join(root, 'docs', 'screenshots')
  await mkdir(dir, { recursive: true })
  await copyFile(path, join(dir, name))
}
