// A throwaway PostgreSQL database per test, on the server EXEKRA_TEST_PG_URL names: PostgreSQL tests never skip.
import { randomBytes } from "node:crypto"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Duration, Effect, Redacted, type Scope } from "effect"

/** The server the tests use, as a URL of a database that exists on it. */
export const serverUrl: string = process.env.EXEKRA_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** The URL of another database on the same server (and with the same user). */
export const databaseUrl = (name: string): string => {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.href
}

/** `postgres://host:port/database`, without the user or password, as the store's messages name a database. */
export const displayUrl = (url: string): string => {
  const u = new URL(url)
  return `postgres://${u.hostname}:${u.port || "5432"}/${u.pathname.slice(1)}`
}

/** A PostgreSQL client of `url` for the test's own statements; it closes with the scope. Dies, clearly, if no server answers. */
export const client = (url: string): Effect.Effect<PgClient.PgClient, never, Scope.Scope> =>
  PgClient.make({ url: Redacted.make(url), maxConnections: 2, connectTimeout: Duration.seconds(5), applicationName: "exekra-test" }).pipe(
    Effect.provide(Reactivity.layer),
    Effect.orDieWith(
      (error) =>
        new Error(
          `The PostgreSQL tests need a server, and none answered at ${displayUrl(url)} (${String((error.cause as Error | undefined)?.message ?? error.message)}). ` +
            "Start one (`pg_ctlcluster --skip-systemctl-redirect 15 main start`, or run `.ci/run`, which installs and starts one), " +
            "or point EXEKRA_TEST_PG_URL at a server where the user may create databases."
        )
    )
  )

/** Run one statement on the database at `url` with a short-lived connection; its rows. */
export const sqlAt = (url: string, text: string, params: ReadonlyArray<unknown> = []) =>
  Effect.scoped(Effect.flatMap(client(url), (sql) => Effect.orDie(sql.unsafe<Record<string, unknown>>(text, params))))

/** A fresh, empty database. */
export interface TestDatabase {
  readonly name: string
  readonly url: string
  /** Drop it, ending whatever connections are still open (`WITH (FORCE)`); the scope does this by itself. */
  readonly drop: Effect.Effect<void>
}

/** `CREATE DATABASE exekra_t_<random>` on the test server; dropped when the scope closes. */
export const freshDatabase = (): Effect.Effect<TestDatabase, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const name = `exekra_t_${randomBytes(6).toString("hex")}`
      yield* sqlAt(serverUrl, `CREATE DATABASE ${name}`)
      const drop = Effect.catchAllCause(sqlAt(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`), (cause) =>
        Effect.logWarning(`could not drop the test database ${name}`, cause)
      )
      return { name, url: databaseUrl(name), drop }
    }),
    (db) => db.drop
  )
