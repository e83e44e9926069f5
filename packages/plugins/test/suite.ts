// The behaviour every adapter owes (issue 6), run against each host with its real framework in-process.
import type { EmbeddedHub } from "@exekra/server"
import { afterEach, describe, expect, it } from "vitest"
import { EMAIL, makeEmbeddedHub, makeHub, PASSWORD, type TestHub } from "./helpers.js"

/**
 * A host under test. Every adapter's test builds the same product API with its framework:
 * - `POST /runners`          acquire `unattended`, principal from header `x-runner-id`            → 201 `{ license }`
 * - `DELETE /runners/:id`    release `unattended`, principal from the path                          → 200 `{ license }`
 * - `GET /runners/work`      check `unattended`, principal from header `x-runner-id`              → 200 `{ license }`
 * - `POST /studio/sessions`  acquire `developer`, principal from header `x-user-id`               → 201 `{ license }`
 * - `POST /attended/users`   acquire `attended`, principal from header `x-user-id`                → 201 `{ license }`
 * - `POST /custom/runners`   acquire `unattended` with an `onDenied` answering 429 `{ refused: code }`
 * - `GET /boom`              check `unattended` whose `principal` throws `Error("principal exploded")`
 * - `GET /open`              ungated                                                              → 200 `{ ok: true }`
 * - the host's error path answers `{ hostError: message, code }` with the error's `statusCode` (else 500)
 * - the Hub from `createLicenseHandler(services, { prefix: "/license" })` (`@exekra/server`) under `/license`
 */
export interface Host {
  readonly request: (method: string, path: string, init?: { readonly headers?: Readonly<Record<string, string>>; readonly body?: string }) => Promise<Response>
  readonly close: () => Promise<void>
}

/** Build the host over a hub's runtime (the enforcer) and services (for the Hub mount). */
export type MakeHost = (hub: TestHub) => Promise<Host>

/** A problem+json body. */
export interface Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly code: string
  readonly detail: string
}

export const expectProblem = async (response: Response, status: number, code: string): Promise<Problem> => {
  expect(response.status).toBe(status)
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/)
  const body = (await response.json()) as Problem
  expect(body).toMatchObject({ type: `urn:exekra:problem:${code}`, status, code })
  expect(body.detail.length).toBeGreaterThan(10)
  return body
}

const json = async <A = Record<string, unknown>>(response: Response): Promise<A> => (await response.json()) as A

