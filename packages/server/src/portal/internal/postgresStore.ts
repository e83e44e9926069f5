/**
 * The Portal's store on PostgreSQL (core's Postgres module: a pool with a statement timeout, versioned migrations under
 * an advisory lock, failures that name the database but never its password). Every operation is one statement, so it
 * is one transaction of its own: a write that must read first (validation's state, a trial claimed with its license)
 * is a server-side function, and nothing holds a lock across the network. Several Portal processes may share one
 * database.
 */
import { Postgres } from "@exekra/core"
import { Effect, Either, type Scope } from "effect"
import {
  type Account,
  type AuditRecord,
  type Credential,
  type Customer,
  type InsertOutcome,
  type LicenseRecord,
  type LicenseRevision,
  type LicenseState,
  type PortalStore,
  PortalStoreError,
  type PostgresOptions,
  type RecordedPing,
  statusOf
} from "../PortalStore.js"

const { boolean, decoder, integer, limitOf, nullable, num, str, text, textAs, textArray } = Postgres
type Decoder<A> = Postgres.Decoder<A>

/** `pg_advisory_xact_lock` key of the Portal's schema upgrades ("EXPO"): not the Hub's, so both may share a database. */
const MIGRATION_LOCK = 0x4558504f

/**
 * Schema steps; step `i` takes the schema from version `i` to `i + 1` (`exekra_portal_migrations` records each).
 * Append only: a shipped step never changes, because databases in the field have already run it. Every name starts
 * with `exekra_portal_`, so a Hub's store can live in the same database.
 */
