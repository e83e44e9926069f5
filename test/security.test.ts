// Security of the Hub's HTTP surface: every route from the router's own list, sign-in limits, cookies, CSRF, body limits, credentials, secrets, the phone-home body.
import { existsSync, statSync } from "node:fs"
import { request } from "node:http"
import { dirname, join } from "node:path"
import { FetchHttpClient, HttpApi } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Keyring, Keys, PortalClient, Signer } from "@exekra/core"
import { hashSecret } from "@exekra/server/AdminAuth"
import { DATABASE_FILE, start as startServedHub } from "@exekra/server/Hub"
import { Api } from "@exekra/server/http/index"
import * as Csrf from "@exekra/server/pages/Csrf"
import * as ReferencePortal from "@exekra/server/portal/ReferencePortal"
import { Cause, Duration, Effect, Layer, Logger, LogLevel, Option, TestClock } from "effect"
import { activate, call, type Call, expectProblem, type Hub, type HubOptions, readBody, routerRoutes, signIn, startHub, tempDir } from "./support/badHub.js"

const NOW = Date.parse("2026-06-01T00:00:00Z")
const EMAIL = "admin@secure.example"
const PASSWORD = "correct horse battery staple 8"
const vendor = Keys.privateKeyFromSeed(new Uint8Array(32).fill(0x53))
const keyring = Keyring.make([vendor.publicKey])

const license = (over: Partial<Signer.Issuable> = {}) =>
  Signer.sign(
    {
      licenseId: "lic_secure",
      type: "production",
      issuedTo: { name: "Secure Corp", email: EMAIL },
      issuedAt: "2026-05-01T00:00:00Z",
      caps: { unattended: { limit: 5, expiresAt: "2027-06-01T00:00:00Z" }, developer: { limit: 2, expiresAt: "2027-06-01T00:00:00Z" } },
      validation: { required: false, intervalHours: 24 },
      ...over
    },
    vendor
  )

/** An activated Hub at NOW and an admin session token. */
const withAdmin = <A, E>(f: (hub: Hub, token: string) => Effect.Effect<A, E, never>, options: Partial<HubOptions> = {}) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(NOW)
    const hub = yield* startHub({ keyring, ...options })
    yield* activate(hub, license(), EMAIL, PASSWORD)
    return yield* f(hub, yield* signIn(hub, EMAIL, PASSWORD))
  })

/**
 * A raw HTTP request: the exact path (no URL normalisation), chunked bodies, every header as sent. Chunks are
 * written one at a time and no more once the server has answered, as a browser stops uploading a refused body.
 */
const raw = (
  hub: { readonly url: string },
  method: string,
  path: string,
  headers: Record<string, string> = {},
  chunks: ReadonlyArray<string | Uint8Array> = [],
  /** False: leave the body unfinished (a Content-Length announced and not yet sent), for answers on headers alone. */
  end = true
): Effect.Effect<{ readonly status: number; readonly headers: Record<string, string | Array<string> | undefined>; readonly body: string }> =>
  Effect.promise(
    () =>
      new Promise((resolve, reject) => {
        const url = new URL(hub.url)
        let answered = false
        const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
          answered = true
          let body = ""
          res.on("data", (c: Buffer) => (body += c.toString("utf8")))
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
            if (!end) req.destroy()
          })
        })
        // A server that answers before reading the whole body may reset the upload: the answer still counts.
        req.on("error", (error) => (answered ? undefined : reject(error)))
        const write = async () => {
          for (const chunk of chunks) {
            if (answered || req.destroyed) return
            await new Promise<void>((done) => req.write(chunk, () => setImmediate(done)))
          }
          if (end && !answered && !req.destroyed) req.end()
        }
        void write().catch(() => undefined)
      })
  )

// ---- the route list ---------------------------------------------------------------------------------------

/** The API routes anyone may call: health, activation (status and upload), sign-in, and the OpenAPI document. */
const PUBLIC = ["GET /api/health", "GET /api/activation", "POST /api/activation", "POST /api/session", "GET /api/openapi.json"]
/** The pages anyone may see: activation and sign-in (their posts need the form token), and the static assets. */
const PUBLIC_PAGES = ["GET /activate", "POST /activate", "GET /sign-in", "POST /sign-in"]
const isAsset = (route: string) => route.startsWith("GET /assets/")

/** A path with dummy values for its parameters. */
const concrete = (path: string) => path.replace(":cap", "unattended").replace(":id", "r1").replace(":name", "ci")

