import { describe, expect, it } from 'vitest'
import { createQueryGate, DatabaseUnavailableError } from '../src/db/query-gate.js'

/** A promise the test settles by hand: a database call that answers when told to. */
function pendingCall<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('createQueryGate', () => {
  it('runs up to `concurrency` calls at once and starts waiting ones in arrival order', async () => {
    const gate = createQueryGate({ concurrency: 2, maxPending: 10, timeoutMs: 5000 })
    const calls = [pendingCall<string>(), pendingCall<string>(), pendingCall<string>(), pendingCall<string>()]
    const started: number[] = []
    const results = calls.map((call, i) =>
      gate.run(() => {
        started.push(i)
        return call.promise
      }),
    )
    expect(started).toEqual([0, 1])
    expect(gate.stats()).toEqual({ inUse: 2, waiting: 2 })
    calls[1]?.resolve('b')
    await expect(results[1]).resolves.toBe('b')
    expect(started).toEqual([0, 1, 2])
    calls[0]?.reject(new Error('boom'))
    await expect(results[0]).rejects.toThrow('boom')
    expect(started).toEqual([0, 1, 2, 3])
    calls[2]?.resolve('c')
    calls[3]?.resolve('d')
    await expect(Promise.all([results[2], results[3]])).resolves.toEqual(['c', 'd'])
    expect(gate.stats()).toEqual({ inUse: 0, waiting: 0 })
  })

  it('rejects a call that has not settled within timeoutMs, waiting included, but keeps its slot until it settles', async () => {
    const gate = createQueryGate({ concurrency: 1, maxPending: 10, timeoutMs: 100 })
    const stuck = pendingCall<string>()
    const started = Date.now()
    const first = gate.run(() => stuck.promise)
    const second = gate.run(async () => 'never started')
    const failures = await Promise.allSettled([first, second])
    expect(Date.now() - started).toBeLessThan(1000)
    for (const failure of failures) {
      expect(failure.status).toBe('rejected')
      const reason = (failure as PromiseRejectedResult).reason as DatabaseUnavailableError
      expect(reason).toBeInstanceOf(DatabaseUnavailableError)
      expect(reason.code).toBe('DATABASE_TIMEOUT')
    }
    // The stuck call still holds the only connection: nothing more is sent to the database.
    expect(gate.stats()).toEqual({ inUse: 1, waiting: 0 })
    stuck.resolve('late')
    await expect.poll(() => gate.stats()).toEqual({ inUse: 0, waiting: 0 })
    await expect(gate.run(async () => 'healed')).resolves.toBe('healed')
  })

  it('refuses at once a call beyond maxPending waiting ones', async () => {
    const gate = createQueryGate({ concurrency: 1, maxPending: 2, timeoutMs: 5000 })
    const stuck = pendingCall<void>()
    const running = gate.run(() => stuck.promise)
    const waiting = [gate.run(async () => 1), gate.run(async () => 2)]
    const started = Date.now()
    const refused = gate.run(async () => 3)
    await expect(refused).rejects.toMatchObject({ code: 'DATABASE_OVERLOADED' })
    expect(Date.now() - started).toBeLessThan(50)
    expect(gate.stats()).toEqual({ inUse: 1, waiting: 2 })
    stuck.resolve()
    await running
    await expect(Promise.all(waiting)).resolves.toEqual([1, 2])
  })

  it('passes a synchronous throw through as a rejection and frees the slot', async () => {
    const gate = createQueryGate({ concurrency: 1, maxPending: 0, timeoutMs: 1000 })
    await expect(
      gate.run(() => {
        throw new Error('sync')
      }),
    ).rejects.toThrow('sync')
    expect(gate.stats()).toEqual({ inUse: 0, waiting: 0 })
  })
})
