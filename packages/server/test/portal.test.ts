// The reference Portal over real sockets: the real PortalClient pings it; revocation, strict mode, strict bodies, restarts and the CLI.
import { type ChildProcess, spawn } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { FetchHttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { PortalClient } from "@exekra/core"
import * as PortalStore from "@exekra/server/portal/PortalStore"
import * as ReferencePortal from "@exekra/server/portal/ReferencePortal"
import { Effect, Layer, type Scope, TestClock } from "effect"
import { binPath, runCli } from "./cliHarness.js"

const dir = mkdtempSync(join(tmpdir(), "exekra-portal-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let dirs = 0
const freshDir = (): string => join(dir, `data-${++dirs}`)

const NOW = Date.parse("2026-05-01T12:00:00Z")
const request: PortalClient.ValidationRequest = { licenseId: "lic_acme", installationId: "inst_0123456789abcdefghjkmnpqrs", version: "1.4.2" }

/** Ping with the Hub's real client over fetch, no retries. */
const validate = (url: string, req: PortalClient.ValidationRequest = request) =>
  Effect.flatMap(PortalClient.PortalClient, (client) => client.validate(url, req)).pipe(
    Effect.provide(PortalClient.layer({ retries: 0 }).pipe(Layer.provide(FetchHttpClient.layer)))
  )

interface Reply {
  readonly status: number
  readonly contentType: string | null
  readonly body: unknown
}
/** A raw HTTP exchange, for what the client never sends. */
const http = (url: string, init?: RequestInit) =>
  Effect.promise(async (): Promise<Reply> => {
    const response = await fetch(url, init)
    return { status: response.status, contentType: response.headers.get("content-type"), body: await response.json() }
  })
const post = (url: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  http(`${url}/api/v1/validations`, { method: "POST", body, headers })
const listPings = (url: string, query = "") => Effect.map(http(`${url}/api/v1/pings${query}`), (r) => r.body as ReadonlyArray<Record<string, unknown>>)

/** A second connection to the Portal's file, as `portal revoke` in another process would open it. */
const admin = <A, E>(dataDir: string, use: (store: PortalStore.PortalStore.Service) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(ReferencePortal.openStore(dataDir, { create: false }), use))

/** Scope and platform services for a test; the Portal it started stops at the end. */
const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | NodeContext.NodeContext>) =>
  effect.pipe(Effect.scoped, Effect.provide(NodeContext.layer))

describe("statusOf", () => {
  it("revoked beats everything; strict makes never-registered licenses unknown", () => {
    expect(PortalStore.statusOf("revoked", false)).toBe("revoked")
    expect(PortalStore.statusOf("revoked", true)).toBe("revoked")
    expect(PortalStore.statusOf("registered", false)).toBe("valid")
    expect(PortalStore.statusOf("registered", true)).toBe("valid")
    expect(PortalStore.statusOf("unregistered", false)).toBe("valid")
    expect(PortalStore.statusOf("unregistered", true)).toBe("unknown")
  })
})

describe("reference Portal", () => {
  it.effect("answers the real PortalClient and records exactly licenseId, installationId and version, timed by the Clock", () =>
    run(
      Effect.gen(function* () {
        yield* TestClock.setTime(NOW)
        const portal = yield* ReferencePortal.start({ dataDir: freshDir(), host: "127.0.0.1", port: 0 })
        expect(portal.url).toBe(`http://127.0.0.1:${portal.port}`)
        expect(portal.port).toBeGreaterThan(0)
        const answer = yield* validate(portal.url)
        expect(answer).toEqual({ status: "valid", serverTime: new Date(NOW) })
        const pings = yield* listPings(portal.url)
        expect(pings).toEqual([
          {
            ...request,
            receivedAt: "2026-05-01T12:00:00.000Z",
            clientAddress: "127.0.0.1",
            // The keys of the body as it arrived: the phone-home discloses these three fields and nothing else.
            bodyKeys: ["licenseId", "installationId", "version"],
            status: "valid"
          }
        ])
      })
    ))

  // Regression (issue 16, "data files and folders created with modes 0600 / 0700"): portal.sqlite was 0644.
  it.effect("keeps its data owner-only: the folder it creates 0700, portal.sqlite and its -wal and -shm 0600", () =>
    run(
      Effect.gen(function* () {
        const previous = process.umask(0o022)
        yield* Effect.addFinalizer(() => Effect.sync(() => void process.umask(previous)))
        const dataDir = join(freshDir(), "portal")
        const portal = yield* ReferencePortal.start({ dataDir, host: "127.0.0.1", port: 0 })
        yield* validate(portal.url)
        const mode = (path: string) => (existsSync(path) ? statSync(path).mode & 0o777 : "missing")
        const database = join(dataDir, PortalStore.FILENAME)
        expect([dataDir, dirname(dataDir)].map(mode)).toEqual([0o700, 0o700])
        expect([database, `${database}-wal`, `${database}-shm`].map(mode)).toEqual([0o600, 0o600, 0o600])
      })
    ))

  it.effect("answers revoked once the license is revoked, and valid again once restored", () =>
    run(
      Effect.gen(function* () {
        const dataDir = freshDir()
        const portal = yield* ReferencePortal.start({ dataDir, port: 0 })
        expect((yield* validate(portal.url)).status).toBe("valid")
        expect(yield* admin(dataDir, (s) => s.revoke(request.licenseId, 1))).toBe("unregistered")
        expect((yield* validate(portal.url)).status).toBe("revoked")
        // Another license is not affected.
        expect((yield* validate(portal.url, { ...request, licenseId: "lic_other" })).status).toBe("valid")
        expect(yield* admin(dataDir, (s) => s.revoke(request.licenseId, 2))).toBe("revoked")
        expect(yield* admin(dataDir, (s) => s.restore(request.licenseId, 3))).toBe("revoked")
        expect((yield* validate(portal.url)).status).toBe("valid")
        const statuses = (yield* listPings(portal.url, `?licenseId=${request.licenseId}`)).map((p) => p.status)
        expect(statuses).toEqual(["valid", "revoked", "valid"])
      })
    ))

  it.effect("in strict mode answers unknown for a license never registered, valid once registered", () =>
    run(
      Effect.gen(function* () {
        const dataDir = freshDir()
        const portal = yield* ReferencePortal.start({ dataDir, port: 0, strict: true })
        expect((yield* validate(portal.url)).status).toBe("unknown")
        expect(yield* admin(dataDir, (s) => s.register(request.licenseId, 1))).toBe("unregistered")
        expect((yield* validate(portal.url)).status).toBe("valid")
        yield* admin(dataDir, (s) => s.revoke(request.licenseId, 2))
        // Registering does not lift a revocation; restoring does.
        expect(yield* admin(dataDir, (s) => s.register(request.licenseId, 3))).toBe("revoked")
        expect((yield* validate(portal.url)).status).toBe("revoked")
        yield* admin(dataDir, (s) => s.restore(request.licenseId, 4))
        expect((yield* validate(portal.url)).status).toBe("valid")
      })
    ))

  const malformed: ReadonlyArray<readonly [string, string, number, ReferencePortal.PortalProblemCode]> = [
    ["an extra field", JSON.stringify({ ...request, email: "admin@acme.example" }), 400, "VALIDATION_REQUEST_INVALID"],
    ["a missing field", JSON.stringify({ licenseId: request.licenseId, installationId: request.installationId }), 400, "VALIDATION_REQUEST_INVALID"],
    ["a number for a string", JSON.stringify({ ...request, version: 2 }), 400, "VALIDATION_REQUEST_INVALID"],
    ["an empty licenseId", JSON.stringify({ ...request, licenseId: "" }), 400, "VALIDATION_REQUEST_INVALID"],
    ["a JSON array", JSON.stringify([request]), 400, "VALIDATION_REQUEST_INVALID"],
    ["JSON null", "null", 400, "VALIDATION_REQUEST_INVALID"],
    ["an empty body", "", 400, "VALIDATION_REQUEST_MALFORMED"],
    ["text that is not JSON", "licenseId=lic_acme", 400, "VALIDATION_REQUEST_MALFORMED"],
    ["truncated JSON", JSON.stringify(request).slice(0, 20), 400, "VALIDATION_REQUEST_MALFORMED"],
    ["an oversize body", JSON.stringify({ ...request, version: "x".repeat(20_000) }), 413, "REQUEST_TOO_LARGE"]
  ]
  it.effect("refuses malformed bodies with a problem+json code and records none of them", () =>
    run(
      Effect.gen(function* () {
        const portal = yield* ReferencePortal.start({ dataDir: freshDir(), port: 0 })
        for (const [what, body, status, code] of malformed) {
          const reply = yield* post(portal.url, body)
          expect({ what, status: reply.status, contentType: reply.contentType, code: (reply.body as { code?: string }).code }).toEqual({
            what,
            status,
            contentType: "application/problem+json",
            code
          })
          expect(reply.body).toMatchObject({ title: expect.any(String), detail: expect.any(String), status })
        }
        const extra = yield* post(portal.url, JSON.stringify({ ...request, email: "x" }))
        expect((extra.body as { detail: string }).detail).toMatch(/email.*unexpected/)
        const missing = yield* post(portal.url, JSON.stringify({ licenseId: "a" }))
        expect((missing.body as { detail: string }).detail).toMatch(/installationId.*missing.*version.*missing/)
        expect(yield* listPings(portal.url)).toEqual([])
      })
    ))

  it.effect("lists pings newest first, filters by licenseId and limit, and refuses unknown query parameters", () =>
    run(
      Effect.gen(function* () {
        const portal = yield* ReferencePortal.start({ dataDir: freshDir(), port: 0 })
        for (const [licenseId, version] of [["lic_a", "1"], ["lic_b", "2"], ["lic_a", "3"]] as const) {
          yield* TestClock.adjust("1 second")
          yield* validate(portal.url, { ...request, licenseId, version })
        }
        expect((yield* listPings(portal.url)).map((p) => p.version)).toEqual(["3", "2", "1"])
        expect((yield* listPings(portal.url, "?licenseId=lic_a")).map((p) => p.version)).toEqual(["3", "1"])
        expect((yield* listPings(portal.url, "?licenseId=lic_a&limit=1")).map((p) => p.version)).toEqual(["3"])
        expect((yield* listPings(portal.url, "?licenseId=lic_none"))).toEqual([])
        for (const query of ["?license=lic_a", "?limit=0", "?limit=many", "?licenseId=a&licenseId=b"]) {
          const reply = yield* http(`${portal.url}/api/v1/pings${query}`)
          expect({ query, status: reply.status, body: reply.body }).toMatchObject({ query, status: 400, body: { code: "QUERY_INVALID" } })
        }
      })
    ))

  it.effect("serves /api/health, and a problem+json 404 elsewhere", () =>
    run(
      Effect.gen(function* () {
        const portal = yield* ReferencePortal.start({ dataDir: freshDir(), port: 0 })
        expect(yield* http(`${portal.url}/api/health`)).toMatchObject({ status: 200, body: { status: "ok" } })
        expect(yield* http(`${portal.url}/api/v1/validation`)).toMatchObject({
          status: 404,
          contentType: "application/problem+json",
          body: { code: "NOT_FOUND" }
        })
        // The endpoint takes POST only.
        expect(yield* http(`${portal.url}/api/v1/validations`)).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } })
      })
    ))

  it.effect("keeps pings and revocations across a restart on the same data directory", () =>
    run(
      Effect.gen(function* () {
        const dataDir = freshDir()
        yield* TestClock.setTime(NOW)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const portal = yield* ReferencePortal.start({ dataDir, port: 0 })
            yield* validate(portal.url)
            yield* admin(dataDir, (s) => s.revoke(request.licenseId, NOW))
          })
        )
        // The first server is closed, and so is its database: a clean close leaves no WAL behind.
        expect(existsSync(join(dataDir, `${PortalStore.FILENAME}-wal`))).toBe(false)
        const again = yield* ReferencePortal.start({ dataDir, port: 0 })
        expect((yield* listPings(again.url)).map((p) => [p.licenseId, p.status, p.receivedAt])).toEqual([[request.licenseId, "valid", "2026-05-01T12:00:00.000Z"]])
        expect((yield* validate(again.url)).status).toBe("revoked")
      })
    ))

  it.effect("fails to start with a stable code on a port in use or an invalid port", () =>
    run(
      Effect.gen(function* () {
        const first = yield* ReferencePortal.start({ dataDir: freshDir(), port: 0 })
        const taken = yield* Effect.flip(ReferencePortal.start({ dataDir: freshDir(), port: first.port }))
        expect(taken).toMatchObject({ code: "PORTAL_LISTEN_FAILED" })
        expect(taken.message).toContain(String(first.port))
        const invalid = yield* Effect.flip(ReferencePortal.start({ dataDir: freshDir(), port: 70_000 }))
        expect(invalid).toMatchObject({ code: "PORTAL_OPTIONS_INVALID" })
      })
    ))

  it.effect("refuses to read pings where there is no Portal database", () =>
    run(
      Effect.gen(function* () {
        const error = yield* Effect.flip(admin(freshDir(), (s) => s.pings({ limit: 10 })))
        expect(error).toMatchObject({ code: "PORTAL_DATA_MISSING" })
      })
    ))
})