describe("every route needs an admin unless it is public", () => {
  it.scoped("the router's own route list: only the public API routes answer anonymous requests (401 problem+json otherwise); only the public pages show, the others send to sign-in", () =>
    Effect.gen(function* () {
      const routes = yield* routerRoutes({ keyring })
      const listed = routes.map((r) => `${r.method} ${r.path}`)
      // Structural: the endpoints of the HttpApi without the Authorization middleware are exactly the public ones.
      const unguarded: Array<string> = []
      HttpApi.reflect(Api, {
        onGroup: () => undefined,
        onEndpoint: ({ endpoint, middleware }) => {
          if (![...middleware].some((m) => m.key === "@exekra/server/http/Authorization")) unguarded.push(`${endpoint.method} ${endpoint.path}`)
        }
      })
      expect(unguarded.sort()).toEqual(PUBLIC.filter((r) => r !== "GET /api/openapi.json").sort())
      for (const r of [...PUBLIC, ...PUBLIC_PAGES]) expect(listed).toContain(r)
      const endpoints: Array<string> = []
      HttpApi.reflect(Api, { onGroup: () => undefined, onEndpoint: ({ endpoint }) => void endpoints.push(`${endpoint.method} ${endpoint.path}`) })
      for (const e of endpoints) expect(listed).toContain(e)
      expect(endpoints.length).toBeGreaterThanOrEqual(18)

      yield* withAdmin((hub) =>
        Effect.gen(function* () {
          const anonymous: Array<string> = []
          for (const route of routes) {
            const name = `${route.method} ${route.path}`
            const path = concrete(route.path)
            if (route.path.startsWith("/api/")) {
              const bodies: ReadonlyArray<Call> =
                route.method === "GET" || route.method === "DELETE" ? [{}] : [{}, { json: { id: "r1", name: "ci", license: "x", email: EMAIL, password: "wrong password 12" } }]
              for (const init of bodies) {
                const response = yield* call(hub, route.method, path, init)
                const { text, json } = yield* readBody(response)
                expect(response.status, `${name}: ${text.slice(0, 200)}`).toBeLessThan(500)
                const code = typeof json === "object" && json !== null && "code" in json ? (json as { code: unknown }).code : undefined
                if (response.status === 401 && code === "UNAUTHORIZED") {
                  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/)
                  expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/)
                } else anonymous.push(name)
              }
            } else {
              // A page: redirects are not followed, so what the anonymous visitor gets is what is checked.
              const answer = yield* raw(hub, route.method, path, route.method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}, route.method === "POST" ? ["x=1"] : [])
              expect(answer.status, `${name}: ${answer.body.slice(0, 200)}`).toBeLessThan(500)
              const location = String(answer.headers["location"] ?? "")
              const toSignIn = answer.status === 303 && /^\/(sign-in|activate)(\?|$)/.test(location)
              // A form post without its token is refused before anything else.
              const refused = route.method === "POST" && answer.status === 403
              if (!toSignIn && !refused) anonymous.push(name)
              if (answer.status === 200) expect(answer.body, name).not.toMatch(/lic_secure|name="csrf" value="[^"]+"[^>]*>\s*<button[^>]*>Sign out/)
            }
          }
          // Anonymous answers come only from the public API routes (all of them) and the public pages.
          const seen = [...new Set(anonymous)].filter((r) => !isAsset(r))
          expect(seen.filter((r) => r.includes(" /api/")).sort()).toEqual([...PUBLIC].sort())
          expect(seen.filter((r) => !r.includes(" /api/") && !PUBLIC_PAGES.includes(r))).toEqual([])
        })
      )
    }), 60_000)

  it.scoped("no path spelling, method trick or absolute URL reaches a guarded route anonymously", () =>
    withAdmin((hub) =>
      Effect.gen(function* () {
        const attempts: ReadonlyArray<readonly [string, string, Record<string, string>]> = [
          ["GET", "/api/license", {}],
          ["HEAD", "/api/license", {}],
          ["GET", "/api//license", {}],
          ["GET", "/api/license/", {}],
          ["GET", "/API/LICENSE", {}],
          ["GET", "/api/%6Cicense", {}],
          ["GET", "/api/./license", {}],
          ["GET", "/api/health/../license", {}],
          ["GET", "/api/health/..%2Flicense", {}],
          ["GET", "//api/license", {}],
          ["GET", "http://evil.example/api/license", {}],
          ["GET", "/api/license?token=x", {}],
          ["GET", "/api/audit", { "x-http-method-override": "GET" }],
          ["POST", "/api/health", { "x-http-method-override": "DELETE" }],
          ["GET", "/api/caps/unattended/principals/%2e%2e/check", {}],
          ["GET", "/api/usage?format=csv", {}],
          ["GET", "/api/events", { accept: "text/event-stream" }]
        ]
        for (const [method, path, headers] of attempts) {
          const answer = yield* raw(hub, method, path, headers)
          expect({ method, path, refused: answer.status === 401 || answer.status === 404 }).toEqual({ method, path, refused: true })
        }
      })
    ))

  it.scoped("credentials that are almost right are refused: one character changed, cut, extended, re-cased, the stored hash, a revoked token, an ended session", () =>
    withAdmin((hub, session) =>
      Effect.gen(function* () {
        const created = (yield* readBody(yield* call(hub, "POST", "/api/tokens", { token: session, json: { name: "ci" } }))).json as { token: string }
        const api = created.token
        expect((yield* call(hub, "GET", "/api/license", { token: api })).status).toBe(200)
        const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1)
        const near = (secret: string) => [
          flip(secret, 0),
          flip(secret, Math.floor(secret.length / 2)),
          flip(secret, secret.length - 1),
          secret.slice(0, -1),
          secret + "A",
          secret.toUpperCase(),
          ` ${secret}x`,
          hashSecret(secret)
        ]
        for (const secret of [session, api]) {
          for (const wrong of near(secret)) {
            yield* expectProblem(yield* call(hub, "GET", "/api/license", { token: wrong }), 401, "UNAUTHORIZED", `bearer ${wrong}`)
            yield* expectProblem(yield* call(hub, "GET", "/api/license", { headers: { cookie: `exekra_session=${encodeURIComponent(wrong)}` } }), 401, "UNAUTHORIZED", `cookie ${wrong}`)
          }
        }
        // Other schemes and other cookie names carry nothing.
        const elsewhere: ReadonlyArray<Record<string, string>> = [
          { authorization: `Basic ${Buffer.from(`${EMAIL}:${PASSWORD}`).toString("base64")}` },
          { authorization: session },
          { cookie: `session=${session}` },
          { "x-api-key": api }
        ]
        for (const headers of elsewhere) {
          yield* expectProblem(yield* call(hub, "GET", "/api/license", { headers }), 401, "UNAUTHORIZED", JSON.stringify(headers))
        }
        yield* call(hub, "DELETE", "/api/tokens/ci", { token: session })
        yield* expectProblem(yield* call(hub, "GET", "/api/license", { token: api }), 401, "UNAUTHORIZED", "revoked API token")
        yield* call(hub, "DELETE", "/api/session", { token: session })
        yield* expectProblem(yield* call(hub, "GET", "/api/license", { token: session }), 401, "UNAUTHORIZED", "ended session")
      })
    ))

  it.scoped("a wrong email and a wrong password get the same answer: the account is not revealed", () =>
    withAdmin((hub) =>
      Effect.gen(function* () {
        const wrongPassword = yield* readBody(yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: "not the password 1" } }))
        const wrongEmail = yield* readBody(yield* call(hub, "POST", "/api/session", { json: { email: "nobody@secure.example", password: PASSWORD } }))
        expect(wrongEmail.json).toEqual(wrongPassword.json)
      })
    ))
})