const migrations: ReadonlyArray<string> = [
  `
  -- What validation knows of a license (DESIGN §5): registered (revoked = false) or revoked; absent = never told.
  CREATE TABLE exekra_portal_validity (
    license_id text PRIMARY KEY,
    revoked boolean NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE TABLE exekra_portal_pings (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    license_id text NOT NULL,
    installation_id text NOT NULL,
    version text NOT NULL,
    received_at bigint NOT NULL,
    client_address text,
    body_keys text[] NOT NULL,
    status text NOT NULL CHECK (status IN ('valid', 'revoked', 'unknown'))
  );
  CREATE INDEX exekra_portal_pings_license ON exekra_portal_pings (license_id, seq);

  CREATE TABLE exekra_portal_customers (
    customer_id text PRIMARY KEY,
    name text NOT NULL,
    created_at bigint NOT NULL,
    trial_license_id text
  );
  CREATE TABLE exekra_portal_accounts (
    account_id text PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('staff', 'customer')),
    customer_id text REFERENCES exekra_portal_customers (customer_id),
    password_hash text,
    must_change_password boolean NOT NULL,
    created_at bigint NOT NULL,
    CHECK ((role = 'staff') = (customer_id IS NULL))
  );
  CREATE INDEX exekra_portal_accounts_customer ON exekra_portal_accounts (customer_id);
  CREATE TABLE exekra_portal_credentials (
    token_hash text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('session', 'api', 'invite')),
    account_id text REFERENCES exekra_portal_accounts (account_id) ON DELETE CASCADE,
    name text,
    created_at bigint NOT NULL,
    expires_at bigint
  );
  CREATE UNIQUE INDEX exekra_portal_credentials_api_name ON exekra_portal_credentials (name) WHERE kind = 'api';
  CREATE INDEX exekra_portal_credentials_account ON exekra_portal_credentials (account_id, kind);
  CREATE TABLE exekra_portal_attempts (
    key text PRIMARY KEY,
    window_start bigint NOT NULL,
    attempts integer NOT NULL
  );

  -- revision: the current file's number, the row a renewal compares and sets.
  CREATE TABLE exekra_portal_licenses (
    license_id text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES exekra_portal_customers (customer_id),
    type text NOT NULL CHECK (type IN ('production', 'trial')),
    created_at bigint NOT NULL,
    revision integer NOT NULL
  );
  CREATE INDEX exekra_portal_licenses_customer ON exekra_portal_licenses (customer_id, created_at);
  CREATE TABLE exekra_portal_revisions (
    license_id text NOT NULL REFERENCES exekra_portal_licenses (license_id),
    revision integer NOT NULL,
    issued_at bigint NOT NULL,
    issued_by text NOT NULL,
    reason text NOT NULL CHECK (reason IN ('issued', 'renewed', 'bound')),
    text text NOT NULL,
    PRIMARY KEY (license_id, revision)
  );
  CREATE TABLE exekra_portal_audit (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at bigint NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    subject text,
    detail text
  );

  -- Register (p_revoked NULL: a known license stays as it is), revoke or restore a license; returns the state before,
  -- exactly: the row's lock orders concurrent changes, and an insert racing another retries as an update.
  CREATE FUNCTION exekra_portal_set_validity(p_license_id text, p_revoked boolean, p_now bigint) RETURNS text
  LANGUAGE plpgsql AS $$
  DECLARE v_revoked boolean;
  BEGIN
    LOOP
      SELECT revoked INTO v_revoked FROM exekra_portal_validity WHERE license_id = p_license_id FOR UPDATE;
      IF FOUND THEN
        IF p_revoked IS NOT NULL THEN
          UPDATE exekra_portal_validity SET revoked = p_revoked, updated_at = p_now WHERE license_id = p_license_id;
        END IF;
        RETURN CASE WHEN v_revoked THEN 'revoked' ELSE 'registered' END;
      END IF;
      INSERT INTO exekra_portal_validity (license_id, revoked, updated_at) VALUES (p_license_id, coalesce(p_revoked, false), p_now)
        ON CONFLICT (license_id) DO NOTHING;
      IF FOUND THEN RETURN 'unregistered'; END IF;
    END LOOP;
  END $$;

  -- A new license with its first file, known to validation, and with p_trial the customer's one trial claimed: all or
  -- nothing. 'license-exists' comes first, as on SQLite; a concurrent insert of the same id undoes the claim too.
  CREATE FUNCTION exekra_portal_insert_license(p_license_id text, p_customer_id text, p_type text, p_created_at bigint, p_trial boolean,
                                               p_revision integer, p_issued_at bigint, p_issued_by text, p_reason text, p_text text)
  RETURNS text LANGUAGE plpgsql AS $$
  BEGIN
    IF EXISTS (SELECT 1 FROM exekra_portal_licenses WHERE license_id = p_license_id) THEN RETURN 'license-exists'; END IF;
    IF p_trial THEN
      UPDATE exekra_portal_customers SET trial_license_id = p_license_id WHERE customer_id = p_customer_id AND trial_license_id IS NULL;
      IF NOT FOUND THEN RETURN 'trial-taken'; END IF;
    END IF;
    INSERT INTO exekra_portal_licenses (license_id, customer_id, type, created_at, revision)
      VALUES (p_license_id, p_customer_id, p_type, p_created_at, p_revision);
    INSERT INTO exekra_portal_revisions (license_id, revision, issued_at, issued_by, reason, text)
      VALUES (p_license_id, p_revision, p_issued_at, p_issued_by, p_reason, p_text);
    INSERT INTO exekra_portal_validity (license_id, revoked, updated_at) VALUES (p_license_id, false, p_created_at)
      ON CONFLICT (license_id) DO NOTHING;
    RETURN 'inserted';
  EXCEPTION WHEN unique_violation THEN
    -- Another call inserted this id between the check and the insert; the block's changes (the claim) are undone.
    IF EXISTS (SELECT 1 FROM exekra_portal_licenses WHERE license_id = p_license_id) THEN RETURN 'license-exists'; END IF;
    RAISE;
  END $$;
  `
]

