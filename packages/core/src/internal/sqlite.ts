/** Implementation of the Sqlite module: Effect wrappers over one sqlite3 connection. */
import { chmodSync, closeSync, constants, openSync, statSync } from "node:fs"
import { Cause, Effect, Exit, Option, type Scope } from "effect"
import type * as sqlite3 from "sqlite3"
import { type Database, type Options, type Param, SqliteError, type SqliteErrorCode, StatementError } from "../Sqlite.js"

const settle = <A>(resume: (effect: Effect.Effect<A, StatementError>) => void, error: Error | null, value: A): void =>
  resume(error === null ? Effect.succeed(value) : Effect.fail(new StatementError({ error })))

const isStatementError = <E>(e: E): e is Extract<E, StatementError> => e instanceof StatementError

// The native driver loads when a database first opens, not with the package: an app that only gates routes (or keeps
// its store in PostgreSQL) imports @exekra/core without sqlite3 installed, and never loads the native module.
let driver: Promise<typeof sqlite3> | undefined
const loadDriver: Effect.Effect<typeof sqlite3, StatementError> = Effect.tryPromise({
  try: () => (driver ??= import("sqlite3").then((module) => (module as { readonly default?: typeof sqlite3 }).default ?? module)),
  catch: (cause) => {
    driver = undefined
    return new StatementError({ error: cause instanceof Error ? cause : new Error(String(cause)) })
  }
})

const connect = (filename: string) => Effect.flatMap(loadDriver, (driver) => connectWith(driver, filename))

const connectWith = (driver: typeof sqlite3, filename: string) =>
  Effect.async<sqlite3.Database, StatementError>((resume) => {
    const db: sqlite3.Database = new driver.Database(filename, driver.OPEN_READWRITE | driver.OPEN_CREATE, (error) => {
      // Serialised mode runs statements in queue order, so a ROLLBACK issued after an interrupted
      // statement never overtakes it.
      if (error === null) db.serialize()
      settle(resume, error, db)
    })
  })

/** Mode of a database file and of its `-wal` and `-shm` files: the owner reads and writes, nobody else (they hold password hashes). */
const FILE_MODE = 0o600

const isOnDisk = (filename: string): boolean => filename !== "" && filename !== ":memory:" && !filename.startsWith("file:")

/**
 * Make the database file owner-only before SQLite opens it: create it `0600` (SQLite would create it `0644`, and
 * gives the `-wal` and `-shm` files it creates later the database file's mode), and take group and other access off
 * an existing file and its `-wal` / `-shm` (written by an earlier release). A file that cannot be created is left to
 * SQLite's open, whose error says what is wrong; one that cannot be changed (another owner's) is logged, not fatal.
 */
const restrictMode = (filename: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!isOnDisk(filename)) return Effect.void
    try {
      closeSync(openSync(filename, constants.O_RDONLY | constants.O_CREAT, FILE_MODE))
    } catch {
      return Effect.void
    }
    const unchanged: Array<string> = []
    for (const file of [filename, `${filename}-wal`, `${filename}-shm`]) {
      try {
        const mode = statSync(file).mode & 0o777
        if ((mode & 0o077) !== 0) chmodSync(file, mode & 0o700)
      } catch (error) {
        if ((error as { readonly code?: unknown }).code !== "ENOENT") unchanged.push(file)
      }
    }
    return unchanged.length === 0
      ? Effect.void
      : Effect.logWarning(`Cannot restrict ${unchanged.join(", ")} to its owner (mode 0600): run the Hub as the files' owner, or chmod them yourself.`)
  })

const disconnect = (db: sqlite3.Database) =>
  Effect.async<void, StatementError>((resume) => db.close((error) => settle(resume, error, undefined)))

