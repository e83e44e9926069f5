/** SQLite LicenseStore on the sqlite3 package: WAL, versioned migrations, serialised transactions. */
import { Cause, Data, Effect, Exit, Option, type Scope } from "effect"
import sqlite3 from "sqlite3"
import * as Cap from "../Cap.js"
import {
  type AdminAccount,
  type AuditRecord,
  type Credential,
  type LicenseStore,
  type Principal,
  type SqliteOptions,
  StoreError,
  type StoredLicense,
  type UsagePoint,
  type ValidationRecord
} from "../LicenseStore.js"

/**
 * Schema steps; step `i` takes `PRAGMA user_version` from `i` to `i + 1`. Append only: a shipped
 * step never changes, because databases in the field have already run it.
 */
const migrations: ReadonlyArray<string> = [
  `
  CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    installation_id TEXT,
    high_water INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO meta (id) VALUES (1);
  CREATE TABLE licenses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    license_id TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    stored_at INTEGER NOT NULL,
    installed INTEGER NOT NULL DEFAULT 0 CHECK (installed IN (0, 1))
  );
  -- At most one installed license: the row replaceLicense compares and swaps.
  CREATE UNIQUE INDEX licenses_installed ON licenses (installed) WHERE installed = 1;
  CREATE TABLE pending_license (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    text TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    license_id TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    stored_at INTEGER NOT NULL
  );
  CREATE TABLE admin (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE credentials (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('session', 'api')),
    name TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
  );
  CREATE INDEX credentials_kind ON credentials (kind, created_at);
  CREATE TABLE principals (
    cap TEXT NOT NULL CHECK (cap IN ('unattended', 'developer', 'attended')),
    id TEXT NOT NULL,
    name TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
    admitted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (cap, id)
  );
  CREATE INDEX principals_status ON principals (cap, status);
  CREATE TABLE validation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_attempt_at INTEGER,
    last_success_at INTEGER,
    failing_since INTEGER,
    last_error TEXT,
    last_status TEXT CHECK (last_status IN ('valid', 'revoked', 'unknown')),
    consecutive_failures INTEGER NOT NULL,
    next_attempt_at INTEGER
  );
  CREATE TABLE snapshots (key TEXT PRIMARY KEY, json TEXT NOT NULL);
  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    cap TEXT,
    principal TEXT,
    code TEXT,
    detail TEXT
  );
  CREATE TABLE usage (
    cap TEXT NOT NULL CHECK (cap IN ('unattended', 'developer', 'attended')),
    day TEXT NOT NULL,
    peak INTEGER NOT NULL,
    PRIMARY KEY (cap, day)
  );
  `
]

// Column lists aliased to the interface's field names, so rows come back in the shape we return.
const LICENSE = "text, fingerprint, license_id AS licenseId, issued_at AS issuedAt, stored_at AS storedAt"
const PRINCIPAL = "cap, id, name, status, admitted_at AS admittedAt, updated_at AS updatedAt"
const CREDENTIAL = "token_hash AS tokenHash, kind, name, created_at AS createdAt, expires_at AS expiresAt"
const VALIDATION =
  "last_attempt_at AS lastAttemptAt, last_success_at AS lastSuccessAt, failing_since AS failingSince, last_error AS lastError, " +
  "last_status AS lastStatus, consecutive_failures AS consecutiveFailures, next_attempt_at AS nextAttemptAt"

type Param = string | number | null

/** A failure reported by sqlite3; `code` is SQLite's result code name, e.g. `SQLITE_BUSY`. */
class SqliteFailure extends Data.TaggedError("SqliteFailure")<{ readonly error: Error & { readonly code?: string } }> {}

const settle = <A>(resume: (effect: Effect.Effect<A, SqliteFailure>) => void, error: Error | null, value: A): void =>
  resume(error === null ? Effect.succeed(value) : Effect.fail(new SqliteFailure({ error })))

