// The Hub HTTP API end to end: the real LicenseRuntime on a SQLite store, served over HTTP on 127.0.0.1, driven with fetch.
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, get, type IncomingMessage } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Envelope, Installation, Keyring, Keys, LicenseStore, PortalClient, Signer, Verifier } from "@exekra/core"
import * as AdminAuth from "@exekra/server/AdminAuth"
import { Api, HubServer, type HubHttpOptions } from "@exekra/server/http/index"
import * as LicenseRuntime from "@exekra/server/LicenseRuntime"
import { Cause, Context, Duration, Effect, Either, Exit, Layer, Logger, Scope, TestClock } from "effect"

// ---- fixtures ------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "exekra-http-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let databases = 0

const key = Keys.generate()
const keyring = Keyring.make([key.publicKey])
/** Test time: every hub starts its clock here (TestClock), so license dates are fixed. */
const NOW = Date.parse("2026-06-01T00:00:00Z")
const EMAIL = "admin@acme.example"
const PASSWORD = "correct horse battery staple"

/** A license issued to EMAIL, valid at NOW: 2 Runners, 1 Developer seat, 1 Attended user. */
const issue = (overrides: Partial<Signer.Issuable> = {}, signingKey: Keys.PrivateKey = key): string =>
  Signer.sign(
    {
      licenseId: "lic_acme",
      type: "production",
      issuedTo: { name: "Acme Corp", email: EMAIL },
      issuedAt: "2026-05-01T00:00:00Z",
      caps: {
        unattended: { limit: 2, expiresAt: "2027-06-01T00:00:00Z" },
        developer: { limit: 1, expiresAt: "2027-06-01T00:00:00Z" },
        attended: { limit: 1, expiresAt: "2027-06-01T00:00:00Z" }
      },
      validation: { required: false, intervalHours: 24 },
      ...overrides
    },
    signingKey
  )

/** A license whose payload had one bit flipped after signing. */
const tampered = (): string => {
  const envelope = Either.getOrThrow(Envelope.parse(issue()))
  const payload = Uint8Array.from(envelope.payload)
  payload[10] = payload[10]! ^ 0x01
  return Envelope.encode({ ...envelope, payload })
}

// The Portal is never needed: licenses here name no portal and validation is optional.
const portal = Layer.succeed(PortalClient.PortalClient, {
  validate: () => Effect.fail(new PortalClient.PortalError({ code: "PORTAL_UNREACHABLE", message: "No Portal in these tests." }))
})

// ---- the hub under test ---------------------------------------------------------------------------

interface Hub {
  readonly url: string
  readonly installationId: string
}

/** What the API runs on: the real runtime and AdminAuth over a fresh SQLite file. */
const dependencies = (
  store: Layer.Layer<LicenseStore.LicenseStore, LicenseStore.StoreError> = LicenseStore.layerSqlite({ filename: join(dir, `hub-${++databases}.db`) })
) => {
  const runtime = LicenseRuntime.layer({ version: "test" }).pipe(
    Layer.provide(Layer.mergeAll(Verifier.layerNodeCrypto(keyring), Installation.layer, portal))
  )
  return Layer.mergeAll(runtime, AdminAuth.layer()).pipe(Layer.provideMerge(store))
}

/** Start a hub on a fresh SQLite file with the real runtime, listening on an ephemeral port. */
const startHub = (
  options: Partial<HubHttpOptions.Settings> = {},
  deps = dependencies(),
  layout: "server-outermost" | "runtime-outermost" = "server-outermost"
): Effect.Effect<Hub, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const node = NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })
    // Layers are released in reverse build order: "runtime-outermost" closes the HTTP server while
    // the runtime (and so its event stream) is still alive, as a CLI composing them that way would.
    const server =
      layout === "server-outermost"
        ? HubServer.makeHubServer(options).pipe(Layer.provide(deps), Layer.provideMerge(node))
        : HubServer.makeHubServer(options).pipe(Layer.provideMerge(node), Layer.provide(deps))
    const context = yield* Layer.build(server)
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    const url = `http://127.0.0.1:${address.port}`
    const status = (yield* Effect.promise(() => fetch(`${url}/api/activation`).then((r) => r.json()))) as { installationId: string }
    return { url, installationId: status.installationId }
  })

/** Run a test at NOW (TestClock) against a fresh hub. */
const withHub = <A>(f: (hub: Hub) => Effect.Effect<A, unknown, Scope.Scope>, options?: Partial<HubHttpOptions.Settings>) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(NOW)
    return yield* f(yield* startHub(options))
  })

