/** LicenseStore service: everything the Hub persists, behind one interface with memory, SQLite and PostgreSQL layers. */
import { randomBytes } from "node:crypto"
import { Context, Data, Effect, Layer, type Option, type Scope, type Stream } from "effect"
import type { Cap } from "./Cap.js"
import * as memoryStore from "./internal/memoryStore.js"
import * as postgresStore from "./internal/postgresStore.js"
import * as sqliteStore from "./internal/sqliteStore.js"

/** Why the store failed; `code` is stable. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly code: "STORE_UNAVAILABLE" | "STORE_CORRUPT" | "STORE_FAILED"
  readonly message: string
  readonly cause?: unknown
}> {}

/** A license file as stored: its exact text plus the facts the Hub indexes it by. */
export interface StoredLicense {
  readonly text: string
  /** SHA-256 (hex) of `text`. */
  readonly fingerprint: string
  readonly licenseId: string
  /** `issuedAt` of the payload, epoch ms; used to refuse rollbacks. */
  readonly issuedAt: number
  /** When this Hub stored it, epoch ms. */
  readonly storedAt: number
}

/** An admitted (deactivated, or expired) principal of one cap. */
export interface Principal {
  readonly cap: Cap
  readonly id: string
  readonly name: string | null
  /**
   * Only `active` principals hold a slot; `deactivated` keeps the record and frees the slot; `expired` is a principal
   * whose lease ended without a heartbeat (culled): its slot is free, and a heartbeat within the cap's revive window
   * may take one again.
   */
  readonly status: "active" | "deactivated" | "expired"
  readonly admittedAt: number
  readonly updatedAt: number
}

/** Outcome of the atomic count-then-insert at a ceiling. */
export type AdmitOutcome =
  | { readonly _tag: "Admitted"; readonly principal: Principal; readonly used: number }
  | { readonly _tag: "AlreadyAdmitted"; readonly principal: Principal; readonly used: number }
  | { readonly _tag: "Full"; readonly used: number }

/** Phone-home bookkeeping (DESIGN §5). */
export interface ValidationRecord {
  readonly lastAttemptAt: number | null
  readonly lastSuccessAt: number | null
  /** First failure since the last success, or null while healthy. */
  readonly failingSince: number | null
  readonly lastError: string | null
  /** The Portal's last answer. */
  readonly lastStatus: "valid" | "revoked" | "unknown" | null
  readonly consecutiveFailures: number
  readonly nextAttemptAt: number | null
}

/** The Hub's administrator account. */
export interface AdminAccount {
  readonly email: string
  /** scrypt hash in `scrypt$N$r$p$salt$hash` form; never leaves the server. */
  readonly passwordHash: string
  readonly createdAt: number
}

/** A sign-in session or an admin-issued API token, stored by the SHA-256 of its secret only. */
export interface Credential {
  readonly tokenHash: string
  readonly kind: "session" | "api"
  readonly name: string | null
  readonly createdAt: number
  /** null for tokens that do not expire. */
  readonly expiresAt: number | null
}

/** One line of the audit log. */
export interface AuditRecord {
  readonly at: number
  /** Who did it: `admin`, `token:<name>`, `system`, or a client address for anonymous calls. */
  readonly actor: string
  /** What was done, e.g. `acquire`, `release`, `deactivate`, `upload`, `activate`, `sign-in`. */
  readonly action: string
  readonly outcome: "ok" | "denied" | "failed"
  readonly cap: Cap | null
  readonly principal: string | null
  /** Stable error code for denials and failures. */
  readonly code: string | null
  readonly detail: string | null
}

/** Peak usage of one cap on one UTC day, for true-up exports. */
export interface UsagePoint {
  readonly cap: Cap
  /** `YYYY-MM-DD`, UTC. */
  readonly day: string
  readonly peak: number
}

/**
 * What a write changed, so the other nodes sharing the store know what to read again. Snapshots, audit lines,
 * usage peaks, sign-in attempts, node records and leases are per-node bookkeeping and append no change.
 */
export type ChangeTopic = "license" | "pending" | "principal" | "validation" | "clock" | "admin" | "credential" | "settings"

