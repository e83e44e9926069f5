/** The Portal's store on SQLite (core's Sqlite module: WAL, versioned migrations, serialised transactions). */
import { Sqlite } from "@exekra/core"
import { Effect, Schema, type Scope } from "effect"
import {
  type Account,
  type AuditRecord,
  type Credential,
  type Customer,
  type LicenseRecord,
  type LicenseRevision,
  type LicenseState,
  type PortalStore,
  PortalStoreError,
  type RecordedPing,
  statusOf
} from "../PortalStore.js"

/** Schema steps for {@link Sqlite.open}: append only (step 1 is the reference Portal's, shipped before the Customer Portal). */
const migrations: ReadonlyArray<string> = [
  `
  CREATE TABLE licenses (
    license_id TEXT PRIMARY KEY,
    revoked INTEGER NOT NULL CHECK (revoked IN (0, 1)),
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE pings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id TEXT NOT NULL,
    installation_id TEXT NOT NULL,
    version TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    client_address TEXT,
    body_keys TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('valid', 'revoked', 'unknown'))
  );
  CREATE INDEX pings_license ON pings (license_id, seq);
  `,
  `
  CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    trial_license_id TEXT
  );
  CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('staff', 'customer')),
    customer_id TEXT REFERENCES customers (customer_id),
    password_hash TEXT,
    must_change_password INTEGER NOT NULL CHECK (must_change_password IN (0, 1)),
    created_at INTEGER NOT NULL,
    CHECK ((role = 'staff') = (customer_id IS NULL))
  );
  CREATE INDEX accounts_customer ON accounts (customer_id);
  CREATE TABLE credentials (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('session', 'api', 'invite')),
    account_id TEXT REFERENCES accounts (account_id) ON DELETE CASCADE,
    name TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
  );
  CREATE UNIQUE INDEX credentials_api_name ON credentials (name) WHERE kind = 'api';
  CREATE INDEX credentials_account ON credentials (account_id, kind);
  CREATE TABLE attempts (
    key TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    attempts INTEGER NOT NULL
  );
  CREATE TABLE portal_licenses (
    license_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    type TEXT NOT NULL CHECK (type IN ('production', 'trial')),
    created_at INTEGER NOT NULL,
    revision INTEGER NOT NULL
  );
  CREATE INDEX portal_licenses_customer ON portal_licenses (customer_id, created_at);
  CREATE TABLE license_revisions (
    license_id TEXT NOT NULL REFERENCES portal_licenses (license_id),
    revision INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    issued_by TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('issued', 'renewed', 'bound')),
    text TEXT NOT NULL,
    PRIMARY KEY (license_id, revision)
  );
  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    subject TEXT,
    detail TEXT
  );
  `
]

const decodeKeyList = Schema.decodeUnknown(Schema.parseJson(Schema.Array(Schema.String)))

interface PingRow {
  readonly licenseId: string
  readonly installationId: string
  readonly version: string
  readonly receivedAt: number
  readonly clientAddress: string | null
  readonly bodyKeys: string
  readonly status: RecordedPing["status"]
}
const PING =
  "license_id AS licenseId, installation_id AS installationId, version, received_at AS receivedAt, " +
  "client_address AS clientAddress, body_keys AS bodyKeys, status"

const CUSTOMER = "customer_id AS customerId, name, created_at AS createdAt, trial_license_id AS trialLicenseId"

interface AccountRow extends Omit<Account, "mustChangePassword"> {
  readonly mustChangePassword: number
}
const ACCOUNT =
  "account_id AS accountId, email, name, role, customer_id AS customerId, password_hash AS passwordHash, " +
  "must_change_password AS mustChangePassword, created_at AS createdAt"
const toAccount = (row: AccountRow): Account => ({ ...row, mustChangePassword: row.mustChangePassword === 1 })

const CREDENTIAL = "token_hash AS tokenHash, kind, account_id AS accountId, name, created_at AS createdAt, expires_at AS expiresAt"

interface LicenseRow {
  readonly licenseId: string
  readonly customerId: string
  readonly type: LicenseRecord["type"]
  readonly createdAt: number
  readonly revokedAt: number | null
  readonly revision: number
  readonly issuedAt: number
  readonly issuedBy: string
  readonly reason: LicenseRevision["reason"]
  readonly text: string
}
const LICENSE = `
  SELECT l.license_id AS licenseId, l.customer_id AS customerId, l.type, l.created_at AS createdAt,
         CASE WHEN v.revoked = 1 THEN v.updated_at END AS revokedAt,
         r.revision, r.issued_at AS issuedAt, r.issued_by AS issuedBy, r.reason, r.text
  FROM portal_licenses l
  JOIN license_revisions r ON r.license_id = l.license_id AND r.revision = l.revision
  LEFT JOIN licenses v ON v.license_id = l.license_id`