interface Call {
  readonly json?: unknown
  readonly body?: RequestInit["body"]
  readonly token?: string
  readonly headers?: Record<string, string>
}

const call = (hub: Hub, method: string, path: string, init: Call = {}): Effect.Effect<Response> =>
  Effect.promise(() =>
    fetch(hub.url + path, {
      method,
      headers: {
        ...(init.json !== undefined ? { "content-type": "application/json" } : {}),
        ...(init.token !== undefined ? { authorization: `Bearer ${init.token}` } : {}),
        ...init.headers
      },
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body
    })
  )

const body = <A = Record<string, unknown>>(response: Response): Effect.Effect<A> => Effect.promise(() => response.json() as Promise<A>)

/** Assert an `application/problem+json` answer with this status and code; returns its body. */
const expectProblem = (response: Response, status: number, code: string) =>
  Effect.gen(function* () {
    const problem = yield* body(response)
    expect({ status: response.status, code: problem["code"] }).toEqual({ status, code })
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/)
    expect(problem).toEqual({
      type: `urn:exekra:problem:${code}`,
      title: expect.any(String),
      status,
      code,
      detail: expect.stringMatching(/\S/)
    })
    return problem
  })

const activate = (hub: Hub, license = issue()) =>
  Effect.gen(function* () {
    const response = yield* call(hub, "POST", "/api/activation", { json: { license, email: EMAIL, password: PASSWORD } })
    expect(response.status).toBe(201)
    return yield* body(response)
  })

const signIn = (hub: Hub) =>
  Effect.gen(function* () {
    const response = yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD } })
    expect(response.status).toBe(200)
    return (yield* body<{ token: string }>(response)).token
  })

/** An activated hub and an admin bearer token. */
const withAdmin = <A>(f: (hub: Hub, token: string) => Effect.Effect<A, unknown, Scope.Scope>) =>
  withHub((hub) =>
    Effect.gen(function* () {
      yield* activate(hub)
      return yield* f(hub, yield* signIn(hub))
    })
  )

/** Every route of the API definition, as method and concrete path. */
const routes = Object.values(Api.groups).flatMap((group) =>
  Object.values(group.endpoints).map((endpoint) => ({
    name: `${group.identifier}.${endpoint.name}`,
    method: endpoint.method,
    path: endpoint.path,
    concrete: endpoint.path.replace(":cap", "unattended").replace(":id", "r1").replace(":name", "ci")
  }))
)
const publicRoutes = new Set(["health.health", "activation.status", "activation.activate", "session.signIn"])

// ---- tests ---------------------------------------------------------------------------------------

describe("health and activation status", () => {
  it.scoped("GET /api/health answers ok without auth", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        const response = yield* call(hub, "GET", "/api/health")
        expect(response.status).toBe(200)
        expect(yield* body(response)).toEqual({ status: "ok" })
      })
    ))

  it.scoped("GET /api/activation shows the installation id, unactivated", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        const response = yield* call(hub, "GET", "/api/activation")
        expect(yield* body(response)).toEqual({ activated: false, installationId: hub.installationId })
        expect(hub.installationId).toMatch(Installation.idPattern)
      })
    ))
})