/** One entry of the store's change log. */
export interface Change {
  /** Position in the log: increasing in commit order (a reader that saw `seq` has seen every earlier commit). */
  readonly seq: number
  readonly topic: ChangeTopic
  /** The cap a `principal` (or `settings`) change is about. */
  readonly cap: Cap | null
  /** The principal id of a `principal` change. */
  readonly key: string | null
  /** The store node (`nodeId`) whose write this was. */
  readonly node: string
}

/** A page of the change log after some sequence number. */
export interface ChangePage {
  readonly changes: ReadonlyArray<Change>
  /**
   * True when changes after the asked-for sequence were pruned: the reader missed some and must read
   * everything again instead of applying the page alone.
   */
  readonly gap: boolean
}

/** One node of a clustered Hub, as it last reported itself. */
export interface NodeRecord {
  readonly id: string
  readonly version: string
  readonly startedAt: number
  readonly lastSeenAt: number
  /** The last change sequence this node applied. */
  readonly appliedSeq: number
}

/** One acquisition in a batch: who asks for a slot. */
export interface AdmitRequest {
  readonly id: string
  readonly name: string | null
}

/** A sign-in rate-limit window as counted in the store, shared by every node. */
export interface AttemptWindow {
  /** When the window began (epoch ms). */
  readonly start: number
  /** Attempts counted in it, including the one just counted. */
  readonly attempts: number
}

/** A cap's lease (DESIGN §12): its principals must heartbeat within `leaseSeconds`, or they are culled. */
export interface CapLease {
  readonly cap: Cap
  /** At least {@link MIN_LEASE_SECONDS}. */
  readonly leaseSeconds: number
  /** How long after its lease ended a culled principal may come back with a heartbeat (0: never). */
  readonly reviveSeconds: number
  /** When the setting was last changed (epoch ms): every lease of the cap runs at least until `since + leaseSeconds`. */
  readonly since: number
}

/** The shortest lease an admin may set: a Runner's heartbeat must not have to race the network. */
export const MIN_LEASE_SECONDS = 60

/** A principal with what its lease depends on. */
export interface LeasedPrincipal extends Principal {
  /** The principal's last heartbeat, or its admission if it has not sent one since (epoch ms). */
  readonly heartbeatAt: number
  /** For an `expired` principal, when its lease ended (it was culled as of then); null otherwise. */
  readonly culledAt: number | null
}

/**
 * When the lease of an active principal ends: `leaseSeconds` after its last heartbeat, or after the setting changed if
 * that is later. The one formula every engine applies.
 */
export const leaseEnd = (lease: Pick<CapLease, "leaseSeconds" | "since">, heartbeatAt: number): number =>
  Math.max(heartbeatAt, lease.since) + lease.leaseSeconds * 1000

/** Outcome of a heartbeat, decided in one transaction against the store's state. */
export type HeartbeatOutcome =
  /** The principal is active: its lease now runs from this heartbeat. */
  | { readonly _tag: "Renewed"; readonly principal: LeasedPrincipal; readonly used: number }
  /** The principal was culled (now or before), is within its revive window, and took a free slot again. */
  | { readonly _tag: "Revived"; readonly principal: LeasedPrincipal; readonly used: number }
  /** The principal is culled and within its revive window, but every slot is taken: it stays expired. */
  | { readonly _tag: "Full"; readonly principal: LeasedPrincipal; readonly used: number }
  /** The principal is culled and its revive window has passed (or the cap has no lease any more): it must register again. */
  | { readonly _tag: "Lapsed"; readonly principal: LeasedPrincipal; readonly used: number }
  /** No record, or a deactivated one: a heartbeat admits no one. */
  | { readonly _tag: "NotAdmitted"; readonly used: number }

/** What a cull did. */
export interface CullOutcome {
  /** The principals culled by this call, now `expired`, in admission order. */
  readonly culled: ReadonlyArray<LeasedPrincipal>
  /** Active principals of the cap afterwards. */
  readonly used: number
  /** The earliest end of a lease still running, or null when the cap has no lease or no active principal. */
  readonly nextEndAt: number | null
}

/** Everything the Hub persists. Every method is atomic on its own. */
export class LicenseStore extends Context.Tag("@exekra/core/LicenseStore")<LicenseStore, LicenseStore.Service & LicenseStore.Leasing>() {}

export declare namespace LicenseStore {
  /** The store's interface. */
  export interface Service {
    /** Which engine this is, as `GET /api/cluster` reports it. */
    readonly engine: "memory" | "sqlite" | "postgres"
    /** This node's id: it tags every change this store appends. */
    readonly nodeId: string

