import closeWithGrace from 'close-with-grace'
import { buildApp, loggerOptions } from './app.js'
import { ConfigError, loadConfig } from './config.js'

/**
 * The process entry: configuration, logger, listen, and an ordered, time-boxed shutdown on a
 * signal, and equally on an uncaught exception or unhandled rejection (logged first). A second
 * signal, or the shutdown deadline, exits at once; the DATA_DIR lock is released on every exit
 * (src/db/data-dir-lock.ts).
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`parley: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }

  const app = await buildApp(config, { logger: loggerOptions(config, process.stdout.isTTY) })
  closeWithGrace(
    {
      delay: config.SHUTDOWN_TIMEOUT_MS,
      // Hardware faults leave no state that is safe to run JavaScript in: let them kill the process.
      skip: ['SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGSEGV'],
      logger: {
        error: (value: unknown) =>
          app.log.error(value instanceof Error ? { err: value } : { detail: String(value) }, 'error during shutdown'),
      },
      onTimeout: (delay) => app.log.error({ timeoutMs: delay }, 'shutdown timed out: exiting'),
      onSecondSignal: (signal) => app.log.warn({ signal }, 'second signal: exiting now'),
      onSecondError: (error) => app.log.fatal({ err: error }, 'another uncaught error while shutting down: exiting now'),
    },
    async ({ signal, err }) => {
      if (err) app.log.fatal({ err }, 'uncaught error: shutting down')
      else app.log.info({ signal }, 'shutting down')
      await app.close()
      app.log.info('shut down cleanly')
    },
  )
  await app.listen({ host: config.HOST, port: config.PORT })
}

main().catch((error: unknown) => {
  process.stderr.write(`parley: failed to start: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
