/** SQLite LicenseStore: the Hub's schema and queries on the shared Sqlite module. */
import { Duration, Effect, Option, Schedule, type Scope, Stream } from "effect"
import * as Cap from "../Cap.js"
import {
  type AdminAccount,
  type AdmitOutcome,
  type AdmitRequest,
  type AuditRecord,
  type CapLease,
  type Change,
  type ChangeTopic,
  type Credential,
  type CullOutcome,
  type HeartbeatOutcome,
  type LeasedPrincipal,
  leaseEnd,
  type LicenseStore,
  newNodeId,
  type NodeRecord,
  type Principal,
  type SqliteOptions,
  StoreError,
  type StoredLicense,
  type UsagePoint,
  type ValidationRecord
} from "../LicenseStore.js"
import * as Sqlite from "../Sqlite.js"

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
  `,
  // Sharing one file between processes: the change log other processes follow, sign-in attempts counted for
  // all of them, leases (the leader) and the nodes' own reports.
  `
  ALTER TABLE meta ADD COLUMN pruned_through INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    cap TEXT,
    key TEXT,
    node TEXT NOT NULL
  );
  CREATE TABLE attempts (key TEXT PRIMARY KEY, start INTEGER NOT NULL, attempts INTEGER NOT NULL);
  CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);
  CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    applied_seq INTEGER NOT NULL
  );
  `,
  // Principal leases: a cap's lease setting, and per principal its last heartbeat and, once expired, when it was
  // culled. The status CHECK gains 'expired', and SQLite changes a CHECK only by rebuilding the table: the rows are
  // copied with their rowids, which keep the admission order of equal admission times.
  `
  CREATE TABLE cap_leases (
    cap TEXT PRIMARY KEY CHECK (cap IN ('unattended', 'developer', 'attended')),
    lease_seconds INTEGER NOT NULL CHECK (lease_seconds >= 60),
    revive_seconds INTEGER NOT NULL CHECK (revive_seconds >= 0),
    since INTEGER NOT NULL
  );
  CREATE TABLE principals_next (
    cap TEXT NOT NULL CHECK (cap IN ('unattended', 'developer', 'attended')),
    id TEXT NOT NULL,
    name TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'deactivated', 'expired')),
    admitted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    culled_at INTEGER,
    PRIMARY KEY (cap, id)
  );
  INSERT INTO principals_next (rowid, cap, id, name, status, admitted_at, updated_at, heartbeat_at)
    SELECT rowid, cap, id, name, status, admitted_at, updated_at, admitted_at FROM principals;
  DROP TABLE principals;
  ALTER TABLE principals_next RENAME TO principals;
  CREATE INDEX principals_status ON principals (cap, status);
  `
]

// Column lists aliased to the interface's field names, so rows come back in the shape we return.
const LICENSE = "text, fingerprint, license_id AS licenseId, issued_at AS issuedAt, stored_at AS storedAt"
const PRINCIPAL = "cap, id, name, status, admitted_at AS admittedAt, updated_at AS updatedAt"
const LEASED = `${PRINCIPAL}, heartbeat_at AS heartbeatAt, culled_at AS culledAt`
const CAP_LEASE = "cap, lease_seconds AS leaseSeconds, revive_seconds AS reviveSeconds, since"
const CREDENTIAL = "token_hash AS tokenHash, kind, name, created_at AS createdAt, expires_at AS expiresAt"
const NODE = "id, version, started_at AS startedAt, last_seen_at AS lastSeenAt, applied_seq AS appliedSeq"
// SQLite allows 32,766 bound parameters; lookups by id go in slices well below that.
const ID_SLICE = 500
const VALIDATION =
  "last_attempt_at AS lastAttemptAt, last_success_at AS lastSuccessAt, failing_since AS failingSince, last_error AS lastError, " +
  "last_status AS lastStatus, consecutive_failures AS consecutiveFailures, next_attempt_at AS nextAttemptAt"

/** A StoreError carrying the Sqlite failure's message; the codes correspond one to one. */
const toStoreError = (e: Sqlite.SqliteError): StoreError =>
  new StoreError({
    code: e.code === "DATABASE_UNAVAILABLE" ? "STORE_UNAVAILABLE" : e.code === "DATABASE_CORRUPT" ? "STORE_CORRUPT" : "STORE_FAILED",
    message: e.message,
    cause: e.cause
  })

/** Open (creating if needed) and migrate the database; the connection closes with the scope. */
export const make = (options: SqliteOptions): Effect.Effect<LicenseStore.Service & LicenseStore.Leasing, StoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* Effect.mapError(
      Sqlite.open({ filename: options.filename, busyTimeoutMs: options.busyTimeoutMs, migrations, describe: "license store", owner: "Hub" }),
      toStoreError
    )
    const nodeId = options.nodeId ?? newNodeId()
    const locked = <A>(what: string, effect: Effect.Effect<A, Sqlite.StatementError>): Effect.Effect<A, StoreError> =>
      Effect.mapError(db.locked(what, effect), toStoreError)
    const atomic = <A>(what: string, body: Effect.Effect<A, Sqlite.StatementError>): Effect.Effect<A, StoreError> =>
      Effect.mapError(db.atomic(what, body), toStoreError)
    /** Append to the change log; only inside `atomic`, so the change commits with the write it describes. */
    const changed = (topic: ChangeTopic, cap: Cap.Cap | null = null, key: string | null = null) =>
      db.run("INSERT INTO changes (topic, cap, key, node) VALUES (?, ?, ?, ?)", [topic, cap, key, nodeId])
    /** One write statement and its change, in one transaction; the change only when the statement changed rows. */
    const write = (what: string, topic: ChangeTopic, statement: Effect.Effect<number, Sqlite.StatementError>, cap: Cap.Cap | null = null, key: string | null = null) =>
      atomic(
        what,
        Effect.tap(statement, (n) => (n > 0 ? changed(topic, cap, key) : Effect.void))
      )

    const currentFingerprint = Effect.map(
      db.get<{ fingerprint: string }>("SELECT fingerprint FROM licenses WHERE installed = 1"),
      (row) => row?.fingerprint ?? null
    )
    const install = (license: StoredLicense) =>
      Effect.all([
        db.run("UPDATE licenses SET installed = 0 WHERE installed = 1", []),
        db.run(
          "INSERT INTO licenses (text, fingerprint, license_id, issued_at, stored_at, installed) VALUES (?, ?, ?, ?, ?, 1)",
          [license.text, license.fingerprint, license.licenseId, license.issuedAt, license.storedAt]
        ),
        changed("license")
      ])
    const countOf = (cap: Cap.Cap) =>
      Effect.map(
        db.get<{ n: number }>("SELECT count(*) AS n FROM principals WHERE cap = ? AND status = 'active'", [cap]),
        (row) => row?.n ?? 0
      )

    /** Decide one request inside an admission transaction, given the count the earlier ones left. */
    const admitOne = (cap: Cap.Cap, request: AdmitRequest, used: number, ceiling: number, now: number) =>
      Effect.gen(function* () {
        const existing = yield* db.get<Principal>(`SELECT ${PRINCIPAL} FROM principals WHERE cap = ? AND id = ?`, [cap, request.id])
        if (existing?.status === "active") return { _tag: "AlreadyAdmitted", principal: existing, used } as AdmitOutcome
        if (used >= ceiling) return { _tag: "Full", used } as AdmitOutcome
        const principal: Principal = {
          cap,
          id: request.id,
          name: request.name ?? existing?.name ?? null,
          status: "active",
          admittedAt: now,
          updatedAt: now
        }
        // Reactivating keeps the row (and rowid); a new admission inserts one. Either way its lease starts now.
        yield* db.run(
          "INSERT INTO principals (cap, id, name, status, admitted_at, updated_at, heartbeat_at, culled_at) VALUES (?, ?, ?, 'active', ?, ?, ?, NULL) " +
            "ON CONFLICT (cap, id) DO UPDATE SET name = excluded.name, status = 'active', admitted_at = excluded.admitted_at, " +
            "updated_at = excluded.updated_at, heartbeat_at = excluded.heartbeat_at, culled_at = NULL",
          [cap, request.id, principal.name, now, now, now]
        )
        yield* changed("principal", cap, request.id)
        return { _tag: "Admitted", principal, used: used + 1 } as AdmitOutcome
      })
    const admitMany: LicenseStore.Service["admitMany"] = (cap, requests, ceiling, now) =>
      atomic(
        requests.length === 1 ? "admit a principal" : "admit principals",
        Effect.gen(function* () {
          let used = yield* countOf(cap)
          const outcomes: Array<AdmitOutcome> = []
          for (const request of requests) {
            const outcome = yield* admitOne(cap, request, used, ceiling, now)
            used = outcome.used
            outcomes.push(outcome)
          }
          return outcomes
        })
      )

    // Another connection's commit changes `PRAGMA data_version` as this connection sees it; this one's own do not.
    const dataVersion = db.locked("watch for other processes' writes", db.get<{ data_version: number }>("PRAGMA data_version"))
    const pollMs = options.pollMs ?? 100
    const wakeups: Stream.Stream<void> = Stream.repeatEffectWithSchedule(
      Effect.either(dataVersion),
      Schedule.spaced(Duration.millis(pollMs))
    ).pipe(
      Stream.filterMap((result) => (result._tag === "Right" ? Option.fromNullable(result.right?.data_version) : Option.none())),
      Stream.changes,
      Stream.drop(1),
      Stream.as(undefined)
    )

    const capLease = (cap: Cap.Cap) => db.get<CapLease>(`SELECT ${CAP_LEASE} FROM cap_leases WHERE cap = ?`, [cap])
    /** Inside a transaction: mark `p` expired as of its lease's end if that is at or before `now`; the culled record, or null. */
    const cullOne = (p: LeasedPrincipal, lease: CapLease | undefined, now: number) =>
      Effect.gen(function* () {
        if (lease === undefined || p.status !== "active") return null
        const end = leaseEnd(lease, p.heartbeatAt)
        if (end > now) return null
        yield* db.run("UPDATE principals SET status = 'expired', updated_at = ?, culled_at = ? WHERE cap = ? AND id = ?", [end, end, p.cap, p.id])
        yield* changed("principal", p.cap, p.id)
        const culled: LeasedPrincipal = { ...p, status: "expired", updatedAt: end, culledAt: end }
        return culled
      })
    const heartbeat: LicenseStore.Leasing["heartbeat"] = (cap, id, ceiling, now) =>
      atomic(
        "record a heartbeat",
        Effect.gen(function* () {
          const lease = yield* capLease(cap)
          const existing = yield* db.get<LeasedPrincipal>(`SELECT ${LEASED} FROM principals WHERE cap = ? AND id = ?`, [cap, id])
          if (existing === undefined || existing.status === "deactivated") return { _tag: "NotAdmitted", used: yield* countOf(cap) } as HeartbeatOutcome
          const culled = existing.status === "active" ? yield* cullOne(existing, lease, now) : existing
          if (culled === null) {
            yield* db.run("UPDATE principals SET heartbeat_at = ? WHERE cap = ? AND id = ?", [now, cap, id])
            return { _tag: "Renewed", principal: { ...existing, heartbeatAt: now }, used: yield* countOf(cap) } as HeartbeatOutcome
          }
          const used = yield* countOf(cap)
          const culledAt = culled.culledAt ?? culled.updatedAt
          if (lease === undefined || now > culledAt + lease.reviveSeconds * 1000) return { _tag: "Lapsed", principal: culled, used } as HeartbeatOutcome
          if (used >= ceiling) return { _tag: "Full", principal: culled, used } as HeartbeatOutcome
          yield* db.run(
            "UPDATE principals SET status = 'active', admitted_at = ?, updated_at = ?, heartbeat_at = ?, culled_at = NULL WHERE cap = ? AND id = ?",
            [now, now, now, cap, id]
          )
          yield* changed("principal", cap, id)
          const revived: LeasedPrincipal = { ...culled, status: "active", admittedAt: now, updatedAt: now, heartbeatAt: now, culledAt: null }
          return { _tag: "Revived", principal: revived, used: used + 1 } as HeartbeatOutcome
        })
      )
    const cull: LicenseStore.Leasing["cull"] = (cap, now) =>
      atomic(
        "cull principals whose lease ended",
        Effect.gen(function* () {
          const lease = yield* capLease(cap)
          const culled: Array<LeasedPrincipal> = []
          let nextEndAt: number | null = null
          if (lease !== undefined) {
            const active = yield* db.all<LeasedPrincipal>(`SELECT ${LEASED} FROM principals WHERE cap = ? AND status = 'active' ORDER BY admitted_at, rowid`, [cap])
            for (const p of active) {
              const done = yield* cullOne(p, lease, now)
              if (done !== null) culled.push(done)
              else nextEndAt = Math.min(nextEndAt ?? Infinity, leaseEnd(lease, p.heartbeatAt))
            }
          }
          const outcome: CullOutcome = { culled, used: yield* countOf(cap), nextEndAt }
          return outcome
        })
      )

    const insertAudit = (r: AuditRecord) =>
      db.run("INSERT INTO audit (at, actor, action, outcome, cap, principal, code, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        r.at,
        r.actor,
        r.action,
        r.outcome,
        r.cap,
        r.principal,
        r.code,
        r.detail
      ])

    const service: LicenseStore.Service & LicenseStore.Leasing = {
      engine: "sqlite",
      nodeId,
      ensureInstallationId: (candidate) =>
        locked(
          "record the installation id",
          db.get<{ id: string }>("UPDATE meta SET installation_id = coalesce(installation_id, ?) RETURNING installation_id AS id", [candidate])
        ).pipe(Effect.map((row) => row?.id ?? candidate)),

      getLicense: locked("read the installed license", db.get<StoredLicense>(`SELECT ${LICENSE} FROM licenses WHERE installed = 1`)).pipe(
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
      licenseHistory: locked("read the license history", db.all<StoredLicense>(`SELECT ${LICENSE} FROM licenses ORDER BY seq`)),
      getPending: locked("read the pending license", db.get<StoredLicense>(`SELECT ${LICENSE} FROM pending_license`)).pipe(
        Effect.map(Option.fromNullable)
      ),
      setPending: (license) =>
        write(
          "store the pending license",
          "pending",
          license === null
            ? db.run("DELETE FROM pending_license", [])
            : db.run(
                "INSERT OR REPLACE INTO pending_license (id, text, fingerprint, license_id, issued_at, stored_at) VALUES (1, ?, ?, ?, ?, ?)",
                [license.text, license.fingerprint, license.licenseId, license.issuedAt, license.storedAt]
              )
        ).pipe(Effect.asVoid),

      activate: (license, admin) =>
        atomic(
          "activate the Hub",
          Effect.gen(function* () {
            if ((yield* db.get("SELECT 1 FROM admin")) !== undefined) return false
            yield* install(license)
            yield* db.run("INSERT INTO admin (id, email, password_hash, created_at) VALUES (1, ?, ?, ?)", [
              admin.email,
              admin.passwordHash,
              admin.createdAt
            ])
            yield* changed("admin")
            return true
          })
        ),
      getAdmin: locked(
        "read the admin account",
        db.get<AdminAccount>("SELECT email, password_hash AS passwordHash, created_at AS createdAt FROM admin")
      ).pipe(Effect.map(Option.fromNullable)),

      getHighWater: locked("read the time high-water mark", db.get<{ t: number }>("SELECT high_water AS t FROM meta")).pipe(
        Effect.map((row) => row?.t ?? 0)
      ),
      raiseHighWater: (t) =>
        atomic(
          "raise the time high-water mark",
          Effect.gen(function* () {
            const raised = yield* db.get<{ t: number }>("UPDATE meta SET high_water = ? WHERE high_water < ? RETURNING high_water AS t", [t, t])
            if (raised !== undefined) {
              yield* changed("clock")
              return raised.t
            }
            return (yield* db.get<{ t: number }>("SELECT high_water AS t FROM meta"))?.t ?? t
          })
        ),

      getValidation: locked("read the validation record", db.get<ValidationRecord>(`SELECT ${VALIDATION} FROM validation`)).pipe(
        Effect.map(Option.fromNullable)
      ),
      putValidation: (r) =>
        write(
          "store the validation record",
          "validation",
          db.run(
            "INSERT OR REPLACE INTO validation (id, last_attempt_at, last_success_at, failing_since, last_error, last_status, consecutive_failures, next_attempt_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
            [r.lastAttemptAt, r.lastSuccessAt, r.failingSince, r.lastError, r.lastStatus, r.consecutiveFailures, r.nextAttemptAt]
          )
        ).pipe(Effect.asVoid),

      // An upsert rather than REPLACE keeps the rowid, and with it the listing order.
      putCredential: (c) =>
        write(
          "store a credential",
          "credential",
          db.run(
            "INSERT INTO credentials (token_hash, kind, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?) " +
              "ON CONFLICT (token_hash) DO UPDATE SET kind = excluded.kind, name = excluded.name, created_at = excluded.created_at, expires_at = excluded.expires_at",
            [c.tokenHash, c.kind, c.name, c.createdAt, c.expiresAt]
          )
        ).pipe(Effect.asVoid),
      // Inside BEGIN IMMEDIATE: the check and the insert cannot be split by another process's insert.
      addApiToken: (c) =>
        atomic(
          "store an API token",
          Effect.gen(function* () {
            if ((yield* db.get("SELECT 1 FROM credentials WHERE kind = 'api' AND name = ?", [c.name])) !== undefined) return false
            yield* db.run("INSERT INTO credentials (token_hash, kind, name, created_at, expires_at) VALUES (?, 'api', ?, ?, NULL)", [
              c.tokenHash,
              c.name,
              c.createdAt
            ])
            yield* changed("credential")
            return true
          })
        ),
      findCredential: (tokenHash) =>
        locked("read a credential", db.get<Credential>(`SELECT ${CREDENTIAL} FROM credentials WHERE token_hash = ?`, [tokenHash])).pipe(
          Effect.map(Option.fromNullable)
        ),
      deleteCredential: (tokenHash) =>
        write("delete a credential", "credential", db.run("DELETE FROM credentials WHERE token_hash = ?", [tokenHash])).pipe(Effect.asVoid),
      listCredentials: (kind) =>
        locked(
          "list credentials",
          db.all<Credential>(`SELECT ${CREDENTIAL} FROM credentials WHERE kind = ? ORDER BY created_at, rowid`, [kind])
        ),

      listPrincipals: (cap) =>
        locked("list principals", db.all<Principal>(`SELECT ${PRINCIPAL} FROM principals WHERE cap = ? ORDER BY admitted_at, rowid`, [cap])),
      countActive: locked(
        "count active principals",
        db.all<{ cap: Cap.Cap; n: number }>("SELECT cap, count(*) AS n FROM principals WHERE status = 'active' GROUP BY cap")
      ).pipe(
        Effect.map((rows) => {
          const counts = Object.fromEntries(Cap.all.map((cap) => [cap, 0])) as Record<Cap.Cap, number>
          for (const { cap, n } of rows) counts[cap] = n
          return counts
        })
      ),
      admit: (cap, id, name, ceiling, now) =>
        Effect.map(admitMany(cap, [{ id, name }], ceiling, now), (outcomes) => outcomes[0]!),
      admitMany,
      findPrincipals: (cap, ids) =>
        locked(
          "read principals",
          Effect.gen(function* () {
            const unique = Array.from(new Set(ids))
            const found: Array<Principal> = []
            for (let i = 0; i < unique.length; i += ID_SLICE) {
              const slice = unique.slice(i, i + ID_SLICE)
              const rows = yield* db.all<Principal>(
                `SELECT ${PRINCIPAL} FROM principals WHERE cap = ? AND id IN (${slice.map(() => "?").join(", ")})`,
                [cap, ...slice]
              )
              found.push(...rows)
            }
            return found
          })
        ),
      release: (cap, id) =>
        write("release a principal", "principal", db.run("DELETE FROM principals WHERE cap = ? AND id = ?", [cap, id]), cap, id).pipe(
          Effect.map((n) => n > 0)
        ),
      deactivate: (cap, id, now) =>
        write(
          "deactivate a principal",
          "principal",
          db.run(
            "UPDATE principals SET updated_at = CASE WHEN status = 'active' THEN ? ELSE updated_at END, status = 'deactivated', culled_at = NULL WHERE cap = ? AND id = ?",
            [now, cap, id]
          ),
          cap,
          id
        ).pipe(Effect.map((n) => n > 0)),

      getSnapshots: locked("read snapshots", db.all<{ key: string; json: string }>("SELECT key, json FROM snapshots ORDER BY rowid")).pipe(
        Effect.map((rows) => new Map(rows.map((r) => [r.key, r.json])))
      ),
      putSnapshot: (key, json) =>
        locked(
          "store a snapshot",
          db.run("INSERT INTO snapshots (key, json) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET json = excluded.json", [key, json])
        ).pipe(Effect.asVoid),

      appendAudit: (r) => locked("append to the audit log", insertAudit(r)).pipe(Effect.asVoid),
      appendAudits: (records) =>
        records.length === 0 ? Effect.void : atomic("append to the audit log", Effect.forEach(records, insertAudit, { discard: true })),
      listAudit: ({ limit }) =>
        locked(
          "read the audit log",
          // A negative LIMIT means "no limit" to SQLite, so clamp.
          db.all<AuditRecord>("SELECT at, actor, action, outcome, cap, principal, code, detail FROM audit ORDER BY seq DESC LIMIT ?", [
            Math.max(0, limit)
          ])
        ),

      recordUsage: (cap, day, used) =>
        locked(
          "record usage",
          db.run(
            "INSERT INTO usage (cap, day, peak) VALUES (?, ?, ?) ON CONFLICT (cap, day) DO UPDATE SET peak = max(peak, excluded.peak)",
            [cap, day, used]
          )
        ).pipe(Effect.asVoid),
      usageHistory: locked("read the usage history", db.all<UsagePoint>("SELECT cap, day, peak FROM usage ORDER BY day, cap")),

      changesSince: (after, limit) =>
        locked(
          "read the change log",
          Effect.all({
            changes: db.all<Change>("SELECT seq, topic, cap, key, node FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", [after, Math.max(0, limit)]),
            gap: Effect.map(db.get<{ p: number }>("SELECT pruned_through AS p FROM meta"), (row) => after < (row?.p ?? 0))
          })
        ),
      latestSeq: locked(
        "read the change log",
        db.get<{ seq: number }>("SELECT max(seq) AS seq FROM (SELECT max(seq) AS seq FROM changes UNION ALL SELECT pruned_through FROM meta)")
      ).pipe(Effect.map((row) => row?.seq ?? 0)),
      pruneChanges: (through) =>
        atomic(
          "prune the change log",
          Effect.gen(function* () {
            const latest = (yield* db.get<{ seq: number | null }>("SELECT max(seq) AS seq FROM changes"))?.seq ?? 0
            const upTo = Math.min(through, latest)
            yield* db.run("DELETE FROM changes WHERE seq <= ?", [upTo])
            yield* db.run("UPDATE meta SET pruned_through = max(pruned_through, ?)", [upTo])
          })
        ),
      wakeups,

      countAttempt: (key, now, windowMs) =>
        locked(
          "count a sign-in attempt",
          db.get<{ start: number; attempts: number }>(
            "INSERT INTO attempts (key, start, attempts) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET " +
              "start = CASE WHEN ? >= attempts.start + ? THEN excluded.start ELSE attempts.start END, " +
              "attempts = CASE WHEN ? >= attempts.start + ? THEN 1 ELSE attempts.attempts + 1 END RETURNING start, attempts",
            [key, now, now, windowMs, now, windowMs]
          )
        ).pipe(Effect.map((row) => row ?? { start: now, attempts: 1 })),
      clearAttempts: (key) => locked("forget sign-in attempts", db.run("DELETE FROM attempts WHERE key = ?", [key])).pipe(Effect.asVoid),

      claimLease: (name, holder, now, ttlMs) =>
        locked(
          "claim a lease",
          db.run(
            "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until " +
              "WHERE leases.holder = excluded.holder OR leases.until <= ?",
            [name, holder, now + ttlMs, now]
          )
        ).pipe(Effect.map((n) => n > 0)),
      releaseLease: (name, holder) =>
        locked("release a lease", db.run("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder])).pipe(Effect.asVoid),
      leaseHolder: (name) =>
        locked("read a lease", db.get<{ holder: string; until: number }>("SELECT holder, until FROM leases WHERE name = ?", [name])).pipe(
          Effect.map(Option.fromNullable)
        ),

      capLeases: locked("read the cap leases", db.all<CapLease>(`SELECT ${CAP_LEASE} FROM cap_leases ORDER BY CASE cap WHEN 'unattended' THEN 0 WHEN 'developer' THEN 1 ELSE 2 END`)),
      setCapLease: (cap, lease, now) =>
        atomic(
          "set a cap's lease",
          Effect.gen(function* () {
            if (lease === null) yield* db.run("DELETE FROM cap_leases WHERE cap = ?", [cap])
            else {
              yield* db.run(
                "INSERT INTO cap_leases (cap, lease_seconds, revive_seconds, since) VALUES (?, ?, ?, ?) ON CONFLICT (cap) DO UPDATE SET " +
                  "lease_seconds = excluded.lease_seconds, revive_seconds = excluded.revive_seconds, since = excluded.since",
                [cap, lease.leaseSeconds, lease.reviveSeconds, now]
              )
            }
            yield* changed("settings", cap)
          })
        ),
      listLeased: (cap) =>
        locked("list principals", db.all<LeasedPrincipal>(`SELECT ${LEASED} FROM principals WHERE cap = ? ORDER BY admitted_at, rowid`, [cap])),
      heartbeat,
      cull,

      touchNode: (n) =>
        locked(
          "record this node",
          db.run(
            "INSERT INTO nodes (id, version, started_at, last_seen_at, applied_seq) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET " +
              "version = excluded.version, started_at = excluded.started_at, last_seen_at = excluded.last_seen_at, applied_seq = excluded.applied_seq",
            [n.id, n.version, n.startedAt, n.lastSeenAt, n.appliedSeq]
          )
        ).pipe(Effect.asVoid),
      listNodes: (since) =>
        locked("list the nodes", db.all<NodeRecord>(`SELECT ${NODE} FROM nodes WHERE last_seen_at >= ? ORDER BY started_at, id`, [since]))
    }
    return service
  })