describe("POST /api/activation", () => {
  it.scoped("activates with JSON: 201 and the license summary", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        const summary = yield* activate(hub)
        expect(summary).toMatchObject({
          activated: true,
          installationId: hub.installationId,
          license: { licenseId: "lic_acme", type: "production", issuedTo: { name: "Acme Corp", email: EMAIL }, issuedAt: "2026-05-01T00:00:00.000Z" },
          caps: { unattended: { cap: "unattended", state: "active", limit: 2, used: 0, expiresAt: "2027-06-01T00:00:00.000Z", grace: null } }
        })
        expect(yield* body(yield* call(hub, "GET", "/api/activation"))).toEqual({ activated: true, installationId: hub.installationId })
      })
    ))

  it.scoped("activates with multipart: the .lic file, email and password", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        const form = new FormData()
        form.append("license", new Blob([issue()], { type: "application/octet-stream" }), "acme.lic")
        form.append("email", EMAIL)
        form.append("password", PASSWORD)
        const response = yield* call(hub, "POST", "/api/activation", { body: form })
        expect(response.status).toBe(201)
        expect(yield* body(response)).toMatchObject({ activated: true, license: { licenseId: "lic_acme" } })
      })
    ))

  it.scoped("matches the licensed email case-insensitively", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        const response = yield* call(hub, "POST", "/api/activation", { json: { license: issue(), email: "Admin@ACME.example", password: PASSWORD } })
        expect(response.status).toBe(201)
      })
    ))

  const refusals: ReadonlyArray<readonly [string, () => Record<string, string>, number, string]> = [
    ["a malformed file", () => ({ license: "not a license", email: EMAIL, password: PASSWORD }), 400, "LICENSE_MALFORMED"],
    ["a bad signature", () => ({ license: tampered(), email: EMAIL, password: PASSWORD }), 400, "LICENSE_SIGNATURE_INVALID"],
    ["an unknown signing key", () => ({ license: issue({}, Keys.generate()), email: EMAIL, password: PASSWORD }), 400, "LICENSE_UNKNOWN_KEY"],
    ["another installation's license", () => ({ license: issue({ installationId: "inst_0000000000000000000000other" }), email: EMAIL, password: PASSWORD }), 422, "LICENSE_WRONG_INSTALLATION"],
    ["a license not yet valid", () => ({ license: issue({ notBefore: "2026-07-01T00:00:00Z" }), email: EMAIL, password: PASSWORD }), 422, "LICENSE_NOT_YET_VALID"],
    [
      "an expired license",
      () => ({
        license: issue({ issuedAt: "2025-01-01T00:00:00Z", caps: { unattended: { limit: 2, expiresAt: "2026-01-01T00:00:00Z" } } }),
        email: EMAIL,
        password: PASSWORD
      }),
      422,
      "LICENSE_EXPIRED"
    ],
    ["another email", () => ({ license: issue(), email: "someone@else.example", password: PASSWORD }), 422, "ADMIN_EMAIL_MISMATCH"],
    ["a weak password", () => ({ license: issue(), email: EMAIL, password: "short" }), 422, "PASSWORD_TOO_WEAK"],
    ["a license larger than 64 KiB", () => ({ license: issue() + " ".repeat(70 * 1024), email: EMAIL, password: PASSWORD }), 413, "LICENSE_TOO_LARGE"],
    ["a missing password", () => ({ license: issue(), email: EMAIL }), 400, "INVALID_REQUEST"]
  ]
  for (const [what, input, status, code] of refusals) {
    it.scoped(`refuses ${what}: ${status} ${code}, and stays unactivated`, () =>
      withHub((hub) =>
        Effect.gen(function* () {
          yield* expectProblem(yield* call(hub, "POST", "/api/activation", { json: input() }), status, code)
          expect(yield* body(yield* call(hub, "GET", "/api/activation"))).toMatchObject({ activated: false })
        })
      ))
  }

  it.scoped("refuses a second activation: 409 ALREADY_ACTIVATED", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        yield* activate(hub)
        yield* expectProblem(
          yield* call(hub, "POST", "/api/activation", { json: { license: issue(), email: EMAIL, password: PASSWORD } }),
          409,
          "ALREADY_ACTIVATED"
        )
      })
    ))

  it.scoped("refuses other media types (415) and malformed JSON (400)", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        yield* expectProblem(yield* call(hub, "POST", "/api/activation", { body: issue(), headers: { "content-type": "text/plain" } }), 415, "UNSUPPORTED_MEDIA_TYPE")
        yield* expectProblem(yield* call(hub, "POST", "/api/activation", { body: "{ nope", headers: { "content-type": "application/json" } }), 400, "INVALID_REQUEST")
      })
    ))
})