// ---- sign-in rate limiting --------------------------------------------------------------------------------

describe("sign-in rate limiting", () => {
  it.scoped("5 failures lock the client out for 15 minutes: 429 with Retry-After, even with the right password, another email or a forged X-Forwarded-For", () =>
    withAdmin((hub) =>
      Effect.gen(function* () {
        for (let i = 0; i < 5; i++) {
          yield* expectProblem(yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: `wrong password ${i}` } }), 401, "INVALID_CREDENTIALS")
        }
        // The proxy is not trusted: X-Forwarded-For does not make a new client.
        const tries: ReadonlyArray<Call> = [
          { json: { email: EMAIL, password: PASSWORD } },
          { json: { email: "other@secure.example", password: PASSWORD } },
          { json: { email: EMAIL, password: PASSWORD }, headers: { "x-forwarded-for": "203.0.113.50" } },
          { json: { email: EMAIL, password: PASSWORD }, headers: { "x-forwarded-for": "203.0.113.51", "x-real-ip": "203.0.113.52", forwarded: "for=203.0.113.53" } }
        ]
        for (const init of tries) {
          const response = yield* call(hub, "POST", "/api/session", init)
          expect(response.headers.get("retry-after")).toBe(String(15 * 60))
          yield* expectProblem(response, 429, "TOO_MANY_ATTEMPTS", JSON.stringify(init.headers ?? {}))
        }
        // A session token from before keeps working: the limit is on signing in, not on the admin.
        yield* TestClock.adjust(Duration.minutes(15))
        yield* signIn(hub, EMAIL, PASSWORD)
      })
    ))
})

// ---- session cookie ---------------------------------------------------------------------------------------

const attributes = (cookie: string | undefined) => (cookie ?? "").split(";").map((p) => p.trim().toLowerCase())

describe("the session cookie", () => {
  it.scoped("is HttpOnly, SameSite=Strict, Path=/, lasts the session; over plain http it is not Secure; sign-out expires it with the same flags", () =>
    withAdmin((hub) =>
      Effect.gen(function* () {
        const response = yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD } })
        const { token } = (yield* readBody(response)).json as { token: string }
        const cookies = response.headers.getSetCookie()
        expect(cookies).toHaveLength(1)
        const set = attributes(cookies[0])
        expect(set[0]).toBe(`exekra_session=${token.toLowerCase()}`)
        expect(set).toEqual(expect.arrayContaining(["httponly", "samesite=strict", "path=/", `max-age=${12 * 3600}`]))
        expect(set).not.toContain("secure")
        expect(set.some((a) => a.startsWith("domain="))).toBe(false)
        const out = yield* call(hub, "DELETE", "/api/session", { headers: { cookie: `exekra_session=${token}` } })
        const expired = attributes(out.headers.getSetCookie()[0])
        expect(expired[0]).toBe("exekra_session=")
        expect(expired).toEqual(expect.arrayContaining(["httponly", "samesite=strict", "path=/"]))
      })
    ))

  for (const [what, options, headers, secure] of [
    ["configured for https", { secureCookies: true }, {}, true],
    ["behind a trusted proxy that says https", { trustProxy: true }, { "x-forwarded-proto": "https" }, true],
    ["with X-Forwarded-Proto: https from an untrusted client", {}, { "x-forwarded-proto": "https" }, false]
  ] as const) {
    it.scoped(`is ${secure ? "" : "not "}Secure ${what}`, () =>
      withAdmin(
        (hub) =>
          Effect.gen(function* () {
            const response = yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD }, headers })
            expect(attributes(response.headers.getSetCookie()[0]).includes("secure")).toBe(secure)
          }),
        { http: options }
      ))
  }
})