const toLicense = (row: LicenseRow): LicenseRecord => ({
  licenseId: row.licenseId,
  customerId: row.customerId,
  type: row.type,
  createdAt: row.createdAt,
  revokedAt: row.revokedAt,
  current: { licenseId: row.licenseId, revision: row.revision, issuedAt: row.issuedAt, issuedBy: row.issuedBy, reason: row.reason, text: row.text }
})
const REVISION = "license_id AS licenseId, revision, issued_at AS issuedAt, issued_by AS issuedBy, reason, text"

const fromSqlite = (e: Sqlite.SqliteError): PortalStoreError => new PortalStoreError({ code: e.code, message: e.message, cause: e.cause })

/** Open (creating and migrating if needed) the Portal's database; it closes with the scope. */
export const make = (options: { readonly filename: string; readonly busyTimeoutMs?: number }): Effect.Effect<PortalStore.Service, PortalStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* Effect.mapError(Sqlite.open({ ...options, migrations, describe: "Portal database", owner: "Portal" }), fromSqlite)
    const locked = <A, E>(what: string, effect: Effect.Effect<A, E>) => Effect.mapError(db.locked(what, effect), (e) => (e instanceof Sqlite.SqliteError ? fromSqlite(e) : e))
    const atomic = <A, E>(what: string, effect: Effect.Effect<A, E>) => Effect.mapError(db.atomic(what, effect), (e) => (e instanceof Sqlite.SqliteError ? fromSqlite(e) : e))

    // body_keys is only ever written by `answer`; anything else there means the file was altered.
    const decodeKeys = (json: string) =>
      Effect.mapError(
        decodeKeyList(json),
        () =>
          new PortalStoreError({
            code: "DATABASE_CORRUPT",
            message: `The Portal database at ${options.filename} holds a ping whose body_keys is not a JSON list of strings; restore it from a backup.`
          })
      )

    const stateOf = (licenseId: string) =>
      Effect.map(
        db.get<{ revoked: number }>("SELECT revoked FROM licenses WHERE license_id = ?", [licenseId]),
        (row): LicenseState => (row === undefined ? "unregistered" : row.revoked === 1 ? "revoked" : "registered")
      )
    // Read the state and write the new one in one transaction, so the reported "before" is exact.
    const transition = (what: string, licenseId: string, sql: string, params: ReadonlyArray<Sqlite.Param>) =>
      atomic(what, Effect.zipLeft(stateOf(licenseId), db.run(sql, params)))

    const service: PortalStore.Service = {
      engine: "sqlite",
      answer: (ping, { strict }) =>
        atomic(
          "record a validation ping",
          Effect.gen(function* () {
            const status = statusOf(yield* stateOf(ping.licenseId), strict)
            yield* db.run(
              "INSERT INTO pings (license_id, installation_id, version, received_at, client_address, body_keys, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
              [ping.licenseId, ping.installationId, ping.version, ping.receivedAt, ping.clientAddress, JSON.stringify(ping.bodyKeys), status]
            )
            return status
          })
        ),
      register: (licenseId, now) =>
        transition("register a license", licenseId, "INSERT INTO licenses (license_id, revoked, updated_at) VALUES (?, 0, ?) ON CONFLICT DO NOTHING", [licenseId, now]),
      revoke: (licenseId, now) =>
        transition(
          "revoke a license",
          licenseId,
          "INSERT INTO licenses (license_id, revoked, updated_at) VALUES (?, 1, ?) ON CONFLICT (license_id) DO UPDATE SET revoked = 1, updated_at = excluded.updated_at",
          [licenseId, now]
        ),
      restore: (licenseId, now) =>
        transition(
          "restore a license",
          licenseId,
          "INSERT INTO licenses (license_id, revoked, updated_at) VALUES (?, 0, ?) ON CONFLICT (license_id) DO UPDATE SET revoked = 0, updated_at = excluded.updated_at",
          [licenseId, now]
        ),
      pings: ({ licenseId, limit }) =>
        locked(
          "list validation pings",
          // A negative LIMIT means "no limit" to SQLite, so clamp.
          licenseId === undefined
            ? db.all<PingRow>(`SELECT ${PING} FROM pings ORDER BY seq DESC LIMIT ?`, [Math.max(0, limit)])
            : db.all<PingRow>(`SELECT ${PING} FROM pings WHERE license_id = ? ORDER BY seq DESC LIMIT ?`, [licenseId, Math.max(0, limit)])
        ).pipe(Effect.flatMap(Effect.forEach((row) => Effect.map(decodeKeys(row.bodyKeys), (bodyKeys): RecordedPing => ({ ...row, bodyKeys }))))),

      createCustomer: (c) =>
        Effect.asVoid(
          atomic(
            "add a customer",
            db.run("INSERT INTO customers (customer_id, name, created_at, trial_license_id) VALUES (?, ?, ?, ?)", [c.customerId, c.name, c.createdAt, c.trialLicenseId])
          )
        ),
      getCustomer: (customerId) => locked("read a customer", db.get<Customer>(`SELECT ${CUSTOMER} FROM customers WHERE customer_id = ?`, [customerId])),
      listCustomers: locked("list the customers", db.all<Customer>(`SELECT ${CUSTOMER} FROM customers ORDER BY created_at, customer_id`)),
      createAccount: (a) =>
        Effect.map(
          atomic(
            "add an account",
            db.run(
              "INSERT INTO accounts (account_id, email, name, role, customer_id, password_hash, must_change_password, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
              [a.accountId, a.email, a.name, a.role, a.customerId, a.passwordHash, a.mustChangePassword ? 1 : 0, a.createdAt]
            )
          ),
          (changed) => changed === 1
        ),
      getAccount: (accountId) =>
        Effect.map(locked("read an account", db.get<AccountRow>(`SELECT ${ACCOUNT} FROM accounts WHERE account_id = ?`, [accountId])), (row) =>
          row === undefined ? undefined : toAccount(row)
        ),
      findAccountByEmail: (email) =>
        Effect.map(locked("read an account", db.get<AccountRow>(`SELECT ${ACCOUNT} FROM accounts WHERE email = ?`, [email])), (row) =>
          row === undefined ? undefined : toAccount(row)
        ),
      listAccounts: ({ customerId, role }) =>
        Effect.map(
          locked(
            "list accounts",
            customerId !== undefined
              ? db.all<AccountRow>(`SELECT ${ACCOUNT} FROM accounts WHERE customer_id = ? ORDER BY created_at, account_id`, [customerId])
              : role !== undefined
                ? db.all<AccountRow>(`SELECT ${ACCOUNT} FROM accounts WHERE role = ? ORDER BY created_at, account_id`, [role])
                : db.all<AccountRow>(`SELECT ${ACCOUNT} FROM accounts ORDER BY created_at, account_id`)
          ),
          (rows) => rows.map(toAccount)
        ),
      setPassword: (accountId, passwordHash, mustChange) =>
        Effect.map(
          atomic("set a password", db.run("UPDATE accounts SET password_hash = ?, must_change_password = ? WHERE account_id = ?", [passwordHash, mustChange ? 1 : 0, accountId])),
          (changed) => changed === 1
        ),

      putCredential: (c) =>
        Effect.asVoid(
          atomic(
            "store a credential",
            db.run("INSERT INTO credentials (token_hash, kind, account_id, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)", [
              c.tokenHash,
              c.kind,
              c.accountId,
              c.name,
              c.createdAt,
              c.expiresAt
            ])
          )
        ),
      findCredential: (tokenHash) => locked("read a credential", db.get<Credential>(`SELECT ${CREDENTIAL} FROM credentials WHERE token_hash = ?`, [tokenHash])),
      takeCredential: (tokenHash) =>
        atomic(
          "use a one-time credential",
          Effect.tap(db.get<Credential>(`SELECT ${CREDENTIAL} FROM credentials WHERE token_hash = ?`, [tokenHash]), (found) =>
            found === undefined ? Effect.void : db.run("DELETE FROM credentials WHERE token_hash = ?", [tokenHash])
          )
        ),
      deleteCredential: (tokenHash) =>
        Effect.map(atomic("delete a credential", db.run("DELETE FROM credentials WHERE token_hash = ?", [tokenHash])), (n) => n > 0),
      deleteCredentialsOf: (accountId, kind) => atomic("delete credentials", db.run("DELETE FROM credentials WHERE account_id = ? AND kind = ?", [accountId, kind])),
      deleteExpiredCredentials: (now) =>
        atomic("delete expired credentials", db.run("DELETE FROM credentials WHERE expires_at IS NOT NULL AND expires_at <= ?", [now])),
      listApiTokens: locked("list the API tokens", db.all<Credential>(`SELECT ${CREDENTIAL} FROM credentials WHERE kind = 'api' ORDER BY created_at, name`)),
      countAttempt: (key, now, windowMs) =>
        atomic(
          "count a sign-in attempt",
          Effect.gen(function* () {
            const row = yield* db.get<{ start: number; attempts: number }>("SELECT window_start AS start, attempts FROM attempts WHERE key = ?", [key])
            const next = row === undefined || now >= row.start + windowMs ? { start: now, attempts: 1 } : { start: row.start, attempts: row.attempts + 1 }
            yield* db.run(
              "INSERT INTO attempts (key, window_start, attempts) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, attempts = excluded.attempts",
              [key, next.start, next.attempts]
            )
            return next
          })
        ),
      clearAttempts: (key) => Effect.asVoid(atomic("clear sign-in attempts", db.run("DELETE FROM attempts WHERE key = ?", [key]))),

      insertLicense: (license, { trial }) =>
        atomic(
          "record a license",
          Effect.gen(function* () {
            if ((yield* db.get("SELECT 1 AS x FROM portal_licenses WHERE license_id = ?", [license.licenseId])) !== undefined) return "license-exists" as const
            if (trial) {
              const claimed = yield* db.run("UPDATE customers SET trial_license_id = ? WHERE customer_id = ? AND trial_license_id IS NULL", [
                license.licenseId,
                license.customerId
              ])
              if (claimed === 0) return "trial-taken" as const
            }
            const r = license.current
            yield* db.run("INSERT INTO portal_licenses (license_id, customer_id, type, created_at, revision) VALUES (?, ?, ?, ?, ?)", [
              license.licenseId,
              license.customerId,
              license.type,
              license.createdAt,
              r.revision
            ])
            yield* db.run("INSERT INTO license_revisions (license_id, revision, issued_at, issued_by, reason, text) VALUES (?, ?, ?, ?, ?, ?)", [
              r.licenseId,
              r.revision,
              r.issuedAt,
              r.issuedBy,
              r.reason,
              r.text
            ])
            yield* db.run("INSERT INTO licenses (license_id, revoked, updated_at) VALUES (?, 0, ?) ON CONFLICT DO NOTHING", [license.licenseId, license.createdAt])
            return "inserted" as const
          })
        ),
      addRevision: (r) =>
        atomic(
          "record a license file",
          Effect.gen(function* () {
            const moved = yield* db.run("UPDATE portal_licenses SET revision = ? WHERE license_id = ? AND revision = ?", [r.revision, r.licenseId, r.revision - 1])
            if (moved === 0) return false
            yield* db.run("INSERT INTO license_revisions (license_id, revision, issued_at, issued_by, reason, text) VALUES (?, ?, ?, ?, ?, ?)", [
              r.licenseId,
              r.revision,
              r.issuedAt,
              r.issuedBy,
              r.reason,
              r.text
            ])
            return true
          })
        ),
      getLicense: (licenseId) =>
        Effect.map(locked("read a license", db.get<LicenseRow>(`${LICENSE} WHERE l.license_id = ?`, [licenseId])), (row) => (row === undefined ? undefined : toLicense(row))),
      listLicenses: ({ customerId }) =>
        Effect.map(
          locked(
            "list licenses",
            customerId === undefined
              ? db.all<LicenseRow>(`${LICENSE} ORDER BY l.created_at DESC, l.license_id`)
              : db.all<LicenseRow>(`${LICENSE} WHERE l.customer_id = ? ORDER BY l.created_at DESC, l.license_id`, [customerId])
          ),
          (rows) => rows.map(toLicense)
        ),
      revisions: (licenseId) =>
        locked("list a license's files", db.all<LicenseRevision>(`SELECT ${REVISION} FROM license_revisions WHERE license_id = ? ORDER BY revision DESC`, [licenseId])),

      appendAudit: (a) =>
        Effect.asVoid(
          atomic(
            "append to the audit log",
            db.run("INSERT INTO audit (at, actor, action, outcome, subject, detail) VALUES (?, ?, ?, ?, ?, ?)", [a.at, a.actor, a.action, a.outcome, a.subject, a.detail])
          )
        ),
      listAudit: ({ limit }) =>
        locked("read the audit log", db.all<AuditRecord>("SELECT at, actor, action, outcome, subject, detail FROM audit ORDER BY seq DESC LIMIT ?", [Math.max(0, limit)]))
    }
    return service
  })