    /** Store `candidate` as the installation id unless one exists; return the one in force. */
    readonly ensureInstallationId: (candidate: string) => Effect.Effect<string, StoreError>

    /** The installed license, if any. */
    readonly getLicense: Effect.Effect<Option.Option<StoredLicense>, StoreError>
    /**
     * Compare-and-set the installed license: replaces it with `next` only if the installed one
     * still has fingerprint `expected` (null: none installed). Appends `next` to the history.
     * Returns false, changing nothing, when another writer got there first.
     */
    readonly replaceLicense: (expected: string | null, next: StoredLicense) => Effect.Effect<boolean, StoreError>
    /** Every license ever installed, oldest first. */
    readonly licenseHistory: Effect.Effect<ReadonlyArray<StoredLicense>, StoreError>
    /** A verified license whose `notBefore` lies in the future, waiting to take over. */
    readonly getPending: Effect.Effect<Option.Option<StoredLicense>, StoreError>
    readonly setPending: (license: StoredLicense | null) => Effect.Effect<void, StoreError>

    /** Activation in one transaction: install the first license and create the admin. False if already activated. */
    readonly activate: (license: StoredLicense, admin: AdminAccount) => Effect.Effect<boolean, StoreError>
    readonly getAdmin: Effect.Effect<Option.Option<AdminAccount>, StoreError>

    /** Highest time observed (epoch ms); 0 when none. */
    readonly getHighWater: Effect.Effect<number, StoreError>
    /** Raise the high-water mark to `t` if higher; return the mark in force. */
    readonly raiseHighWater: (t: number) => Effect.Effect<number, StoreError>

    readonly getValidation: Effect.Effect<Option.Option<ValidationRecord>, StoreError>
    readonly putValidation: (record: ValidationRecord) => Effect.Effect<void, StoreError>

    readonly putCredential: (credential: Credential) => Effect.Effect<void, StoreError>
    /**
     * Store a new API token unless one of the same name exists, atomically across every node sharing the store; false,
     * storing nothing, when the name is taken.
     */
    readonly addApiToken: (credential: Credential & { readonly kind: "api"; readonly name: string }) => Effect.Effect<boolean, StoreError>
    readonly findCredential: (tokenHash: string) => Effect.Effect<Option.Option<Credential>, StoreError>
    readonly deleteCredential: (tokenHash: string) => Effect.Effect<void, StoreError>
    readonly listCredentials: (kind: Credential["kind"]) => Effect.Effect<ReadonlyArray<Credential>, StoreError>

