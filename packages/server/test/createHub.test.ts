// createHub, the Promise API (DESIGN §10): admission to the limit, the synchronous check, events, options errors and close.
import { createPublicKey } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Admission, Keys } from "@exekra/core"
import {
  AdmissionError,
  createHub,
  type EmbeddedHub,
  HubCallError,
  type HubEvent,
  HubOptionsError,
  type HubOptions,
  StoreError
} from "@exekra/server"
import { afterEach, describe, expect, it } from "vitest"
import { licenseFile, password, vendorKey } from "./fixtures.js"

const DAY = 86_400_000
/** An ISO-8601 UTC instant `days` from now, whole seconds: createHub runs on the real clock. */
const fromNow = (days: number): string => new Date(Math.floor((Date.now() + days * DAY) / 1000) * 1000).toISOString().replace(".000Z", "Z")

/**
 * Runners: 2, for a year. Developer seats: 2, expiring in 3 days (inside the 30-day warning, so `expiring`).
 * Attended: 2, expired 2 days ago with 14 days of grace (so `grace`).
 */
const license = () =>
  licenseFile({
    issuedAt: fromNow(-30),
    caps: {
      unattended: { limit: 2, expiresAt: fromNow(365) },
      developer: { limit: 2, expiresAt: fromNow(3) },
      attended: { limit: 2, expiresAt: fromNow(-2) }
    }
  })

const publicKeyPem = Keys.publicKeyToPem(vendorKey.publicKey)

const dirs: Array<string> = []
const hubs: Array<EmbeddedHub> = []
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "exekra-createhub-"))
  dirs.push(dir)
  return dir
}

const start = async (options: Partial<HubOptions> = {}) => {
  const hub = await createHub({ dataDir: tempDir(), publicKeys: [publicKeyPem], version: "1.4.0", ...options })
  hubs.push(hub)
  return hub
}

/** Activate through the mounted API, as an admin uploading the file would. */
const activate = async (hub: EmbeddedHub, file = license()) => {
  const response = await hub.handler.fetch(
    new Request("http://hub.local/license/api/activation", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ license: file, email: "admin@acme.example", password })
    })
  )
  expect(response.status).toBe(201)
}

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected a rejection")
}

