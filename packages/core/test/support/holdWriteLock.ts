// A second SQLite connection for the store and Sqlite suites: another process mid-transaction.
import { Effect } from "effect"
import sqlite3 from "sqlite3"

/** A plain sqlite3 connection that holds the write lock until the scope closes: another process mid-transaction. */
export const holdWriteLock = (filename: string) =>
  Effect.acquireRelease(
    Effect.async<sqlite3.Database, Error>((resume) => {
      const other: sqlite3.Database = new sqlite3.Database(filename, (openError) => {
        if (openError) return resume(Effect.fail(openError))
        other.exec("BEGIN EXCLUSIVE", (error) => resume(error ? Effect.fail(error) : Effect.succeed(other)))
      })
    }),
    (other) => Effect.async<void>((resume) => void other.exec("ROLLBACK", () => other.close(() => resume(Effect.void))))
  )
