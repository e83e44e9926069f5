// A Hub for the bad-input, fuzz and security suites: the real runtime, AdminAuth, HTTP API and pages on SQLite (or in memory), served on 127.0.0.1:0.
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Installation, type Keyring, LicenseStore, PortalClient, Verifier } from "@exekra/core"
import * as AdminAuth from "@exekra/server/AdminAuth"
import { type HubHttpOptions, HubServer } from "@exekra/server/http/index"
import * as LicenseRuntime from "@exekra/server/LicenseRuntime"
import { Chunk, Context, Effect, Layer, type Scope } from "effect"

/** A running Hub and the services behind it (to look into the store). */
export interface Hub {
  readonly url: string
  readonly installationId: string
  readonly store: LicenseStore.LicenseStore.Service
  readonly runtime: LicenseRuntime.LicenseRuntime.Service
}

/** How to build a Hub. */
export interface HubOptions {
  readonly keyring: Keyring.Keyring
  /** A fixed installation id; a random one (as a real first start) when absent. */
  readonly installationId?: string
  readonly http?: Partial<HubHttpOptions.Settings>
  readonly auth?: AdminAuth.Options
  /** The Portal client; by default one that is never reached (validation optional, no Portal URL). */
  readonly portal?: Layer.Layer<PortalClient.PortalClient>
  readonly portalUrl?: string
  /**
   * The store: SQLite in a temporary directory (the default, as served), or in memory. Under TestClock a Hub on
   * SQLite with a Portal URL livelocks at activation (see portalFaults.test.ts), so those tests use memory.
   */
  readonly store?: "sqlite" | "memory"
}

const noPortal = Layer.succeed(
  PortalClient.PortalClient,
  PortalClient.PortalClient.of({
    validate: () => Effect.fail(new PortalClient.PortalError({ code: "PORTAL_UNREACHABLE", message: "No Portal in this suite." }))
  })
)

/** A fresh temporary directory, removed when the scope closes. */
export const tempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), prefix))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** The Hub's services (runtime, AdminAuth, store) over a fresh SQLite file. */
const hubServices = (options: HubOptions, dir: string) => {
  const store = options.store === "memory" ? LicenseStore.layerMemory : LicenseStore.layerSqlite({ filename: join(dir, "hub.sqlite") })
  const installation =
    options.installationId === undefined ? Installation.layer : Layer.succeed(Installation.Installation, { id: options.installationId })
  const runtime = LicenseRuntime.layer({ version: "test", portalUrl: options.portalUrl }).pipe(
    Layer.provide(Layer.mergeAll(Verifier.layerNodeCrypto(options.keyring), options.portal ?? noPortal, installation))
  )
  return Layer.mergeAll(runtime, AdminAuth.layer(options.auth)).pipe(Layer.provideMerge(store))
}

/**
 * Every route on the router the Hub serves (`HubServer.HubWithPages` on `HttpApiBuilder.Router`, as
 * `makeHubServer` builds it): the HttpApi endpoints, the OpenAPI document and the pages.
 */
export const routerRoutes = (options: HubOptions): Effect.Effect<ReadonlyArray<{ readonly method: string; readonly path: string }>, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = yield* tempDir("exekra-bad-routes-")
    const context = yield* Layer.build(HubServer.HubWithPages.pipe(Layer.provideMerge(HttpApiBuilder.Router.Live), Layer.provide(hubServices(options, dir))))
    const router = yield* Effect.provide(HttpApiBuilder.Router.router, context)
    return Chunk.toReadonlyArray(router.routes).map((route) => ({ method: route.method, path: String(route.path) }))
  })

/** Start a Hub on a fresh SQLite file in the current scope (its clock is the fiber's: TestClock under it.scoped). */
export const startHub = (options: HubOptions): Effect.Effect<Hub, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = yield* tempDir("exekra-bad-hub-")
    const services = hubServices(options, dir)
    const node = NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })
    const context = yield* Layer.build(HubServer.makeHubServer(options.http).pipe(Layer.provideMerge(services), Layer.provideMerge(node)))
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    const live = Context.get(context, LicenseRuntime.LicenseRuntime)
    return {
      url: `http://127.0.0.1:${address.port}`,
      installationId: live.installationId,
      store: Context.get(context, LicenseStore.LicenseStore),
      runtime: live
    }
  })