    /** Principals of a cap (active and deactivated), in admission order. */
    readonly listPrincipals: (cap: Cap) => Effect.Effect<ReadonlyArray<Principal>, StoreError>
    /** Active principals per cap. */
    readonly countActive: Effect.Effect<Readonly<Record<Cap, number>>, StoreError>
    /**
     * In one transaction: if `id` is active, report it; otherwise, if fewer than `ceiling` principals
     * are active, admit it (inserting it or reactivating a deactivated record); otherwise report Full.
     */
    readonly admit: (cap: Cap, id: string, name: string | null, ceiling: number, now: number) => Effect.Effect<AdmitOutcome, StoreError>
    /**
     * `admit` for several requests of one cap in one transaction (group commit): each is decided in order against
     * the count the earlier ones left, and none is durable before the commit that holds them all.
     */
    readonly admitMany: (cap: Cap, requests: ReadonlyArray<AdmitRequest>, ceiling: number, now: number) => Effect.Effect<ReadonlyArray<AdmitOutcome>, StoreError>
    /** The records of these principals of a cap that exist (any status). */
    readonly findPrincipals: (cap: Cap, ids: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Principal>, StoreError>
    /** Delete a principal's record; false if it had none. */
    readonly release: (cap: Cap, id: string) => Effect.Effect<boolean, StoreError>
    /** Keep the record, free the slot; false if it had no record. */
    readonly deactivate: (cap: Cap, id: string, now: number) => Effect.Effect<boolean, StoreError>

    /** Persisted machine snapshots (JSON), by key such as `cap:unattended` or `validation`. */
    readonly getSnapshots: Effect.Effect<ReadonlyMap<string, string>, StoreError>
    readonly putSnapshot: (key: string, json: string) => Effect.Effect<void, StoreError>

    readonly appendAudit: (record: AuditRecord) => Effect.Effect<void, StoreError>
    /** Several audit lines in one transaction, in order (a batch of acquisitions is audited with one commit). */
    readonly appendAudits: (records: ReadonlyArray<AuditRecord>) => Effect.Effect<void, StoreError>
    /** Newest first. */
    readonly listAudit: (options: { readonly limit: number }) => Effect.Effect<ReadonlyArray<AuditRecord>, StoreError>

    /** Raise the day's peak usage of a cap to `used` if higher. */
    readonly recordUsage: (cap: Cap, day: string, used: number) => Effect.Effect<void, StoreError>
    /** Daily peaks, oldest first. */
    readonly usageHistory: Effect.Effect<ReadonlyArray<UsagePoint>, StoreError>

    // ---- sharing one store between nodes -------------------------------------------------------

    /** Changes with a sequence above `after`, oldest first, at most `limit`. */
    readonly changesSince: (after: number, limit: number) => Effect.Effect<ChangePage, StoreError>
    /** The highest change sequence written so far; 0 when none. */
    readonly latestSeq: Effect.Effect<number, StoreError>
    /** Forget changes up to and including `through`; readers behind it are told of the gap. */
    readonly pruneChanges: (through: number) => Effect.Effect<void, StoreError>
    /**
     * Signals that another node may have written (PostgreSQL `LISTEN/NOTIFY`, SQLite `PRAGMA data_version`). It may
     * signal spuriously and, while the store is unreachable, not at all: readers also poll.
     */
    readonly wakeups: Stream.Stream<void>

    /** Count one sign-in attempt of `key` in its window (a new window once `windowMs` has passed since its start). */
    readonly countAttempt: (key: string, now: number, windowMs: number) => Effect.Effect<AttemptWindow, StoreError>
    /** Forget the attempts of `key` (after a successful sign-in). */
    readonly clearAttempts: (key: string) => Effect.Effect<void, StoreError>

    /**
     * Take or renew the lease `name` for `holder` until `now + ttlMs`: succeeds when the lease is free, expired
     * (its end ≤ `now`) or already `holder`'s. True when `holder` holds it afterwards.
     */
    readonly claimLease: (name: string, holder: string, now: number, ttlMs: number) => Effect.Effect<boolean, StoreError>
    /** Give the lease up if `holder` holds it, so another node may take it at once. */
    readonly releaseLease: (name: string, holder: string) => Effect.Effect<void, StoreError>
    /** Who holds the lease `name` and until when, if anyone ever took it. */
    readonly leaseHolder: (name: string) => Effect.Effect<Option.Option<{ readonly holder: string; readonly until: number }>, StoreError>

    /** Record (insert or update) how a node reports itself. */
    readonly touchNode: (node: NodeRecord) => Effect.Effect<void, StoreError>
    /** Every node that reported itself since `since` (epoch ms), by start time. */
    readonly listNodes: (since: number) => Effect.Effect<ReadonlyArray<NodeRecord>, StoreError>
  }