describe("sign-in", () => {
  it.scoped("gives an HttpOnly SameSite=Strict cookie and a bearer token; both authenticate", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        yield* activate(hub)
        const response = yield* call(hub, "POST", "/api/session", { json: { email: EMAIL.toUpperCase(), password: PASSWORD } })
        expect(response.status).toBe(200)
        const { token, expiresAt } = yield* body<{ token: string; expiresAt: string }>(response)
        expect(Date.parse(expiresAt)).toBe(NOW + 12 * 3600_000)
        const [cookie] = response.headers.getSetCookie()
        expect(cookie).toBeDefined()
        const attributes = cookie!.split(";").map((part) => part.trim().toLowerCase())
        expect(attributes[0]).toBe(`exekra_session=${token}`.toLowerCase())
        expect(attributes).toEqual(expect.arrayContaining(["httponly", "samesite=strict", "path=/", `max-age=${12 * 3600}`]))
        // Plain http on 127.0.0.1: a Secure cookie would never be sent back.
        expect(attributes).not.toContain("secure")
        expect((yield* call(hub, "GET", "/api/license", { token })).status).toBe(200)
        expect((yield* call(hub, "GET", "/api/license", { headers: { cookie: `exekra_session=${token}` } })).status).toBe(200)
      })
    ))

  it.scoped("marks the cookie Secure when the hub is configured for https", () =>
    withHub(
      (hub) =>
        Effect.gen(function* () {
          yield* activate(hub)
          const response = yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD } })
          expect(response.headers.getSetCookie()[0]).toMatch(/;\s*Secure/i)
        }),
      { secureCookies: true }
    ))

  it.scoped("behind a trusted proxy, takes the scheme and client address from X-Forwarded-*; otherwise ignores them", () =>
    Effect.gen(function* () {
      const forwarded = (address: string) => ({ "x-forwarded-proto": "https", "x-forwarded-for": `${address}, 10.0.0.1` })
      yield* withHub(
        (hub) =>
          Effect.gen(function* () {
            yield* activate(hub)
            const response = yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD }, headers: forwarded("203.0.113.7") })
            expect(response.headers.getSetCookie()[0]).toMatch(/;\s*Secure/i)
            // Five failures from one forwarded address lock out that address only.
            for (let i = 0; i < 5; i++) yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: "wrong password!!" }, headers: forwarded("203.0.113.8") })
            yield* expectProblem(yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD }, headers: forwarded("203.0.113.8") }), 429, "TOO_MANY_ATTEMPTS")
            expect((yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD }, headers: forwarded("203.0.113.9") })).status).toBe(200)
          }),
        { trustProxy: true }
      )
      yield* withHub((hub) =>
        Effect.gen(function* () {
          yield* activate(hub)
          const response = yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD }, headers: forwarded("203.0.113.7") })
          expect(response.headers.getSetCookie()[0]).not.toMatch(/;\s*Secure/i)
        })
      )
    }))

  it.scoped("refuses a wrong password or email: 401 INVALID_CREDENTIALS", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        yield* activate(hub)
        yield* expectProblem(yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: "wrong password!" } }), 401, "INVALID_CREDENTIALS")
        yield* expectProblem(yield* call(hub, "POST", "/api/session", { json: { email: "x@acme.example", password: PASSWORD } }), 401, "INVALID_CREDENTIALS")
      })
    ))

  it.scoped("limits attempts per client: 429 with Retry-After after 5, allowed again after the window", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        yield* activate(hub)
        for (let i = 0; i < 5; i++) {
          yield* expectProblem(yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: `wrong ${i} password` } }), 401, "INVALID_CREDENTIALS")
        }
        // Refused even with the right password: the limit is checked before the password.
        const limited = yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD } })
        expect(limited.headers.get("retry-after")).toBe(String(15 * 60))
        yield* expectProblem(limited, 429, "TOO_MANY_ATTEMPTS")
        yield* TestClock.adjust(Duration.minutes(10))
        const later = yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD } })
        expect(later.headers.get("retry-after")).toBe(String(5 * 60))
        yield* expectProblem(later, 429, "TOO_MANY_ATTEMPTS")
        yield* TestClock.adjust(Duration.minutes(5))
        yield* signIn(hub)
        const audit = yield* body<{ records: ReadonlyArray<{ action: string; outcome: string; code: string | null; actor: string }> }>(
          yield* call(hub, "GET", "/api/audit?limit=20", { token: yield* signIn(hub) })
        )
        const signIns = audit.records.filter((r) => r.action === "sign-in")
        expect(signIns.map((r) => r.outcome)).toEqual(["ok", "ok", "denied", "failed", "failed", "failed", "failed", "failed"])
        expect(signIns.every((r) => r.actor === "127.0.0.1" || r.actor === "::ffff:127.0.0.1")).toBe(true)
      })
    ))

  it.scoped("sign-out deletes the session and clears the cookie", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        yield* activate(hub)
        const token = yield* signIn(hub)
        const response = yield* call(hub, "DELETE", "/api/session", { headers: { cookie: `exekra_session=${token}` } })
        expect(response.status).toBe(204)
        expect(response.headers.getSetCookie()[0]).toMatch(/^exekra_session=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)/i)
        yield* expectProblem(yield* call(hub, "GET", "/api/license", { token }), 401, "UNAUTHORIZED")
      })
    ))

  it.scoped("sessions expire after 12 hours", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        yield* activate(hub)
        const token = yield* signIn(hub)
        yield* TestClock.adjust(Duration.hours(12))
        yield* expectProblem(yield* call(hub, "GET", "/api/license", { token }), 401, "UNAUTHORIZED")
      })
    ))
})