describe("createHub", () => {
  it("acquires to the limit, then rejects with an AdmissionError carrying the code, cap and sentence", async () => {
    const hub = await start()
    await activate(hub)
    const first = await hub.acquire("unattended", "runner-1", { name: "Build agent 1" })
    expect(first).toMatchObject({ created: true, used: 1, principal: { cap: "unattended", id: "runner-1", name: "Build agent 1", status: "active" } })
    // The API's JSON form: an ISO-8601 instant, not epoch milliseconds.
    expect(first.principal.admittedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    expect(await hub.acquire("unattended", "runner-1")).toMatchObject({ created: false, used: 1 })
    expect((await hub.acquire("unattended", "runner-2")).used).toBe(2)

    const denied = await rejection(hub.acquire("unattended", "runner-3"))
    expect(denied).toBeInstanceOf(AdmissionError)
    // One class: the one core's enforcement fails with, whichever package it is imported from.
    expect(denied).toBeInstanceOf(Admission.AdmissionError)
    expect(denied).toBeInstanceOf(Error)
    expect(denied).toMatchObject({
      code: "CAP_LIMIT_REACHED",
      cap: "unattended",
      message: "Unattended Runner limit reached (2 of 2). Deregister a Runner or renew with a higher limit."
    })
  })

  it("refuses before activation with CAP_UNACTIVATED, in acquire and in check", async () => {
    const hub = await start()
    expect(await rejection(hub.acquire("developer", "dev-1"))).toMatchObject({ _tag: "AdmissionError", code: "CAP_UNACTIVATED", cap: "developer" })
    expect(hub.check("developer", "dev-1")).toMatchObject({ allowed: false, code: "CAP_UNACTIVATED" })
  })

  it("check answers synchronously, from memory, what the gates answer", async () => {
    const hub = await start()
    await activate(hub)
    await hub.acquire("unattended", "runner-1")
    const answer = hub.check("unattended", "runner-1")
    expect(answer).not.toBeInstanceOf(Promise)
    expect(answer).toEqual({ allowed: true })
    expect(hub.check("unattended", "ghost")).toEqual({
      allowed: false,
      code: "PRINCIPAL_NOT_ADMITTED",
      message: expect.stringContaining("not admitted") as string
    })
    // An id the Hub could never admit is simply not admitted; a cap that does not exist is the caller's mistake.
    expect(hub.check("unattended", "not an id")).toMatchObject({ allowed: false, code: "PRINCIPAL_NOT_ADMITTED" })
    expect(() => hub.check("runners" as "unattended", "runner-1")).toThrow(HubCallError)
  })

  it("release frees the slot (true, then false); deactivate frees it and keeps the record", async () => {
    const hub = await start()
    await activate(hub)
    await hub.acquire("unattended", "runner-1")
    await hub.acquire("unattended", "runner-2")
    expect(await hub.release("unattended", "runner-1")).toBe(true)
    expect(await hub.release("unattended", "runner-1")).toBe(false)
    expect(hub.check("unattended", "runner-1")).toMatchObject({ allowed: false, code: "PRINCIPAL_NOT_ADMITTED" })
    expect((await hub.acquire("unattended", "runner-3")).created).toBe(true)

    expect(await hub.deactivate("unattended", "runner-2")).toBe(true)
    expect(await hub.deactivate("unattended", "nobody")).toBe(false)
    const summary = await hub.summary()
    expect(summary.caps.unattended.used).toBe(1)
    expect(hub.check("unattended", "runner-2")).toMatchObject({ allowed: false })
  })

  it("rejects ids and caps the Hub API could not address, with a typed error", async () => {
    const hub = await start()
    await activate(hub)
    expect(await rejection(hub.acquire("unattended", "no/slashes"))).toMatchObject({ _tag: "HubCallError", code: "PRINCIPAL_INVALID" })
    expect(await rejection(hub.release("seats" as "developer", "dev-1"))).toMatchObject({ _tag: "HubCallError", code: "CAP_INVALID" })
  })

  it("summary() is the GET /api/license body", async () => {
    const hub = await start()
    await activate(hub)
    await hub.acquire("unattended", "runner-1")
    const summary = await hub.summary()
    expect(summary).toMatchObject({ activated: true, installationId: hub.installationId, license: { licenseId: "lic_test", type: "production" } })
    expect(summary.caps.unattended).toMatchObject({ state: "active", limit: 2, used: 1 })
    expect(summary.caps.developer.state).toBe("expiring")
    expect(summary.caps.attended).toMatchObject({ state: "grace", grace: { reason: "expired" } })
    const session = await hub.handler.fetch(
      new Request("http://hub.local/license/api/session", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "admin@acme.example", password })
      })
    )
    const { token } = (await session.json()) as { token: string }
    const api = await hub.handler.fetch(new Request("http://hub.local/license/api/license", { headers: { authorization: `Bearer ${token}` } }))
    const body = (await api.json()) as typeof summary
    // Identical but for the evaluation instant.
    expect({ ...summary, clock: null }).toEqual({ ...body, clock: null })
  })

  it("subscribe delivers license installs, cap state changes (expiring, grace) and usage changes; unsubscribe stops it", async () => {
    const hub = await start()
    const events: Array<HubEvent> = []
    const stop = hub.subscribe((event) => void events.push(event))
    await activate(hub)
    await hub.acquire("unattended", "runner-1")
    await hub.release("unattended", "runner-1")
    await until(() => events.filter((e) => e._tag === "UsageChanged").length === 2)

    expect(events.some((e) => e._tag === "LicenseChanged" && e.summary.activated)).toBe(true)
    const entered = events.flatMap((e) => (e._tag === "CapStateChanged" ? [[e.cap, e.from, e.to]] : []))
    expect(entered).toEqual(
      expect.arrayContaining([
        ["unattended", "unactivated", "active"],
        ["developer", "unactivated", "expiring"],
        ["attended", "unactivated", "grace"]
      ])
    )
    const grace = events.find((e) => e._tag === "CapStateChanged" && e.to === "grace")
    // Enough to email an admin: when grace ends, as an ISO instant.
    expect(grace).toMatchObject({ status: { grace: { endsAt: expect.stringMatching(/Z$/) as string } } })
    const usage = events.flatMap((e) => (e._tag === "UsageChanged" ? [[e.cap, e.used]] : []))
    expect(usage).toEqual([
      ["unattended", 1],
      ["unattended", 0]
    ])

    stop()
    const seen = events.length
    await hub.acquire("unattended", "runner-2")
    const other: Array<HubEvent> = []
    hub.subscribe((event) => void other.push(event))
    await hub.acquire("unattended", "runner-3")
    await until(() => other.length > 0)
    expect(events.length).toBe(seen)
  })

  it("a listener that throws or rejects does not stop the others", async () => {
    const hub = await start()
    await activate(hub)
    const got: Array<string> = []
    hub.subscribe(() => {
      throw new Error("listener exploded")
    })
    hub.subscribe(async () => {
      throw new Error("async listener exploded")
    })
    hub.subscribe((event) => void got.push(event._tag))
    await hub.acquire("unattended", "runner-1")
    await hub.acquire("unattended", "runner-2")
    await until(() => got.length === 2)
    expect(got).toEqual(["UsageChanged", "UsageChanged"])
  })

  it("handler is a node listener serving the Hub API and pages under the prefix; other paths go to next", async () => {
    const hub = await start({ http: { prefix: "/admin/license" } })
    expect(hub.handler.prefix).toBe("/admin/license")
    const server = createServer((req, res) =>
      hub.handler(req, res, () => {
        res.writeHead(200, { "content-type": "text/plain" })
        res.end("host")
      })
    )
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      expect(await (await fetch(`${url}/admin/license/api/health`)).json()).toEqual({ status: "ok" })
      expect(await (await fetch(`${url}/admin/license/api/activation`)).json()).toEqual({ activated: false, installationId: hub.installationId })
      const page = await fetch(`${url}/admin/license/activate`)
      expect(page.status).toBe(200)
      expect(page.headers.get("content-type")).toMatch(/^text\/html/)
      expect(await page.text()).toContain(hub.installationId)
      expect(await (await fetch(`${url}/elsewhere`)).text()).toBe("host")
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it("trusts keys given as PEM text, file paths, node KeyObjects or Keys.PublicKey", async () => {
    const dir = tempDir()
    const path = join(dir, "vendor.pub")
    writeFileSync(path, publicKeyPem)
    for (const key of [path, createPublicKey(publicKeyPem), vendorKey.publicKey]) {
      const hub = await start({ publicKeys: [key] })
      await activate(hub)
      await hub.close()
    }
  })

  it("without publicKeys: EXEKRA_PUBLIC_KEYS, else the development key (and says where its demo license is)", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, "vendor.pub"), publicKeyPem)
    const saved = process.env["EXEKRA_PUBLIC_KEYS"]
    try {
      process.env["EXEKRA_PUBLIC_KEYS"] = join(dir, "vendor.pub")
      const vendor = await start({ publicKeys: undefined })
      expect(vendor.dev).toBeUndefined()
      await activate(vendor)
      process.env["EXEKRA_PUBLIC_KEYS"] = join(dir, "missing.pub")
      expect(await rejection(start({ publicKeys: undefined }))).toMatchObject({ _tag: "HubOptionsError", option: "publicKeys" })
      delete process.env["EXEKRA_PUBLIC_KEYS"]
      const dev = await start({ publicKeys: undefined })
      expect(dev.dev).toEqual({ licensePath: expect.stringContaining("demo-trial.lic") as string, email: "admin@example.com" })
    } finally {
      if (saved === undefined) delete process.env["EXEKRA_PUBLIC_KEYS"]
      else process.env["EXEKRA_PUBLIC_KEYS"] = saved
    }
  })

  it("heartbeat renews a leased principal's lease; an unknown principal is refused with PRINCIPAL_NOT_ADMITTED", async () => {
    const hub = await start({ leases: { unattended: { leaseSeconds: 600, reviveSeconds: 60 } } })
    await activate(hub)
    const summary = await hub.summary()
    expect(summary.caps.unattended.lease).toMatchObject({ leaseSeconds: 600, reviveSeconds: 60 })
    await hub.acquire("unattended", "runner-1")
    const beat = await hub.heartbeat("unattended", "runner-1")
    expect(beat).toMatchObject({ revived: false, used: 1, principal: { id: "runner-1", status: "active" } })
    // The lease runs ten minutes from this heartbeat.
    expect(Date.parse(beat.leaseEndsAt!) - Date.now()).toBeGreaterThan(590_000)
    const denied = await rejection(hub.heartbeat("unattended", "runner-9"))
    expect(denied).toBeInstanceOf(AdmissionError)
    expect(denied).toMatchObject({ code: "PRINCIPAL_NOT_ADMITTED", cap: "unattended" })
  })

  it("metrics: true exposes the Hub's Prometheus registry, whose series agree with summary()", async () => {
    const hub = await start({ metrics: true })
    await activate(hub)
    await hub.acquire("unattended", "runner-1")
    expect(hub.metrics).toBeDefined()
    const text = await hub.metrics!.text()
    expect(hub.metrics!.contentType).toMatch(/^text\/plain/)
    expect(text).toMatch(/^exekra_cap_used\{cap="unattended"\} 1$/m)
    expect(text).toMatch(/^exekra_cap_limit\{cap="unattended"\} 2$/m)
    expect((await start()).metrics).toBeUndefined()
  })

  it("bad options reject with a HubOptionsError naming the option and saying how to fix it", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, "bad.pub"), "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    const base: HubOptions = { dataDir: join(dir, "data"), publicKeys: [publicKeyPem], version: "1.0.0" }
    const cases: ReadonlyArray<readonly [unknown, string, RegExp]> = [
      [{ ...base, dataDir: undefined }, "dataDir", /directory for the Hub's data/],
      [{ ...base, version: "" }, "version", /your product's version/],
      [{ ...base, publicKeys: [] }, "publicKeys", /leave it out to use EXEKRA_PUBLIC_KEYS/],
      [{ ...base, publicKeys: [join(dir, "missing.pub")] }, "publicKeys[0]", /check the path/],
      [{ ...base, publicKeys: [publicKeyPem, join(dir, "bad.pub")] }, "publicKeys[1]", /Ed25519/],
      [{ ...base, publicKeys: [42] }, "publicKeys[0]", /path of an SPKI PEM file/],
      [{ ...base, portalUrl: "ftp://portal" }, "portalUrl", /http\(s\) base URL/],
      [{ ...base, store: "" }, "store", /postgres:\/\/ URL or a SQLite file path/],
      [{ ...base, http: { prefix: "license/" } }, "http.prefix", /leading slash, no trailing slash/],
      [{ ...base, http: { maxBodyBytes: 0 } }, "http.maxBodyBytes", /positive integer/],
      [{ ...base, http: { secureCookies: "yes" } }, "http.secureCookies", /"auto", true or false/],
      [{ ...base, http: { requestTimeout: -1 } }, "http.requestTimeout", /milliseconds/],
      [{ ...base, http: { trustproxy: true } }, "http.trustproxy", /Unknown option/],
      [{ ...base, datadir: "x" }, "datadir", /Unknown option "datadir"/],
      [{ ...base, leases: { unattended: { leaseSeconds: 30 } } }, "leases.unattended.leaseSeconds", /60/],
      [{ ...base, leases: { runners: { leaseSeconds: 600 } } }, "leases.runners", /takes the caps/],
      [{ ...base, metrics: "yes" }, "metrics", /true or false/],
      [null, "options", /options object/]
    ]
    for (const [options, option, message] of cases) {
      const error = await rejection(createHub(options as HubOptions))
      expect(error, option).toBeInstanceOf(HubOptionsError)
      expect(error, option).toMatchObject({ code: "HUB_OPTIONS_INVALID", option })
      expect((error as HubOptionsError).message, option).toMatch(message)
    }
  })

  it("a store that cannot be opened rejects with a StoreError carrying its code", async () => {
    const dir = tempDir()
    // A file where the database's directory should be.
    writeFileSync(join(dir, "file"), "")
    const error = await rejection(createHub({ dataDir: join(dir, "data"), store: join(dir, "file", "hub.sqlite"), publicKeys: [publicKeyPem], version: "1.0.0" }))
    expect(error).toBeInstanceOf(StoreError)
    expect(["STORE_UNAVAILABLE", "STORE_CORRUPT", "STORE_FAILED"]).toContain((error as StoreError).code)
    expect((error as StoreError).message.length).toBeGreaterThan(10)
  })

  it("close stops everything: calls fail with HUB_CLOSED, the handler answers 503, and the state is kept for the next start", async () => {
    const dataDir = tempDir()
    mkdirSync(dataDir, { recursive: true })
    const hub = await createHub({ dataDir, publicKeys: [publicKeyPem], version: "1.0.0" })
    await activate(hub)
    await hub.acquire("unattended", "runner-1")
    await hub.close()
    await hub.close()
    expect(await rejection(hub.acquire("unattended", "runner-2"))).toMatchObject({ _tag: "HubCallError", code: "HUB_CLOSED" })
    expect(await rejection(hub.summary())).toBeInstanceOf(HubCallError)
    expect(() => hub.check("unattended", "runner-1")).toThrow(/closed/)
    expect(() => hub.subscribe(() => undefined)).toThrow(HubCallError)
    const server = createServer(hub.handler)
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const answer = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/license/api/health`)
    expect(answer.status).toBe(503)
    expect(await answer.json()).toMatchObject({ code: "HUB_CLOSED" })
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))

    // The store was closed cleanly: a new hub on the same directory has the admission.
    const again = await start({ dataDir })
    expect(again.installationId).toBe(hub.installationId)
    expect(again.check("unattended", "runner-1")).toEqual({ allowed: true })
  })
})

/** Let the hub's subscription fiber deliver (a bounded number of event-loop turns, no timers). */
const until = async (condition: () => boolean): Promise<void> => {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve))
  expect(condition()).toBe(true)
}
