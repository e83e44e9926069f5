/**
 * Postgres: the one PostgreSQL layer of the codebase, on `@effect/sql-pg`: a pool whose connections carry a statement
 * timeout, statements that never join a caller's transaction and run again on a fresh connection when theirs died,
 * failures that name the database (never its user or password) and say what to do, and versioned migrations that
 * run once even when several processes start together.
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import { Data, type Effect, type Either, type Scope } from "effect"
import * as internal from "./internal/postgres.js"

/** The codes of {@link PostgresError}: the same as the Sqlite module's, so a store maps both alike. */
export type PostgresErrorCode = "DATABASE_UNAVAILABLE" | "DATABASE_CORRUPT" | "DATABASE_FAILED"

/**
 * Why a database operation failed. `code` is stable: `DATABASE_UNAVAILABLE` (server unreachable or restarting, a
 * statement past its timeout, no free connection, a lock conflict: retrying may help), `DATABASE_CORRUPT` (a schema
 * newer than this release) or `DATABASE_FAILED` (anything else); `message` names the database as
 * `postgres://host:port/database`, the operation and what an admin can do.
 */
export class PostgresError extends Data.TaggedError("PostgresError")<{
  readonly code: PostgresErrorCode
  readonly message: string
  readonly cause?: unknown
}> {}

/** A result row as the driver returns it: `bigint` columns arrive as strings (read them with {@link integer} or {@link num}). */
export type Row = Readonly<Record<string, unknown>>

/** Where the database is and how the pool behaves. */
export interface ConnectionOptions {
  /** `postgres://user[:password]@host[:port]/database` (or `postgresql://`). */
  readonly url: string
  /** Connections in the pool (default 10). */
  readonly poolSize?: number | undefined
  /** A statement running longer is cancelled and fails with `DATABASE_UNAVAILABLE` (default 10,000 ms). */
  readonly statementTimeoutMs?: number | undefined
  /** How long to wait for a connection before failing with `DATABASE_UNAVAILABLE` (default 5,000 ms). */
  readonly connectTimeoutMs?: number | undefined
}

/** How to open a database. */
export interface Options extends ConnectionOptions {
  /** `application_name` of every connection (`pg_stat_activity`); the migrations table records it as `applied_by`. */
  readonly applicationName: string
  /**
   * Schema steps; step `i` takes the schema from version `i` to `i + 1`. Append only: a shipped step never changes,
   * because databases in the field have already run it. Each step runs as one transaction.
   */
  readonly migrations: ReadonlyArray<string>
  /** The table that records each applied step (a lower-case SQL identifier, e.g. `exekra_migrations`). */
  readonly migrationsTable: string
  /** Key of the `pg_advisory_xact_lock` every step takes: one per schema, so processes starting together upgrade in turn. */
  readonly migrationLock: number
  /** What the database holds, as messages name it: `"license store"` gives "The license store at … could not …". */
  readonly describe: string
  /** The program that owns the schema, as advice names it: `"Hub"`, `"Portal"`. */
  readonly owner: string
  /** What the owner does while the server is unreachable, ending that advice: `"the Hub keeps answering checks and retries"`. */
  readonly whileUnreachable: string
}

/**
 * One migrated pool. Every statement runs on a connection of this pool, never on the connection of a transaction its
 * caller has open on another client (`@effect/sql` finds "the current transaction" by a tag all clients share), and
 * is atomic on its own: a write that must read first is one statement (a CTE or a server-side function).
 *
 * @example
 * import { Effect } from "effect"
 * import { Postgres } from "@exekra/core"
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* Postgres.open({
 *     url: "postgres://notes@127.0.0.1:5432/notes",
 *     applicationName: "notes",
 *     migrations: ["CREATE TABLE notes (text text NOT NULL)"],
 *     migrationsTable: "notes_migrations",
 *     migrationLock: 0x4e4f5445,
 *     describe: "notes database",
 *     owner: "notes service",
 *     whileUnreachable: "retry later"
 *   })
 *   yield* db.exec("add a note", "INSERT INTO notes (text) VALUES ($1::text)", ["hello"], false)
 *   return yield* db.query("list the notes", "SELECT text FROM notes")
 * }).pipe(Effect.scoped)
 */
export interface Database {
  /** `postgres://host:port/database`: how messages name the database. Never the user or password. */
  readonly where: string
  /** The pool, for what statements cannot do (`listen`). Run statements through {@link Database.query}, not on it. */
  readonly client: PgClient.PgClient
  /** The statement timeout every connection carries, ms. */
  readonly statementTimeoutMs: number
  /** How long a statement waits for a connection, ms. */
  readonly connectTimeoutMs: number
  /**
   * One statement (parameters `$1`, `$2`, … with explicit casts); its rows, or a {@link PostgresError} saying it could
   * not `what`. `repeatable` (default true): running it twice has the effect of running it once (reads, upserts,
   * deletes whose answer does not matter), so it runs again when its connection turns out to be dead; pass false
   * for writes that would answer differently or count twice the second time.
   */
  readonly query: (what: string, text: string, params?: ReadonlyArray<unknown>, repeatable?: boolean) => Effect.Effect<ReadonlyArray<Row>, PostgresError>
  /** {@link Database.query}'s first row, if any. */
  readonly first: (what: string, text: string, params?: ReadonlyArray<unknown>, repeatable?: boolean) => Effect.Effect<Row | undefined, PostgresError>
  /** {@link Database.query}, for its effect only. */
  readonly exec: (what: string, text: string, params?: ReadonlyArray<unknown>, repeatable?: boolean) => Effect.Effect<void, PostgresError>
  /**
   * {@link Database.query}'s rows, each read by `decode`; a row it cannot read fails the statement with
   * `DATABASE_CORRUPT`, naming the column.
   */
  readonly rows: <A>(what: string, text: string, params: ReadonlyArray<unknown>, decode: Decoder<A>, repeatable?: boolean) => Effect.Effect<ReadonlyArray<A>, PostgresError>
  /** {@link Database.rows}' first row, if any. */
  readonly row: <A>(what: string, text: string, params: ReadonlyArray<unknown>, decode: Decoder<A>, repeatable?: boolean) => Effect.Effect<A | undefined, PostgresError>
}

