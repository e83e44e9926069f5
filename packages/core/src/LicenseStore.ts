/** LicenseStore service: everything the Hub persists, behind one interface with SQLite and in-memory layers. */
import { Context, Data, type Effect, Layer, type Option, type Scope } from "effect"
import type { Cap } from "./Cap.js"
import * as memoryStore from "./internal/memoryStore.js"
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

/** An admitted (or deactivated) principal of one cap. */
export interface Principal {
  readonly cap: Cap
  readonly id: string
  readonly name: string | null
  /** Only `active` principals hold a slot; `deactivated` keeps the record and frees the slot. */
  readonly status: "active" | "deactivated"
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

/** Everything the Hub persists. Every method is atomic on its own. */
export class LicenseStore extends Context.Tag("@exekra/core/LicenseStore")<LicenseStore, LicenseStore.Service>() {}

export declare namespace LicenseStore {
  /** The store's interface. */
  export interface Service {
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
    /** Delete a principal's record; false if it had none. */
    readonly release: (cap: Cap, id: string) => Effect.Effect<boolean, StoreError>
    /** Keep the record, free the slot; false if it had no record. */
    readonly deactivate: (cap: Cap, id: string, now: number) => Effect.Effect<boolean, StoreError>

    /** Persisted machine snapshots (JSON), by key such as `cap:unattended` or `validation`. */
    readonly getSnapshots: Effect.Effect<ReadonlyMap<string, string>, StoreError>
    readonly putSnapshot: (key: string, json: string) => Effect.Effect<void, StoreError>

    readonly appendAudit: (record: AuditRecord) => Effect.Effect<void, StoreError>
    /** Newest first. */
    readonly listAudit: (options: { readonly limit: number }) => Effect.Effect<ReadonlyArray<AuditRecord>, StoreError>

    /** Raise the day's peak usage of a cap to `used` if higher. */
    readonly recordUsage: (cap: Cap, day: string, used: number) => Effect.Effect<void, StoreError>
    /** Daily peaks, oldest first. */
    readonly usageHistory: Effect.Effect<ReadonlyArray<UsagePoint>, StoreError>
  }
}

/** Options of the SQLite layer. */
export interface SqliteOptions {
  /** Path of the database file, or `:memory:`. */
  readonly filename: string
  /** Milliseconds a writer waits for another process's lock before failing. */
  readonly busyTimeoutMs?: number
}

/** A fresh, empty in-memory store; nothing survives the process. */
export const makeMemory: Effect.Effect<LicenseStore.Service> = memoryStore.make

/** An in-memory store per build of the layer: for tests and for trying the runtime out. */
export const layerMemory: Layer.Layer<LicenseStore> = Layer.effect(LicenseStore, makeMemory)

/** Open (creating and migrating if needed) a SQLite store; the connection closes with the scope. */
export const makeSqlite: (options: SqliteOptions) => Effect.Effect<LicenseStore.Service, StoreError, Scope.Scope> = sqliteStore.make

/** The SQLite store the Hub runs on; the file's directory must exist. */
export const layerSqlite = (options: SqliteOptions): Layer.Layer<LicenseStore, StoreError> => Layer.scoped(LicenseStore, makeSqlite(options))