// ---- CSRF ---------------------------------------------------------------------------------------------------

const CROSS_SITE = { origin: "http://evil.example", "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" }

describe("CSRF", () => {
  it.scoped("the API offers no CORS: preflights are not answered and cross-origin reads carry no Access-Control-Allow-Origin", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        const preflight = yield* raw(hub, "OPTIONS", "/api/caps/unattended/principals", { origin: "http://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" })
        expect(preflight.status).toBeGreaterThanOrEqual(400)
        expect(preflight.headers["access-control-allow-origin"]).toBeUndefined()
        const read = yield* raw(hub, "GET", "/api/license", { origin: "http://evil.example", cookie: `exekra_session=${token}` })
        expect(read.headers["access-control-allow-origin"]).toBeUndefined()
        expect(read.headers["access-control-allow-credentials"]).toBeUndefined()
      })
    ))

  it.scoped("a JSON route refuses a text/plain body (what a cross-site form or a no-cors fetch sends), even with the session cookie", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        const cookie = `exekra_session=${token}`
        // From another site the origin check refuses it first; from the Hub's own origin the media type still does.
        yield* expectProblem(yield* call(hub, "POST", "/api/caps/unattended/principals", { body: JSON.stringify({ id: "forged" }), headers: { cookie, "content-type": "text/plain", ...CROSS_SITE } }), 403, "CROSS_ORIGIN_REQUEST")
        yield* expectProblem(yield* call(hub, "POST", "/api/tokens", { body: JSON.stringify({ name: "forged" }), headers: { cookie, "content-type": "text/plain;charset=UTF-8", ...CROSS_SITE } }), 403, "CROSS_ORIGIN_REQUEST")
        const sameOrigin = { "sec-fetch-site": "same-origin" }
        yield* expectProblem(yield* call(hub, "POST", "/api/caps/unattended/principals", { body: JSON.stringify({ id: "typed" }), headers: { cookie, "content-type": "text/plain", ...sameOrigin } }), 400, "INVALID_REQUEST")
        const principals = (yield* readBody(yield* call(hub, "GET", "/api/caps/unattended/principals", { token }))).json as { principals: ReadonlyArray<unknown> }
        expect(principals.principals).toEqual([])
      })
    ))

  // SameSite=Strict alone is not enough: a same-site page (another port on the Hub's host, a sibling subdomain) gets
  // the cookie sent, and can post a form or an untyped no-cors body without a preflight. Cookie-authenticated
  // changes need the browser's word that they come from the Hub's own origin.
  it.scoped("a cookie-authenticated state change with a form body, or none typed, from another origin is refused", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        const cookie = `exekra_session=${token}`
        const sameSite = { origin: "http://127.0.0.1:9", "sec-fetch-site": "same-site", "sec-fetch-mode": "no-cors" }
        const forged: ReadonlyArray<readonly [string, string, Record<string, string>, string]> = [
          ["POST", "/api/caps/unattended/principals", { "content-type": "application/x-www-form-urlencoded" }, "id=forged-form"],
          ["POST", "/api/caps/unattended/principals", { "content-type": "multipart/form-data; boundary=b" }, '--b\r\nContent-Disposition: form-data; name="id"\r\n\r\nforged-multipart\r\n--b--\r\n'],
          ["POST", "/api/caps/unattended/principals", {}, JSON.stringify({ id: "forged-blob" })],
          ["POST", "/api/tokens", { "content-type": "application/x-www-form-urlencoded" }, "name=forged"]
        ]
        for (const [method, path, headers, body] of forged) {
          const answer = yield* raw(hub, method, path, { cookie, ...sameSite, ...headers }, [body])
          expect({ path, body, refused: answer.status >= 400 && answer.status < 500 }).toEqual({ path, body, refused: true })
        }
        // A body-less POST: only the request's origin can tell it from the admin's own click.
        yield* call(hub, "POST", "/api/caps/unattended/principals", { token, json: { id: "r1" } })
        const deactivate = yield* raw(hub, "POST", "/api/caps/unattended/principals/r1/deactivate", { cookie, ...CROSS_SITE })
        expect(deactivate.status).toBe(403)
        // A browser without Fetch Metadata sends Origin alone: another origin is refused, the Hub's own is accepted.
        const json = { "content-type": "application/json" }
        const oldBrowser = yield* raw(hub, "POST", "/api/caps/unattended/principals", { cookie, origin: "http://127.0.0.1:9", ...json }, [JSON.stringify({ id: "old-forged" })])
        expect(oldBrowser.status).toBe(403)
        const own = yield* raw(hub, "POST", "/api/caps/unattended/principals", { cookie, origin: hub.url, ...json }, [JSON.stringify({ id: "own-page" })])
        expect(own.status).toBe(201)
        const ownFetch = yield* raw(hub, "POST", "/api/caps/unattended/principals", { cookie, origin: hub.url, "sec-fetch-site": "same-origin", ...json }, [JSON.stringify({ id: "own-fetch" })])
        expect(ownFetch.status).toBe(201)
        // Not a browser page at all (a script holding the cookie): no Origin, no Fetch Metadata.
        const script = yield* raw(hub, "POST", "/api/caps/unattended/principals", { cookie, ...json }, [JSON.stringify({ id: "script" })])
        expect(script.status).toBe(201)
        const admitted = (yield* readBody(yield* call(hub, "GET", "/api/caps/unattended/principals", { token }))).json as { principals: ReadonlyArray<{ id: string; status: string }> }
        expect(admitted.principals.filter((p) => p.status === "active").map((p) => p.id).sort()).toEqual(["own-fetch", "own-page", "r1", "script"])
      })
    ))
})

