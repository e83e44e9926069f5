// `exekra-license serve` as an operator runs it: flags and environment, activation over HTTP, clean shutdown.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Keys, Signer } from "@exekra/core"
import { afterEach, describe, expect, it } from "vitest"
import { type Child, start } from "./hub.js"

const children: Array<Child> = []
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop("SIGKILL")))
})

const vendor = Keys.privateKeyFromSeed(new Uint8Array(32).fill(5))
const license = (over: Partial<Signer.Issuable> = {}) =>
  Signer.sign(
    {
      licenseId: "lic_serve",
      type: "production",
      issuedTo: { name: "Serve Corp", email: "ops@serve.example" },
      issuedAt: "2026-01-01T00:00:00Z",
      caps: { unattended: { limit: 2, expiresAt: "2099-01-01T00:00:00Z" } },
      validation: { required: false, intervalHours: 24 },
      ...over
    },
    vendor
  )

describe("exekra-license serve", () => {
  it("serves the API with a trusted key from --public-key, persists across restarts and shuts down cleanly on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "exekra-serve-"))
    writeFileSync(join(dir, "vendor.pub"), Keys.publicKeyToPem(vendor.publicKey))
    const hub = start(["serve", "--port", "0", "--data", "hub-data", "--public-key", "vendor.pub"], dir)
    children.push(hub)
    const [, url] = await hub.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
    expect(await (await fetch(`${url}/api/health`)).json()).toEqual({ status: "ok" })
    const before = (await (await fetch(`${url}/api/activation`)).json()) as { activated: boolean; installationId: string }
    expect(before.activated).toBe(false)
    const activated = await fetch(`${url}/api/activation`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ license: license(), email: "OPS@serve.example", password: "a sturdy passphrase 42" })
    })
    expect(activated.status).toBe(201)
    expect(await hub.stop("SIGTERM")).toEqual({ code: 0, signal: null })
    // A clean close checkpoints the WAL: no -wal file is left behind.
    expect(existsSync(join(dir, "hub-data", "hub.sqlite"))).toBe(true)
    expect(existsSync(join(dir, "hub-data", "hub.sqlite-wal"))).toBe(false)

    // Settings from the environment, through Effect Config.
    const again = start(["serve"], dir, { EXEKRA_PORT: "0", EXEKRA_DATA: "hub-data", EXEKRA_PUBLIC_KEYS: "vendor.pub" })
    children.push(again)
    const [, url2] = await again.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
    const after = (await (await fetch(`${url2}/api/activation`)).json()) as { activated: boolean; installationId: string }
    expect(after).toEqual({ activated: true, installationId: before.installationId })
    expect(await again.stop("SIGINT")).toEqual({ code: 0, signal: null })
  })

  it("without a trusted key creates a development key and a demo trial license, and prints where they are", async () => {
    const dir = mkdtempSync(join(tmpdir(), "exekra-serve-dev-"))
    const hub = start(["serve", "--port", "0", "--data", "data"], dir)
    children.push(hub)
    const [, url] = await hub.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
    const [, file] = await hub.waitFor(/upload the demo trial license: (\S+)/)
    const [, email] = await hub.waitFor(/Licensed email: (\S+)/)
    expect(file).toBe(join("data", "dev", "demo-trial.lic"))
    const activated = await fetch(`${url}/api/activation`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ license: readFileSync(join(dir, file!), "utf8"), email, password: "a sturdy passphrase 42" })
    })
    expect(activated.status).toBe(201)
    expect(((await activated.json()) as { license: { type: string } }).license.type).toBe("trial")
    expect(await hub.stop()).toEqual({ code: 0, signal: null })
  })

  it("fails with a code when the port is taken", async () => {
    const dir = mkdtempSync(join(tmpdir(), "exekra-serve-port-"))
    const first = start(["serve", "--port", "0", "--data", "a"], dir)
    children.push(first)
    const [, port] = await first.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/)
    const second = start(["serve", "--port", port!, "--data", "b"], dir)
    children.push(second)
    const { code } = await second.exit
    expect(code).toBe(1)
    expect(second.output()).toMatch(/HUB_LISTEN_FAILED: /)
  })
})