// Column lists in the order the decoders below read them. COLLATE "C" in ORDER BY: code-unit order whatever the
// database's collation, as SQLite sorts.
const PING = "license_id, installation_id, version, received_at, client_address, body_keys, status"
const CUSTOMER = "customer_id, name, created_at, trial_license_id"
const ACCOUNT = "account_id, email, name, role, customer_id, password_hash, must_change_password, created_at"
const CREDENTIAL = "token_hash, kind, account_id, name, created_at, expires_at"
const REVISION = "license_id, revision, issued_at, issued_by, reason, text"
const LICENSE = `
  SELECT l.license_id, l.customer_id, l.type, l.created_at, CASE WHEN v.revoked THEN v.updated_at END AS revoked_at,
         r.revision, r.issued_at, r.issued_by, r.reason, r.text
  FROM exekra_portal_licenses l
  JOIN exekra_portal_revisions r ON r.license_id = l.license_id AND r.revision = l.revision
  LEFT JOIN exekra_portal_validity v ON v.license_id = l.license_id`
const AUDIT = "at, actor, action, outcome, subject, detail"

// Each decoder reads the columns named after its fields (`createdAt` reads `created_at`), bigints as numbers.
const toCustomer: Decoder<Customer> = decoder({ customerId: text, name: text, createdAt: integer, trialLicenseId: nullable(text) })
const toAccount: Decoder<Account> = decoder({
  accountId: text,
  email: text,
  name: text,
  role: textAs<Account["role"]>(),
  customerId: nullable(text),
  passwordHash: nullable(text),
  mustChangePassword: boolean,
  createdAt: integer
})
const toCredential: Decoder<Credential> = decoder({
  tokenHash: text,
  kind: textAs<Credential["kind"]>(),
  accountId: nullable(text),
  name: nullable(text),
  createdAt: integer,
  expiresAt: nullable(integer)
})
const toRevision: Decoder<LicenseRevision> = decoder({ licenseId: text, revision: integer, issuedAt: integer, issuedBy: text, reason: textAs<LicenseRevision["reason"]>(), text })
const toLicenseHead = decoder({ licenseId: text, customerId: text, type: textAs<LicenseRecord["type"]>(), createdAt: integer, revokedAt: nullable(integer) })
/** A license row carries its current file's columns too. */
const toLicense: Decoder<LicenseRecord> = (r) => Either.zipWith(toLicenseHead(r), toRevision(r), (head, current) => ({ ...head, current }))
const toAudit: Decoder<AuditRecord> = decoder({ at: integer, actor: text, action: text, outcome: textAs<AuditRecord["outcome"]>(), subject: nullable(text), detail: nullable(text) })
const toPing: Decoder<RecordedPing> = decoder({
  licenseId: text,
  installationId: text,
  version: text,
  receivedAt: integer,
  clientAddress: nullable(text),
  bodyKeys: textArray,
  status: textAs<RecordedPing["status"]>()
})

const fromPostgres = (e: Postgres.PostgresError): PortalStoreError =>
  new PortalStoreError({ code: e.code, message: e.message, ...(e.cause === undefined ? {} : { cause: e.cause }) })

/** The store's state names, as `exekra_portal_set_validity` returns them. */
const isState = (value: unknown): value is LicenseState => value === "unregistered" || value === "registered" || value === "revoked"
const isOutcome = (value: unknown): value is InsertOutcome => value === "inserted" || value === "trial-taken" || value === "license-exists"