describe("authorization", () => {
  it.scoped("every non-public route of the API definition refuses anonymous and unknown credentials with 401", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        yield* activate(hub)
        const guarded = routes.filter((route) => !publicRoutes.has(route.name))
        expect(guarded.length).toBeGreaterThanOrEqual(14)
        for (const route of guarded) {
          for (const credentials of [{}, { token: "not-a-token" }, { headers: { cookie: "exekra_session=nope" } }]) {
            const response = yield* call(hub, route.method, route.concrete, { ...credentials, ...(route.method === "GET" || route.method === "DELETE" ? {} : { json: {} }) })
            expect(`${route.name} ${response.status}`).toBe(`${route.name} 401`)
            expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/)
            yield* expectProblem(response, 401, "UNAUTHORIZED")
          }
        }
      })
    ))
})

describe("API tokens", () => {
  it.scoped("create (secret shown once), list without secrets, use as Bearer, revoke", () =>
    withAdmin((hub, admin) =>
      Effect.gen(function* () {
        const created = yield* call(hub, "POST", "/api/tokens", { token: admin, json: { name: "ci-runner" } })
        expect(created.status).toBe(201)
        const { token, name, createdAt } = yield* body<{ token: string; name: string; createdAt: string }>(created)
        expect(name).toBe("ci-runner")
        expect(token).toMatch(/^exk_[A-Za-z0-9_-]{43}$/)
        expect(Date.parse(createdAt)).toBe(NOW)

        const listed = yield* body(yield* call(hub, "GET", "/api/tokens", { token: admin }))
        expect(listed).toEqual({ tokens: [{ name: "ci-runner", createdAt: new Date(NOW).toISOString() }] })
        expect(JSON.stringify(listed)).not.toContain(token)

        const acquired = yield* call(hub, "POST", "/api/caps/unattended/principals", { token, json: { id: "runner-1" } })
        expect(acquired.status).toBe(201)
        yield* expectProblem(yield* call(hub, "POST", "/api/tokens", { token: admin, json: { name: "ci-runner" } }), 409, "TOKEN_EXISTS")
        yield* expectProblem(yield* call(hub, "POST", "/api/tokens", { token: admin, json: { name: "../x" } }), 400, "INVALID_REQUEST")

        expect((yield* call(hub, "DELETE", "/api/tokens/ci-runner", { token: admin })).status).toBe(204)
        yield* expectProblem(yield* call(hub, "GET", "/api/license", { token }), 401, "UNAUTHORIZED")
        yield* expectProblem(yield* call(hub, "DELETE", "/api/tokens/ci-runner", { token: admin }), 404, "TOKEN_NOT_FOUND")

        const audit = yield* body<{ records: ReadonlyArray<{ action: string; actor: string; principal: string | null }> }>(
          yield* call(hub, "GET", "/api/audit", { token: admin })
        )
        expect(audit.records.find((r) => r.action === "acquire" && r.principal === "runner-1")?.actor).toBe("token:ci-runner")
        expect(audit.records.map((r) => r.action)).toEqual(expect.arrayContaining(["token-create", "token-revoke"]))
      })
    ))
})

describe("request limits and problem answers", () => {
  it.scoped("refuses bodies over 128 KiB with 413 PAYLOAD_TOO_LARGE, JSON and multipart", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        const big = "x".repeat(200 * 1024)
        yield* expectProblem(yield* call(hub, "POST", "/api/activation", { json: { license: big, email: EMAIL, password: PASSWORD } }), 413, "PAYLOAD_TOO_LARGE")
        yield* expectProblem(yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: big } }), 413, "PAYLOAD_TOO_LARGE")
        const form = new FormData()
        form.append("license", new Blob([big]), "big.lic")
        yield* expectProblem(yield* call(hub, "POST", "/api/activation", { body: form }), 413, "PAYLOAD_TOO_LARGE")
        // Regression (issue 16): a body streamed without Content-Length is cut off at the limit and answered 413 too,
        // where the connection used to be reset ("other side closed").
        const streamed = yield* Effect.promise(() =>
          fetch(`${hub.url}/api/session`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: new ReadableStream({
              start(controller) {
                controller.enqueue(new TextEncoder().encode(JSON.stringify({ email: EMAIL, password: big })))
                controller.close()
              }
            }),
            duplex: "half"
          } as RequestInit).then(async (r) => ({ status: r.status, body: await r.json() }), (e: unknown) => ({ status: "reset", body: String(e) }))
        )
        expect(streamed).toEqual({ status: 413, body: expect.objectContaining({ code: "PAYLOAD_TOO_LARGE" }) })
        expect(yield* body(yield* call(hub, "GET", "/api/activation"))).toMatchObject({ activated: false })
      })
    ))

  it.scoped("answers unknown routes, unknown caps and invalid bodies with problems", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        yield* expectProblem(yield* call(hub, "GET", "/api/nope", { token }), 404, "NOT_FOUND")
        const unknownCap = yield* expectProblem(yield* call(hub, "GET", "/api/caps/robots/principals", { token }), 400, "INVALID_REQUEST")
        expect(unknownCap["detail"]).toBe('The request does not match the API: cap: a cap is one of "unattended", "developer", "attended".')
        yield* expectProblem(yield* call(hub, "POST", "/api/caps/unattended/principals", { token, json: { name: "no id" } }), 400, "INVALID_REQUEST")
        yield* expectProblem(yield* call(hub, "POST", "/api/caps/unattended/principals", { token, json: { id: "a b/c" } }), 400, "INVALID_REQUEST")
        yield* expectProblem(yield* call(hub, "POST", "/api/session", { body: "{", headers: { "content-type": "application/json" } }), 400, "INVALID_REQUEST")
        yield* expectProblem(yield* call(hub, "GET", "/api/audit?limit=0", { token }), 400, "INVALID_REQUEST")
      })
    ))
})

