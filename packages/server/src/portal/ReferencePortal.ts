/** The reference Customer Portal: answers the Hub's validation pings (DESIGN §5) and records each one. */
import { createServer } from "node:http"
import { FileSystem, HttpIncomingMessage, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse, Path } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { PortalClient } from "@exekra/core"
import { Clock, Effect, Option, ParseResult, Schema, type Scope } from "effect"
import * as DataFiles from "../internal/dataFiles.js"
import { FILENAME, makeAt, parseLocation, PortalStore, type PortalStoreError, type RecordedPing } from "./PortalStore.js"

/** Where the reference Portal listens unless told otherwise. */
export const DEFAULT_HOST = "127.0.0.1"
export const DEFAULT_PORT = 8081

// A ping is three short strings; anything near this size is not one.
const MAX_BODY_BYTES = 16 * 1024
const DEFAULT_PINGS_LIMIT = 1000

const Text = (max: number) => Schema.String.pipe(Schema.minLength(1), Schema.maxLength(max))

/** The body of `POST /api/v1/validations`: exactly these three fields, nothing else. */
export const ValidationRequestBody = Schema.Struct({ licenseId: Text(256), installationId: Text(256), version: Text(64) })

const PingsQuery = Schema.Struct({
  licenseId: Schema.optionalWith(Text(256), { exact: true }),
  limit: Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100_000)), { exact: true })
})

// Excess fields are an error, not silently dropped: the Portal checks the Hub discloses nothing more.
const strictly = { onExcessProperty: "error", errors: "all" } as const
const decodeBody = Schema.decodeUnknown(ValidationRequestBody, strictly)
const encodeAnswer = HttpServerResponse.schemaJson(PortalClient.ValidationResponse)

/** Stable codes of the Portal's HTTP problems. */
export const PortalProblemCode = Schema.Literal(
  "VALIDATION_REQUEST_MALFORMED",
  "VALIDATION_REQUEST_INVALID",
  "REQUEST_TOO_LARGE",
  "QUERY_INVALID",
  "NOT_FOUND",
  "DATABASE_UNAVAILABLE",
  "DATABASE_CORRUPT",
  "DATABASE_FAILED",
  "INTERNAL_ERROR"
)
export type PortalProblemCode = typeof PortalProblemCode.Type

const problemKinds: Record<PortalProblemCode, readonly [status: number, title: string]> = {
  VALIDATION_REQUEST_MALFORMED: [400, "The body is not JSON"],
  VALIDATION_REQUEST_INVALID: [400, "The body is not a validation request"],
  REQUEST_TOO_LARGE: [413, "The body is too large"],
  QUERY_INVALID: [400, "Invalid query parameters"],
  NOT_FOUND: [404, "No such route"],
  DATABASE_UNAVAILABLE: [503, "The Portal database is unavailable"],
  DATABASE_CORRUPT: [500, "The Portal database is damaged"],
  DATABASE_FAILED: [500, "The Portal database failed"],
  INTERNAL_ERROR: [500, "Internal error"]
}

/** The HTTP status of a problem code. */
export const problemStatus = (code: PortalProblemCode): number => problemKinds[code][0]

/** A request the Portal refused or could not serve; sent as `application/problem+json` with `code`, `title` and `detail`. */
export class PortalProblem extends Schema.TaggedError<PortalProblem>("@exekra/server/PortalProblem")("PortalProblem", {
  code: PortalProblemCode,
  message: Schema.String
}) {}

/** Why the reference Portal could not start or open its data. */
export class ReferencePortalError extends Schema.TaggedError<ReferencePortalError>("@exekra/server/ReferencePortalError")("ReferencePortalError", {
  code: Schema.Literal("PORTAL_OPTIONS_INVALID", "PORTAL_DATA_UNWRITABLE", "PORTAL_DATA_MISSING", "PORTAL_LISTEN_FAILED"),
  message: Schema.String
}) {}

const problemResponse = (problem: PortalProblem): HttpServerResponse.HttpServerResponse => {
  const [status, title] = problemKinds[problem.code]
  return HttpServerResponse.unsafeJson(
    { type: "about:blank", title, status, code: problem.code, detail: problem.message },
    { status, contentType: "application/problem+json" }
  )
}

