/** Implementation of the Postgres module: the pool, statements with their retry rule, the error diagnosis, the migration runner and row decoders. */
import * as Reactivity from "@effect/experimental/Reactivity"
import { TransactionConnection } from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Context, Duration, Effect, Either, Redacted, type Scope } from "effect"
import {
  type Column,
  ColumnError,
  type Database,
  type Decoded,
  type Decoder,
  num,
  type Options,
  PostgresError,
  type PostgresErrorCode,
  type Row
} from "../Postgres.js"

/** SQLSTATE the upgrade guard raises when another process applied the step first. */
const STEP_TAKEN = "XK001"

// ---- failures ------------------------------------------------------------------------------------------------------

interface Diagnosis {
  readonly code: PostgresErrorCode
  readonly detail: string
  readonly advice: string
}

interface Settings {
  readonly statementTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly whileUnreachable: string
}

// Node's socket errors that mean the server could not be reached or went away.
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN"
])

const messageOf = (error: unknown): string => {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(messageOf).join("; ")
  if (error instanceof Error) return error.message || (typeof (error as { code?: unknown }).code === "string" ? String((error as { code?: unknown }).code) : error.name)
  return String(error)
}
const codeOf = (error: unknown): string | undefined => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  if (typeof code === "string") return code
  return error instanceof AggregateError ? codeOf(error.errors[0]) : undefined
}

/** What went wrong, whether it is passing (DATABASE_UNAVAILABLE) and what an admin can do. */
const diagnose = (cause: unknown, settings: Settings): Diagnosis => {
  const code = codeOf(cause)
  const message = messageOf(cause)
  const reachable = `Check that PostgreSQL is running and that this node can reach it; ${settings.whileUnreachable}.`
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    const detail = `SQLSTATE ${code}: ${message}`
    const unavailable = (advice: string): Diagnosis => ({ code: "DATABASE_UNAVAILABLE", detail, advice })
    const failed = (advice: string): Diagnosis => ({ code: "DATABASE_FAILED", detail, advice })
    if (code.startsWith("08")) return unavailable(reachable)
    if (code === "57P01" || code === "57P02" || code === "57P03") {
      return unavailable("The server closed the connection or is restarting (a restart, a shutdown or an administrator's command); retry once it is back.")
    }
    if (code === "57014") {
      return unavailable(`The statement ran longer than the statement timeout of ${settings.statementTimeoutMs} ms (or was cancelled); retry, or raise statementTimeoutMs.`)
    }
    if (code === "55P03" || code === "40001" || code === "40P01") return unavailable("Another transaction held the data it needed; retry.")
    if (code.startsWith("53")) return unavailable("The server is short of connections, memory or disk; free some, then retry.")
    if (code.startsWith("28")) return failed("Check the user name and password in the store URL and the server's pg_hba.conf.")
    if (code === "3D000") return failed("Create the database, or correct the database name in the store URL.")
    if (code === "42501") return failed("Grant the store's user the privileges it needs: CREATE on the database's default schema, and on its tables.")
    return failed("This is unexpected: keep the database as it is and report the error.")
  }
  // Before the broken connections below: pg reports a connect timeout as "Connection terminated due to connection timeout".
  if (/timeout exceeded when trying to connect|timed out|connection timeout/i.test(message)) {
    return {
      code: "DATABASE_UNAVAILABLE",
      detail: message,
      advice: `No connection was free or could be opened within ${settings.connectTimeoutMs} ms; retry, or raise poolSize or connectTimeoutMs.`
    }
  }
  if ((code !== undefined && UNREACHABLE.has(code)) || /connection terminated|connection ended|not queryable|ended unexpectedly/i.test(message)) {
    return { code: "DATABASE_UNAVAILABLE", detail: message, advice: reachable }
  }
  return { code: "DATABASE_FAILED", detail: message, advice: "This is unexpected: keep the database as it is and report the error." }
}

/** `postgres://host:port/database` of a store URL: what messages name. Never the user or password. */
export const describeUrl = (url: URL): string => {
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || decodeURIComponent(url.username) || "postgres"
  return `postgres://${url.hostname || "localhost"}:${url.port || "5432"}/${database}`
}

const positive = (name: string, value: number | undefined, fallback: number): Either.Either<number, PostgresError> =>
  value === undefined
    ? Either.right(fallback)
    : Number.isSafeInteger(value) && value > 0
      ? Either.right(value)
      : Either.left(new PostgresError({ code: "DATABASE_FAILED", message: `${name} must be a positive whole number, got ${value}.` }))

// ---- the pool ------------------------------------------------------------------------------------------------------