/** The session cookie a response sets, if any. */
const sessionCookie = (headers: Record<string, string | Array<string> | undefined>) =>
  ([headers["set-cookie"] ?? []].flat().find((c) => c.startsWith("exekra_session=")) ?? "").split(";")[0] ?? ""
/** The form token in a page's HTML. */
const formToken = (html: string) => new RegExp(`name="${Csrf.fieldName}" value="([^"]+)"`).exec(html)?.[1]
/** The CSRF cookie a page set. */
const csrfCookie = (headers: Record<string, string | Array<string> | undefined>) =>
  ([headers["set-cookie"] ?? []].flat().find((c) => c.startsWith(`${Csrf.cookieName}=`)) ?? "").split(";")[0] ?? ""
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const FORM = { "content-type": "application/x-www-form-urlencoded" }

describe("CSRF on the pages' form posts", () => {
  it.scoped("activation and sign-in forms: without the double-submit token (or with another one) 403 and nothing changes; with it they work", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const hub = yield* startHub({ keyring })
      const page = yield* raw(hub, "GET", "/activate")
      const token = formToken(page.body)!
      const cookie = csrfCookie(page.headers)
      expect(cookie).toBe(`${Csrf.cookieName}=${token}`)
      const activation = (extra: Record<string, string>) => {
        const body = new FormData()
        body.append("license", new Blob([license()]), "secure.lic")
        for (const [k, v] of Object.entries({ email: EMAIL, password: PASSWORD, confirm: PASSWORD, ...extra })) body.append(k, v)
        return body
      }
      const forged: ReadonlyArray<readonly [string, Record<string, string>, Record<string, string>]> = [
        ["no token, no cookie", {}, {}],
        ["the token without its cookie", { [Csrf.fieldName]: token }, {}],
        ["the cookie without the token", {}, { cookie }],
        ["another token than the cookie's", { [Csrf.fieldName]: "A".repeat(43) }, { cookie }]
      ]
      for (const [what, fields, headers] of forged) {
        const response = yield* call(hub, "POST", "/activate", { body: activation(fields), headers })
        expect({ what, status: response.status }).toEqual({ what, status: 403 })
      }
      expect((yield* readBody(yield* call(hub, "GET", "/api/activation"))).json).toMatchObject({ activated: false })
      const activated = yield* Effect.promise(() => fetch(`${hub.url}/activate`, { method: "POST", body: activation({ [Csrf.fieldName]: token }), headers: { cookie }, redirect: "manual" }))
      expect(activated.status).toBe(303)
      expect((yield* readBody(yield* call(hub, "GET", "/api/activation"))).json).toMatchObject({ activated: true })

      const signInPage = yield* raw(hub, "GET", "/sign-in", { cookie })
      const signInToken = formToken(signInPage.body)!
      for (const [what, body, headers] of [
        ["no token", form({ email: EMAIL, password: PASSWORD }), { ...FORM, cookie }],
        ["no cookie", form({ email: EMAIL, password: PASSWORD, [Csrf.fieldName]: signInToken }), FORM]
      ] as const) {
        const answer = yield* raw(hub, "POST", "/sign-in", headers, [body])
        expect({ what, status: answer.status, session: sessionCookie(answer.headers) }).toEqual({ what, status: 403, session: "" })
      }
      const signedIn = yield* raw(hub, "POST", "/sign-in", { ...FORM, cookie }, [form({ email: EMAIL, password: PASSWORD, [Csrf.fieldName]: signInToken })])
      expect(signedIn.status).toBe(303)
      expect(sessionCookie(signedIn.headers)).toMatch(/^exekra_session=.+/)
    }), 60_000)

  it.scoped("signed in: renewal, deactivation and sign-out posts without the session's token (or with another session's) are 403 and change nothing", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        const other = yield* signIn(hub, EMAIL, PASSWORD)
        yield* call(hub, "POST", "/api/caps/unattended/principals", { token, json: { id: "r1" } })
        const cookie = `exekra_session=${token}`
        const licensePage = yield* raw(hub, "GET", "/license", { cookie })
        expect(licensePage.status).toBe(200)
        const mine = formToken(licensePage.body)!
        const theirs = formToken((yield* raw(hub, "GET", "/license", { cookie: `exekra_session=${other}` })).body)!
        expect(mine).not.toBe(theirs)
        const before = (yield* readBody(yield* call(hub, "GET", "/api/license", { token }))).json as { license: { fingerprint: string } }
        const renewal = license({ issuedAt: "2026-05-20T00:00:00Z" })
        for (const csrf of [undefined, theirs, ""]) {
          const fields: Record<string, string> = csrf === undefined ? {} : { [Csrf.fieldName]: csrf }
          const renew = new FormData()
          renew.append("license", new Blob([renewal]), "renewal.lic")
          for (const [k, v] of Object.entries(fields)) renew.append(k, v)
          expect((yield* call(hub, "POST", "/license", { body: renew, headers: { cookie } })).status).toBe(403)
          expect((yield* raw(hub, "POST", "/caps/unattended/principals/r1/deactivate", { ...FORM, cookie, ...CROSS_SITE }, [form(fields)])).status).toBe(403)
          expect((yield* raw(hub, "POST", "/sign-out", { ...FORM, cookie }, [form(fields)])).status).toBe(403)
        }
        const after = (yield* readBody(yield* call(hub, "GET", "/api/license", { token }))).json as { license: { fingerprint: string } }
        expect(after.license.fingerprint).toBe(before.license.fingerprint)
        const principals = (yield* readBody(yield* call(hub, "GET", "/api/caps/unattended/principals", { token }))).json as { principals: ReadonlyArray<{ id: string; status: string }> }
        expect(principals.principals).toEqual([expect.objectContaining({ id: "r1", status: "active" })])
        expect((yield* call(hub, "GET", "/api/license", { token })).status).toBe(200)
        // With the session's own token the same post works.
        const done = yield* raw(hub, "POST", "/caps/unattended/principals/r1/deactivate", { ...FORM, cookie }, [form({ [Csrf.fieldName]: mine })])
        expect(done.status).toBe(303)
        const now = (yield* readBody(yield* call(hub, "GET", "/api/caps/unattended/principals", { token }))).json as { principals: ReadonlyArray<{ id: string; status: string }> }
        expect(now.principals).toEqual([expect.objectContaining({ id: "r1", status: "deactivated" })])
      })
    ), 60_000)
})