describe("failures inside the Hub", () => {
  // Regression guard for leaking internals: store errors carry paths and SQLite messages.
  const secrets = /SQLITE|\/var\/lib|boom/
  const failingStore = Layer.effect(
    LicenseStore.LicenseStore,
    Effect.map(LicenseStore.makeMemory, (store) => ({
      ...store,
      listAudit: () => Effect.fail(new LicenseStore.StoreError({ code: "STORE_UNAVAILABLE", message: "SQLITE_BUSY: database is locked" })),
      usageHistory: Effect.fail(new LicenseStore.StoreError({ code: "STORE_CORRUPT", message: "/var/lib/exekra/hub.db is not a database" })),
      listCredentials: (kind: LicenseStore.Credential["kind"]) => (kind === "api" ? Effect.die(new Error("boom")) : store.listCredentials(kind))
    }))
  )

  const logged: Array<string> = []
  it.scoped("answer 503 STORE_UNAVAILABLE or 500 INTERNAL_ERROR with a generic detail, and log the cause", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const hub = yield* startHub({}, dependencies(failingStore))
      yield* activate(hub)
      const token = yield* signIn(hub)
      const busy = yield* expectProblem(yield* call(hub, "GET", "/api/audit", { token }), 503, "STORE_UNAVAILABLE")
      const corrupt = yield* expectProblem(yield* call(hub, "GET", "/api/usage", { token }), 500, "INTERNAL_ERROR")
      const defect = yield* expectProblem(yield* call(hub, "GET", "/api/tokens", { token }), 500, "INTERNAL_ERROR")
      for (const problem of [busy, corrupt, defect]) expect(JSON.stringify(problem)).not.toMatch(secrets)
      expect(logged.join("\n")).toMatch(/SQLITE_BUSY/)
      expect(logged.join("\n")).toMatch(/not a database/)
      expect(logged.join("\n")).toMatch(/boom/)
    }).pipe(Effect.provide(Logger.add(Logger.make(({ cause, message }) => logged.push(`${String(message)} ${Cause.pretty(cause)}`))))))
})

describe("OpenAPI", () => {
  it.scoped("serves /api/openapi.json listing every route of the API, with security on the guarded ones", () =>
    withHub((hub) =>
      Effect.gen(function* () {
        const response = yield* call(hub, "GET", "/api/openapi.json")
        expect(response.status).toBe(200)
        const spec = yield* body<{
          openapi: string
          paths: Record<string, Record<string, { summary?: string; security: ReadonlyArray<unknown>; responses: Record<string, unknown> }>>
        }>(response)
        expect(spec.openapi).toMatch(/^3\./)
        for (const route of routes) {
          const operation = spec.paths[route.path.replace(/:(\w+)/g, "{$1}")]?.[route.method.toLowerCase()]
          expect(operation, `${route.method} ${route.path}`).toBeDefined()
          expect(operation!.security.length > 0, route.name).toBe(!publicRoutes.has(route.name))
        }
        const operations = Object.values(spec.paths).flatMap((p) => Object.values(p))
        expect(operations.length).toBe(routes.length)
        // Every operation says in a few words what it does.
        expect(operations.filter((o) => (o.summary ?? "").length < 8)).toEqual([])
        // Every error response is documented as what the wire carries: problem+json.
        for (const operation of operations) {
          for (const [status, response] of Object.entries(operation.responses)) {
            if (Number(status) >= 400) expect(Object.keys((response as { content: object }).content)).toEqual(["application/problem+json"])
          }
        }
        expect(Object.keys(spec.paths["/api/caps/{cap}/principals"]!["post"]!.responses).sort()).toEqual(["200", "201", "400", "401", "403", "404", "408", "413", "500", "503"])
      })
    ))
})

