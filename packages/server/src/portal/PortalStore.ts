/** PortalStore: the contract of what the Customer Portal keeps (customers, accounts, licenses and their files, credentials, audit, revocations and every validation ping), with one engine per file. */
import { LicenseStore, Postgres } from "@exekra/core"
import { Context, Data, Effect, Layer, type Scope } from "effect"
import * as postgresStore from "./internal/postgresStore.js"
import * as sqliteStore from "./internal/sqliteStore.js"

/** The file name of the Portal's database inside its data directory. */
export const FILENAME = "portal.sqlite"

/** The Portal's answer to a ping (DESIGN §5). */
export type Status = "valid" | "revoked" | "unknown"

/** What the Portal was told about a license: nothing, that it exists, or that it is revoked. */
export type LicenseState = "unregistered" | "registered" | "revoked"

/**
 * The Portal's one decision. A revoked license is `revoked`. Otherwise a registered license is `valid`,
 * and so is one the Portal was never told about, unless `strict`, where it is `unknown`. The Customer Portal
 * is strict (it answers from its own records); the validation-only reference Portal vouches by default for
 * every license it has not revoked, so a Hub works against it with no setup.
 */
export const statusOf = (state: LicenseState, strict: boolean): Status =>
  state === "revoked" ? "revoked" : state === "registered" || !strict ? "valid" : "unknown"

/** A validation ping as received; exactly the three fields the Hub sends, plus what the Portal observed. */
export interface Ping {
  readonly licenseId: string
  readonly installationId: string
  readonly version: string
  /** Epoch ms, from the Portal's Clock. */
  readonly receivedAt: number
  /** The peer's socket address, if known. */
  readonly clientAddress: string | null
  /** The keys of the JSON body, in the order sent: proof of what the Hub disclosed. */
  readonly bodyKeys: ReadonlyArray<string>
}

/** A recorded ping with the answer it got. */
export interface RecordedPing extends Ping {
  readonly status: Status
}

/** Who signs in: the vendor's staff, or a user of one customer. */
export type Role = "staff" | "customer"

/** A customer of the vendor. */
export interface Customer {
  readonly customerId: string
  readonly name: string
  readonly createdAt: number
  /** The trial this customer took, if any: one per customer. */
  readonly trialLicenseId: string | null
}

/** A person who signs in to the Portal. */
export interface Account {
  readonly accountId: string
  /** Lower-cased; unique across staff and customers. */
  readonly email: string
  readonly name: string
  readonly role: Role
  /** The customer a customer user belongs to; null for staff. */
  readonly customerId: string | null
  /** `scrypt$…` (see Passwords); null until the user has chosen one (an invited user). */
  readonly passwordHash: string | null
  /** The password was set by someone else (one-time or temporary): the user must choose their own first. */
  readonly mustChangePassword: boolean
  readonly createdAt: number
}

/** A secret, kept only as its SHA-256: a session, an API token of the vendor's CRM, or an invite link. */
export interface Credential {
  readonly tokenHash: string
  readonly kind: "session" | "api" | "invite"
  /** The account a session or invite belongs to; null for API tokens. */
  readonly accountId: string | null
  /** The API token's name; null otherwise. */
  readonly name: string | null
  readonly createdAt: number
  readonly expiresAt: number | null
}

/** Why a license file was signed. */
export type RevisionReason = "issued" | "renewed" | "bound"

/** One signed file of a license; a license's files are numbered from 1, the highest is the current one. */
export interface LicenseRevision {
  readonly licenseId: string
  readonly revision: number
  /** The payload's `issuedAt`, epoch ms: strictly later for every new revision. */
  readonly issuedAt: number
  /** The audit actor who caused it. */
  readonly issuedBy: string
  readonly reason: RevisionReason
  /** The signed `.lic` text, served unchanged on every download. */
  readonly text: string
}

/** A license the Portal issued, with its current file and revocation. */
export interface LicenseRecord {
  readonly licenseId: string
  readonly customerId: string
  readonly type: "production" | "trial"
  readonly createdAt: number
  /** When it was revoked; null while it is not. */
  readonly revokedAt: number | null
  readonly current: LicenseRevision
}

/** One line of the audit log. */
export interface AuditRecord {
  readonly at: number
  /** `staff:<email>`, `customer:<email>`, `token:<name>`, a client address, or `cli`. */
  readonly actor: string
  readonly action: string
  readonly outcome: "ok" | "denied" | "failed"
  /** What was acted on: a license, customer or account id. */
  readonly subject: string | null
  readonly detail: string | null
}