// ---- body limits --------------------------------------------------------------------------------------------

describe("body size limits", () => {
  const big = "x".repeat(200 * 1024)
  /** Every route that reads a body, public or not. */
  const targets = (token: string): ReadonlyArray<readonly [string, string, Record<string, string>]> => [
    ["POST", "/api/activation", {}],
    ["POST", "/api/session", {}],
    ["PUT", "/api/license", { authorization: `Bearer ${token}` }],
    ["POST", "/api/caps/unattended/principals", { authorization: `Bearer ${token}` }],
    ["POST", "/api/tokens", { authorization: `Bearer ${token}` }]
  ]

  it.scoped("bodies announced over 128 KiB are refused with 413 problem+json on every route that reads one, public or not, and so is a form's file", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        for (const [method, path, headers] of targets(token)) {
          // Refused on the Content-Length alone: only the first kilobyte is ever sent.
          const announced = yield* raw(hub, method, path, { ...headers, "content-type": "application/json", "content-length": String(big.length) }, [big.slice(0, 1024)], false)
          expect({ path, status: announced.status, code: (JSON.parse(announced.body) as { code: string }).code }).toEqual({ path, status: 413, code: "PAYLOAD_TOO_LARGE" })
          expect(announced.headers["content-type"]).toMatch(/^application\/problem\+json/)
        }
        const form = new FormData()
        form.append("license", new Blob([big]), "big.lic")
        yield* expectProblem(yield* call(hub, "PUT", "/api/license", { token, body: form }), 413, "PAYLOAD_TOO_LARGE", "multipart file")
        // Under the body limit the body is read, and refused for what it is: a license over 64 KiB.
        yield* expectProblem(yield* call(hub, "PUT", "/api/license", { token, json: { license: "y".repeat(100 * 1024) } }), 413, "LICENSE_TOO_LARGE", "100 KiB")
      })
    ))

  // Regression (issue 16, "a chunked request body over the limit must get 413 problem+json, not a reset"): a body sent
  // chunked (no Content-Length) is counted while read, and at 128 KiB @effect/platform-node destroyed the request,
  // and with it the socket: the client saw "socket hang up" (curl: "Connection reset by peer"), not the 413.
  it.scoped("bodies streamed over 128 KiB without a Content-Length are answered 413 problem+json, on the API and the pages", () =>
    withAdmin((hub, token) =>
      Effect.gen(function* () {
        const chunks = Array.from({ length: 50 }, () => "x".repeat(4096))
        for (const [method, path, headers] of targets(token)) {
          const chunked = yield* raw(hub, method, path, { ...headers, "content-type": "application/json", "transfer-encoding": "chunked" }, chunks)
          expect({ path, status: chunked.status, type: chunked.headers["content-type"] }).toEqual({ path, status: 413, type: expect.stringMatching(/^application\/problem\+json/) })
          expect((JSON.parse(chunked.body) as { code: string }).code).toBe("PAYLOAD_TOO_LARGE")
          // The rest of the body is not waited for: the answer closes the connection.
          expect(chunked.headers["connection"]).toBe("close")
        }
        // The pages read url-encoded and multipart forms through the same limit.
        const file = ['--b\r\nContent-Disposition: form-data; name="license"; filename="a.lic"\r\n\r\n', ...chunks]
        for (const [path, type, body] of [
          ["/sign-in", "application/x-www-form-urlencoded", [`email=${EMAIL}&password=`, ...chunks]],
          ["/activate", "multipart/form-data; boundary=b", file],
          ["/license", "multipart/form-data; boundary=b", file]
        ] as const) {
          const chunked = yield* raw(hub, "POST", path, { "content-type": type, "transfer-encoding": "chunked", cookie: `exekra_session=${token}` }, body)
          expect({ path, status: chunked.status, closes: chunked.headers["connection"] }).toEqual({ path, status: 413, closes: "close" })
        }
        // Nothing was left half-read: the Hub goes on answering.
        expect((yield* raw(hub, "GET", "/api/health")).status).toBe(200)
      })
    ))

  it.scoped("oversized headers and URLs are refused by the server, never a 5xx", () =>
    withAdmin((hub) =>
      Effect.gen(function* () {
        for (const [path, headers] of [
          ["/api/license", { authorization: `Bearer ${"x".repeat(20_000)}` }],
          ["/api/license", { cookie: `exekra_session=${"x".repeat(20_000)}` }],
          [`/api/caps/unattended/principals/${"a".repeat(20_000)}/check`, {}]
        ] as const) {
          const answer = yield* raw(hub, "GET", path, headers)
          expect(answer.status).toBeGreaterThanOrEqual(400)
          expect(answer.status).toBeLessThan(500)
        }
      })
    ))
})