describe("makeWebHandler", () => {
  it.scoped("serves the same API as a fetch-style handler", () =>
    Effect.gen(function* () {
      const { handler, dispose } = HubServer.makeWebHandler(Layer.mergeAll(dependencies(), HttpServer.layerContext))
      yield* Effect.addFinalizer(() => Effect.promise(dispose))
      const health = yield* Effect.promise(() => handler(new Request("http://hub.local/api/health")))
      expect(yield* body(health)).toEqual({ status: "ok" })
      yield* expectProblem(yield* Effect.promise(() => handler(new Request("http://hub.local/api/license"))), 401, "UNAUTHORIZED")
      const spec = yield* Effect.promise(() => handler(new Request("http://hub.local/api/openapi.json")))
      expect(spec.status).toBe(200)
    }))
})

describe("admission over HTTP", () => {
  it.scoped("registers Runners up to the limit, releases, deactivates and checks", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        const acquire = (id: string) => call(hub, "POST", "/api/caps/unattended/principals", { token, json: { id, name: `Runner ${id}` } })
        const first = yield* acquire("r1")
        expect(first.status).toBe(201)
        expect(yield* body(first)).toMatchObject({ created: true, used: 1, principal: { cap: "unattended", id: "r1", name: "Runner r1", status: "active", admittedAt: new Date(NOW).toISOString() } })
        const again = yield* acquire("r1")
        expect(again.status).toBe(200)
        expect(yield* body(again)).toMatchObject({ created: false, used: 1 })
        expect((yield* acquire("r2")).status).toBe(201)
        const refused = yield* expectProblem(yield* acquire("r3"), 403, "CAP_LIMIT_REACHED")
        expect(refused["detail"]).toBe("Unattended Runner limit reached (2 of 2). Deregister a Runner or renew with a higher limit.")

        expect((yield* call(hub, "DELETE", "/api/caps/unattended/principals/r1", { token })).status).toBe(204)
        expect((yield* acquire("r3")).status).toBe(201)
        yield* expectProblem(yield* call(hub, "DELETE", "/api/caps/unattended/principals/r1", { token }), 404, "PRINCIPAL_NOT_FOUND")

        expect((yield* call(hub, "POST", "/api/caps/unattended/principals/r2/deactivate", { token })).status).toBe(204)
        const listed = yield* body<{ principals: ReadonlyArray<{ id: string; status: string }> }>(yield* call(hub, "GET", "/api/caps/unattended/principals", { token }))
        expect(listed.principals.map((p) => [p.id, p.status])).toEqual([["r2", "deactivated"], ["r3", "active"]])
        expect((yield* acquire("r4")).status).toBe(201)

        const check = yield* call(hub, "GET", "/api/caps/unattended/principals/r3/check", { token })
        expect(check.status).toBe(200)
        expect(yield* body(check)).toEqual({ allowed: true })
        yield* expectProblem(yield* call(hub, "GET", "/api/caps/unattended/principals/r2/check", { token }), 403, "PRINCIPAL_NOT_ADMITTED")

        const summary = yield* body<{ caps: { unattended: { used: number; limit: number } } }>(yield* call(hub, "GET", "/api/license", { token }))
        expect(summary.caps.unattended).toMatchObject({ used: 2, limit: 2 })
      })
    ))

  it.scoped("refuses a cap the license does not grant: 403 CAP_UNACTIVATED", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        const license = issue({ caps: { unattended: { limit: 1, expiresAt: "2027-06-01T00:00:00Z" } }, issuedAt: "2026-05-02T00:00:00Z" })
        expect((yield* call(hub, "PUT", "/api/license", { token, json: { license } })).status).toBe(200)
        yield* expectProblem(yield* call(hub, "POST", "/api/caps/developer/principals", { token, json: { id: "dev-1" } }), 403, "CAP_UNACTIVATED")
      })
    ))
})