/**
 * The store could not do what was asked. `code` is stable: `DATABASE_UNAVAILABLE` (busy, unreachable, disk full or
 * read-only: retrying may help), `DATABASE_CORRUPT` (damaged, foreign or newer-schema data) or `DATABASE_FAILED`.
 */
export class PortalStoreError extends Data.TaggedError("PortalStoreError")<{
  readonly code: "DATABASE_UNAVAILABLE" | "DATABASE_CORRUPT" | "DATABASE_FAILED"
  readonly message: string
  readonly cause?: unknown
}> {}

/** Outcome of {@link PortalStore.Service.insertLicense}. */
export type InsertOutcome = "inserted" | "trial-taken" | "license-exists"

/** The Portal's persistence. */
export class PortalStore extends Context.Tag("@exekra/server/PortalStore")<PortalStore, PortalStore.Service>() {}

export declare namespace PortalStore {
  /** The store's interface; every method is atomic on its own. Engines: SQLite (`internal/sqliteStore.ts`), PostgreSQL (`internal/postgresStore.ts`). */
  export interface Service {
    /** Which engine holds the data. */
    readonly engine: "sqlite" | "postgres"

    // ---- validation (DESIGN §5) ----
    /** Decide the answer to `ping` (see {@link statusOf}) and record the ping with it, in one transaction. */
    readonly answer: (ping: Ping, options: { readonly strict: boolean }) => Effect.Effect<Status, PortalStoreError>
    /** Make a license known (for `strict`); a revoked one stays revoked. Returns the state before. */
    readonly register: (licenseId: string, now: number) => Effect.Effect<LicenseState, PortalStoreError>
    /** Revoke a license, known or not. Returns the state before. */
    readonly revoke: (licenseId: string, now: number) => Effect.Effect<LicenseState, PortalStoreError>
    /** Lift a revocation; the license stays known. Returns the state before. */
    readonly restore: (licenseId: string, now: number) => Effect.Effect<LicenseState, PortalStoreError>
    /** Recorded pings, newest first, optionally of one license only. */
    readonly pings: (query: { readonly licenseId?: string | undefined; readonly limit: number }) => Effect.Effect<ReadonlyArray<RecordedPing>, PortalStoreError>

    // ---- customers and accounts ----
    readonly createCustomer: (customer: Customer) => Effect.Effect<void, PortalStoreError>
    readonly getCustomer: (customerId: string) => Effect.Effect<Customer | undefined, PortalStoreError>
    /** Every customer, oldest first. */
    readonly listCustomers: Effect.Effect<ReadonlyArray<Customer>, PortalStoreError>
    /** Add an account; false (and nothing written) when its email is taken. */
    readonly createAccount: (account: Account) => Effect.Effect<boolean, PortalStoreError>
    readonly getAccount: (accountId: string) => Effect.Effect<Account | undefined, PortalStoreError>
    /** The account of a (lower-cased) email. */
    readonly findAccountByEmail: (email: string) => Effect.Effect<Account | undefined, PortalStoreError>
    /** Accounts of one customer, or of one role, oldest first. */
    readonly listAccounts: (filter: { readonly customerId?: string; readonly role?: Role }) => Effect.Effect<ReadonlyArray<Account>, PortalStoreError>
    /** Set an account's password hash; false when there is no such account. */
    readonly setPassword: (accountId: string, passwordHash: string, mustChangePassword: boolean) => Effect.Effect<boolean, PortalStoreError>

    // ---- credentials and sign-in attempts ----
    readonly putCredential: (credential: Credential) => Effect.Effect<void, PortalStoreError>
    readonly findCredential: (tokenHash: string) => Effect.Effect<Credential | undefined, PortalStoreError>
    /** Find and delete in one transaction: a one-time credential (an invite) is used at most once. */
    readonly takeCredential: (tokenHash: string) => Effect.Effect<Credential | undefined, PortalStoreError>
    readonly deleteCredential: (tokenHash: string) => Effect.Effect<boolean, PortalStoreError>
    /** Delete the credentials of one kind of an account (its sessions at a password change, its older invites). */
    readonly deleteCredentialsOf: (accountId: string, kind: Credential["kind"]) => Effect.Effect<number, PortalStoreError>
    /** Delete every credential that expired at or before `now`. */
    readonly deleteExpiredCredentials: (now: number) => Effect.Effect<number, PortalStoreError>
    readonly listApiTokens: Effect.Effect<ReadonlyArray<Credential>, PortalStoreError>
    /** Count an attempt under `key` in a window of `windowMs` starting at the first attempt; the count and the window's start. */
    readonly countAttempt: (key: string, now: number, windowMs: number) => Effect.Effect<{ readonly attempts: number; readonly start: number }, PortalStoreError>
    readonly clearAttempts: (key: string) => Effect.Effect<void, PortalStoreError>