export const adapterSuite = (name: string, makeHost: MakeHost): void => {
  describe(`${name} adapter`, () => {
    const open: Array<{ readonly hub: TestHub; readonly host: Host }> = []
    afterEach(async () => {
      for (const { hub, host } of open.splice(0)) {
        await host.close()
        await hub.dispose()
      }
    })
    const setup = async (license?: string | null) => {
      const hub = await makeHub(license)
      const host = await makeHost(hub)
      open.push({ hub, host })
      const runner = (id: string) => host.request("POST", "/runners", { headers: { "x-runner-id": id } })
      return { hub, host, runner }
    }

    it("admits: acquire answers through the route with the typed license, and a check of that principal passes", async () => {
      const { host, runner, hub } = await setup()
      const acquired = await runner("r1")
      expect(acquired.status).toBe(201)
      expect(await json(acquired)).toEqual({ license: { operation: "acquire", cap: "unattended", principal: "r1", created: true, used: 1 } })
      // Idempotent: the same principal again takes no new slot.
      expect(await json(await runner("r1"))).toEqual({ license: { operation: "acquire", cap: "unattended", principal: "r1", created: false, used: 1 } })
      const work = await host.request("GET", "/runners/work", { headers: { "x-runner-id": "r1" } })
      expect(work.status).toBe(200)
      expect(await json(work)).toEqual({ license: { operation: "check", cap: "unattended", principal: "r1" } })
      const seat = await host.request("POST", "/studio/sessions", { headers: { "x-user-id": "dev-1" } })
      expect(seat.status).toBe(201)
      expect((await hub.services.runPromise(hub.runtime.summary)).caps.developer.used).toBe(1)
    })

    it("refuses beyond the limit: 403 problem+json CAP_LIMIT_REACHED with the actionable sentence", async () => {
      const { runner } = await setup()
      expect((await runner("r1")).status).toBe(201)
      expect((await runner("r2")).status).toBe(201)
      const refused = await expectProblem(await runner("r3"), 403, "CAP_LIMIT_REACHED")
      expect(refused).toEqual({
        type: "urn:exekra:problem:CAP_LIMIT_REACHED",
        title: "Cap limit reached",
        status: 403,
        code: "CAP_LIMIT_REACHED",
        detail: "Unattended Runner limit reached (2 of 2). Deregister a Runner or renew with a higher limit."
      })
    })

    it("refuses a limited cap: 403 CAP_LIMITED", async () => {
      const { host } = await setup()
      await expectProblem(await host.request("POST", "/attended/users", { headers: { "x-user-id": "u1" } }), 403, "CAP_LIMITED")
    })

    it("refuses on an unactivated Hub: 403 CAP_UNACTIVATED for acquire and check", async () => {
      const { host, runner } = await setup(null)
      await expectProblem(await runner("r1"), 403, "CAP_UNACTIVATED")
      await expectProblem(await host.request("GET", "/runners/work", { headers: { "x-runner-id": "r1" } }), 403, "CAP_UNACTIVATED")
    })

    it("refuses work by a principal that was never admitted: 403 PRINCIPAL_NOT_ADMITTED", async () => {
      const { host, runner } = await setup()
      await runner("r1")
      await expectProblem(await host.request("GET", "/runners/work", { headers: { "x-runner-id": "ghost" } }), 403, "PRINCIPAL_NOT_ADMITTED")
    })

    it("release frees a slot, and the released principal may no longer work", async () => {
      const { host, runner } = await setup()
      await runner("r1")
      await runner("r2")
      await expectProblem(await runner("r3"), 403, "CAP_LIMIT_REACHED")
      const released = await host.request("DELETE", "/runners/r1")
      expect(released.status).toBe(200)
      expect(await json(released)).toEqual({ license: { operation: "release", cap: "unattended", principal: "r1", released: true } })
      expect((await runner("r3")).status).toBe(201)
      await expectProblem(await host.request("GET", "/runners/work", { headers: { "x-runner-id": "r1" } }), 403, "PRINCIPAL_NOT_ADMITTED")
      // Releasing what holds no slot is not an error: the route runs and says so.
      expect(await json(await host.request("DELETE", "/runners/never"))).toMatchObject({ license: { released: false } })
    })

    it("a custom onDenied answers denials instead of the default", async () => {
      const { host, runner } = await setup()
      await runner("r1")
      await runner("r2")
      const custom = await host.request("POST", "/custom/runners", { headers: { "x-runner-id": "r9" } })
      expect(custom.status).toBe(429)
      expect(await json(custom)).toEqual({ refused: "CAP_LIMIT_REACHED" })
      // Admitted requests on that route are untouched by the hook.
      expect((await host.request("POST", "/custom/runners", { headers: { "x-runner-id": "r1" } })).status).toBe(201)
    })

    it("errors of principal(req) reach the host's error path, and the host keeps serving", async () => {
      const { host, runner } = await setup()
      const boom = await host.request("GET", "/boom")
      expect(boom.status).toBe(500)
      expect(await json(boom)).toMatchObject({ hostError: "principal exploded" })
      const missing = await host.request("POST", "/runners")
      expect(missing.status).toBe(400)
      expect(await json(missing)).toMatchObject({ code: "PRINCIPAL_MISSING" })
      const invalid = await runner("not/an id")
      expect(invalid.status).toBe(400)
      expect(await json(invalid)).toMatchObject({ code: "PRINCIPAL_INVALID" })
      expect(await json(await host.request("GET", "/open"))).toEqual({ ok: true })
      expect((await runner("r1")).status).toBe(201)
    })

    it("100 concurrent acquisitions at a limit of 5 admit exactly 5", async () => {
      const { host, hub } = await setup()
      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, i) => host.request("POST", "/studio/sessions", { headers: { "x-user-id": `dev-${i}` } }))
      )
      const statuses = responses.map((r) => r.status)
      expect(statuses.filter((s) => s === 201)).toHaveLength(5)
      expect(statuses.filter((s) => s === 403)).toHaveLength(95)
      const codes = new Set(await Promise.all(responses.filter((r) => r.status === 403).map(async (r) => (await json<{ code: string }>(r)).code)))
      expect([...codes]).toEqual(["CAP_LIMIT_REACHED"])
      for (const r of responses) if (r.status === 201) await r.body?.cancel()
      expect((await hub.services.runPromise(hub.runtime.summary)).caps.developer.used).toBe(5)
    })

    it("mounts the Hub under /license: health, and the API sees what the gates admitted (one runtime)", async () => {
      const { host, runner } = await setup()
      const health = await host.request("GET", "/license/api/health")
      expect(health.status).toBe(200)
      expect(await json(health)).toEqual({ status: "ok" })
      await runner("r1")
      const session = await host.request("POST", "/license/api/session", {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: EMAIL, password: PASSWORD })
      })
      expect(session.status).toBe(200)
      const { token } = await json<{ token: string }>(session)
      const listed = await host.request("GET", "/license/api/caps/unattended/principals", { headers: { authorization: `Bearer ${token}` } })
      expect(listed.status).toBe(200)
      expect((await json<{ principals: ReadonlyArray<{ id: string }> }>(listed)).principals.map((p) => p.id)).toEqual(["r1"])
      // Outside the Hub's routes, under the prefix, the Hub answers its own 404; the host's routes are untouched.
      expect((await host.request("GET", "/license/api/nope")).status).toBe(404)
      expect((await host.request("GET", "/open")).status).toBe(200)
    })
  })
}