describe("renewal and reports", () => {
  it.scoped("PUT /api/license takes a newer file (multipart) and refuses an older one (409 LICENSE_ROLLBACK)", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        const form = new FormData()
        form.append("license", new Blob([issue({ issuedAt: "2026-05-15T00:00:00Z", caps: { unattended: { limit: 5, expiresAt: "2028-01-01T00:00:00Z" } } })]), "renewal.lic")
        const renewed = yield* call(hub, "PUT", "/api/license", { token, body: form })
        expect(renewed.status).toBe(200)
        expect(yield* body(renewed)).toMatchObject({ caps: { unattended: { limit: 5, expiresAt: "2028-01-01T00:00:00.000Z" } } })
        yield* expectProblem(yield* call(hub, "PUT", "/api/license", { token, json: { license: issue({ issuedAt: "2026-04-01T00:00:00Z" }) } }), 409, "LICENSE_ROLLBACK")
        yield* expectProblem(yield* call(hub, "PUT", "/api/license", { token, json: { license: "garbage" } }), 400, "LICENSE_MALFORMED")
      })
    ))

  it.scoped("GET /api/usage gives daily peaks as JSON and as CSV; GET /api/audit is newest first", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        yield* call(hub, "POST", "/api/caps/unattended/principals", { token, json: { id: "r1" } })
        yield* call(hub, "POST", "/api/caps/unattended/principals", { token, json: { id: "r2" } })
        const usage = yield* body(yield* call(hub, "GET", "/api/usage", { token }))
        expect(usage).toEqual({ days: [{ cap: "unattended", day: "2026-06-01", peak: 2 }] })
        const csv = yield* call(hub, "GET", "/api/usage?format=csv", { token })
        expect(csv.headers.get("content-type")).toMatch(/^text\/csv/)
        expect(yield* Effect.promise(() => csv.text())).toBe("day,cap,peak\r\n2026-06-01,unattended,2\r\n")
        const audit = yield* body<{ records: ReadonlyArray<{ action: string; principal: string | null }> }>(yield* call(hub, "GET", "/api/audit?limit=2", { token }))
        expect(audit.records.map((r) => [r.action, r.principal])).toEqual([["acquire", "r2"], ["acquire", "r1"]])
      })
    ))
})

/** Open the event stream with node:http rather than fetch: its own connection (no agent), so closing it is immediate. */
const openEvents = (hub: Hub, token: string) =>
  Effect.gen(function* () {
    const response = yield* Effect.acquireRelease(
      Effect.async<IncomingMessage>((resume) => {
        get(`${hub.url}/api/events`, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => resume(Effect.succeed(res)))
      }),
      (res) => Effect.sync(() => res.destroy())
    )
    response.setEncoding("utf8")
    const chunks = response[Symbol.asyncIterator]() as AsyncIterator<string>
    let buffer = ""
    /** Read frames until one satisfies `wanted`; earlier frames are skipped. */
    const frame = (wanted: (frame: string) => boolean) =>
      Effect.promise(async () => {
        for (;;) {
          const frames = buffer.split("\n\n")
          buffer = frames.pop()!
          const index = frames.findIndex(wanted)
          if (index >= 0) {
            buffer = frames.slice(index + 1).map((f) => `${f}\n\n`).join("") + buffer
            return frames[index]!
          }
          const chunk = await chunks.next()
          if (chunk.done === true) throw new Error("the stream ended")
          buffer += chunk.value
        }
      })
    const next = (tag: string) =>
      Effect.map(
        frame((f) => f.startsWith("data: ") && JSON.parse(f.slice(6))._tag === tag),
        (f) => JSON.parse(f.slice(6)) as Record<string, unknown>
      )
    /** Resolves when the server ends the stream. */
    const ended = Effect.promise(async () => {
      for (;;) if ((await chunks.next()).done === true) return
    })
    return { response, frame, next, ended }
  })

describe("GET /api/events", () => {
  it.scoped("streams a snapshot, then a UsageChanged event when a Runner is registered, with keep-alives", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        const { response, frame, next } = yield* openEvents(hub, token)
        expect(response.statusCode).toBe(200)
        expect(response.headers["content-type"]).toMatch(/^text\/event-stream/)
        const snapshot = yield* next("Snapshot")
        expect(snapshot).toMatchObject({ summary: { activated: true, caps: { unattended: { used: 0 } } } })
        expect((yield* call(hub, "POST", "/api/caps/unattended/principals", { token, json: { id: "r1" } })).status).toBe(201)
        const usage = yield* next("UsageChanged")
        expect(usage).toMatchObject({ cap: "unattended", used: 1, status: { cap: "unattended", used: 1, limit: 2 } })
        // Keep-alive comments follow the clock (TestClock here): one per 15 s interval.
        yield* TestClock.adjust(Duration.seconds(15))
        expect(yield* frame((f) => f.startsWith(":"))).toBe(": keep-alive")
      })
    ))

  it.scoped("ends open streams when the server shuts down, so closing never waits for a dashboard", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const hubScope = yield* Scope.make()
      const hub = yield* startHub({}, dependencies(), "runtime-outermost").pipe(Scope.extend(hubScope))
      yield* activate(hub)
      const events = yield* openEvents(hub, yield* signIn(hub))
      yield* events.next("Snapshot")
      yield* Scope.close(hubScope, Exit.void)
      yield* events.ended
    }))
})