/** Connect, upgrade the schema under the migration lock, and serve the store; the pool closes with the scope. */
export const make = (options: PostgresOptions): Effect.Effect<PortalStore.Service, PortalStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* Effect.mapError(
      Postgres.open({
        url: options.url,
        poolSize: options.poolSize,
        statementTimeoutMs: options.statementTimeoutMs,
        connectTimeoutMs: options.connectTimeoutMs,
        applicationName: options.applicationName ?? "exekra-portal",
        migrations,
        migrationsTable: "exekra_portal_migrations",
        migrationLock: MIGRATION_LOCK,
        describe: "Portal database",
        owner: "Portal",
        whileUnreachable: "the Portal answers 503 until it is back"
      }),
      fromPostgres
    )
    /** One statement; `repeatable` as for Postgres.Database.query: false for writes that would answer differently the second time. */
    const query = (what: string, text: string, params: ReadonlyArray<unknown> = [], repeatable = true) =>
      Effect.mapError(db.query(what, text, params, repeatable), fromPostgres)
    const first = (what: string, text: string, params: ReadonlyArray<unknown> = [], repeatable = true) =>
      Effect.map(query(what, text, params, repeatable), (rows) => rows[0])
    /** A read's rows, each decoded; one it cannot decode fails with DATABASE_CORRUPT. */
    const all = <A>(what: string, text: string, params: ReadonlyArray<unknown>, decode: Decoder<A>, repeatable = true) =>
      Effect.mapError(db.rows(what, text, params, decode, repeatable), fromPostgres)
    const maybe = <A>(what: string, text: string, params: ReadonlyArray<unknown>, decode: Decoder<A>, repeatable = true) =>
      Effect.mapError(db.row(what, text, params, decode, repeatable), fromPostgres)
    /** Rows a write changed: its statement returns one row each (`RETURNING 1`). */
    const count = (what: string, text: string, params: ReadonlyArray<unknown>, repeatable: boolean) =>
      Effect.map(query(what, text, params, repeatable), (rows) => rows.length)
    const corrupt = (what: string) =>
      new PortalStoreError({ code: "DATABASE_CORRUPT", message: `The Portal database at ${db.where} ${what}; restore it from a backup.` })

    const setValidity = (what: string, licenseId: string, revoked: boolean | null, now: number) =>
      Effect.flatMap(
        first(what, "SELECT exekra_portal_set_validity($1::text, $2::boolean, $3::bigint) AS before", [licenseId, revoked, now], false),
        (row) => (isState(row?.before) ? Effect.succeed(row.before) : Effect.fail(corrupt(`answered ${String(row?.before)} when asked to ${what}`)))
      )

    const service: PortalStore.Service = {
      engine: "postgres",
      // One statement reads the license's state and records the ping with its answer. The answer per state comes from
      // statusOf, so SQL only picks which.
      answer: (ping, { strict }) =>
        Effect.map(
          first(
            "record a validation ping",
            "INSERT INTO exekra_portal_pings (license_id, installation_id, version, received_at, client_address, body_keys, status) " +
              "SELECT $1::text, $2::text, $3::text, $4::bigint, $5::text, $6::text[], " +
              "CASE WHEN v.license_id IS NULL THEN $7::text WHEN v.revoked THEN $8::text ELSE $9::text END " +
              "FROM (VALUES (1)) AS one (x) LEFT JOIN exekra_portal_validity v ON v.license_id = $1::text RETURNING status",
            [
              ping.licenseId,
              ping.installationId,
              ping.version,
              ping.receivedAt,
              ping.clientAddress,
              ping.bodyKeys,
              statusOf("unregistered", strict),
              statusOf("revoked", strict),
              statusOf("registered", strict)
            ],
            false
          ),
          (row) => str(row?.status) as RecordedPing["status"]
        ),
      register: (licenseId, now) => setValidity("register a license", licenseId, null, now),
      revoke: (licenseId, now) => setValidity("revoke a license", licenseId, true, now),
      restore: (licenseId, now) => setValidity("restore a license", licenseId, false, now),
      pings: ({ licenseId, limit }) =>
        licenseId === undefined
          ? all("list validation pings", `SELECT ${PING} FROM exekra_portal_pings ORDER BY seq DESC LIMIT $1::bigint`, [limitOf(limit)], toPing)
          : all("list validation pings", `SELECT ${PING} FROM exekra_portal_pings WHERE license_id = $1::text ORDER BY seq DESC LIMIT $2::bigint`, [licenseId, limitOf(limit)], toPing),

      createCustomer: (c) =>
        query(
          "add a customer",
          `INSERT INTO exekra_portal_customers (${CUSTOMER}) VALUES ($1::text, $2::text, $3::bigint, $4::text)`,
          [c.customerId, c.name, c.createdAt, c.trialLicenseId],
          false
        ).pipe(Effect.asVoid),
      getCustomer: (customerId) => maybe("read a customer", `SELECT ${CUSTOMER} FROM exekra_portal_customers WHERE customer_id = $1::text`, [customerId], toCustomer),
      listCustomers: all("list the customers", `SELECT ${CUSTOMER} FROM exekra_portal_customers ORDER BY created_at, customer_id COLLATE "C"`, [], toCustomer),
      createAccount: (a) =>
        Effect.map(
          count(
            "add an account",
            `INSERT INTO exekra_portal_accounts (${ACCOUNT}) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::boolean, $8::bigint) ` +
              "ON CONFLICT (email) DO NOTHING RETURNING 1",
            [a.accountId, a.email, a.name, a.role, a.customerId, a.passwordHash, a.mustChangePassword, a.createdAt],
            false
          ),
          (n) => n === 1
        ),
      getAccount: (accountId) => maybe("read an account", `SELECT ${ACCOUNT} FROM exekra_portal_accounts WHERE account_id = $1::text`, [accountId], toAccount),
      findAccountByEmail: (email) => maybe("read an account", `SELECT ${ACCOUNT} FROM exekra_portal_accounts WHERE email = $1::text`, [email], toAccount),
      listAccounts: ({ customerId, role }) =>
        customerId !== undefined
          ? all("list accounts", `SELECT ${ACCOUNT} FROM exekra_portal_accounts WHERE customer_id = $1::text ORDER BY created_at, account_id COLLATE "C"`, [customerId], toAccount)
          : role !== undefined
            ? all("list accounts", `SELECT ${ACCOUNT} FROM exekra_portal_accounts WHERE role = $1::text ORDER BY created_at, account_id COLLATE "C"`, [role], toAccount)
            : all("list accounts", `SELECT ${ACCOUNT} FROM exekra_portal_accounts ORDER BY created_at, account_id COLLATE "C"`, [], toAccount),
      setPassword: (accountId, passwordHash, mustChange) =>
        Effect.map(
          count(
            "set a password",
            "UPDATE exekra_portal_accounts SET password_hash = $2::text, must_change_password = $3::boolean WHERE account_id = $1::text RETURNING 1",
            [accountId, passwordHash, mustChange],
            true
          ),
          (n) => n === 1
        ),

      putCredential: (c) =>
        query(
          "store a credential",
          `INSERT INTO exekra_portal_credentials (${CREDENTIAL}) VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::bigint)`,
          [c.tokenHash, c.kind, c.accountId, c.name, c.createdAt, c.expiresAt],
          false
        ).pipe(Effect.asVoid),
      findCredential: (tokenHash) =>
        maybe("read a credential", `SELECT ${CREDENTIAL} FROM exekra_portal_credentials WHERE token_hash = $1::text`, [tokenHash], toCredential),
      // One statement finds and deletes: of two uses racing, one gets the credential and the other nothing. Not run
      // again on a broken connection: the first run may have taken it.
      takeCredential: (tokenHash) =>
        maybe("use a one-time credential", `DELETE FROM exekra_portal_credentials WHERE token_hash = $1::text RETURNING ${CREDENTIAL}`, [tokenHash], toCredential, false),
      deleteCredential: (tokenHash) =>
        Effect.map(count("delete a credential", "DELETE FROM exekra_portal_credentials WHERE token_hash = $1::text RETURNING 1", [tokenHash], false), (n) => n > 0),
      deleteCredentialsOf: (accountId, kind) =>
        count("delete credentials", "DELETE FROM exekra_portal_credentials WHERE account_id = $1::text AND kind = $2::text RETURNING 1", [accountId, kind], false),
      deleteExpiredCredentials: (now) =>
        count("delete expired credentials", "DELETE FROM exekra_portal_credentials WHERE expires_at IS NOT NULL AND expires_at <= $1::bigint RETURNING 1", [now], false),
      listApiTokens: all(
        "list the API tokens",
        `SELECT ${CREDENTIAL} FROM exekra_portal_credentials WHERE kind = 'api' ORDER BY created_at, name COLLATE "C"`,
        [],
        toCredential
      ),
      // One upsert: the row's lock orders concurrent attempts, each counted once, across every Portal process.
      countAttempt: (key, now, windowMs) =>
        Effect.map(
          first(
            "count a sign-in attempt",
            "INSERT INTO exekra_portal_attempts AS a (key, window_start, attempts) VALUES ($1::text, $2::bigint, 1) ON CONFLICT (key) DO UPDATE SET " +
              "window_start = CASE WHEN $2::bigint >= a.window_start + $3::bigint THEN EXCLUDED.window_start ELSE a.window_start END, " +
              "attempts = CASE WHEN $2::bigint >= a.window_start + $3::bigint THEN 1 ELSE a.attempts + 1 END RETURNING window_start, attempts",
            [key, now, windowMs],
            false
          ),
          (row) => (row === undefined ? { start: now, attempts: 1 } : { start: num(row.window_start), attempts: num(row.attempts) })
        ),
      clearAttempts: (key) => Effect.asVoid(query("clear sign-in attempts", "DELETE FROM exekra_portal_attempts WHERE key = $1::text", [key])),

      insertLicense: (license, { trial }) =>
        Effect.flatMap(
          first(
            "record a license",
            "SELECT exekra_portal_insert_license($1::text, $2::text, $3::text, $4::bigint, $5::boolean, $6::integer, $7::bigint, $8::text, $9::text, $10::text) AS outcome",
            [
              license.licenseId,
              license.customerId,
              license.type,
              license.createdAt,
              trial,
              license.current.revision,
              license.current.issuedAt,
              license.current.issuedBy,
              license.current.reason,
              license.current.text
            ],
            false
          ),
          (row) => (isOutcome(row?.outcome) ? Effect.succeed(row.outcome) : Effect.fail(corrupt(`answered ${String(row?.outcome)} when asked to record a license`)))
        ),
      // Compare and set in one statement: the license row's lock makes a second renewal from the same revision wait,
      // then find the revision moved and add nothing.
      addRevision: (r) =>
        Effect.map(
          count(
            "record a license file",
            "WITH moved AS (UPDATE exekra_portal_licenses SET revision = $2::integer WHERE license_id = $1::text AND revision = $2::integer - 1 RETURNING license_id) " +
              `INSERT INTO exekra_portal_revisions (${REVISION}) SELECT license_id, $2::integer, $3::bigint, $4::text, $5::text, $6::text FROM moved RETURNING 1`,
            [r.licenseId, r.revision, r.issuedAt, r.issuedBy, r.reason, r.text],
            false
          ),
          (n) => n === 1
        ),
      getLicense: (licenseId) => maybe("read a license", `${LICENSE} WHERE l.license_id = $1::text`, [licenseId], toLicense),
      listLicenses: ({ customerId }) =>
        customerId === undefined
          ? all("list licenses", `${LICENSE} ORDER BY l.created_at DESC, l.license_id COLLATE "C"`, [], toLicense)
          : all("list licenses", `${LICENSE} WHERE l.customer_id = $1::text ORDER BY l.created_at DESC, l.license_id COLLATE "C"`, [customerId], toLicense),
      revisions: (licenseId) =>
        all("list a license's files", `SELECT ${REVISION} FROM exekra_portal_revisions WHERE license_id = $1::text ORDER BY revision DESC`, [licenseId], toRevision),

      appendAudit: (a) =>
        query(
          "append to the audit log",
          `INSERT INTO exekra_portal_audit (${AUDIT}) VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text)`,
          [a.at, a.actor, a.action, a.outcome, a.subject, a.detail],
          false
        ).pipe(Effect.asVoid),
      listAudit: ({ limit }) => all("read the audit log", `SELECT ${AUDIT} FROM exekra_portal_audit ORDER BY seq DESC LIMIT $1::bigint`, [limitOf(limit)], toAudit)
    }
    return service
  })
