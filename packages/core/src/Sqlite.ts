/** Sqlite: the one SQLite layer of the codebase, on the sqlite3 package: WAL, versioned migrations, serialised transactions. */
import { Data, type Effect, type Scope } from "effect"
import * as internal from "./internal/sqlite.js"

/** A value bound to a `?` placeholder. */
export type Param = string | number | null

/** The codes of {@link SqliteError}. */
export type SqliteErrorCode = "DATABASE_UNAVAILABLE" | "DATABASE_CORRUPT" | "DATABASE_FAILED"

/**
 * Why a database operation failed. `code` is stable: `DATABASE_UNAVAILABLE` (lock held too long, file
 * unreachable, disk full or read-only), `DATABASE_CORRUPT` (damaged, foreign or newer-schema file) or
 * `DATABASE_FAILED` (anything else); `message` names the file, the operation and what an admin can do.
 */
export class SqliteError extends Data.TaggedError("SqliteError")<{
  readonly code: SqliteErrorCode
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * A statement failed, as sqlite3 reported it (`error.code` is SQLite's result code name, e.g.
 * `SQLITE_BUSY`). It only exists inside {@link Database.locked} and {@link Database.atomic}, which turn
 * it into a {@link SqliteError} that says what was being done.
 */
export class StatementError extends Data.TaggedError("StatementError")<{ readonly error: Error & { readonly code?: string } }> {}

/** How to open a database. */
export interface Options {
  /**
   * Path of the database file, or `:memory:`. The directory must exist. The file and its `-wal` / `-shm` are
   * owner-only (mode 0600): created so, and an existing file's group and other access is taken off.
   */
  readonly filename: string
  /** Milliseconds a writer waits for another process's lock before failing; default 5000. */
  readonly busyTimeoutMs?: number
  /**
   * Schema steps; step `i` takes `PRAGMA user_version` from `i` to `i + 1`. Append only: a shipped step
   * never changes, because databases in the field have already run it.
   */
  readonly migrations: ReadonlyArray<string>
  /** What the file holds, as messages name it: `"license store"` gives "The license store at … could not …". */
  readonly describe: string
  /** The program that owns the file, as advice names it: `"Hub"`, `"Portal"`. */
  readonly owner: string
}

/**
 * One open, migrated connection. Statements (`exec`, `run`, `get`, `all`) must run inside `locked` or
 * `atomic`: the connection serves one statement or transaction at a time, and concurrent fibers'
 * statements would otherwise land inside each other's transactions.
 *
 * @example
 * import { Effect } from "effect"
 * import { Sqlite } from "@exekra/core"
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* Sqlite.open({
 *     filename: "notes.sqlite",
 *     migrations: ["CREATE TABLE notes (text TEXT NOT NULL)"],
 *     describe: "notes database",
 *     owner: "Hub"
 *   })
 *   yield* db.atomic("add a note", db.run("INSERT INTO notes (text) VALUES (?)", ["hello"]))
 *   return yield* db.locked("list the notes", db.all<{ text: string }>("SELECT text FROM notes"))
 * }).pipe(Effect.scoped)
 */
export interface Database {
  readonly filename: string
  /** Run `effect` holding the connection; a {@link StatementError} becomes a {@link SqliteError} naming `what` ("could not `what`"). */
  readonly locked: <A, E>(what: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, SqliteError | Exclude<E, StatementError>>
  /**
   * `locked`, inside `BEGIN IMMEDIATE` … `COMMIT`: any failure of `body` (its own errors too), an
   * interruption or a failed commit rolls it back. IMMEDIATE takes the write lock up front, so a
   * transaction that reads then writes is never overtaken by another process.
   */
  readonly atomic: <A, E>(what: string, body: Effect.Effect<A, E>) => Effect.Effect<A, SqliteError | Exclude<E, StatementError>>
  /** Run one or more `;`-separated statements without parameters. */
  readonly exec: (sql: string) => Effect.Effect<void, StatementError>
  /** Run one statement; resolves to the number of rows it changed. */
  readonly run: (sql: string, params?: ReadonlyArray<Param>) => Effect.Effect<number, StatementError>
  /** The first row of a query, if any. `R` is trusted: alias columns to the shape you declare. */
  readonly get: <R>(sql: string, params?: ReadonlyArray<Param>) => Effect.Effect<R | undefined, StatementError>
  /** Every row of a query. `R` is trusted: alias columns to the shape you declare. */
  readonly all: <R>(sql: string, params?: ReadonlyArray<Param>) => Effect.Effect<ReadonlyArray<R>, StatementError>
}

/**
 * Open (creating if needed) and migrate a database in WAL mode with `synchronous = FULL`, foreign keys
 * on and `busy_timeout` set; the connection closes with the scope. Refuses a file whose schema is newer
 * than `migrations` with `DATABASE_CORRUPT`.
 */
export const open: (options: Options) => Effect.Effect<Database, SqliteError, Scope.Scope> = internal.open