/** A free TCP port on 127.0.0.1 (taken, then released). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Run `exekra-license portal …` until `stop`; resolves once it printed its URL. */
const servePortal = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ readonly url: string; readonly child: ChildProcess; readonly exited: Promise<number | null> }>((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, "portal", ...args], { cwd, env: { ...process.env, NO_COLOR: "1" } })
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const match = /listening on (http:\/\/\S+?),? /.exec(out)
      if (match?.[1] !== undefined) resolve({ url: match[1], child, exited })
    })
    child.on("exit", (code) => reject(new Error(`portal exited with ${code} before listening: ${out}`)))
  })

/** A vendor key pair from `keygen`, its private key 0600 as keygen writes it. */
const keygen = async (cwd: string): Promise<string> => {
  const made = await runCli(["keygen", "--out", "keys"], cwd)
  expect(made.code).toBe(0)
  return join(cwd, "keys", "private.key")
}

describe("exekra-license portal (built binary)", { timeout: 120_000 }, () => {
  it("serves, revokes, restores and lists pings, and shuts down cleanly on SIGINT", async () => {
    const cwd = mkdtempSync(join(dir, "cli-"))
    const port = await freePort()
    const key = await keygen(cwd)
    const served = await servePortal(["--port", String(port), "--data", "pd", "--key", key], cwd)
    const ping = () => Effect.runPromise(Effect.map(validate(served.url), (a) => a.status))
    try {
      expect(served.url).toBe(`http://127.0.0.1:${port}`)
      // The Customer Portal answers from its records: a license it neither issued nor was told about is unknown.
      expect(await ping()).toBe("unknown")
      expect((await runCli(["portal", "register", request.licenseId, "--data", "pd"], cwd)).stdout).toContain(`registered ${request.licenseId}`)
      expect(await ping()).toBe("valid")
      const revoked = await runCli(["portal", "revoke", request.licenseId, "--data", "pd"], cwd)
      expect(revoked).toMatchObject({ code: 0, stderr: "" })
      expect(revoked.stdout).toContain(`revoked ${request.licenseId}`)
      expect(await ping()).toBe("revoked")
      // --data given to `portal` before the subcommand is honoured too.
      const restored = await runCli(["portal", "--data", "pd", "restore", request.licenseId], cwd)
      expect(restored.stdout).toContain(`restored ${request.licenseId}`)
      expect(await ping()).toBe("valid")
      const listed = await runCli(["portal", "pings", "--data", "pd", "--license-id", request.licenseId], cwd)
      expect(listed.code).toBe(0)
      const lines = listed.stdout.trim().split("\n")
      expect(lines).toHaveLength(4)
      expect(lines.map((l) => /\s(valid|revoked|unknown)\s/.exec(l)?.[1])).toEqual(["valid", "revoked", "valid", "unknown"])
      expect(lines[0]).toContain("body {licenseId, installationId, version}")
      const none = await runCli(["portal", "pings", "--data", "pd", "--license-id", "lic_none"], cwd)
      expect(none.stdout.trim()).toBe("no pings recorded")
    } finally {
      served.child.kill("SIGINT")
    }
    expect(await served.exited).toBe(0)
    // The database was closed, not abandoned: SQLite removes the WAL on the last clean close.
    expect(existsSync(join(cwd, "pd", PortalStore.FILENAME))).toBe(true)
    expect(existsSync(join(cwd, "pd", `${PortalStore.FILENAME}-wal`))).toBe(false)
  })

  it("pings on a directory with no Portal data exits 1 with PORTAL_DATA_MISSING", async () => {
    const cwd = mkdtempSync(join(dir, "cli-"))
    const result = await runCli(["portal", "pings", "--data", "nowhere"], cwd)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^PORTAL_DATA_MISSING: /m)
    expect(existsSync(join(cwd, "nowhere"))).toBe(false)
  })

  it("refuses to start without a signing key, or with one others can read, saying how to fix it", async () => {
    const cwd = mkdtempSync(join(dir, "cli-"))
    const missing = await runCli(["portal", "--port", "0", "--data", "pd"], cwd)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^PORTAL_KEY_MISSING: .*--key FILE.*EXEKRA_PORTAL_KEY/m)
    const key = await keygen(cwd)
    chmodSync(key, 0o644)
    const exposed = await runCli(["portal", "--port", "0", "--data", "pd", "--key", key], cwd)
    expect(exposed.code).toBe(1)
    expect(exposed.stderr).toContain(`PORTAL_KEY_EXPOSED: The signing key ${key} is readable by others (mode 0644)`)
    expect(exposed.stderr).toContain(`chmod 600 ${key}`)
  })

  it("prints the vendor admin's one-time password at the first start only, with the key from EXEKRA_PORTAL_KEY; `portal admin create` adds staff", async () => {
    const cwd = mkdtempSync(join(dir, "cli-"))
    const key = await keygen(cwd)
    const start = async () => {
      const child = spawn(process.execPath, [binPath, "portal", "--port", "0", "--data", "pd", "--admin-email", "boss@vendor.example"], {
        cwd,
        env: { ...process.env, NO_COLOR: "1", EXEKRA_PORTAL_KEY: key }
      })
      let out = ""
      const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString("utf8")
          if (/listening on /.test(out) && (/one-time password \S+/.test(out) || out.split("\n").length > 1)) resolve()
        })
        child.on("exit", () => reject(new Error(`portal exited: ${out}`)))
        setTimeout(resolve, 15_000)
      })
      child.kill("SIGINT")
      expect(await exited).toBe(0)
      return out
    }
    const first = await start()
    expect(first).toMatch(/Vendor admin created: sign in at http:\/\/127\.0\.0\.1:\d+\/ as boss@vendor\.example with the one-time password \S{20}/)
    const again = await start()
    expect(again).not.toContain("one-time password")
    const created = await runCli(["portal", "admin", "create", "--email", "Eve@Vendor.example", "--data", "pd"], cwd)
    expect(created).toMatchObject({ code: 0, stderr: "" })
    expect(created.stdout).toMatch(/^created staff account eve@vendor\.example; one-time password: \S{20}$/m)
    const twice = await runCli(["portal", "admin", "create", "--email", "eve@vendor.example", "--data", "pd"], cwd)
    expect(twice.code).toBe(1)
    expect(twice.stderr).toMatch(/^EMAIL_TAKEN: /m)
  })
})
