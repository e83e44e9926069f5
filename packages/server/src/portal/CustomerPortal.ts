/** The Customer Portal as one unit: its store, accounts, licensing (signing with the vendor's key), API, pages and HTTP server, started from a few options. */
import { createServer } from "node:http"
import { readFileSync, statSync } from "node:fs"
import { type FileSystem, HttpApiBuilder, HttpServer, type Path } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Keys } from "@exekra/core"
import { Effect, Either, Layer, Schema, type Scope } from "effect"
import * as HubHttpOptions from "../http/HubHttpOptions.js"
import * as requestProblems from "../http/internal/requestProblems.js"
import * as handlers from "./internal/handlers.js"
import * as Licensing from "./Licensing.js"
import { Api, openApiPath } from "./PortalApi.js"
import * as PortalAuth from "./PortalAuth.js"
import * as PortalPages from "./PortalPages.js"
import { PortalStore, type PortalStoreError } from "./PortalStore.js"
import * as ReferencePortal from "./ReferencePortal.js"

/** Where the Portal listens unless told otherwise. */
export const DEFAULT_HOST = ReferencePortal.DEFAULT_HOST
export const DEFAULT_PORT = ReferencePortal.DEFAULT_PORT

/** Email of the vendor admin created at the first start, unless another is given. */
export const DEFAULT_ADMIN_EMAIL = "admin@portal.localhost"

/** Why the Portal could not start, or its signing key could not be used. */
export class CustomerPortalError extends Schema.TaggedError<CustomerPortalError>("@exekra/server/CustomerPortalError")("CustomerPortalError", {
  code: Schema.Literal("PORTAL_OPTIONS_INVALID", "PORTAL_KEY_MISSING", "PORTAL_KEY_UNREADABLE", "PORTAL_KEY_EXPOSED", "PORTAL_KEY_INVALID", "PORTAL_LISTEN_FAILED"),
  message: Schema.String
}) {}

/**
 * Read the vendor's private key (PKCS#8 PEM, as `exekra-license keygen` writes it). Refuses a file that group or
 * others may read, saying how to fix it: whoever can read it can sign licenses.
 */
export const readSigningKey = (path: string): Effect.Effect<Keys.PrivateKey, CustomerPortalError> =>
  Effect.gen(function* () {
    const mode = yield* Effect.try({
      try: () => statSync(path).mode & 0o777,
      catch: () => new CustomerPortalError({ code: "PORTAL_KEY_UNREADABLE", message: `Cannot read the signing key ${path}: check the path and its permissions.` })
    })
    if ((mode & 0o077) !== 0) {
      return yield* new CustomerPortalError({
        code: "PORTAL_KEY_EXPOSED",
        message: `The signing key ${path} is readable by others (mode ${mode.toString(8).padStart(4, "0")}); whoever reads it can sign licenses. Run \`chmod 600 ${path}\` and start the Portal again.`
      })
    }
    const text = yield* Effect.try({
      try: () => readFileSync(path, "utf8"),
      catch: () => new CustomerPortalError({ code: "PORTAL_KEY_UNREADABLE", message: `Cannot read the signing key ${path}: check the path and its permissions.` })
    })
    return yield* Either.match(Keys.privateKeyFromPem(text), {
      onLeft: (e) => Effect.fail(new CustomerPortalError({ code: "PORTAL_KEY_INVALID", message: `${path}: ${e.message}` })),
      onRight: Effect.succeed
    })
  })

/** How to run the Portal. */
export interface Options {
  /** Directory of `portal.sqlite` (unless `store` says otherwise); created (0700) if missing. */
  readonly dataDir: string
  /**
   * Where the store lives: a `postgres://user[:password]@host[:port]/database` URL selects PostgreSQL (several Portal
   * processes may share it), anything else is a SQLite file path; default `portal.sqlite` in `dataDir`.
   */
  readonly store?: string | undefined
  /** Default 127.0.0.1. */
  readonly host?: string | undefined
  /** Default 8081; 0 picks a free port. */
  readonly port?: number | undefined
  /** The vendor's signing key (see {@link readSigningKey}). */
  readonly signingKey: Keys.PrivateKey
  /** The Portal's address as Hubs and browsers reach it (invite links, licenses' `portalUrl`); default where it listens. */
  readonly publicUrl?: string | undefined
  /** Email of the vendor admin created at the first start (default {@link DEFAULT_ADMIN_EMAIL}). */
  readonly adminEmail?: string | undefined
  /** The trial template (default 30 days, grace 0). */
  readonly trial?: Licensing.TrialTemplate | undefined
  /** Body limit, request timeout, cookie security, proxy trust: as for the Hub. */
  readonly http?: Partial<HubHttpOptions.Settings> | undefined
  /** Sessions, invites and the sign-in rate limit. */
  readonly auth?: PortalAuth.Options | undefined
}