export const open = (options: Options): Effect.Effect<Database, PostgresError, Scope.Scope> =>
  Effect.gen(function* () {
    const poolSize = yield* positive("poolSize", options.poolSize, 10)
    const statementTimeoutMs = yield* positive("statementTimeoutMs", options.statementTimeoutMs, 10_000)
    const connectTimeoutMs = yield* positive("connectTimeoutMs", options.connectTimeoutMs, 5_000)
    if (!/^[a-z_][a-z0-9_]*$/.test(options.migrationsTable)) {
      return yield* Effect.dieMessage(`migrationsTable must be a lower-case SQL identifier, got ${options.migrationsTable}`)
    }
    const settings: Settings = { statementTimeoutMs, connectTimeoutMs, whileUnreachable: options.whileUnreachable }
    const url = yield* Effect.try({
      try: () => new URL(options.url),
      // The text may hold a password: never repeat it.
      catch: () =>
        new PostgresError({
          code: "DATABASE_FAILED",
          message: `The ${options.describe} URL is not a valid URL; write it as postgres://user[:password]@host[:port]/database.`
        })
    })
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
      return yield* new PostgresError({
        code: "DATABASE_FAILED",
        message: `The ${options.describe} URL must start with postgres:// or postgresql://, not ${url.protocol}//.`
      })
    }
    const where = describeUrl(url)

    /** A PostgresError naming the database, what could not be done, the server's words and what an admin can do. */
    const failure =
      (what: string) =>
      (error: SqlError): PostgresError => {
        const d = diagnose(error.cause ?? error, settings)
        return new PostgresError({ code: d.code, message: `The ${options.describe} at ${where} could not ${what} (${d.detail}). ${d.advice}`, cause: error.cause ?? error })
      }

    // Every connection of the pool (and a listener's) starts with the statement timeout: a startup parameter, so it
    // costs no round trip and survives reconnects.
    const connection = new URL(url.href)
    connection.searchParams.set("statement_timeout", String(statementTimeoutMs))
    const client = yield* PgClient.make({
      url: Redacted.make(connection.href),
      maxConnections: poolSize,
      connectTimeout: Duration.millis(connectTimeoutMs),
      applicationName: options.applicationName
    }).pipe(Effect.provide(Reactivity.layer), Effect.mapError(failure("connect to the database")))

    const query = (what: string, text: string, params: ReadonlyArray<unknown> = [], repeatable = true): Effect.Effect<ReadonlyArray<Row>, PostgresError> =>
      statement(client, text, params, repeatable).pipe(Effect.mapError(failure(what)))

    yield* migrate(client, options, where, failure)

    /** A row the decoder could not read: the schema is this release's (the migrations saw to it), so the data was altered. */
    const unreadable = (what: string, e: ColumnError): PostgresError =>
      new PostgresError({
        code: "DATABASE_CORRUPT",
        message:
          `The ${options.describe} at ${where} could not ${what} (column ${e.column} ${e.found === "missing" ? "is missing" : `holds ${e.found}`}, not ${e.expected}). ` +
          `Its data was changed outside the ${options.owner}, or is damaged: restore it from a backup.`,
        cause: e
      })
    const rows = <A>(what: string, text: string, params: ReadonlyArray<unknown>, decode: Decoder<A>, repeatable = true) =>
      Effect.flatMap(query(what, text, params, repeatable), (found) => {
        const decoded: Array<A> = []
        for (const row of found) {
          const result = decode(row)
          if (Either.isLeft(result)) return Effect.fail(unreadable(what, result.left))
          decoded.push(result.right)
        }
        return Effect.succeed(decoded)
      })

    const database: Database = {
      where,
      client,
      statementTimeoutMs,
      connectTimeoutMs,
      query,
      first: (what, text, params, repeatable) => Effect.map(query(what, text, params, repeatable), (rows) => rows[0]),
      exec: (what, text, params, repeatable) => Effect.asVoid(query(what, text, params, repeatable)),
      rows,
      row: (what, text, params, decode, repeatable) => Effect.map(rows(what, text, params, decode, repeatable), (decoded) => decoded[0])
    }
    return database
  })

// ---- schema upgrades -----------------------------------------------------------------------------------------------

/**
 * Bring the schema to the newest version. Each step is one multi-statement string: PostgreSQL runs it as one
 * transaction that first takes the migration lock and checks the version it starts from, so of several processes
 * starting at once exactly one applies each step and the others see it applied and move on.
 */
