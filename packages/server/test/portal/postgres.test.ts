// The Customer Portal on PostgreSQL (`store: postgres://…`, `portal --store`, EXEKRA_PORTAL_STORE): issue → download →
// verify → renew → revoke over its API, a second Portal process on the same database serving the same sessions and
// files, and the built CLI's --store. A fresh database per suite; the tests fail (never skip) when no server answers.
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FetchHttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Keyring, PortalClient, Verifier } from "@exekra/core"
import * as CustomerPortal from "@exekra/server/portal/CustomerPortal"
import * as PortalApi from "@exekra/server/portal/PortalApi"
import * as PortalStore from "@exekra/server/portal/PortalStore"
import { Effect, Exit, Layer, Scope } from "effect"
import { displayUrl, freshDatabase, type TestDatabase } from "../../../core/test/support/postgres.js"
import { binPath, runCli } from "../cliHarness.js"
import { call, customerWithUser, decode, inDays, problem, productionTerms, staffToken, startPortal, type TestPortal } from "./helpers.js"

const dir = mkdtempSync(join(tmpdir(), "exekra-portal-pg-"))
const scope = Effect.runSync(Scope.make())
let db: TestDatabase
let portal: TestPortal
let staff: string

beforeAll(async () => {
  db = await Effect.runPromise(Scope.extend(freshDatabase(), scope))
  portal = await startPortal({ store: db.url })
  staff = await staffToken(portal)
})
afterAll(async () => {
  await portal?.close()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  rmSync(dir, { recursive: true, force: true })
})

const License_ = (reply: Awaited<ReturnType<typeof call>>) => decode(PortalApi.LicenseView, reply)

const verify = (text: string) =>
  Effect.runSync(
    Effect.flatMap(Verifier.Verifier, (verifier) => verifier.verify(text)).pipe(Effect.provide(Verifier.layerNodeCrypto(Keyring.make([portal.key.publicKey]))))
  ).payload

const validate = (url: string, licenseId: string) =>
  Effect.runPromise(
    Effect.flatMap(PortalClient.PortalClient, (client) => client.validate(url, { licenseId, installationId: "inst_0123456789abcdefghjkmnpqrs", version: "1.4.2" })).pipe(
      Effect.map((answer) => answer.status),
      Effect.provide(PortalClient.layer({ retries: 0 }).pipe(Layer.provide(FetchHttpClient.layer)))
    )
  )

describe("Customer Portal on PostgreSQL", () => {
  it("keeps its data in the database, named without the user, and nothing in a SQLite file", () => {
    expect(portal.running.database).toBe(displayUrl(db.url))
    expect(portal.running.database).not.toContain("@")
    expect(portal.running.services.store.engine).toBe("postgres")
    expect(existsSync(join(portal.dataDir, "portal", PortalStore.FILENAME))).toBe(false)
  })

  it("issues a license the customer downloads and a Hub can verify; renews, revokes and restores it; one trial only", async () => {
    const acme = await customerWithUser(portal, staff, "Acme Corp", "ann@acme.example")
    const issued = await call(portal, "POST", "/api/licenses", { token: staff, body: productionTerms(acme.customerId, "ann@acme.example") })
    expect(issued.status).toBe(201)
    const view = License_(issued)
    expect(view).toMatchObject({ type: "production", state: "active", customerName: "Acme Corp", revision: 1 })

    const file = await call(portal, "GET", `/api/licenses/${view.licenseId}/file`, { token: acme.token })
    expect(file.status).toBe(200)
    expect(file.headers.get("content-disposition")).toBe(`attachment; filename="${view.licenseId}.lic"`)
    const payload = verify(file.text)
    expect(payload).toMatchObject({ licenseId: view.licenseId, type: "production", issuedTo: { name: "Acme Corp", email: "ann@acme.example" } })
    expect(payload.caps.developer?.expiresAt.toISOString().slice(0, 10)).toBe(inDays(100))
    expect((await call(portal, "GET", `/api/licenses/${view.licenseId}/file`, { token: acme.token })).text).toBe(file.text)

    const renewed = License_(await call(portal, "POST", `/api/licenses/${view.licenseId}/renewals`, { token: staff, body: { caps: { developer: { expiresAt: inDays(465) } } } }))
    expect([renewed.revision, renewed.issuedAt > view.issuedAt]).toEqual([2, true])
    const newer = verify((await call(portal, "GET", `/api/licenses/${view.licenseId}/file`, { token: acme.token })).text)
    expect(newer.caps.developer?.expiresAt.toISOString().slice(0, 10)).toBe(inDays(465))

    expect(await validate(portal.url, view.licenseId)).toBe("valid")
    expect(await validate(portal.url, "lic_never_issued")).toBe("unknown")
    expect(License_(await call(portal, "POST", `/api/licenses/${view.licenseId}/revocation`, { token: staff })).state).toBe("revoked")
    expect(await validate(portal.url, view.licenseId)).toBe("revoked")
    const refused = await call(portal, "GET", `/api/licenses/${view.licenseId}/file`, { token: acme.token })
    expect([refused.status, problem(refused).code]).toEqual([409, "LICENSE_REVOKED"])
    expect(License_(await call(portal, "DELETE", `/api/licenses/${view.licenseId}/revocation`, { token: staff })).state).toBe("active")
    const pings = await call(portal, "GET", `/api/v1/pings?licenseId=${view.licenseId}`, { token: staff })
    expect((pings.body as ReadonlyArray<{ status: string; bodyKeys: ReadonlyArray<string> }>).map((p) => [p.status, p.bodyKeys.length])).toEqual([
      ["revoked", 3],
      ["valid", 3]
    ])

    const trialCo = await customerWithUser(portal, staff, "Trial Co", "tim@trial.example")
    expect((await call(portal, "POST", "/api/trial", { token: trialCo.token })).status).toBe(201)
    const again = await call(portal, "POST", "/api/trial", { token: trialCo.token })
    expect([again.status, problem(again).code]).toEqual([409, "TRIAL_ALREADY_TAKEN"])
  })

  it("a second Portal process on the same database serves the same sessions, licenses and files", async () => {
    const globex = await customerWithUser(portal, staff, "Globex", "gil@globex.example")
    const view = License_(await call(portal, "POST", "/api/licenses", { token: staff, body: productionTerms(globex.customerId, "gil@globex.example") }))
    const file = (await call(portal, "GET", `/api/licenses/${view.licenseId}/file`, { token: globex.token })).text
    const nodeScope = Effect.runSync(Scope.make())
    try {
      const other = await Effect.runPromise(
        CustomerPortal.start({ host: "127.0.0.1", port: 0, dataDir: join(dir, "node-b"), store: db.url, signingKey: portal.key }).pipe(
          Scope.extend(nodeScope),
          Effect.provide(NodeContext.layer)
        )
      )
      // Staff existed: no second vendor admin.
      expect(other.bootstrap).toBeNull()
      const served = await call(other, "GET", `/api/licenses/${view.licenseId}/file`, { token: globex.token })
      expect([served.status, served.text]).toEqual([200, file])
      const revoked = await call(other, "POST", `/api/licenses/${view.licenseId}/revocation`, { token: staff })
      expect(revoked.status).toBe(200)
      expect(await validate(portal.url, view.licenseId)).toBe("revoked")
    } finally {
      await Effect.runPromise(Scope.close(nodeScope, Exit.void))
    }
  })
})