/** `path: message` for each issue, so a client sees every missing, unexpected or wrong field at once. */
const describeIssues = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.map(String).join(".")}: ${issue.message}`))
    .join("; ")

/** The JSON form of a recorded ping, as `GET /api/v1/pings` lists it. */
export const pingJson = (ping: RecordedPing) => ({
  licenseId: ping.licenseId,
  installationId: ping.installationId,
  version: ping.version,
  receivedAt: new Date(ping.receivedAt).toISOString(),
  clientAddress: ping.clientAddress,
  bodyKeys: ping.bodyKeys,
  status: ping.status
})

const invalidBody = (message: string) => new PortalProblem({ code: "VALIDATION_REQUEST_INVALID", message })

/**
 * Answer `POST /api/v1/validations` from the store in context: read the body within 16 KiB, refuse anything but the
 * three fields, decide and record the answer. Shared by this reference Portal and the Customer Portal.
 */
export const validate = (strict: boolean) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const store = yield* PortalStore
    // Refuse an announced oversize body before reading it; the read limit below catches chunked ones.
    const declared = Number(request.headers["content-length"] ?? "0")
    if (declared > MAX_BODY_BYTES) {
      return yield* new PortalProblem({ code: "REQUEST_TOO_LARGE", message: `A validation request is at most ${MAX_BODY_BYTES} bytes.` })
    }
    const text = yield* HttpIncomingMessage.withMaxBodySize(request.text, Option.some(MAX_BODY_BYTES)).pipe(
      Effect.mapError(
        (e) => new PortalProblem({ code: "VALIDATION_REQUEST_MALFORMED", message: `The body could not be read (${e.message}); send at most ${MAX_BODY_BYTES} bytes of JSON.` })
      )
    )
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: () => new PortalProblem({ code: "VALIDATION_REQUEST_MALFORMED", message: 'The body must be JSON: {"licenseId", "installationId", "version"}.' })
    })
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return yield* invalidBody("The body must be a JSON object with exactly licenseId, installationId and version.")
    }
    const body = yield* Effect.mapError(decodeBody(json), (e) => invalidBody(describeIssues(e)))
    const now = yield* Clock.currentTimeMillis
    const status = yield* store.answer(
      {
        licenseId: body.licenseId,
        installationId: body.installationId,
        version: body.version,
        receivedAt: now,
        clientAddress: Option.getOrNull(request.remoteAddress),
        bodyKeys: Object.keys(json)
      },
      { strict }
    )
    return yield* encodeAnswer({ status, serverTime: new Date(now) })
  })

const listPings = Effect.gen(function* () {
  const store = yield* PortalStore
  const query = yield* HttpServerRequest.schemaSearchParams(PingsQuery, strictly).pipe(
    Effect.mapError((e) => new PortalProblem({ code: "QUERY_INVALID", message: `${describeIssues(e)}. Accepted: licenseId, limit (1 to 100000).` }))
  )
  const pings = yield* store.pings({ licenseId: query.licenseId, limit: query.limit ?? DEFAULT_PINGS_LIMIT })
  return HttpServerResponse.unsafeJson(pings.map(pingJson))
})

/**
 * The Portal as an HTTP app: `POST /api/v1/validations`, `GET /api/v1/pings[?licenseId=…&limit=…]`
 * (newest first) and `GET /api/health`. Every failure is answered as problem+json.
 */
export const makeApp = (options: { readonly strict: boolean }) =>
  HttpRouter.empty.pipe(
    HttpRouter.post("/api/v1/validations", validate(options.strict)),
    HttpRouter.get("/api/v1/pings", listPings),
    HttpRouter.get("/api/health", Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" }))),
    Effect.catchTags({
      PortalProblem: (problem) => Effect.succeed(problemResponse(problem)),
      RouteNotFound: (e) => Effect.succeed(problemResponse(new PortalProblem({ code: "NOT_FOUND", message: `${e.request.method} ${e.request.url} is not a Portal route.` }))),
      PortalStoreError: (e) =>
        Effect.as(Effect.logError(e.message), problemResponse(new PortalProblem({ code: e.code, message: e.message }))),
      HttpBodyError: (e) => Effect.die(e)
    }),
    // A defect is a bug: log it in full, answer without the stack.
    Effect.catchAllDefect((defect) =>
      Effect.as(
        Effect.logError("reference Portal: unexpected failure", defect),
        problemResponse(new PortalProblem({ code: "INTERNAL_ERROR", message: "The Portal failed unexpectedly; see its log." }))
      )
    )
  )

/** How to run the reference Portal. */
export interface Options {
  /** Directory of `portal.sqlite`; created if missing. */
  readonly dataDir: string
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Default 8081; 0 picks a free port. */
  readonly port?: number
  /** Answer `unknown` for licenses never registered (default: they are `valid` unless revoked). */
  readonly strict?: boolean
  /** Where the store lives: a `postgres://` URL, or a SQLite file; default `portal.sqlite` in `dataDir`. */
  readonly store?: string | undefined
}

