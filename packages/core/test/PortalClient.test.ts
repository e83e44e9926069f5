// PortalClient against small local node:http Portals: what it sends, and each way a Portal can fail it.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { PortalClient } from "@exekra/core"
import { Effect, Either, Fiber, Layer, TestClock } from "effect"

/** One request as the fake Portal saw it. */
interface Seen {
  readonly method: string | undefined
  readonly url: string | undefined
  readonly contentType: string | undefined
  readonly accept: string | undefined
  readonly body: string
  /** performance.now() when the request arrived. */
  readonly at: number
}

type Handler = (res: ServerResponse, attempt: number) => void

/** A Portal on 127.0.0.1:0 answering with `handler`; it closes, hanging connections included, with the scope. */
const fakePortal = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly seen: ReadonlyArray<Seen>; readonly close: () => void }>((resume) => {
      const seen: Array<Seen> = []
      const server = createServer((req: IncomingMessage, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const at = performance.now()
          seen.push({ method: req.method, url: req.url, contentType: req.headers["content-type"], accept: req.headers.accept, body: Buffer.concat(chunks).toString("utf8"), at })
          handler(res, seen.length)
        })
      })
      const close = () => {
        server.closeAllConnections()
        server.close()
      }
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close })))
    }),
    ({ close }) => Effect.sync(close)
  )

const json = (status: number, body: string): Handler => (res) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(body)
}
const valid = json(200, JSON.stringify({ status: "valid", serverTime: "2026-05-01T12:00:00Z" }))

const request: PortalClient.ValidationRequest = { licenseId: "lic_acme", installationId: "inst_0123456789abcdefghjkmnpqrs", version: "1.4.2" }

/** Ping `url` with a real PortalClient over fetch; the error, if any, is returned as a value. */
const ping = (url: string, options: PortalClient.Options, req: PortalClient.ValidationRequest = request) =>
  Effect.flatMap(PortalClient.PortalClient, (client) => client.validate(url, req)).pipe(
    Effect.either,
    Effect.provide(PortalClient.layer(options).pipe(Layer.provide(FetchHttpClient.layer)))
  )

const failure = (url: string, options: PortalClient.Options) =>
  Effect.flatMap(ping(url, options), (result) => (result._tag === "Left" ? Effect.succeed(result.left) : Effect.die("expected a failure")))