const migrate = (
  sql: PgClient.PgClient,
  options: Options,
  where: string,
  failure: (what: string) => (error: SqlError) => PostgresError
): Effect.Effect<void, PostgresError> => {
  const what = "upgrade the database schema"
  const { migrations, migrationsTable: table, migrationLock: lock } = options
  // With no parameters the driver uses the simple query protocol, which runs a multi-statement string as one transaction.
  const script = (text: string) => Effect.map(statement(sql, text, [], true), lastRows)
  const version = Effect.mapError(
    script(
      `SELECT pg_advisory_xact_lock(${lock});
       DO $exekra_bootstrap$ BEGIN
         -- Not CREATE TABLE IF NOT EXISTS: that needs CREATE on the schema even when the table is there, and a
         -- process may run as a user that only reads and writes a schema an administrator upgraded.
         IF to_regclass('${table}') IS NULL THEN
           CREATE TABLE ${table} (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now(),
             applied_by text
           );
         END IF;
       END $exekra_bootstrap$;
       SELECT coalesce(max(version), 0) AS version FROM ${table};`
    ),
    failure(what)
  ).pipe(Effect.map((rows) => num(rows[0]?.version ?? 0)))
  const step = (from: number) =>
    script(
      `SELECT pg_advisory_xact_lock(${lock});
       DO $exekra_guard$ BEGIN
         IF (SELECT coalesce(max(version), 0) FROM ${table}) <> ${from} THEN
           RAISE EXCEPTION 'another node upgraded the schema first' USING ERRCODE = '${STEP_TAKEN}';
         END IF;
       END $exekra_guard$;
       ${migrations[from]!.trim().replace(/;?$/, ";")}
       INSERT INTO ${table} (version, applied_by) VALUES (${from + 1}, current_setting('application_name'));`
    ).pipe(
      Effect.as(true),
      Effect.catchIf(
        (e) => codeOf(e.cause) === STEP_TAKEN,
        () => Effect.succeed(false)
      ),
      Effect.mapError(failure(what))
    )
  return Effect.gen(function* () {
    let current = yield* version
    while (current !== migrations.length) {
      if (current > migrations.length) {
        return yield* Effect.fail(
          new PostgresError({
            code: "DATABASE_CORRUPT",
            message:
              `The ${options.describe} at ${where} has schema version ${current}, ` +
              `but this ${options.owner} knows versions up to ${migrations.length}: it was written by a newer Exekra release. ` +
              `Upgrade this ${options.owner}, or restore a backup taken before the upgrade.`
          })
        )
      }
      current = (yield* step(current)) ? current + 1 : yield* version
    }
  })
}

// ---- statements ----------------------------------------------------------------------------------------------------

/** Why a statement failed, as the driver says: a PostgreSQL SQLSTATE or a Node socket error code. */
const causeCode = (error: SqlError): string | undefined => codeOf(error.cause)

/** Let the driver see a dead connection's end (and drop it from the pool) before the caller's next statement. */
const settle = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Run one statement on a pooled connection of this pool's own. After a server restart or `pg_terminate_backend`
 * the pool may still hold dead connections, so a statement that finds its connection dead runs again, up to twice,
 * on another one: any `repeatable` statement, and every statement the server refused with 57P01 (it ended the
 * connection before the statement committed). Other writes are not run again: they may have committed before the
 * connection broke.
 */
const statement = (
  sql: PgClient.PgClient,
  text: string,
  params: ReadonlyArray<unknown>,
  repeatable: boolean
): Effect.Effect<ReadonlyArray<Row>, SqlError> => {
  const once = sql.unsafe<Row>(text, params).pipe(
    Effect.tapError((e) => (connectionLost(e) ? settle : Effect.void)),
    // Never a transaction of a caller's own SQL client: @effect/sql finds the transaction by a tag shared by every client.
    Effect.mapInputContext((context: Context.Context<never>) => Context.omit(TransactionConnection)(context))
  )
  const again = (left: number): Effect.Effect<ReadonlyArray<Row>, SqlError> =>
    Effect.catchIf(
      once,
      (e) => left > 0 && (causeCode(e) === "57P01" || (repeatable && connectionLost(e))),
      () => again(left - 1)
    )
  return again(2)
}

/** The statement's connection broke or could not be opened (not a timeout: those already waited long enough). */
const connectionLost = (e: SqlError): boolean => {
  const code = causeCode(e)
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith("08") || code === "57P01" || code === "57P02"
  const text = `${code ?? ""} ${messageOf(e.cause)}`
  return /ECONN|EPIPE|terminated|ended|not queryable/i.test(text) && !/time(d)? ?out/i.test(text)
}

/** The rows of the last statement of a (possibly multi-statement) query. */
const lastRows = (result: unknown): ReadonlyArray<Row> => {
  if (!Array.isArray(result)) return []
  return result.length > 0 && Array.isArray(result[0]) ? ((result[result.length - 1] as ReadonlyArray<Row>) ?? []) : (result as ReadonlyArray<Row>)
}

// ---- row decoders --------------------------------------------------------------------------------------------------

/** What a column holds, by kind only: messages never repeat a value, which may be a secret's hash. */
const kindOf = (value: unknown): string =>
  value === undefined
    ? "missing"
    : value === null
      ? "NULL"
      : typeof value === "string"
        ? "text"
        : typeof value === "number" || typeof value === "bigint"
          ? "a number"
          : typeof value === "boolean"
            ? "a boolean"
            : Array.isArray(value)
              ? "a list"
              : "an object"

const snakeCase = (field: string): string => field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)

export const decoder = <Fields extends Readonly<Record<string, Column<unknown>>>>(fields: Fields): Decoder<Decoded<Fields>> => {
  // Column names are worked out once, not per row.
  const reads = Object.entries(fields).map(([field, column]) => ({ field, name: snakeCase(field), column }))
  return (row) => {
    const decoded: Record<string, unknown> = {}
    for (const { field, name, column } of reads) {
      const value = row[name]
      const read = column.read(value)
      if (read === undefined) return Either.left(new ColumnError({ column: name, expected: column.expected, found: kindOf(value) }))
      decoded[field] = read
    }
    return Either.right(decoded as Decoded<Fields>)
  }
}
