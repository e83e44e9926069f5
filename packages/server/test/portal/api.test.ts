// The Customer Portal's JSON API over real sockets: auth and roles, CSRF, bad input as problem codes, issue → download → verify, renew, bind, trial once, revoke → validation answers revoked, another customer's license is not found.
import { statSync } from "node:fs"
import { join } from "node:path"
import { FetchHttpClient } from "@effect/platform"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Envelope, Keyring, License, PortalClient, Verifier } from "@exekra/core"
import * as PortalApi from "@exekra/server/portal/PortalApi"
import { Effect, Layer, Schema } from "effect"
import { call, customerWithUser, decode, inDays, PASSWORD, problem, productionTerms, staffToken, startPortal, type TestPortal } from "./helpers.js"

let portal: TestPortal
let staff: string

beforeAll(async () => {
  portal = await startPortal()
  staff = await staffToken(portal)
})
afterAll(async () => {
  await portal?.close()
})

const License_ = (reply: Awaited<ReturnType<typeof call>>) => decode(PortalApi.LicenseView, reply)
const Licenses = Schema.Struct({ licenses: Schema.Array(PortalApi.LicenseView) })

/** Verify a downloaded file against the Portal's public key, as a Hub would, and return its payload. */
const verify = (text: string) =>
  Effect.runSync(
    Effect.flatMap(Verifier.Verifier, (verifier) => verifier.verify(text)).pipe(Effect.provide(Verifier.layerNodeCrypto(Keyring.make([portal.key.publicKey]))))
  ).payload

const validate = (licenseId: string, installationId = "inst_0123456789abcdefghjkmnpqrs") =>
  Effect.runPromise(
    Effect.flatMap(PortalClient.PortalClient, (client) => client.validate(portal.url, { licenseId, installationId, version: "1.4.2" })).pipe(
      Effect.provide(PortalClient.layer({ retries: 0 }).pipe(Layer.provide(FetchHttpClient.layer)))
    )
  )