/** One request. */
export interface Call {
  readonly json?: unknown
  readonly body?: RequestInit["body"]
  readonly token?: string
  readonly headers?: Record<string, string>
  /** Give up after this long (real time): a Hub that never answers fails the test instead of hanging it. */
  readonly timeoutMs?: number
}

/** A request to the Hub with fetch; JSON bodies are serialised, a token is sent as a bearer. */
export const call = (hub: { readonly url: string }, method: string, path: string, init: Call = {}): Effect.Effect<Response> =>
  Effect.promise(() =>
    fetch(hub.url + path, {
      method,
      headers: {
        ...(init.json !== undefined ? { "content-type": "application/json" } : {}),
        ...(init.token !== undefined ? { authorization: `Bearer ${init.token}` } : {}),
        ...init.headers
      },
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
      ...(init.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(init.timeoutMs) })
    })
  )

/** A response body as text (so it can be scanned) and as JSON when it is JSON. */
export const readBody = (response: Response): Effect.Effect<{ readonly text: string; readonly json: unknown }> =>
  Effect.promise(async () => {
    const text = await response.text()
    let json: unknown = undefined
    try {
      json = JSON.parse(text)
    } catch {
      // Not JSON (CSV, SSE): the text is what the caller scans.
    }
    return { text, json }
  })

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Assert an `application/problem+json` answer with this status and code; `label` names the case in failures. */
export const expectProblem = (response: Response, status: number, code: string, label = "") =>
  Effect.gen(function* () {
    const { json } = yield* readBody(response)
    const problem = isRecord(json) ? json : {}
    expect({ label, status: response.status, code: problem["code"] }).toEqual({ label, status, code })
    expect(response.headers.get("content-type"), label).toMatch(/^application\/problem\+json/)
    expect(problem, label).toMatchObject({ type: `urn:exekra:problem:${code}`, status, code, detail: expect.stringMatching(/\S/) })
    return problem
  })

/** A multipart form with a `license` file of exactly these bytes and the other fields. */
export const licenseForm = (bytes: Uint8Array, fields: Record<string, string> = {}): FormData => {
  const form = new FormData()
  form.append("license", new Blob([bytes], { type: "application/octet-stream" }), "license.lic")
  for (const [name, value] of Object.entries(fields)) form.append(name, value)
  return form
}

/** Activate a Hub over HTTP; fails the test unless it answers 201. */
export const activate = (hub: Hub, license: string, email: string, password: string) =>
  Effect.gen(function* () {
    const response = yield* call(hub, "POST", "/api/activation", { json: { license, email, password } })
    const { json } = yield* readBody(response)
    expect(response.status, JSON.stringify(json)).toBe(201)
    return json
  })

/** Sign in over HTTP and return the bearer token. */
export const signIn = (hub: Hub, email: string, password: string) =>
  Effect.gen(function* () {
    const response = yield* call(hub, "POST", "/api/session", { json: { email, password } })
    const { json } = yield* readBody(response)
    expect(response.status, JSON.stringify(json)).toBe(200)
    return (json as { readonly token: string }).token
  })

/** The installed license's identity and caps as GET /api/license shows them. */
export const installedLicense = (hub: Hub, token: string) =>
  Effect.gen(function* () {
    const response = yield* call(hub, "GET", "/api/license", { token })
    expect(response.status).toBe(200)
    const { json } = yield* readBody(response)
    const summary = json as {
      readonly license: { readonly licenseId: string; readonly issuedAt: string; readonly fingerprint: string } | null
      readonly pending: unknown
      readonly caps: Record<string, { readonly limit: number; readonly state: string; readonly expiresAt: string | null }>
    }
    return {
      license: summary.license,
      pending: summary.pending,
      caps: Object.fromEntries(Object.entries(summary.caps).map(([cap, s]) => [cap, { limit: s.limit, state: s.state, expiresAt: s.expiresAt }]))
    }
  })