/** A running Portal. */
export interface Running {
  /** Base URL to give Hubs as their `portalUrl`, e.g. `http://127.0.0.1:8081`. */
  readonly url: string
  readonly host: string
  readonly port: number
  /** The database: its file, or `postgres://host:port/database`. */
  readonly database: string
}

/**
 * Open the Portal's store: `options.store` when given (a `postgres://` URL selects PostgreSQL, anything else is a
 * SQLite file), else `portal.sqlite` in `dataDir`. For the SQLite file in `dataDir`: with `create`, make the directory
 * if missing; without, fail with PORTAL_DATA_MISSING when there is no database yet (for commands that only read).
 * `location` is how messages name the store: the file, or `postgres://host:port/database` (never the password).
 */
export const openStore = (
  dataDir: string,
  options: { readonly create: boolean; readonly store?: string | undefined }
): Effect.Effect<PortalStore.Service & { readonly location: string }, ReferencePortalError | PortalStoreError, Scope.Scope | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    if (options.store !== undefined && options.store.trim() !== "") {
      const location = parseLocation(options.store.trim())
      if (location.engine === "postgres") return yield* makeAt(location)
      return yield* makeAt({ engine: "sqlite", filename: yield* sqliteFile(location.filename, options.create) })
    }
    return yield* makeAt({ engine: "sqlite", filename: yield* sqliteFile((yield* Path.Path).join(dataDir, FILENAME), options.create) })
  })

/** The SQLite file, its directory made (0700) when `create`; PORTAL_DATA_MISSING when not `create` and there is no file. */
const sqliteFile = (filename: string, create: boolean): Effect.Effect<string, ReferencePortalError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dataDir = (yield* Path.Path).dirname(filename)
    if (create) {
      yield* fs.makeDirectory(dataDir, { recursive: true, mode: DataFiles.DIRECTORY_MODE }).pipe(
        Effect.mapError(
          (e) => new ReferencePortalError({ code: "PORTAL_DATA_UNWRITABLE", message: `Cannot create the data directory ${dataDir} (${e.message}): check the path and its permissions.` })
        )
      )
    } else if (!(yield* fs.exists(filename).pipe(Effect.orElseSucceed(() => false)))) {
      return yield* new ReferencePortalError({
        code: "PORTAL_DATA_MISSING",
        message: `There is no Portal database at ${filename}: pass the --data directory (or --store) the Portal runs with.`
      })
    }
    return filename
  })

const formatUrl = (host: string, port: number): string => `http://${host.includes(":") ? `[${host}]` : host}:${port}`

/**
 * Start the reference Portal and return where it listens; it stops, and its database closes, with the scope.
 *
 * @example
 * import { NodeContext } from "@effect/platform-node"
 * import { Console, Effect } from "effect"
 * import * as ReferencePortal from "@exekra/server/portal/ReferencePortal"
 *
 * const program = Effect.gen(function* () {
 *   const portal = yield* ReferencePortal.start({ dataDir: "./data", port: 0 })
 *   yield* Console.log(`Portal at ${portal.url}`)
 * }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
 */
export const start = (options: Options): Effect.Effect<Running, ReferencePortalError | PortalStoreError, Scope.Scope | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const host = options.host ?? DEFAULT_HOST
    const port = options.port ?? DEFAULT_PORT
    if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
      return yield* new ReferencePortalError({ code: "PORTAL_OPTIONS_INVALID", message: `The port must be a whole number from 0 to 65535, got ${port}.` })
    }
    if (host.trim() === "") return yield* new ReferencePortalError({ code: "PORTAL_OPTIONS_INVALID", message: "The host must not be empty." })
    // The store opens before the server and so closes after it: no request ever finds it closed.
    const store = yield* openStore(options.dataDir, { create: true, store: options.store })
    const server = yield* NodeHttpServer.make(() => createServer(), { host, port }).pipe(
      Effect.mapError(
        (e) =>
          new ReferencePortalError({
            code: "PORTAL_LISTEN_FAILED",
            message: `Cannot listen on ${formatUrl(host, port)} (${e.cause instanceof Error ? e.cause.message : String(e.cause)}): pick another --port or --host.`
          })
      )
    )
    yield* HttpServer.serveEffect(makeApp({ strict: options.strict ?? false })).pipe(
      Effect.provideService(HttpServer.HttpServer, server),
      Effect.provideService(PortalStore, store)
    )
    const address = server.address
    // NodeHttpServer.make only listens on TCP here (host and port given), never on a socket path.
    const bound = address._tag === "TcpAddress" ? address : { hostname: host, port }
    return { url: formatUrl(bound.hostname, bound.port), host: bound.hostname, port: bound.port, database: store.location }
  })