// Real sockets and real (small) timers: these run on the live clock.
describe("PortalClient", () => {
  it.live("POSTs exactly licenseId, installationId and version as JSON and decodes the answer", () =>
    Effect.gen(function* () {
      const portal = yield* fakePortal(valid)
      // A caller that passes more (here through a wider object) still sends only the three fields.
      const wider = { ...request, email: "admin@acme.example", caps: { unattended: 3 } }
      const result = yield* ping(`${portal.url}/portal/`, { retries: 0 }, wider)
      expect(result._tag).toBe("Right")
      if (result._tag === "Right") expect(result.right).toEqual({ status: "valid", serverTime: new Date("2026-05-01T12:00:00Z") })
      expect(portal.seen).toHaveLength(1)
      const [seen] = portal.seen
      expect(seen?.method).toBe("POST")
      expect(seen?.url).toBe("/portal/api/v1/validations")
      expect(seen?.contentType).toMatch(/^application\/json/)
      expect(seen?.accept).toBe("application/json")
      const body = JSON.parse(seen?.body ?? "null") as Record<string, unknown>
      expect(Object.keys(body)).toEqual(["licenseId", "installationId", "version"])
      expect(body).toEqual(request)
    }).pipe(Effect.scoped))

  it.live("reports a Portal that refuses connections as PORTAL_UNREACHABLE", () =>
    Effect.gen(function* () {
      // Take a free port and release it: nothing listens there any more.
      const url = yield* Effect.scoped(Effect.map(fakePortal(valid), (p) => p.url))
      const error = yield* failure(url, { retries: 0 })
      expect(error.code).toBe("PORTAL_UNREACHABLE")
      // The message names the Portal and the socket's own reason, so an admin can tell refused from DNS from reset.
      expect(error.message).toBe(`The Portal at ${url}/api/v1/validations could not be reached (ECONNREFUSED: connect ECONNREFUSED ${url.slice("http://".length)}).`)
    }))

  it.live("reports an HTTP 500 as PORTAL_HTTP_ERROR after retrying: retries 2 makes 3 attempts, with growing pauses", () =>
    Effect.gen(function* () {
      const portal = yield* fakePortal(json(500, "{}"))
      const error = yield* failure(portal.url, { retries: 2, retryBase: "10 millis" })
      expect(error.code).toBe("PORTAL_HTTP_ERROR")
      expect(error.message).toBe("The Portal answered HTTP 500.")
      expect(portal.seen).toHaveLength(3)
      // Exponential backoff from 10 ms: about 10 ms then 20 ms between attempts (timers never fire early by more than a tick).
      const [a, b, c] = portal.seen.map((s) => s.at) as [number, number, number]
      expect(b - a).toBeGreaterThanOrEqual(9)
      expect(c - b).toBeGreaterThanOrEqual(19)
    }).pipe(Effect.scoped))

  it.live("succeeds on a retry once the Portal recovers", () =>
    Effect.gen(function* () {
      const portal = yield* fakePortal((res, attempt) => (attempt < 3 ? json(503, "{}")(res, attempt) : valid(res, attempt)))
      const result = yield* ping(portal.url, { retries: 2, retryBase: "1 millis" })
      expect(result._tag).toBe("Right")
      expect(portal.seen).toHaveLength(3)
    }).pipe(Effect.scoped))

  it.live("does not retry more than asked: retries 0 is one attempt", () =>
    Effect.gen(function* () {
      const portal = yield* fakePortal(json(500, "{}"))
      expect((yield* failure(portal.url, { retries: 0 })).code).toBe("PORTAL_HTTP_ERROR")
      expect(portal.seen).toHaveLength(1)
    }).pipe(Effect.scoped))

  const badAnswers: ReadonlyArray<readonly [string, string]> = [
    ["garbage instead of JSON", "<html>portal maintenance</html>"],
    ["an unknown status", JSON.stringify({ status: "maybe", serverTime: "2026-05-01T12:00:00Z" })],
    ["a missing serverTime", JSON.stringify({ status: "valid" })],
    ["a serverTime that is not ISO-8601 UTC", JSON.stringify({ status: "valid", serverTime: "yesterday" })],
    ["a serverTime with an offset instead of Z", JSON.stringify({ status: "valid", serverTime: "2026-05-01T12:00:00+02:00" })],
    ["a serverTime that names no real day", JSON.stringify({ status: "valid", serverTime: "2026-02-30T12:00:00Z" })],
    ["a JSON array", "[]"]
  ]
  for (const [what, body] of badAnswers) {
    it.live(`reports ${what} as PORTAL_BAD_RESPONSE`, () =>
      Effect.gen(function* () {
        const portal = yield* fakePortal(json(200, body))
        const error = yield* failure(portal.url, { retries: 0 })
        expect(error.code).toBe("PORTAL_BAD_RESPONSE")
        expect(error.message).toBe("The Portal answered with something that is not a validation result.")
      }).pipe(Effect.scoped))
  }

  // Success is exactly the 2xx range: its edges decide, and a redirect is not followed into success.
  for (const [status, code] of [[201, null], [299, null], [300, "PORTAL_HTTP_ERROR"], [304, "PORTAL_HTTP_ERROR"], [404, "PORTAL_HTTP_ERROR"]] as const) {
    it.live(`an answer with HTTP ${status} is ${code ?? "a validation result"}`, () =>
      Effect.gen(function* () {
        const portal = yield* fakePortal(json(status, JSON.stringify({ status: "revoked", serverTime: "2026-05-01T12:00:00Z" })))
        const result = yield* ping(portal.url, { retries: 0 })
        if (code === null) expect(result).toEqual(Either.right({ status: "revoked", serverTime: new Date("2026-05-01T12:00:00Z") }))
        else expect(result).toEqual(Either.left(new PortalClient.PortalError({ code, message: `The Portal answered HTTP ${status}.` })))
      }).pipe(Effect.scoped))
  }

  it.live("gives up on a Portal that never answers with PORTAL_TIMEOUT", () =>
    Effect.gen(function* () {
      // Accepts the request, never responds; the scope's close drops the connection.
      const portal = yield* fakePortal(() => {})
      const started = performance.now()
      const error = yield* failure(portal.url, { timeout: "200 millis", retries: 0 })
      expect(error.code).toBe("PORTAL_TIMEOUT")
      expect(error.message).toBe("The Portal did not answer within 200ms.")
      expect(performance.now() - started).toBeLessThan(5_000)
    }).pipe(Effect.scoped))

  it.live("times out a Portal that sends headers and then stalls mid-body", () =>
    Effect.gen(function* () {
      const portal = yield* fakePortal((res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.write('{"status":')
      })
      expect((yield* failure(portal.url, { timeout: "200 millis", retries: 0 })).code).toBe("PORTAL_TIMEOUT")
    }).pipe(Effect.scoped))

  it.live("applies the timeout to each attempt, then retries", () =>
    Effect.gen(function* () {
      const portal = yield* fakePortal((res, attempt) => (attempt === 1 ? undefined : valid(res, attempt)))
      const result = yield* ping(portal.url, { timeout: "200 millis", retries: 1, retryBase: "1 millis" })
      expect(result._tag).toBe("Right")
      expect(portal.seen).toHaveLength(2)
    }).pipe(Effect.scoped))

  // The defaults, on the TestClock (the sockets stay real, so each attempt is awaited in real time).
  const untilSeen = (portal: { readonly seen: ReadonlyArray<unknown> }, n: number) =>
    Effect.gen(function* () {
      for (let i = 0; i < 400 && portal.seen.length < n; i++) yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      expect(portal.seen).toHaveLength(n)
    })

  it.scoped("by default retries twice, 1 s then 2 s apart", () =>
    Effect.gen(function* () {
      const portal = yield* fakePortal(json(500, "{}"))
      const fiber = yield* Effect.fork(ping(portal.url, {}))
      yield* untilSeen(portal, 1)
      yield* TestClock.adjust("999 millis")
      yield* untilSeen(portal, 1)
      yield* TestClock.adjust("1 millis")
      yield* untilSeen(portal, 2)
      yield* TestClock.adjust("1999 millis")
      yield* untilSeen(portal, 2)
      yield* TestClock.adjust("1 millis")
      yield* untilSeen(portal, 3)
      const result = yield* Fiber.join(fiber)
      expect(result).toEqual(Either.left(new PortalClient.PortalError({ code: "PORTAL_HTTP_ERROR", message: "The Portal answered HTTP 500." })))
      expect(portal.seen).toHaveLength(3)
    }))

  it.scoped("by default gives each attempt 10 s", () =>
    Effect.gen(function* () {
      const portal = yield* fakePortal(() => {})
      const fiber = yield* Effect.fork(ping(portal.url, { retries: 0 }))
      yield* untilSeen(portal, 1)
      yield* TestClock.adjust("9999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      expect(result).toEqual(Either.left(new PortalClient.PortalError({ code: "PORTAL_TIMEOUT", message: "The Portal did not answer within 10s." })))
    }))

  it("joins the endpoint onto the base URL with or without trailing slashes", () => {
    expect(PortalClient.endpoint("https://portal.example")).toBe("https://portal.example/api/v1/validations")
    expect(PortalClient.endpoint("https://portal.example/base//")).toBe("https://portal.example/base/api/v1/validations")
  })
})