// ---- secrets ------------------------------------------------------------------------------------------------

describe("password hashes and secrets", () => {
  it.scoped("never appear in any response of a full session (API and pages, failures included), nor in the Hub's log", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const capture = Logger.make(({ message, cause, annotations, logLevel }) => {
        lines.push(`${logLevel.label} ${JSON.stringify(message)} ${Cause.isEmpty(cause) ? "" : Cause.pretty(cause)} ${JSON.stringify([...annotations])}`)
      })
      const logged = Layer.merge(Logger.replace(Logger.defaultLogger, capture), Logger.minimumLogLevel(LogLevel.All))
      yield* Effect.gen(function* () {
        yield* TestClock.setTime(NOW)
        // A Portal client that dies: the runtime logs the failed ping, so the capture is shown to see the Hub's log.
        const dying = Layer.succeed(PortalClient.PortalClient, PortalClient.PortalClient.of({ validate: () => Effect.dieMessage("the Portal client broke") }))
        const hub = yield* startHub({ keyring, portal: dying, portalUrl: "http://portal.invalid", store: "memory" })
        const texts: Array<string> = []
        const keep = (response: Response) =>
          Effect.map(readBody(response), (b) => {
            texts.push(JSON.stringify([...response.headers]), b.text)
            return b
          })
        // The pages re-render a refused form: with the email, never with the password typed.
        const WEAK = "Zq9#weakpw"
        const activatePage = yield* raw(hub, "GET", "/activate")
        const pageCookie = csrfCookie(activatePage.headers)
        const pageToken = formToken(activatePage.body)!
        for (const [password, confirm] of [[WEAK, WEAK], [PASSWORD, `${PASSWORD}x`]] as const) {
          const form = new FormData()
          form.append("license", new Blob([license()]), "secure.lic")
          for (const [k, v] of Object.entries({ email: EMAIL, password, confirm, [Csrf.fieldName]: pageToken })) form.append(k, v)
          const refused = yield* call(hub, "POST", "/activate", { body: form, headers: { cookie: pageCookie } })
          expect(refused.status).toBe(422)
          yield* keep(refused)
        }
        // Failures first, which are the paths that log.
        yield* keep(yield* call(hub, "POST", "/api/activation", { json: { license: license(), email: EMAIL, password: "short" } }))
        yield* keep(yield* call(hub, "POST", "/api/activation", { json: { license: license(), email: "x@secure.example", password: PASSWORD } }))
        yield* keep(yield* call(hub, "POST", "/api/activation", { json: { license: license(), email: EMAIL, password: PASSWORD } }))
        yield* TestClock.adjust(0)
        yield* keep(yield* call(hub, "POST", "/api/activation", { json: { license: license(), email: EMAIL, password: PASSWORD } }))
        yield* keep(yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: `${PASSWORD}!` } }))
        const signInPage = yield* raw(hub, "GET", "/sign-in", { cookie: pageCookie })
        const wrongOnPage = yield* raw(hub, "POST", "/sign-in", { ...FORM, cookie: pageCookie }, [form({ email: EMAIL, password: `${PASSWORD}?`, [Csrf.fieldName]: formToken(signInPage.body)! })])
        expect(wrongOnPage.status).toBe(401)
        texts.push(JSON.stringify(wrongOnPage.headers), wrongOnPage.body)
        const session = (yield* keep(yield* call(hub, "POST", "/api/session", { json: { email: EMAIL, password: PASSWORD } }))).json as { token: string }
        const token = session.token
        const created = (yield* keep(yield* call(hub, "POST", "/api/tokens", { token, json: { name: "runner-pool" } }))).json as { token: string }
        for (const [method, path, init] of [
          ["GET", "/api/activation", {}],
          ["GET", "/api/license", { token }],
          ["PUT", "/api/license", { token, json: { license: license({ issuedAt: "2026-05-15T00:00:00Z" }) } }],
          ["POST", "/api/caps/unattended/principals", { token, json: { id: "r1", name: "Runner 1" } }],
          ["GET", "/api/caps/unattended/principals", { token }],
          ["GET", "/api/caps/unattended/principals/r1/check", { token: created.token }],
          ["POST", "/api/caps/unattended/principals/r1/deactivate", { token }],
          ["GET", "/api/tokens", { token }],
          ["GET", "/api/usage", { token }],
          ["GET", "/api/usage?format=csv", { token }],
          ["GET", "/api/audit?limit=1000", { token }],
          ["GET", "/api/openapi.json", {}],
          ["GET", "/api/nowhere", {}],
          ["DELETE", "/api/tokens/runner-pool", { token }]
        ] as const) {
          const response = yield* call(hub, method, path, init)
          expect(response.status, `${method} ${path}`).toBeLessThan(500)
          yield* keep(response)
        }
        // The event stream's first event (a snapshot of everything), then hang up.
        const controller = new AbortController()
        const first = yield* Effect.promise(async () => {
          const response = await fetch(`${hub.url}/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
          const reader = response.body!.getReader()
          const { value } = await reader.read()
          controller.abort()
          return new TextDecoder().decode(value)
        })
        texts.push(first)
        yield* keep(yield* call(hub, "DELETE", "/api/session", { token }))

        const admin = yield* hub.store.getAdmin
        const hash = Option.getOrThrow(admin).passwordHash
        expect(hash).toMatch(/^scrypt\$/)
        const everything = texts.join("\n")
        expect(everything).toContain("lic_secure")
        for (const secret of [hash, hash.split("$").at(-1)!, "scrypt$", PASSWORD, WEAK]) {
          expect(everything.includes(secret), `responses contain ${secret.slice(0, 12)}…`).toBe(false)
          expect(lines.join("\n").includes(secret), `the log contains ${secret.slice(0, 12)}…`).toBe(false)
        }
        // Nor does the log carry the session or API token secrets (the Hub keeps only their hashes).
        for (const secret of [token, created.token]) expect(lines.join("\n").includes(secret)).toBe(false)
      }).pipe(Effect.provide(logged))
      expect(lines.join("\n")).toContain("the Portal client broke")
    }), 60_000)
})

// ---- data at rest ----------------------------------------------------------------------------------------------

// Regression (issue 16, "hub.sqlite is 0644 today and holds password hashes"): the Hub's database was created with
// the umask, readable by every local user.
describe("the Hub's data on disk", () => {
  const mode = (path: string) => (existsSync(path) ? statSync(path).mode & 0o777 : "missing")
  /** A Hub started as `serve` starts it (Hub.start) on a data folder it creates, under the usual umask 022. */
  const startOnNewFolder = Effect.gen(function* () {
    const previous = process.umask(0o022)
    yield* Effect.addFinalizer(() => Effect.sync(() => void process.umask(previous)))
    const dataDir = join(yield* tempDir("exekra-modes-"), "srv", "data")
    const running = yield* startServedHub({ dataDir, host: "127.0.0.1", port: 0, publicKeys: [vendor.publicKey], version: "test" })
    const activated = yield* call(running, "POST", "/api/activation", { json: { license: license(), email: EMAIL, password: PASSWORD } })
    expect(activated.status).toBe(201)
    return dataDir
  })

  it.scopedLive("hub.sqlite, which holds the admin's password hash, and its -wal and -shm are owner-only (0600)", () =>
    Effect.gen(function* () {
      const database = join(yield* startOnNewFolder, DATABASE_FILE)
      expect([database, `${database}-wal`, `${database}-shm`].map(mode)).toEqual([0o600, 0o600, 0o600])
    }))

  it.scopedLive("the data folder Hub.start creates, and its missing parents, are owner-only (0700)", () =>
    Effect.gen(function* () {
      const dataDir = yield* startOnNewFolder
      expect([dataDir, dirname(dataDir)].map(mode)).toEqual([0o700, 0o700])
    }))
})

// ---- phone-home ------------------------------------------------------------------------------------------------

describe("the phone-home body", () => {
  it.scoped("has exactly licenseId, installationId and version, as the reference Portal records it", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const dir = yield* tempDir("exekra-portal-")
      const portal = yield* ReferencePortal.start({ dataDir: join(dir, "portal"), port: 0 }).pipe(Effect.provide(NodeContext.layer))
      const hub = yield* startHub({
        keyring,
        portal: PortalClient.layer({ retries: 0 }).pipe(Layer.provide(FetchHttpClient.layer)),
        portalUrl: portal.url,
        store: "memory"
      })
      yield* activate(hub, license({ validation: { required: true, intervalHours: 24 } }), EMAIL, PASSWORD)
      // The first ping is due at once; its answer travels over real sockets.
      yield* TestClock.adjust(0)
      let pings: ReadonlyArray<{ licenseId: string; installationId: string; version: string; bodyKeys: ReadonlyArray<string> }> = []
      const deadline = performance.now() + 20_000
      while (pings.length === 0 && performance.now() < deadline) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
        pings = (yield* Effect.promise(() => fetch(`${portal.url}/api/v1/pings`).then((r) => r.json()))) as typeof pings
      }
      expect(pings.length).toBeGreaterThan(0)
      for (const ping of pings) {
        expect(ping.bodyKeys).toEqual(["licenseId", "installationId", "version"])
        expect({ licenseId: ping.licenseId, installationId: ping.installationId, version: ping.version }).toEqual({
          licenseId: "lic_secure",
          installationId: hub.installationId,
          version: "test"
        })
      }
    }), 60_000)
})