/** Promise-free Effect wrappers over one sqlite3 connection. */
const connection = (db: sqlite3.Database) => ({
  exec: (sql: string) => Effect.async<void, SqliteFailure>((resume) => void db.exec(sql, (error) => settle(resume, error, undefined))),
  /** Resolves to the number of rows changed. */
  run: (sql: string, params: ReadonlyArray<Param>) =>
    Effect.async<number, SqliteFailure>((resume) => void db.run(sql, params, function (error) { settle(resume, error, this?.changes ?? 0) })),
  get: <R>(sql: string, params: ReadonlyArray<Param> = []) =>
    Effect.async<R | undefined, SqliteFailure>((resume) => void db.get<R>(sql, params, (error, row) => settle(resume, error, row))),
  all: <R>(sql: string, params: ReadonlyArray<Param> = []) =>
    Effect.async<ReadonlyArray<R>, SqliteFailure>((resume) => void db.all<R>(sql, params, (error, rows) => settle(resume, error, rows)))
})
type Connection = ReturnType<typeof connection>

const open = (filename: string) =>
  Effect.async<sqlite3.Database, SqliteFailure>((resume) => {
    const db: sqlite3.Database = new sqlite3.Database(filename, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (error) => {
      // Serialised mode runs statements in queue order, so a ROLLBACK issued after an interrupted
      // statement never overtakes it.
      if (error === null) db.serialize()
      settle(resume, error, db)
    })
  })

const close = (db: sqlite3.Database) =>
  Effect.async<void, SqliteFailure>((resume) => db.close((error) => settle(resume, error, undefined)))

/** Turn a sqlite3 failure into a StoreError that names the operation and what the admin can do. */
const toStoreError = (filename: string, busyTimeoutMs: number, what: string) => (e: SqliteFailure | StoreError): StoreError => {
  if (e._tag === "StoreError") return e
  const code = e.error.code ?? ""
  const [storeCode, advice]: [StoreError["code"], string] =
    code === "SQLITE_BUSY" || code === "SQLITE_LOCKED"
      ? ["STORE_UNAVAILABLE", `Another process held the database lock for more than ${busyTimeoutMs} ms; retry, or raise busyTimeoutMs.`]
      : code === "SQLITE_CANTOPEN"
        ? ["STORE_UNAVAILABLE", "Check that the directory exists and that the Hub may read and write it."]
        : code.startsWith("SQLITE_IOERR") || ["SQLITE_FULL", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_NOMEM"].includes(code)
          ? ["STORE_UNAVAILABLE", "Check free disk space and the permissions of the file and its directory."]
          : code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB"
            ? ["STORE_CORRUPT", "The file is damaged or is not an Exekra database; restore it from a backup."]
            : ["STORE_FAILED", "This is unexpected: keep the database file and report the error."]
  return new StoreError({ code: storeCode, message: `The license store at ${filename} could not ${what} (${e.error.message}). ${advice}`, cause: e.error })
}

// SQLite rolls a transaction back by itself after some errors (e.g. SQLITE_FULL); our ROLLBACK then finds none.
const noTransaction = (cause: Cause.Cause<SqliteFailure>): boolean =>
  Option.exists(Cause.failureOption(cause), (f) => f.error.message.includes("no transaction is active"))

/**
 * Run `body` in `BEGIN IMMEDIATE` ... `COMMIT`, rolling back when it fails, is interrupted or cannot
 * commit. The caller holds the connection's lock. IMMEDIATE takes the write lock up front, so a
 * transaction that reads then writes is never overtaken by another process (busy_timeout makes it wait).
 */
const transaction = <A, E>(conn: Connection, body: Effect.Effect<A, E>): Effect.Effect<A, E | SqliteFailure> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      yield* conn.exec("BEGIN IMMEDIATE")
      const result = yield* Effect.exit(restore(body))
      const committed: Exit.Exit<void, SqliteFailure> = Exit.isSuccess(result) ? yield* Effect.exit(conn.exec("COMMIT")) : Exit.void
      if (Exit.isSuccess(result) && Exit.isSuccess(committed)) return result.value
      const cause: Cause.Cause<E | SqliteFailure> = Exit.isFailure(result) ? result.cause : Exit.isFailure(committed) ? committed.cause : Cause.empty
      const undone = yield* Effect.exit(conn.exec("ROLLBACK"))
      // A failing ROLLBACK is reported after the failure that caused it, never instead of it.
      return yield* Effect.failCause(Exit.isSuccess(undone) || noTransaction(undone.cause) ? cause : Cause.sequential(cause, undone.cause))
    })
  )

