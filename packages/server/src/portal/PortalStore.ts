/** PortalStore: what the reference Portal keeps (revocations, registrations, every validation ping) in its own SQLite file. */
import { Sqlite } from "@exekra/core"
import { Context, Effect, Layer, Schema, type Scope } from "effect"

/** The file name of the Portal's database inside its data directory. */
export const FILENAME = "portal.sqlite"

/** The Portal's answer to a ping (DESIGN §5). */
export type Status = "valid" | "revoked" | "unknown"

/** What the Portal was told about a license: nothing, that it exists, or that it is revoked. */
export type LicenseState = "unregistered" | "registered" | "revoked"

/**
 * The Portal's one decision. A revoked license is `revoked`. Otherwise a registered license is `valid`,
 * and so is one the Portal was never told about, unless `strict`, where it is `unknown`: by default the
 * reference Portal vouches for every license it has not revoked, so a Hub works against it with no setup.
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

/** The Portal's persistence. */
export class PortalStore extends Context.Tag("@exekra/server/PortalStore")<PortalStore, PortalStore.Service>() {}

export declare namespace PortalStore {
  /** The store's interface; every method is atomic on its own. */
  export interface Service {
    /** Decide the answer to `ping` (see {@link statusOf}) and record the ping with it, in one transaction. */
    readonly answer: (ping: Ping, options: { readonly strict: boolean }) => Effect.Effect<Status, Sqlite.SqliteError>
    /** Make a license known (for `strict`); a revoked one stays revoked. Returns the state before. */
    readonly register: (licenseId: string, now: number) => Effect.Effect<LicenseState, Sqlite.SqliteError>
    /** Revoke a license, known or not. Returns the state before. */
    readonly revoke: (licenseId: string, now: number) => Effect.Effect<LicenseState, Sqlite.SqliteError>
    /** Lift a revocation; the license stays known. Returns the state before. */
    readonly restore: (licenseId: string, now: number) => Effect.Effect<LicenseState, Sqlite.SqliteError>
    /** Recorded pings, newest first, optionally of one license only. */
    readonly pings: (query: { readonly licenseId?: string | undefined; readonly limit: number }) => Effect.Effect<ReadonlyArray<RecordedPing>, Sqlite.SqliteError>
  }
}

/** Schema steps for {@link Sqlite.open}: append only. */
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
  readonly status: Status
}
const PING =
  "license_id AS licenseId, installation_id AS installationId, version, received_at AS receivedAt, " +
  "client_address AS clientAddress, body_keys AS bodyKeys, status"

/** Open (creating and migrating if needed) the Portal's database; it closes with the scope. */
export const make = (options: { readonly filename: string; readonly busyTimeoutMs?: number }): Effect.Effect<PortalStore.Service, Sqlite.SqliteError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* Sqlite.open({ ...options, migrations, describe: "Portal database", owner: "Portal" })
    // body_keys is only ever written by `answer`; anything else there means the file was altered.
    const decodeKeys = (json: string) =>
      Effect.mapError(
        decodeKeyList(json),
        () =>
          new Sqlite.SqliteError({
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
      db.atomic(what, Effect.zipLeft(stateOf(licenseId), db.run(sql, params)))

    return PortalStore.of({
      answer: (ping, { strict }) =>
        db.atomic(
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
        transition("register a license", licenseId, "INSERT INTO licenses (license_id, revoked, updated_at) VALUES (?, 0, ?) ON CONFLICT DO NOTHING", [
          licenseId,
          now
        ]),
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
        db
          .locked(
            "list validation pings",
            // A negative LIMIT means "no limit" to SQLite, so clamp.
            licenseId === undefined
              ? db.all<PingRow>(`SELECT ${PING} FROM pings ORDER BY seq DESC LIMIT ?`, [Math.max(0, limit)])
              : db.all<PingRow>(`SELECT ${PING} FROM pings WHERE license_id = ? ORDER BY seq DESC LIMIT ?`, [licenseId, Math.max(0, limit)])
          )
          .pipe(
            Effect.flatMap(
              Effect.forEach((row) =>
                Effect.map(
                  decodeKeys(row.bodyKeys),
                  (bodyKeys): RecordedPing => ({ ...row, bodyKeys })
                )
              )
            )
          )
    })
  })

/** The store on a database file; the directory must exist. */
export const layer = (options: { readonly filename: string; readonly busyTimeoutMs?: number }): Layer.Layer<PortalStore, Sqlite.SqliteError> =>
  Layer.scoped(PortalStore, make(options))