/**
 * Connect and bring the schema to the newest of `migrations` under the migration lock; the pool closes with the
 * scope. Refuses options out of range and URLs that are not `postgres://` without connecting (`DATABASE_FAILED`,
 * never repeating the URL's password), and a schema newer than `migrations` with `DATABASE_CORRUPT`.
 */
export const open: (options: Options) => Effect.Effect<Database, PostgresError, Scope.Scope> = internal.open

/** `postgres://host:port/database` of a URL, as messages name it: never the user or password. */
export const describeUrl: (url: URL) => string = internal.describeUrl

/** A `bigint` (sent as a string: it may exceed 2^53) or `integer` column as a number; epoch ms and counts fit. */
export const num = (value: unknown): number => (typeof value === "number" ? value : Number(value))
/** {@link num}, keeping SQL NULL as null. */
export const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : num(value))
/** A text column. */
export const str = (value: unknown): string => String(value)
/** {@link str}, keeping SQL NULL as null. */
export const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : String(value))
// ---- reading rows --------------------------------------------------------------------------------------------------

/** How a {@link decoder} reads one column: what it expects, as messages say it, and the value it makes of the driver's (undefined: the column holds something else). */
export interface Column<A> {
  readonly expected: string
  readonly read: (value: unknown) => A | undefined
}

/** A `text` column. */
export const text: Column<string> = { expected: "text", read: (value) => (typeof value === "string" ? value : undefined) }

/**
 * A `text` column whose values are `A`'s. The values are not checked: the writer's type stands for them, and a node of
 * an older release, sharing the database with a newer one, must still read what the newer one wrote.
 */
export const textAs = <A extends string>(): Column<A> => text as Column<A>

// A bigint arrives as a string of digits (it may exceed 2^53); every one the stores keep is epoch ms or a count, well inside.
const DIGITS = /^-?\d+$/

/** An `integer` or `bigint` column, as a number. */
export const integer: Column<number> = {
  expected: "an integer",
  read: (value) => (typeof value === "number" && Number.isInteger(value) ? value : typeof value === "string" && DIGITS.test(value) ? Number(value) : undefined)
}

/** A `boolean` column. */
export const boolean: Column<boolean> = { expected: "a boolean", read: (value) => (typeof value === "boolean" ? value : undefined) }

/** A `text[]` column. */
export const textArray: Column<ReadonlyArray<string>> = {
  expected: "a list of text",
  read: (value) => (Array.isArray(value) && value.every((item) => typeof item === "string") ? (value as ReadonlyArray<string>) : undefined)
}

/** `column`, or SQL NULL as null. */
export const nullable = <A>(column: Column<A>): Column<A | null> => ({
  expected: `${column.expected} or NULL`,
  read: (value) => (value === null ? null : column.read(value))
})

/** A row whose column is missing or holds what its decoder does not read; {@link Database.rows} reports it as `DATABASE_CORRUPT`. */
export class ColumnError extends Data.TaggedError("ColumnError")<{
  readonly column: string
  readonly expected: string
  /** What the column holds, by kind only ("missing", "NULL", "text", "a number", …): never the value, which may be a secret's hash. */
  readonly found: string
}> {}

/** Reads one row. */
export type Decoder<A> = (row: Row) => Either.Either<A, ColumnError>

/** The record a {@link decoder} of `fields` makes. */
export type Decoded<Fields extends Readonly<Record<string, Column<unknown>>>> = { readonly [K in keyof Fields]: Fields[K] extends Column<infer A> ? A : never }

/**
 * A decoder of rows into records: each field reads the column of its name in snake_case (`createdAt` reads
 * `created_at`), and the first column that is missing or of another type fails the row.
 *
 * @example
 * import { Postgres } from "@exekra/core"
 *
 * const toNote = Postgres.decoder({ noteId: Postgres.text, createdAt: Postgres.integer, author: Postgres.nullable(Postgres.text) })
 * // toNote({ note_id: "n1", created_at: "1767225600000", author: null }): Either.right({ noteId: "n1", createdAt: 1767225600000, author: null })
 */
export const decoder: <Fields extends Readonly<Record<string, Column<unknown>>>>(fields: Fields) => Decoder<Decoded<Fields>> = internal.decoder

/** A `LIMIT` parameter: never negative (which PostgreSQL refuses), 0 for NaN, none (null) for +Infinity. */
export const limitOf = (n: number): number | null => (Number.isNaN(n) ? 0 : n === Infinity ? null : Math.max(0, Math.floor(n)))