/** Turn a sqlite3 failure into a SqliteError that names the file, the operation and what the admin can do. */
const describeFailure = (options: Options, busyTimeoutMs: number, what: string, e: StatementError): SqliteError => {
  const code = e.error.code ?? ""
  const [errorCode, advice]: [SqliteErrorCode, string] =
    code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND"
      ? ["DATABASE_UNAVAILABLE", "The sqlite3 module is not installed: add it to the application (npm install sqlite3; it builds a native module), or use a postgres:// store."]
      : code === "SQLITE_BUSY" || code === "SQLITE_LOCKED"
        ? ["DATABASE_UNAVAILABLE", `Another process held the database lock for more than ${busyTimeoutMs} ms; retry, or raise busyTimeoutMs.`]
        : code === "SQLITE_CANTOPEN"
          ? ["DATABASE_UNAVAILABLE", `Check that the directory exists and that the ${options.owner} may read and write it.`]
          : code.startsWith("SQLITE_IOERR") || ["SQLITE_FULL", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_NOMEM"].includes(code)
            ? ["DATABASE_UNAVAILABLE", "Check free disk space and the permissions of the file and its directory."]
            : code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB"
              ? ["DATABASE_CORRUPT", "The file is damaged or is not an Exekra database; restore it from a backup."]
              : ["DATABASE_FAILED", "This is unexpected: keep the database file and report the error."]
  return new SqliteError({
    code: errorCode,
    message: `The ${options.describe} at ${options.filename} could not ${what} (${e.error.message}). ${advice}`,
    cause: e.error
  })
}

// SQLite rolls a transaction back by itself after some errors (e.g. SQLITE_FULL); our ROLLBACK then finds none.
const noTransaction = (cause: Cause.Cause<StatementError>): boolean =>
  Option.exists(Cause.failureOption(cause), (f) => f.error.message.includes("no transaction is active"))

/** Statement wrappers over one connection, without locking. */
const statements = (db: sqlite3.Database) => ({
  exec: (sql: string) => Effect.async<void, StatementError>((resume) => void db.exec(sql, (error) => settle(resume, error, undefined))),
  run: (sql: string, params: ReadonlyArray<Param> = []) =>
    Effect.async<number, StatementError>((resume) => void db.run(sql, params, function (error) { settle(resume, error, this?.changes ?? 0) })),
  get: <R>(sql: string, params: ReadonlyArray<Param> = []) =>
    Effect.async<R | undefined, StatementError>((resume) => void db.get<R>(sql, params, (error, row) => settle(resume, error, row))),
  all: <R>(sql: string, params: ReadonlyArray<Param> = []) =>
    Effect.async<ReadonlyArray<R>, StatementError>((resume) => void db.all<R>(sql, params, (error, rows) => settle(resume, error, rows)))
})

/**
 * Run `body` in `BEGIN IMMEDIATE` ... `COMMIT`, rolling back when it fails, is interrupted or cannot
 * commit. The caller holds the connection's lock.
 */
const transaction = <A, E>(exec: (sql: string) => Effect.Effect<void, StatementError>, body: Effect.Effect<A, E>): Effect.Effect<A, E | StatementError> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      yield* exec("BEGIN IMMEDIATE")
      const result = yield* Effect.exit(restore(body))
      const committed: Exit.Exit<void, StatementError> = Exit.isSuccess(result) ? yield* Effect.exit(exec("COMMIT")) : Exit.void
      if (Exit.isSuccess(result) && Exit.isSuccess(committed)) return result.value
      const cause: Cause.Cause<E | StatementError> = Exit.isFailure(result) ? result.cause : Exit.isFailure(committed) ? committed.cause : Cause.empty
      const undone = yield* Effect.exit(exec("ROLLBACK"))
      // A failing ROLLBACK is reported after the failure that caused it, never instead of it.
      return yield* Effect.failCause(Exit.isSuccess(undone) || noTransaction(undone.cause) ? cause : Cause.sequential(cause, undone.cause))
    })
  )

/** Apply pending migrations, each with its version bump in one transaction; refuse a newer schema. */
const migrate = (db: Database, options: Options): Effect.Effect<void, SqliteError> => {
  const { migrations } = options
  // Reading the version inside the write transaction makes two processes opening a new file at once safe.
  const step = db.atomic(
    "upgrade the database schema",
    Effect.gen(function* () {
      const version = (yield* db.get<{ user_version: number }>("PRAGMA user_version"))?.user_version ?? 0
      if (version > migrations.length) {
        return yield* new SqliteError({
          code: "DATABASE_CORRUPT",
          message:
            `The ${options.describe} at ${options.filename} has schema version ${version}, but this ${options.owner} knows versions up to ${migrations.length}: ` +
            `it was written by a newer Exekra release. Upgrade this ${options.owner}, or restore a backup taken before the upgrade.`
        })
      }
      if (version === migrations.length) return true
      yield* db.exec(migrations[version]!)
      yield* db.exec(`PRAGMA user_version = ${version + 1}`)
      return false
    })
  )
  return Effect.gen(function* () {
    let done = false
    while (!done) done = yield* step
  })
}

/** See `Sqlite.open`. */
export const open = (options: Options): Effect.Effect<Database, SqliteError, Scope.Scope> =>
  Effect.gen(function* () {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      return yield* new SqliteError({
        code: "DATABASE_FAILED",
        message: `busyTimeoutMs must be a non-negative whole number of milliseconds, got ${busyTimeoutMs}.`
      })
    }
    const failure = (what: string) => (e: StatementError) => describeFailure(options, busyTimeoutMs, what, e)

    yield* restrictMode(options.filename)
    const connection = yield* Effect.acquireRelease(Effect.mapError(connect(options.filename), failure("open the database")), (c) =>
      disconnect(c).pipe(Effect.catchAll((e) => Effect.logWarning(failure("close the database")(e).message)))
    )
    const { exec, run, get, all } = statements(connection)

    // One statement or transaction at a time per connection: statements of concurrent fibers would
    // otherwise land inside each other's transactions.
    const lock = yield* Effect.makeSemaphore(1)
    const locked = <A, E>(what: string, effect: Effect.Effect<A, E>): Effect.Effect<A, SqliteError | Exclude<E, StatementError>> =>
      // The same type as catchIf's `Exclude<E, Extract<E, StatementError>>`, which TypeScript cannot simplify for a generic E.
      Effect.catchIf(lock.withPermits(1)(effect), isStatementError, (e) => Effect.fail(failure(what)(e))) as Effect.Effect<
        A,
        SqliteError | Exclude<E, StatementError>
      >
    const atomic = <A, E>(what: string, body: Effect.Effect<A, E>): Effect.Effect<A, SqliteError | Exclude<E, StatementError>> =>
      locked(what, transaction(exec, body))
    const db: Database = { filename: options.filename, locked, atomic, exec, run, get, all }

    yield* locked(
      "configure the database",
      exec(`PRAGMA busy_timeout = ${busyTimeoutMs}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;`)
    )
    yield* migrate(db, options)
    return db
  })
