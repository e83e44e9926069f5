// Issue 4's acceptance check over real HTTP: 200 concurrent registrations at a limit of 10 admit exactly 10, also after a restart.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Keys, Signer } from "@exekra/core"
import { Hub } from "@exekra/server"
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"

const vendor = Keys.privateKeyFromSeed(new Uint8Array(32).fill(11))
const license = Signer.sign(
  {
    licenseId: "lic_limit",
    type: "production",
    issuedTo: { name: "Limit Corp", email: "admin@limit.example" },
    issuedAt: "2026-01-01T00:00:00Z",
    caps: { unattended: { limit: 10, expiresAt: "2099-01-01T00:00:00Z" } },
    validation: { required: false, intervalHours: 24 }
  },
  vendor
)

/** Start a Hub in its own scope on 127.0.0.1:0; `close` stops it and its database. */
const startHub = async (dataDir: string) => {
  const scope = Effect.runSync(Scope.make())
  const running = await Effect.runPromise(
    Scope.extend(Hub.start({ dataDir, host: "127.0.0.1", port: 0, publicKeys: [vendor.publicKey], version: "test" }), scope)
  )
  return { url: running.url, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

describe("200 concurrent registrations at a limit of 10", () => {
  it("admit exactly 10 over HTTP, refuse the rest with 403 CAP_LIMIT_REACHED, and keep exactly 10 after a restart", { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "exekra-limit-"))
    const first = await startHub(dataDir)
    try {
      const activated = await fetch(`${first.url}/api/activation`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ license, email: "admin@limit.example", password: "a limit test passphrase" })
      })
      expect(activated.status).toBe(201)
      const session = await fetch(`${first.url}/api/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "admin@limit.example", password: "a limit test passphrase" })
      })
      const { token } = (await session.json()) as { token: string }
      const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" }
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          fetch(`${first.url}/api/caps/unattended/principals`, { method: "POST", headers: auth, body: JSON.stringify({ id: `runner-${i}` }) }).then(
            async (r) => ({ status: r.status, code: r.status === 403 ? ((await r.json()) as { code: string }).code : null })
          )
        )
      )
      expect(answers.filter((a) => a.status === 201).length).toBe(10)
      expect(answers.filter((a) => a.status === 403 && a.code === "CAP_LIMIT_REACHED").length).toBe(190)
      expect(answers.every((a) => a.status === 201 || a.status === 403)).toBe(true)
      await first.close()

      const second = await startHub(dataDir)
      try {
        const listed = await fetch(`${second.url}/api/caps/unattended/principals`, { headers: auth })
        const { principals } = (await listed.json()) as { principals: ReadonlyArray<{ id: string; status: string }> }
        expect(principals.filter((p) => p.status === "active").length).toBe(10)
        const more = await fetch(`${second.url}/api/caps/unattended/principals`, { method: "POST", headers: auth, body: JSON.stringify({ id: "runner-late" }) })
        expect(more.status).toBe(403)
      } finally {
        await second.close()
      }
    } finally {
      // Closing a closed scope does nothing: this only matters when an assertion failed before the restart.
      await first.close()
    }
  })
})