/** Apply pending migrations, each with its version bump in one transaction; refuse a newer schema. */
const migrate = (conn: Connection, filename: string) => {
  // Reading the version inside the write transaction makes two processes opening a new file at once safe.
  const step = transaction(
    conn,
    Effect.gen(function* () {
      const version = (yield* conn.get<{ user_version: number }>("PRAGMA user_version"))?.user_version ?? 0
      if (version > migrations.length) {
        return yield* new StoreError({
          code: "STORE_CORRUPT",
          message:
            `The license database at ${filename} has schema version ${version}, but this Hub knows versions up to ${migrations.length}: ` +
            "it was written by a newer Exekra release. Upgrade this Hub, or restore a backup taken before the upgrade."
        })
      }
      if (version === migrations.length) return true
      yield* conn.exec(migrations[version]!)
      yield* conn.exec(`PRAGMA user_version = ${version + 1}`)
      return false
    })
  )
  return Effect.gen(function* () {
    let done = false
    while (!done) done = yield* step
  })
}

/** Open (creating if needed) and migrate the database; the connection closes with the scope. */
export const make = (options: SqliteOptions): Effect.Effect<LicenseStore.Service, StoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const { filename } = options
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000
    const failure = (what: string) => toStoreError(filename, busyTimeoutMs, what)
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      return yield* new StoreError({
        code: "STORE_FAILED",
        message: `busyTimeoutMs must be a non-negative whole number of milliseconds, got ${busyTimeoutMs}.`
      })
    }

    const db = yield* Effect.acquireRelease(Effect.mapError(open(filename), failure("open the database")), (db) =>
      close(db).pipe(Effect.catchAll((e) => Effect.logWarning(failure("close the database")(e).message)))
    )
    const conn = connection(db)
    yield* conn
      .exec(`PRAGMA busy_timeout = ${busyTimeoutMs}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;`)
      .pipe(Effect.mapError(failure("configure the database")))
    yield* Effect.mapError(migrate(conn, filename), failure("upgrade the database schema"))

    // One statement or transaction at a time per connection: statements of concurrent fibers would
    // otherwise land inside each other's transactions.
    const lock = yield* Effect.makeSemaphore(1)
    const locked = <A>(what: string, effect: Effect.Effect<A, SqliteFailure>): Effect.Effect<A, StoreError> =>
      Effect.mapError(lock.withPermits(1)(effect), failure(what))
    const atomic = <A>(what: string, body: Effect.Effect<A, SqliteFailure>): Effect.Effect<A, StoreError> =>
      locked(what, transaction(conn, body))

    const currentFingerprint = Effect.map(
      conn.get<{ fingerprint: string }>("SELECT fingerprint FROM licenses WHERE installed = 1"),
      (row) => row?.fingerprint ?? null
    )
    const install = (license: StoredLicense) =>
      Effect.zipRight(
        conn.run("UPDATE licenses SET installed = 0 WHERE installed = 1", []),
        conn.run(
          "INSERT INTO licenses (text, fingerprint, license_id, issued_at, stored_at, installed) VALUES (?, ?, ?, ?, ?, 1)",
          [license.text, license.fingerprint, license.licenseId, license.issuedAt, license.storedAt]
        )
      )
    const countOf = (cap: Cap.Cap) =>
      Effect.map(
        conn.get<{ n: number }>("SELECT count(*) AS n FROM principals WHERE cap = ? AND status = 'active'", [cap]),
        (row) => row?.n ?? 0
      )

    const service: LicenseStore.Service = {
      ensureInstallationId: (candidate) =>
        locked(
          "record the installation id",
          conn.get<{ id: string }>("UPDATE meta SET installation_id = coalesce(installation_id, ?) RETURNING installation_id AS id", [candidate])
        ).pipe(Effect.map((row) => row?.id ?? candidate)),

      getLicense: locked("read the installed license", conn.get<StoredLicense>(`SELECT ${LICENSE} FROM licenses WHERE installed = 1`)).pipe(
        Effect.map(Option.fromNullable)
      ),
      replaceLicense: (expected, next) =>
        atomic(
          "replace the installed license",
          Effect.gen(function* () {
            if ((yield* currentFingerprint) !== expected) return false
            yield* install(next)
            return true
          })
        ),
      licenseHistory: locked("read the license history", conn.all<StoredLicense>(`SELECT ${LICENSE} FROM licenses ORDER BY seq`)),
      getPending: locked("read the pending license", conn.get<StoredLicense>(`SELECT ${LICENSE} FROM pending_license`)).pipe(
        Effect.map(Option.fromNullable)
      ),
      setPending: (license) =>
        locked(
          "store the pending license",
          license === null
            ? conn.run("DELETE FROM pending_license", [])
            : conn.run(
                "INSERT OR REPLACE INTO pending_license (id, text, fingerprint, license_id, issued_at, stored_at) VALUES (1, ?, ?, ?, ?, ?)",
                [license.text, license.fingerprint, license.licenseId, license.issuedAt, license.storedAt]
              )
        ).pipe(Effect.asVoid),

      activate: (license, admin) =>
        atomic(
          "activate the Hub",
          Effect.gen(function* () {
            if ((yield* conn.get("SELECT 1 FROM admin")) !== undefined) return false
            yield* install(license)
            yield* conn.run("INSERT INTO admin (id, email, password_hash, created_at) VALUES (1, ?, ?, ?)", [
              admin.email,
              admin.passwordHash,
              admin.createdAt
            ])
            return true
          })
        ),
      getAdmin: locked(
        "read the admin account",
        conn.get<AdminAccount>("SELECT email, password_hash AS passwordHash, created_at AS createdAt FROM admin")
      ).pipe(Effect.map(Option.fromNullable)),

      getHighWater: locked("read the time high-water mark", conn.get<{ t: number }>("SELECT high_water AS t FROM meta")).pipe(
        Effect.map((row) => row?.t ?? 0)
      ),
      raiseHighWater: (t) =>
        locked(
          "raise the time high-water mark",
          conn.get<{ t: number }>("UPDATE meta SET high_water = max(high_water, ?) RETURNING high_water AS t", [t])
        ).pipe(Effect.map((row) => row?.t ?? t)),

      getValidation: locked("read the validation record", conn.get<ValidationRecord>(`SELECT ${VALIDATION} FROM validation`)).pipe(
        Effect.map(Option.fromNullable)
      ),
      putValidation: (r) =>
        locked(
          "store the validation record",
          conn.run(
            "INSERT OR REPLACE INTO validation (id, last_attempt_at, last_success_at, failing_since, last_error, last_status, consecutive_failures, next_attempt_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
            [r.lastAttemptAt, r.lastSuccessAt, r.failingSince, r.lastError, r.lastStatus, r.consecutiveFailures, r.nextAttemptAt]
          )
        ).pipe(Effect.asVoid),

      // An upsert rather than REPLACE keeps the rowid, and with it the listing order.
      putCredential: (c) =>
        locked(
          "store a credential",
          conn.run(
            "INSERT INTO credentials (token_hash, kind, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?) " +
              "ON CONFLICT (token_hash) DO UPDATE SET kind = excluded.kind, name = excluded.name, created_at = excluded.created_at, expires_at = excluded.expires_at",
            [c.tokenHash, c.kind, c.name, c.createdAt, c.expiresAt]
          )
        ).pipe(Effect.asVoid),
      findCredential: (tokenHash) =>
        locked("read a credential", conn.get<Credential>(`SELECT ${CREDENTIAL} FROM credentials WHERE token_hash = ?`, [tokenHash])).pipe(
          Effect.map(Option.fromNullable)
        ),
      deleteCredential: (tokenHash) =>
        locked("delete a credential", conn.run("DELETE FROM credentials WHERE token_hash = ?", [tokenHash])).pipe(Effect.asVoid),
      listCredentials: (kind) =>
        locked(
          "list credentials",
          conn.all<Credential>(`SELECT ${CREDENTIAL} FROM credentials WHERE kind = ? ORDER BY created_at, rowid`, [kind])
        ),

      listPrincipals: (cap) =>
        locked("list principals", conn.all<Principal>(`SELECT ${PRINCIPAL} FROM principals WHERE cap = ? ORDER BY admitted_at, rowid`, [cap])),
      countActive: locked(
        "count active principals",
        conn.all<{ cap: Cap.Cap; n: number }>("SELECT cap, count(*) AS n FROM principals WHERE status = 'active' GROUP BY cap")
      ).pipe(
        Effect.map((rows) => {
          const counts = Object.fromEntries(Cap.all.map((cap) => [cap, 0])) as Record<Cap.Cap, number>
          for (const { cap, n } of rows) counts[cap] = n
          return counts
        })
      ),
      admit: (cap, id, name, ceiling, now) =>
        atomic(
          "admit a principal",
          Effect.gen(function* () {
            const existing = yield* conn.get<Principal>(`SELECT ${PRINCIPAL} FROM principals WHERE cap = ? AND id = ?`, [cap, id])
            const used = yield* countOf(cap)
            if (existing?.status === "active") return { _tag: "AlreadyAdmitted", principal: existing, used } as const
            if (used >= ceiling) return { _tag: "Full", used } as const
            const principal: Principal = { cap, id, name: name ?? existing?.name ?? null, status: "active", admittedAt: now, updatedAt: now }
            // Reactivating keeps the row (and rowid); a new admission inserts one.
            yield* conn.run(
              "INSERT INTO principals (cap, id, name, status, admitted_at, updated_at) VALUES (?, ?, ?, 'active', ?, ?) " +
                "ON CONFLICT (cap, id) DO UPDATE SET name = excluded.name, status = 'active', admitted_at = excluded.admitted_at, updated_at = excluded.updated_at",
              [cap, id, principal.name, now, now]
            )
            return { _tag: "Admitted", principal, used: used + 1 } as const
          })
        ),
      release: (cap, id) =>
        locked("release a principal", conn.run("DELETE FROM principals WHERE cap = ? AND id = ?", [cap, id])).pipe(Effect.map((n) => n > 0)),
      deactivate: (cap, id, now) =>
        locked(
          "deactivate a principal",
          conn.run(
            "UPDATE principals SET updated_at = CASE WHEN status = 'active' THEN ? ELSE updated_at END, status = 'deactivated' WHERE cap = ? AND id = ?",
            [now, cap, id]
          )
        ).pipe(Effect.map((n) => n > 0)),

      getSnapshots: locked("read snapshots", conn.all<{ key: string; json: string }>("SELECT key, json FROM snapshots ORDER BY rowid")).pipe(
        Effect.map((rows) => new Map(rows.map((r) => [r.key, r.json])))
      ),
      putSnapshot: (key, json) =>
        locked(
          "store a snapshot",
          conn.run("INSERT INTO snapshots (key, json) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET json = excluded.json", [key, json])
        ).pipe(Effect.asVoid),

      appendAudit: (r) =>
        locked(
          "append to the audit log",
          conn.run(
            "INSERT INTO audit (at, actor, action, outcome, cap, principal, code, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [r.at, r.actor, r.action, r.outcome, r.cap, r.principal, r.code, r.detail]
          )
        ).pipe(Effect.asVoid),
      listAudit: ({ limit }) =>
        locked(
          "read the audit log",
          // A negative LIMIT means "no limit" to SQLite, so clamp.
          conn.all<AuditRecord>("SELECT at, actor, action, outcome, cap, principal, code, detail FROM audit ORDER BY seq DESC LIMIT ?", [
            Math.max(0, limit)
          ])
        ),

      recordUsage: (cap, day, used) =>
        locked(
          "record usage",
          conn.run(
            "INSERT INTO usage (cap, day, peak) VALUES (?, ?, ?) ON CONFLICT (cap, day) DO UPDATE SET peak = max(peak, excluded.peak)",
            [cap, day, used]
          )
        ).pipe(Effect.asVoid),
      usageHistory: locked("read the usage history", conn.all<UsagePoint>("SELECT cap, day, peak FROM usage ORDER BY day, cap"))
    }
    return service
  })