describe("Customer Portal API", () => {
  it("answers /api/health and documents every operation with a summary at /api/openapi.json", async () => {
    expect((await call(portal, "GET", "/api/health")).body).toEqual({ status: "ok" })
    const spec = await call(portal, "GET", "/api/openapi.json")
    const paths = (spec.body as { paths: Record<string, Record<string, { summary?: string; responses: Record<string, { content?: Record<string, unknown> }> }>> }).paths
    const operations = Object.entries(paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ op: `${method} ${path}`, summary: op.summary, op_: op })))
    expect(operations.length).toBeGreaterThan(20)
    expect(operations.filter((o) => o.summary === undefined || o.summary === "").map((o) => o.op)).toEqual([])
    for (const path of ["/api/customers", "/api/licenses", "/api/licenses/{licenseId}/file", "/api/v1/validations", "/api/trial"]) expect(Object.keys(paths)).toContain(path)
    // Every documented error is problem+json.
    for (const { op_ } of operations) {
      for (const [status, response] of Object.entries(op_.responses)) if (Number(status) >= 400) expect(Object.keys(response.content ?? {})).toEqual(["application/problem+json"])
    }
  })

  it("refuses a body over its limit with 413 PAYLOAD_TOO_LARGE in the Portal's words (it takes no license files), on the API and the pages", async () => {
    const api = problem(await call(portal, "POST", "/api/customers", { token: staff, body: { name: "x".repeat(200 * 1024) } }))
    expect(api.code).toBe("PAYLOAD_TOO_LARGE")
    expect(api.detail).toMatch(/the most the Portal accepts/)
    expect(api.detail).not.toMatch(/\.lic|license file/)
    // A streamed (chunked) form over the limit, on a page: read up to the limit, then refused alike.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 40; i++) controller.enqueue(new TextEncoder().encode(`name=${"y".repeat(8 * 1024)}&`))
        controller.close()
      }
    })
    const page = await fetch(`${portal.url}/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: chunks,
      duplex: "half"
    } as RequestInit)
    const text = await page.text()
    expect(page.status).toBe(413)
    expect(text).toMatch(/the most the Portal accepts/)
    expect(text).not.toMatch(/\.lic file/)
  })

  it("keeps its data owner-only: the data folder 0700, portal.sqlite 0600", () => {
    const mode = (path: string) => statSync(path).mode & 0o777
    expect([mode(join(portal.dataDir, "portal")), mode(join(portal.dataDir, "portal", "portal.sqlite"))]).toEqual([0o700, 0o600])
  })

  it("refuses callers without a credential, with wrong credentials, and rate-limits sign-in per address", async () => {
    const none = await call(portal, "GET", "/api/customers")
    expect(none.status).toBe(401)
    expect(problem(none).code).toBe("UNAUTHORIZED")
    expect(none.headers.get("www-authenticate")).toContain("Bearer")
    expect(problem(await call(portal, "GET", "/api/licenses", { token: "not-a-token" })).code).toBe("UNAUTHORIZED")
    const other = await startPortal({ auth: { maxAttempts: 3 } })
    try {
      for (let i = 0; i < 3; i++) {
        const wrong = await call(other, "POST", "/api/session", { body: { email: other.admin.email, password: "wrong password here" } })
        expect([wrong.status, problem(wrong).code]).toEqual([401, "INVALID_CREDENTIALS"])
      }
      const locked = await call(other, "POST", "/api/session", { body: other.admin })
      expect([locked.status, problem(locked).code]).toEqual([429, "TOO_MANY_ATTEMPTS"])
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0)
    } finally {
      await other.close()
    }
  })

  it("makes a one-time password usable only to choose a new one, and keeps customers off the vendor's routes", async () => {
    const signIn = await call(portal, "POST", "/api/session", { body: { email: portal.admin.email, password: PASSWORD } })
    expect(signIn.status).toBe(200)
    const fresh = await call(portal, "POST", "/api/customers", { token: staff, body: { name: "Temp Co" } })
    const { customerId } = decode(PortalApi.Customer, fresh)
    const user = await call(portal, "POST", `/api/customers/${customerId}/users`, { token: staff, body: { email: "temp@temp.example", handover: "temporary-password" } })
    const handover = decode(PortalApi.Handover, user)
    expect(handover.inviteUrl).toBeNull()
    const session = await call(portal, "POST", "/api/session", { body: { email: "TEMP@temp.example", password: handover.temporaryPassword } })
    const token = decode(Schema.Struct({ token: Schema.String, account: PortalApi.Account }), session)
    expect(token.account.mustChangePassword).toBe(true)
    const blocked = await call(portal, "GET", "/api/licenses", { token: token.token })
    expect([blocked.status, problem(blocked).code]).toEqual([403, "PASSWORD_CHANGE_REQUIRED"])
    const weak = await call(portal, "PUT", "/api/session/password", { token: token.token, body: { currentPassword: handover.temporaryPassword, newPassword: "short" } })
    expect([weak.status, problem(weak).code]).toEqual([422, "PASSWORD_TOO_WEAK"])
    const wrong = await call(portal, "PUT", "/api/session/password", { token: token.token, body: { currentPassword: "not it at all!!", newPassword: PASSWORD } })
    expect([wrong.status, problem(wrong).code]).toEqual([422, "PASSWORD_WRONG"])
    expect((await call(portal, "PUT", "/api/session/password", { token: token.token, body: { currentPassword: handover.temporaryPassword, newPassword: PASSWORD } })).status).toBe(200)
    expect((await call(portal, "GET", "/api/licenses", { token: token.token })).status).toBe(200)
    for (const [method, path] of [["GET", "/api/customers"], ["POST", "/api/licenses"], ["GET", "/api/audit"], ["GET", "/api/v1/pings"], ["POST", "/api/tokens"]] as const) {
      const refused = await call(portal, method, path, { token: token.token, body: method === "POST" ? (path === "/api/tokens" ? { name: "x" } : productionTerms(customerId, "a@b.example")) : undefined })
      expect({ path, status: refused.status, code: problem(refused).code }).toEqual({ path, status: 403, code: "STAFF_ONLY" })
    }
  })

  it("applies the Hub's same-origin rule to cookie-authenticated changes", async () => {
    const session = decode(Schema.Struct({ token: Schema.String }), await call(portal, "POST", "/api/session", { body: { email: portal.admin.email, password: PASSWORD } }))
    const cookie = `${PortalApi.cookieName}=${session.token}`
    const forged = await call(portal, "POST", "/api/customers", { body: { name: "Forged" }, headers: { cookie, origin: "http://evil.example", "sec-fetch-site": "cross-site" } })
    expect([forged.status, problem(forged).code]).toEqual([403, "CROSS_ORIGIN_REQUEST"])
    const sibling = await call(portal, "POST", "/api/customers", { body: { name: "Forged" }, headers: { cookie, origin: "http://127.0.0.1:1" } })
    expect([sibling.status, problem(sibling).code]).toEqual([403, "CROSS_ORIGIN_REQUEST"])
    const same = await call(portal, "POST", "/api/customers", { body: { name: "Same origin" }, headers: { cookie, "sec-fetch-site": "same-origin" } })
    expect(same.status).toBe(201)
    // A page's form post without the form's token changes nothing.
    const page = await fetch(`${portal.url}/customers`, { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: "name=NoToken", redirect: "manual" })
    expect(page.status).toBe(403)
    expect(await page.text()).toContain("This form has expired")
    const customers = decode(Schema.Struct({ customers: Schema.Array(PortalApi.Customer) }), await call(portal, "GET", "/api/customers", { token: staff }))
    expect(customers.customers.map((c) => c.name)).not.toContain("NoToken")
    expect(customers.customers.map((c) => c.name)).not.toContain("Forged")
  })

  it("answers bad input with problem codes and actionable sentences", async () => {
    const { customerId } = decode(PortalApi.Customer, await call(portal, "POST", "/api/customers", { token: staff, body: { name: "Bad Input Ltd" } }))
    const cases: ReadonlyArray<readonly [string, string, string, unknown, number, string]> = [
      ["no body fields", "POST", "/api/customers", {}, 400, "INVALID_REQUEST"],
      ["an empty name", "POST", "/api/customers", { name: "  " }, 422, "NAME_INVALID"],
      ["not JSON", "POST", "/api/customers", "{nope", 400, "INVALID_REQUEST"],
      ["no caps", "POST", "/api/licenses", { customerId, issuedTo: { email: "a@b.example" }, caps: {} }, 422, "LICENSE_TERMS_INVALID"],
      ["a date that is not one", "POST", "/api/licenses", { customerId, issuedTo: { email: "a@b.example" }, caps: { developer: { limit: 1, expiresAt: "2027-02-30" } } }, 422, "LICENSE_TERMS_INVALID"],
      ["a negative limit", "POST", "/api/licenses", { customerId, issuedTo: { email: "a@b.example" }, caps: { developer: { limit: -1, expiresAt: "2027-02-01" } } }, 400, "INVALID_REQUEST"],
      ["an unknown customer", "POST", "/api/licenses", { ...productionTerms("cus_nobody", "a@b.example") }, 404, "CUSTOMER_NOT_FOUND"],
      ["a bad installation id", "POST", "/api/licenses", { ...productionTerms(customerId, "a@b.example"), installationId: "inst_short" }, 422, "INSTALLATION_ID_INVALID"],
      ["a licensee email that is not one", "POST", "/api/licenses", productionTerms(customerId, "not an email"), 422, "LICENSE_TERMS_INVALID"],
      ["a user email that is not one", "POST", `/api/customers/${customerId}/users`, { email: "nope" }, 422, "EMAIL_INVALID"],
      ["an unknown license", "GET", "/api/licenses/lic_nothing", undefined, 404, "LICENSE_NOT_FOUND"],
      ["an unknown route", "GET", "/api/nothing", undefined, 404, "NOT_FOUND"],
      ["an invite that does not exist", "POST", "/api/invites/accept", { token: "x".repeat(43), password: PASSWORD }, 410, "INVITE_INVALID"]
    ]
    for (const [what, method, path, body, status, code] of cases) {
      const reply = await call(portal, method, path, { token: staff, body })
      const p = problem(reply)
      expect({ what, status: reply.status, code: p.code }).toEqual({ what, status, code })
      expect(p.detail.length).toBeGreaterThan(20)
    }
    await call(portal, "POST", `/api/customers/${customerId}/users`, { token: staff, body: { email: "dup@bad.example" } })
    const dup = await call(portal, "POST", `/api/customers/${customerId}/users`, { token: staff, body: { email: "DUP@bad.example" } })
    expect([dup.status, problem(dup).code]).toEqual([409, "EMAIL_TAKEN"])
    const user = decode(PortalApi.Handover, await call(portal, "POST", `/api/customers/${customerId}/users`, { token: staff, body: { email: "weak@bad.example" } }))
    const invite = new URL(user.inviteUrl ?? "").pathname.split("/").pop()
    const weak = await call(portal, "POST", "/api/invites/accept", { body: { token: invite, password: "weak@bad.example1" } })
    expect([weak.status, problem(weak).code]).toEqual([422, "PASSWORD_TOO_WEAK"])
    // The refused attempt did not use up the invite; accepting it once does.
    expect((await call(portal, "POST", "/api/invites/accept", { body: { token: invite, password: PASSWORD } })).status).toBe(200)
    expect(problem(await call(portal, "POST", "/api/invites/accept", { body: { token: invite, password: PASSWORD } })).code).toBe("INVITE_INVALID")
  })

  it("issues a signed production license the customer downloads and a Hub can verify; another customer's license is not found", async () => {
    const acme = await customerWithUser(portal, staff, "Acme Corp", "ann@acme.example")
    const globex = await customerWithUser(portal, staff, "Globex", "gil@globex.example")
    const issued = await call(portal, "POST", "/api/licenses", {
      token: staff,
      body: { ...productionTerms(acme.customerId, "ann@acme.example"), gracePeriodDays: 10, expiryWarningDays: 20, validation: { required: true, intervalHours: 12 } }
    })
    expect(issued.status).toBe(201)
    const view = License_(issued)
    expect(view).toMatchObject({ type: "production", state: "active", customerName: "Acme Corp", revision: 1, installationId: null, gracePeriodDays: 10, expiryWarningDays: 20 })
    expect(view.caps.map((c) => [c.cap, c.limit, c.state])).toEqual([["unattended", 10, "active"], ["developer", 5, "active"], ["attended", 20, "active"]])
    expect(view.validation).toEqual({ required: true, intervalHours: 12, portalUrl: portal.url })

    const mine = decode(Licenses, await call(portal, "GET", "/api/licenses", { token: acme.token }))
    expect(mine.licenses.map((l) => l.licenseId)).toEqual([view.licenseId])
    expect(decode(Licenses, await call(portal, "GET", "/api/licenses", { token: globex.token })).licenses).toEqual([])

    const file = await call(portal, "GET", `/api/licenses/${view.licenseId}/file`, { token: acme.token })
    expect(file.status).toBe(200)
    expect(file.headers.get("content-disposition")).toBe(`attachment; filename="${view.licenseId}.lic"`)
    expect(file.text.startsWith(Envelope.BEGIN)).toBe(true)
    const payload = verify(file.text)
    expect(payload).toMatchObject({ licenseId: view.licenseId, type: "production", issuedTo: { name: "Acme Corp", email: "ann@acme.example" }, gracePeriodDays: 10 })
    expect(payload.caps.developer?.expiresAt.toISOString().slice(0, 10)).toBe(inDays(100))
    // The same bytes on every download.
    expect((await call(portal, "GET", `/api/licenses/${view.licenseId}/file`, { token: acme.token })).text).toBe(file.text)

    for (const path of [`/api/licenses/${view.licenseId}`, `/api/licenses/${view.licenseId}/file`, `/api/licenses/${view.licenseId}/files`]) {
      const stranger = await call(portal, "GET", path, { token: globex.token })
      expect({ path, status: stranger.status, code: problem(stranger).code }).toEqual({ path, status: 404, code: "LICENSE_NOT_FOUND" })
    }
    const bindOther = await call(portal, "PUT", `/api/licenses/${view.licenseId}/installation`, { token: globex.token, body: { installationId: "inst_0123456789abcdefghjkmnpqrs" } })
    expect([bindOther.status, problem(bindOther).code]).toEqual([404, "LICENSE_NOT_FOUND"])
  })

  it("renews with a new file: later issuedAt, the Developer expiry moved, the other caps kept; the customer sees it at once", async () => {
    const c = await customerWithUser(portal, staff, "Renewal Inc", "rita@renewal.example")
    const first = License_(await call(portal, "POST", "/api/licenses", { token: staff, body: productionTerms(c.customerId, "rita@renewal.example") }))
    const before = await call(portal, "GET", `/api/licenses/${first.licenseId}/file`, { token: c.token })
    const renewed = await call(portal, "POST", `/api/licenses/${first.licenseId}/renewals`, { token: staff, body: { caps: { developer: { expiresAt: inDays(465), limit: 8 } } } })
    expect(renewed.status).toBe(201)
    const view = License_(renewed)
    expect(view.revision).toBe(2)
    expect(view.issuedAt).toBeGreaterThan(first.issuedAt)
    const after = await call(portal, "GET", `/api/licenses/${first.licenseId}/file`, { token: c.token })
    expect(after.text).not.toBe(before.text)
    const [old, fresh] = [verify(before.text), verify(after.text)]
    expect(fresh.licenseId).toBe(old.licenseId)
    expect(fresh.issuedAt.getTime()).toBeGreaterThan(old.issuedAt.getTime())
    expect(fresh.caps.developer).toMatchObject({ limit: 8 })
    expect(fresh.caps.developer?.expiresAt.toISOString().slice(0, 10)).toBe(inDays(465))
    expect(fresh.caps.unattended).toEqual(old.caps.unattended)
    expect(fresh.caps.attended).toEqual(old.caps.attended)
    const files = decode(Schema.Struct({ files: Schema.Array(Schema.Struct({ revision: Schema.Number, reason: Schema.String })) }), await call(portal, "GET", `/api/licenses/${first.licenseId}/files`, { token: c.token }))
    expect(files.files.map((f) => [f.revision, f.reason])).toEqual([[2, "renewed"], [1, "issued"]])
    // Customers cannot renew; a cap added by a renewal needs both its values.
    expect(problem(await call(portal, "POST", `/api/licenses/${first.licenseId}/renewals`, { token: c.token, body: {} })).code).toBe("STAFF_ONLY")
    const removedAll = await call(portal, "POST", `/api/licenses/${first.licenseId}/renewals`, { token: staff, body: { caps: { unattended: null, developer: null, attended: null } } })
    expect([removedAll.status, problem(removedAll).code]).toEqual([422, "LICENSE_TERMS_INVALID"])
  })

  it("binds a license to one installation (a new, bound file), refuses another installation and a malformed id", async () => {
    const c = await customerWithUser(portal, staff, "Offline GmbH", "olga@offline.example")
    const issued = License_(await call(portal, "POST", "/api/licenses", { token: staff, body: productionTerms(c.customerId, "olga@offline.example") }))
    const malformed = await call(portal, "PUT", `/api/licenses/${issued.licenseId}/installation`, { token: c.token, body: { installationId: "inst_ILOU" } })
    expect([malformed.status, problem(malformed).code]).toEqual([422, "INSTALLATION_ID_INVALID"])
    expect(problem(malformed).detail).toContain("activation screen")
    const id = "inst_0123456789abcdefghjkmnpqrs"
    const bound = License_(await call(portal, "PUT", `/api/licenses/${issued.licenseId}/installation`, { token: c.token, body: { installationId: id } }))
    expect([bound.installationId, bound.revision]).toEqual([id, 2])
    expect(verify((await call(portal, "GET", `/api/licenses/${issued.licenseId}/file`, { token: c.token })).text).installationId).toBe(id)
    // Binding again to the same Hub changes nothing; to another is refused.
    expect(License_(await call(portal, "PUT", `/api/licenses/${issued.licenseId}/installation`, { token: c.token, body: { installationId: id } })).revision).toBe(2)
    const moved = await call(portal, "PUT", `/api/licenses/${issued.licenseId}/installation`, { token: c.token, body: { installationId: "inst_zzzzzzzzzzzzzzzzzzzzzzzzzz" } })
    expect([moved.status, problem(moved).code]).toEqual([409, "LICENSE_ALREADY_BOUND"])
  })

  it("gives a customer without a license one trial (30 days, grace 0) and refuses a second with TRIAL_ALREADY_TAKEN", async () => {
    const c = await customerWithUser(portal, staff, "Trial Co", "tim@trial.example")
    const taken = await call(portal, "POST", "/api/trial", { token: c.token })
    expect(taken.status).toBe(201)
    const trial = License_(taken)
    expect(trial).toMatchObject({ type: "trial", gracePeriodDays: 0, issuedTo: { name: "Trial Co", email: "tim@trial.example" } })
    for (const cap of trial.caps) expect(Math.round((cap.expiresAt - trial.issuedAt) / License.days(1))).toBe(30)
    const payload = verify((await call(portal, "GET", `/api/licenses/${trial.licenseId}/file`, { token: c.token })).text)
    expect([payload.type, payload.gracePeriodDays]).toEqual(["trial", 0])
    const again = await call(portal, "POST", "/api/trial", { token: c.token })
    expect([again.status, problem(again).code]).toEqual([409, "TRIAL_ALREADY_TAKEN"])
    expect(decode(Licenses, await call(portal, "GET", "/api/licenses", { token: c.token })).licenses).toHaveLength(1)
    // A customer with a production license is not offered one; staff cannot take one.
    const p = await customerWithUser(portal, staff, "Paid Co", "pat@paid.example")
    await call(portal, "POST", "/api/licenses", { token: staff, body: productionTerms(p.customerId, "pat@paid.example") })
    expect(problem(await call(portal, "POST", "/api/trial", { token: p.token })).code).toBe("TRIAL_NOT_AVAILABLE")
    expect(problem(await call(portal, "POST", "/api/trial", { token: staff })).code).toBe("CUSTOMER_ONLY")
  })

  it("answers validation pings from its records (valid, revoked, unknown), records them for the posture, and refuses revoked downloads", async () => {
    const c = await customerWithUser(portal, staff, "Ping Ltd", "pia@ping.example")
    const issued = License_(await call(portal, "POST", "/api/licenses", { token: staff, body: productionTerms(c.customerId, "pia@ping.example") }))
    expect((await validate(issued.licenseId)).status).toBe("valid")
    expect((await validate("lic_never_issued")).status).toBe("unknown")
    const withPosture = License_(await call(portal, "GET", `/api/licenses/${issued.licenseId}`, { token: c.token }))
    expect(withPosture.posture).toMatchObject({ installationId: "inst_0123456789abcdefghjkmnpqrs", version: "1.4.2", status: "valid" })
    const revoked = License_(await call(portal, "POST", `/api/licenses/${issued.licenseId}/revocation`, { token: staff }))
    expect(revoked.state).toBe("revoked")
    expect((await validate(issued.licenseId)).status).toBe("revoked")
    const download = await call(portal, "GET", `/api/licenses/${issued.licenseId}/file`, { token: c.token })
    expect([download.status, problem(download).code]).toEqual([409, "LICENSE_REVOKED"])
    expect(problem(await call(portal, "POST", `/api/licenses/${issued.licenseId}/renewals`, { token: staff, body: {} })).code).toBe("LICENSE_REVOKED")
    expect(License_(await call(portal, "DELETE", `/api/licenses/${issued.licenseId}/revocation`, { token: staff })).state).toBe("active")
    expect((await validate(issued.licenseId)).status).toBe("valid")
    const pings = await call(portal, "GET", `/api/v1/pings?licenseId=${issued.licenseId}`, { token: staff })
    expect((pings.body as ReadonlyArray<{ status: string }>).map((p) => p.status)).toEqual(["valid", "revoked", "valid"])
    // The validation body stays exactly three fields.
    const extra = await call(portal, "POST", "/api/v1/validations", { body: { licenseId: issued.licenseId, installationId: "inst_x", version: "1", email: "x" } })
    expect([extra.status, problem(extra).code]).toEqual([400, "VALIDATION_REQUEST_INVALID"])
  })

  it("issues API tokens for the vendor's CRM that act as staff until revoked, and audits every change", async () => {
    const created = decode(Schema.Struct({ token: Schema.String }), await call(portal, "POST", "/api/tokens", { token: staff, body: { name: "crm" } }))
    expect(created.token.startsWith("exkp_")).toBe(true)
    const viaToken = await call(portal, "POST", "/api/customers", { token: created.token, body: { name: "From the CRM" } })
    expect(viaToken.status).toBe(201)
    expect(problem(await call(portal, "POST", "/api/tokens", { token: staff, body: { name: "crm" } })).code).toBe("TOKEN_EXISTS")
    expect((await call(portal, "DELETE", "/api/tokens/crm", { token: staff })).status).toBe(204)
    expect(problem(await call(portal, "GET", "/api/customers", { token: created.token })).code).toBe("UNAUTHORIZED")
    const audit = decode(Schema.Struct({ records: Schema.Array(Schema.Struct({ actor: Schema.String, action: Schema.String, outcome: Schema.String })) }), await call(portal, "GET", "/api/audit?limit=1000", { token: staff }))
    const actions = new Set(audit.records.map((r) => r.action))
    for (const action of ["sign-in", "customer-create", "account-create", "license-issue", "license-renew", "license-bind", "license-revoke", "license-restore", "license-download", "trial", "token-create", "token-revoke", "invite-accept", "password-change"]) {
      expect(actions).toContain(action)
    }
    expect(audit.records.find((r) => r.action === "customer-create" && r.actor === "token:crm")).toBeDefined()
    expect(audit.records.find((r) => r.action === "trial" && r.outcome === "denied")).toBeDefined()
  })
})
