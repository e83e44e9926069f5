// The embeddable Hub handler (the Effect way of embedding): options, prefix handling, and the client address the Hub sees (sign-in rate limits).
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createLicenseHandler, Hub, HubOptionsError, type LicenseHandler, LicenseRuntime } from "@exekra/server"
import { ManagedRuntime } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { licenseFile, password, vendorKey } from "./fixtures.js"

const EMAIL = "admin@acme.example"
const DAY = 86_400_000
const fromNow = (days: number): string => new Date(Math.floor((Date.now() + days * DAY) / 1000) * 1000).toISOString().replace(".000Z", "Z")

interface TestHub {
  readonly services: ManagedRuntime.ManagedRuntime<LicenseHandler.Services, unknown>
  readonly dispose: () => Promise<void>
}

/** The Hub's services on a fresh SQLite file, as a host builds them; activated unless `activated` is false. */
const makeHub = async (activated = true): Promise<TestHub> => {
  const dataDir = mkdtempSync(join(tmpdir(), "exekra-handler-"))
  const services = ManagedRuntime.make(Hub.services({ dataDir, publicKeys: [vendorKey.publicKey], version: "test" })) as TestHub["services"]
  const runtime = await services.runPromise(LicenseRuntime.LicenseRuntime)
  if (activated) {
    const license = licenseFile({ issuedAt: fromNow(-1), caps: { unattended: { limit: 1, expiresAt: fromNow(365) } } })
    await services.runPromise(runtime.activate({ license, email: EMAIL, password }))
  }
  return {
    services,
    dispose: async () => {
      await services.dispose()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

const hubs: Array<TestHub> = []
const disposers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const dispose of disposers.splice(0)) await dispose()
  for (const hub of hubs.splice(0)) await hub.dispose()
})

const setup = async (options: Parameters<typeof createLicenseHandler>[1] = {}) => {
  const hub = await makeHub()
  hubs.push(hub)
  const handler = createLicenseHandler(hub.services, options)
  disposers.push(handler.dispose)
  return handler
}

const signIn = (headers: Record<string, string> = {}) =>
  new Request("http://host.local/license/api/session", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ email: EMAIL, password: "not the password at all" })
  })

const codeOf = async (response: Response): Promise<string> => ((await response.json()) as { code: string }).code

describe("createLicenseHandler", () => {
  it("refuses a malformed prefix or body limit at creation, naming the option", async () => {
    const hub = await makeHub(false)
    hubs.push(hub)
    for (const prefix of ["license", "/license/", "/lic ense", "/a?b"]) {
      expect(() => createLicenseHandler(hub.services, { prefix })).toThrow(HubOptionsError)
    }
    expect(() => createLicenseHandler(hub.services, { maxBodyBytes: 0 })).toThrow(/maxBodyBytes must be a positive integer/)
    expect(() => createLicenseHandler(hub.services, { requestTimeout: Number.NaN })).toThrow(expect.objectContaining({ option: "requestTimeout" }) as Error)
  })

  it("serves only its prefix: the prefix itself and below it, not a longer sibling", async () => {
    const handler = await setup({ prefix: "/admin/license" })
    expect(handler.matches("/admin/license")).toBe(true)
    expect(handler.matches("/admin/license/api/health")).toBe(true)
    expect(handler.matches("/admin/licenses")).toBe(false)
    const health = await handler.fetch(new Request("http://host.local/admin/license/api/health?x=1"))
    expect(await health.json()).toEqual({ status: "ok" })
    const outside = await handler.fetch(new Request("http://host.local/admin/licenses/api/health"))
    expect(outside.status).toBe(404)
    expect(await codeOf(outside)).toBe("NOT_FOUND")
  })

  it("scopes its cookies to its prefix, so the host's other routes never receive the Hub's session", async () => {
    const handler = await setup({ prefix: "/admin/license" })
    const cookieOf = (response: Response) => response.headers.get("set-cookie") ?? ""
    const api = await handler.fetch(
      new Request("http://host.local/admin/license/api/session", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: EMAIL, password })
      })
    )
    expect(api.status).toBe(200)
    expect(cookieOf(api)).toMatch(/Path=\/admin\/license(;|$)/)
    const token = /exekra_session=([^;]+)/.exec(cookieOf(api))?.[1]
    expect(token).toBeDefined()
    const signOut = await handler.fetch(
      new Request("http://host.local/admin/license/api/session", { method: "DELETE", headers: { authorization: `Bearer ${token!}` } })
    )
    expect(cookieOf(signOut)).toMatch(/Path=\/admin\/license(;|$)/)
    // The sign-in page's pre-session CSRF cookie, and the page sign-in's session cookie, alike.
    const page = await handler.fetch(new Request("http://host.local/admin/license/sign-in"))
    expect(page.status).toBe(200)
    expect(cookieOf(page)).toMatch(/Path=\/admin\/license(;|$)/)
  })

  it("keys sign-in rate limits on the client the host saw, ignoring spoofed X-Forwarded-For unless trustProxy", async () => {
    const handler = await setup()
    const client = { remoteAddress: "10.0.0.1" }
    for (let i = 0; i < 5; i++) {
      // A different forged address each time: the Hub must still count them all against 10.0.0.1.
      expect(await codeOf(await handler.fetch(signIn({ "x-forwarded-for": `192.0.2.${i}` }), client))).toBe("INVALID_CREDENTIALS")
    }
    expect(await codeOf(await handler.fetch(signIn({ "x-forwarded-for": "192.0.2.99" }), client))).toBe("TOO_MANY_ATTEMPTS")
    // Another client is not locked out by the first.
    expect(await codeOf(await handler.fetch(signIn(), { remoteAddress: "10.0.0.2" }))).toBe("INVALID_CREDENTIALS")

    const proxied = await setup({ trustProxy: true })
    for (let i = 0; i < 6; i++) {
      expect(await codeOf(await proxied.fetch(signIn({ "x-forwarded-for": `192.0.2.${i}` }), { remoteAddress: "10.0.0.1" }))).toBe("INVALID_CREDENTIALS")
    }
  })
})