    // ---- licenses ----
    /**
     * Record a new license with its first file and register it for validation, in one transaction. With `trial`, the
     * customer's one trial is claimed too: `trial-taken` (and nothing written) when it was claimed before.
     */
    readonly insertLicense: (
      license: Omit<LicenseRecord, "revokedAt">,
      options: { readonly trial: boolean }
    ) => Effect.Effect<InsertOutcome, PortalStoreError>
    /** Add a file to a license, if its current revision is still `revision.revision - 1`; false when another change came first. */
    readonly addRevision: (revision: LicenseRevision) => Effect.Effect<boolean, PortalStoreError>
    readonly getLicense: (licenseId: string) => Effect.Effect<LicenseRecord | undefined, PortalStoreError>
    /** Licenses, newest first, of one customer or of all. */
    readonly listLicenses: (filter: { readonly customerId?: string }) => Effect.Effect<ReadonlyArray<LicenseRecord>, PortalStoreError>
    /** Every file of a license, newest first. */
    readonly revisions: (licenseId: string) => Effect.Effect<ReadonlyArray<LicenseRevision>, PortalStoreError>

    // ---- audit ----
    readonly appendAudit: (record: AuditRecord) => Effect.Effect<void, PortalStoreError>
    /** Newest first. */
    readonly listAudit: (query: { readonly limit: number }) => Effect.Effect<ReadonlyArray<AuditRecord>, PortalStoreError>
  }
}

/** Open (creating and migrating if needed) the Portal's SQLite database; it closes with the scope. The directory must exist. */
export const makeSqlite = (options: { readonly filename: string; readonly busyTimeoutMs?: number }): Effect.Effect<PortalStore.Service, PortalStoreError, Scope.Scope> =>
  sqliteStore.make(options)

/** The store on a SQLite file; the directory must exist. */
export const layerSqlite = (options: { readonly filename: string; readonly busyTimeoutMs?: number }): Layer.Layer<PortalStore, PortalStoreError> =>
  Layer.scoped(PortalStore, makeSqlite(options))

/** How to reach the Portal's PostgreSQL database (several Portal processes may share it). */
export interface PostgresOptions extends Postgres.ConnectionOptions {
  /** `application_name` of the connections, as `pg_stat_activity` lists them; default `exekra-portal`. */
  readonly applicationName?: string | undefined
}

/**
 * Connect to (and migrate, under a migration lock) the Portal's PostgreSQL database; the pool closes with the scope.
 * Its tables are named `exekra_portal_*`, so it may share a database with a Hub's store.
 */
export const makePostgres = (options: PostgresOptions): Effect.Effect<PortalStore.Service, PortalStoreError, Scope.Scope> => postgresStore.make(options)

/** The store on PostgreSQL. */
export const layerPostgres = (options: PostgresOptions): Layer.Layer<PortalStore, PortalStoreError> => Layer.scoped(PortalStore, makePostgres(options))

/** Where the store lives, as `portal --store` names it: a `postgres://` URL, else a SQLite file. */
export type Location = LicenseStore.Location

/** Read a `--store` value: `postgres://` or `postgresql://` URLs select PostgreSQL; `sqlite:PATH` or a path select SQLite (as the Hub's `serve --store`). */
export const parseLocation: (value: string) => Location = LicenseStore.parseLocation

/** The store at a location, and how messages name it (the file, or `postgres://host:port/database` without the user or password). */
export const makeAt = (location: Location): Effect.Effect<PortalStore.Service & { readonly location: string }, PortalStoreError, Scope.Scope> =>
  location.engine === "postgres"
    ? Effect.map(makePostgres({ url: location.url }), (store) => ({ ...store, location: displayUrl(location.url) }))
    : Effect.map(makeSqlite({ filename: location.filename }), (store) => ({ ...store, location: location.filename }))

/** `postgres://host:port/database` of a store URL: never its user or password (not even of a URL that does not parse). */
const displayUrl = (url: string): string => {
  try {
    return Postgres.describeUrl(new URL(url))
  } catch {
    return "the configured PostgreSQL database"
  }
}

/** {@link makeSqlite}, under its earlier name. */
export const make = makeSqlite
/** {@link layerSqlite}, under its earlier name. */
export const layer = layerSqlite