  /**
   * Principal leases (DESIGN §12): per-cap settings, heartbeats and culling. Each write is one transaction that decides
   * against the store's own state (settings, heartbeat times, count), so a heartbeat racing its cull on any node either
   * revives the principal or is refused, and is never counted twice. Every engine implements it.
   */
  export interface Leasing {
    /** Every cap that has a lease. */
    readonly capLeases: Effect.Effect<ReadonlyArray<CapLease>, StoreError>
    /**
     * Set a cap's lease (`since` becomes `now`), or turn it off with null. Appends a `settings` change for the cap.
     * The caller validates the values (`leaseSeconds` ≥ {@link MIN_LEASE_SECONDS}, `reviveSeconds` ≥ 0).
     */
    readonly setCapLease: (
      cap: Cap,
      lease: { readonly leaseSeconds: number; readonly reviveSeconds: number } | null,
      now: number
    ) => Effect.Effect<void, StoreError>
    /** Principals of a cap (any status) with their heartbeat and cull times, in admission order. */
    readonly listLeased: (cap: Cap) => Effect.Effect<ReadonlyArray<LeasedPrincipal>, StoreError>
    /**
     * A heartbeat of `id` at `now`, in one transaction: an active principal whose lease has not ended is renewed. One
     * whose lease ended (at `leaseEnd`, whether or not a cull has run yet) is culled as of then, and then revived if
     * `now` is within the cap's `reviveSeconds` of that end and fewer than `ceiling` principals are active.
     * Appends a `principal` change when the status changes; a plain renewal appends none.
     */
    readonly heartbeat: (cap: Cap, id: string, ceiling: number, now: number) => Effect.Effect<HeartbeatOutcome, StoreError>
    /**
     * Cull, in one transaction, every active principal of a leased cap whose lease ended at or before `now`: status
     * `expired`, `culledAt` its lease's end. Appends a `principal` change for each. A cap without a lease culls no one.
     */
    readonly cull: (cap: Cap, now: number) => Effect.Effect<CullOutcome, StoreError>
  }
}

/** Options every engine shares. */
export interface CommonOptions {
  /** This node's id in the change log and the node list; default a random `node_…` id. */
  readonly nodeId?: string | undefined
}

/** Options of the SQLite layer. */
export interface SqliteOptions extends CommonOptions {
  /** Path of the database file, or `:memory:`. */
  readonly filename: string
  /** Milliseconds a writer waits for another process's lock before failing. */
  readonly busyTimeoutMs?: number
  /** How often other processes' commits are looked for (`PRAGMA data_version`); default 100 ms. */
  readonly pollMs?: number
}

/** Options of the PostgreSQL layer. */
export interface PostgresOptions extends CommonOptions {
  /** `postgres://user[:password]@host[:port]/database` */
  readonly url: string
  /** Connections in the pool (default 10). */
  readonly poolSize?: number | undefined
  /** A statement running longer is cancelled and fails with `STORE_UNAVAILABLE` (default 10,000 ms). */
  readonly statementTimeoutMs?: number | undefined
  /** How long to wait for a connection before failing with `STORE_UNAVAILABLE` (default 5,000 ms). */
  readonly connectTimeoutMs?: number | undefined
}

/** The store's full interface, as the `LicenseStore` tag provides it. */
export type Store = Context.Tag.Service<LicenseStore>

/** A fresh, empty in-memory store; nothing survives the process. */
export const makeMemory: Effect.Effect<Store> = memoryStore.make

/** An in-memory store per build of the layer: for tests and for trying the runtime out. */
export const layerMemory: Layer.Layer<LicenseStore> = Layer.effect(LicenseStore, makeMemory)

/** Open (creating and migrating if needed) a SQLite store; the connection closes with the scope. */
export const makeSqlite: (options: SqliteOptions) => Effect.Effect<Store, StoreError, Scope.Scope> = sqliteStore.make

/** The SQLite store the Hub runs on; the file's directory must exist. */
export const layerSqlite = (options: SqliteOptions): Layer.Layer<LicenseStore, StoreError> => Layer.scoped(LicenseStore, makeSqlite(options))

/**
 * Connect to (and migrate, under a migration lock) a PostgreSQL store; the pool closes with the scope. Several
 * nodes may share one database: acquisitions lock their cap, and every write appends to the change log.
 */
export const makePostgres: (options: PostgresOptions) => Effect.Effect<Store, StoreError, Scope.Scope> = postgresStore.make

/** The PostgreSQL store of a clustered Hub. */
export const layerPostgres = (options: PostgresOptions): Layer.Layer<LicenseStore, StoreError> => Layer.scoped(LicenseStore, makePostgres(options))

/** Where a store lives, as `serve --store` names it: a `postgres://` URL, else the embedded SQLite file. */
export type Location = { readonly engine: "postgres"; readonly url: string } | { readonly engine: "sqlite"; readonly filename: string }

/** Read a `--store` value: `postgres://` or `postgresql://` URLs select PostgreSQL; `sqlite:PATH` or a path select SQLite. */
export const parseLocation = (value: string): Location =>
  /^postgres(ql)?:\/\//i.test(value)
    ? { engine: "postgres", url: value }
    : { engine: "sqlite", filename: value.replace(/^sqlite:(\/\/)?/i, "") }

/** The store at a location. */
export const layerAt = (location: Location, options: CommonOptions = {}): Layer.Layer<LicenseStore, StoreError> =>
  location.engine === "postgres" ? layerPostgres({ ...options, url: location.url }) : layerSqlite({ ...options, filename: location.filename })

/** A new random node id: `node_` and 10 hex digits. */
export const newNodeId = (): string => `node_${randomBytes(5).toString("hex")}`