/** A running Portal. */
export interface Running {
  /** Base URL, e.g. `http://127.0.0.1:8081`: give it to Hubs as their `portalUrl`. */
  readonly url: string
  readonly host: string
  readonly port: number
  /** The database: its file, or `postgres://host:port/database` (never the user or password). */
  readonly database: string
  /** The vendor admin created at this start with a one-time password (to print once), or null when staff existed. */
  readonly bootstrap: { readonly email: string; readonly password: string } | null
  /** The public half of the signing key: the key Hubs must trust. */
  readonly publicKey: Keys.PublicKey
  /** The Portal's services, for scripts running beside it (the demo data of `portal --demo`). */
  readonly services: { readonly auth: PortalAuth.PortalAuth.Service; readonly licensing: Licensing.Licensing.Service; readonly store: PortalStore.Service }
}

const formatUrl = (host: string, port: number): string => `http://${host.includes(":") ? `[${host}]` : host}:${port}`

/**
 * The Portal's HTTP app over its services: the API (OpenAPI at `/api/openapi.json`), the pages, and the request
 * middleware the Hub uses (body limit, timeout, every failure as problem+json).
 */
export const appLayer = HttpApiBuilder.serve().pipe(
  Layer.provide(
    Layer.merge(
      Layer.mergeAll(
        HttpApiBuilder.middleware(Api, Effect.map(HubHttpOptions.HubHttpOptions, (settings) => requestProblems.middleware(settings, "Portal"))),
        HttpApiBuilder.middlewareOpenApi({ path: openApiPath })
      ).pipe(Layer.provideMerge(HttpApiBuilder.api(Api).pipe(Layer.provide(handlers.groups), Layer.provide(handlers.authorizationLayer)))),
      PortalPages.layer
    )
  )
)

/**
 * Start the Portal in the current scope; it stops (server first, then the database) when the scope closes. The first
 * start creates the vendor admin with a one-time password, returned in `bootstrap` to be shown once.
 *
 * @example
 * import { NodeContext } from "@effect/platform-node"
 * import { Keys } from "@exekra/core"
 * import { Console, Effect } from "effect"
 * import * as CustomerPortal from "@exekra/server/portal/CustomerPortal"
 *
 * const program = Effect.gen(function* () {
 *   const portal = yield* CustomerPortal.start({ dataDir: "./portal-data", port: 0, signingKey: Keys.generate() })
 *   yield* Console.log(`Portal at ${portal.url}`)
 * }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
 */
export const start = (options: Options): Effect.Effect<Running, CustomerPortalError | ReferencePortal.ReferencePortalError | PortalStoreError, Scope.Scope | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const host = options.host ?? DEFAULT_HOST
    const port = options.port ?? DEFAULT_PORT
    if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
      return yield* new CustomerPortalError({ code: "PORTAL_OPTIONS_INVALID", message: `The port must be a whole number from 0 to 65535, got ${port}.` })
    }
    if (host.trim() === "") return yield* new CustomerPortalError({ code: "PORTAL_OPTIONS_INVALID", message: "The host must not be empty." })
    if (options.publicUrl !== undefined && !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(options.publicUrl)) {
      return yield* new CustomerPortalError({ code: "PORTAL_OPTIONS_INVALID", message: `--public-url must be an http(s) URL such as https://portal.example.com, got ${options.publicUrl}.` })
    }
    // The store opens before the server and so closes after it: no request ever finds it closed.
    const store = yield* ReferencePortal.openStore(options.dataDir, { create: true, store: options.store })
    const server = yield* NodeHttpServer.make(() => createServer(), { host, port }).pipe(
      Effect.mapError(
        (e) =>
          new CustomerPortalError({
            code: "PORTAL_LISTEN_FAILED",
            message: `Cannot listen on ${formatUrl(host, port)} (${e.cause instanceof Error ? e.cause.message : String(e.cause)}): pick another --port or --host.`
          })
      )
    )
    const address = server.address
    const bound = address._tag === "TcpAddress" ? address : { hostname: host, port }
    const url = formatUrl(bound.hostname, bound.port)
    const publicUrl = (options.publicUrl ?? url).replace(/\/+$/, "")

    const storeLayer = Layer.succeed(PortalStore, store)
    const auth = yield* PortalAuth.make(options.auth).pipe(Effect.provide(storeLayer))
    const licensing = yield* Licensing.make({ signingKey: options.signingKey, publicUrl, trial: options.trial }).pipe(Effect.provide(storeLayer))
    const services = Layer.mergeAll(
      storeLayer,
      Layer.succeed(PortalAuth.PortalAuth, auth),
      Layer.succeed(Licensing.Licensing, licensing),
      Layer.succeed(handlers.PortalBaseUrl, publicUrl),
      Layer.succeed(HubHttpOptions.HubHttpOptions, HubHttpOptions.make(options.http ?? {})),
      Layer.succeed(HttpServer.HttpServer, server),
      NodeHttpServer.layerContext
    )
    yield* Layer.buildWithScope(appLayer.pipe(Layer.provide(services)), yield* Effect.scope)
    const bootstrap = yield* Effect.catchTag(auth.bootstrap(options.adminEmail ?? DEFAULT_ADMIN_EMAIL), "PortalError", (e) =>
      Effect.fail(new CustomerPortalError({ code: "PORTAL_OPTIONS_INVALID", message: `--admin-email: ${e.message}` }))
    )
    return {
      url,
      host: bound.hostname,
      port: bound.port,
      database: store.location,
      bootstrap,
      publicKey: options.signingKey.publicKey,
      services: { auth, licensing, store }
    } satisfies Running
  })