/** Run `exekra-license …` with extra environment variables. */
const runWithEnv = (args: ReadonlyArray<string>, cwd: string, env: Record<string, string>) =>
  new Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resolve) => {
    execFile(process.execPath, [binPath, ...args], { cwd, env: { ...process.env, NO_COLOR: "1", ...env } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
    )
  })

describe("exekra-license portal --store (built binary)", { timeout: 120_000 }, () => {
  it("serves from EXEKRA_PORTAL_STORE, and its subcommands administer the same database with --store", async () => {
    const cwd = mkdtempSync(join(dir, "cli-"))
    const cliDb = await Effect.runPromise(Scope.extend(freshDatabase(), scope))
    expect((await runCli(["keygen", "--out", "keys"], cwd)).code).toBe(0)
    const child: ChildProcess = spawn(process.execPath, [binPath, "portal", "--port", "0", "--data", "pd", "--key", join(cwd, "keys", "private.key")], {
      cwd,
      env: { ...process.env, NO_COLOR: "1", EXEKRA_PORTAL_STORE: cliDb.url }
    })
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = ""
        child.stdout?.on("data", (chunk: Buffer) => {
          out += chunk.toString("utf8")
          const match = /listening on (http:\/\/\S+?), data in (\S+),/.exec(out)
          if (match?.[1] !== undefined) {
            expect(match[2]).toBe(displayUrl(cliDb.url))
            resolve(match[1])
          }
        })
        child.on("exit", (code) => reject(new Error(`portal exited with ${code} before listening: ${out}`)))
      })
      expect(await validate(url, "lic_cli")).toBe("unknown")
      expect((await runCli(["portal", "register", "lic_cli", "--store", cliDb.url], cwd)).stdout).toContain("registered lic_cli")
      expect(await validate(url, "lic_cli")).toBe("valid")
      // --store given to `portal` before the subcommand, and the environment variable, are honoured too.
      expect((await runCli(["portal", "--store", cliDb.url, "revoke", "lic_cli"], cwd)).stdout).toContain("revoked lic_cli")
      expect(await validate(url, "lic_cli")).toBe("revoked")
      const listed = await runWithEnv(["portal", "pings", "--license-id", "lic_cli"], cwd, { EXEKRA_PORTAL_STORE: cliDb.url })
      expect(listed.code).toBe(0)
      expect(listed.stdout.trim().split("\n").map((l) => /\s(valid|revoked|unknown)\s/.exec(l)?.[1])).toEqual(["revoked", "valid", "unknown"])
      const created = await runCli(["portal", "admin", "create", "--email", "eve@vendor.example", "--store", cliDb.url], cwd)
      expect(created.stdout).toMatch(/created staff account eve@vendor\.example; one-time password: \S+/)
      const signIn = await call({ url }, "POST", "/api/session", { body: { email: "eve@vendor.example", password: /one-time password: (\S+)/.exec(created.stdout)?.[1] } })
      expect(signIn.status).toBe(200)
      // Nothing was written under --data: the subcommands had no data directory.
      expect(existsSync(join(cwd, "data"))).toBe(false)
      expect(existsSync(join(cwd, "pd", PortalStore.FILENAME))).toBe(false)
      // A bad URL is refused without repeating its password.
      const bad = await runCli(["portal", "pings", "--store", "postgres://vendor:s3cret-pw@127.0.0.1:1/portal"], cwd)
      expect(bad.code).toBe(1)
      expect(bad.stderr).toMatch(/^DATABASE_UNAVAILABLE: The Portal database at postgres:\/\/127\.0\.0\.1:1\/portal could not connect/m)
      expect(bad.stderr).not.toContain("s3cret")
    } finally {
      child.kill("SIGINT")
    }
    expect(await exited).toBe(0)
  })
})