/**
 * A host gated by a hub from `createHub` instead of an enforcer (`licenseGate({ hub, … })`), with `hub.handler`
 * mounted under `/license`:
 * - `POST /runners`        acquire `unattended`, principal from header `x-runner-id` → 201 `{ license }`
 * - `GET /runners/work`    check `unattended`, principal from header `x-runner-id`   → 200 `{ license }`
 */
export type MakeHubHost = (hub: EmbeddedHub) => Promise<Host>

export const hubSuite = (name: string, makeHost: MakeHubHost): void => {
  describe(`${name} adapter given a hub from createHub`, () => {
    const open: Array<{ readonly dispose: () => Promise<void>; readonly host: Host }> = []
    afterEach(async () => {
      for (const { dispose, host } of open.splice(0)) {
        await host.close()
        await dispose()
      }
    })

    it("gates with the hub's own Enforcer: the limit, the 403 problem, check, and the hub's API agree", async () => {
      const { hub, dispose } = await makeEmbeddedHub()
      const host = await makeHost(hub)
      open.push({ dispose, host })
      const runner = (id: string) => host.request("POST", "/runners", { headers: { "x-runner-id": id } })
      expect(await json(await runner("r1"))).toEqual({ license: { operation: "acquire", cap: "unattended", principal: "r1", created: true, used: 1 } })
      expect((await runner("r2")).status).toBe(201)
      const refused = await expectProblem(await runner("r3"), 403, "CAP_LIMIT_REACHED")
      expect(refused.detail).toBe("Unattended Runner limit reached (2 of 2). Deregister a Runner or renew with a higher limit.")
      // What the gate admitted, the hub's own calls see: one runtime.
      expect(hub.check("unattended", "r1")).toEqual({ allowed: true })
      expect((await hub.summary()).caps.unattended.used).toBe(2)
      await hub.release("unattended", "r1")
      await expectProblem(await host.request("GET", "/runners/work", { headers: { "x-runner-id": "r1" } }), 403, "PRINCIPAL_NOT_ADMITTED")
      expect((await host.request("GET", "/runners/work", { headers: { "x-runner-id": "r2" } })).status).toBe(200)
      expect(await json(await host.request("GET", "/license/api/health"))).toEqual({ status: "ok" })
    })

    it("gates heartbeats: an admitted Runner's lease is renewed, one never admitted is refused with PRINCIPAL_NOT_ADMITTED", async () => {
      const { hub, dispose } = await makeEmbeddedHub()
      const host = await makeHost(hub)
      open.push({ dispose, host })
      expect((await host.request("POST", "/runners", { headers: { "x-runner-id": "r1" } })).status).toBe(201)
      const beat = (await json(await host.request("POST", "/runners/heartbeat", { headers: { "x-runner-id": "r1" } }))) as {
        readonly license: { readonly operation: string; readonly revived: boolean; readonly leaseEndsAt: number }
      }
      expect(beat.license).toMatchObject({ operation: "heartbeat", cap: "unattended", principal: "r1", revived: false })
      // Ten minutes from this heartbeat.
      expect(beat.license.leaseEndsAt - Date.now()).toBeGreaterThan(590_000)
      await expectProblem(await host.request("POST", "/runners/heartbeat", { headers: { "x-runner-id": "r9" } }), 403, "PRINCIPAL_NOT_ADMITTED")
    })
  })
}
