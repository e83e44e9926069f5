// Hono 4 adapter with the real framework through app.request: the shared suite, c.var.license typing, and Hono idioms.
import { licenseGate, type LicenseEnv, PluginOptionsError } from "@exekra/plugins/hono"
import { createLicenseHandler } from "@exekra/server/LicenseHandler"
import { type Context, Hono } from "hono"
import { HTTPException } from "hono/http-exception"
import { afterEach, describe, expect, it } from "vitest"
import { makeHub, type TestHub } from "./helpers.js"
import { adapterSuite, type Host, hubSuite } from "./suite.js"

type AppEnv = { Variables: { requestId: string } }

const makeHost = async ({ runtime, services }: TestHub): Promise<Host> => {
  const hub = createLicenseHandler(services, { prefix: "/license" })
  const app = new Hono<AppEnv>()
  const enforcer = runtime
  app.all("/license/*", (c) => hub.fetch(c.req.raw))
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      return c.json({ hostError: error.message, code: (error.cause as { code?: string } | undefined)?.code }, error.status)
    }
    return c.json({ hostError: error.message, code: (error as { code?: string }).code }, 500)
  })
  const runnerId = (c: Context<AppEnv>) => c.req.header("x-runner-id")
  const userId = (c: Context<AppEnv>) => c.req.header("x-user-id")
  const respond = (status: 200 | 201) => (c: Context<AppEnv & LicenseEnv>) => c.json({ license: c.var.license }, status)
  app.post("/runners", licenseGate<AppEnv>({ enforcer, cap: "unattended", operation: "acquire", principal: runnerId }), respond(201))
  app.delete("/runners/:id", licenseGate<AppEnv>({ enforcer, cap: "unattended", operation: "release", principal: (c) => c.req.param("id") }), respond(200))
  app.get("/runners/work", licenseGate<AppEnv>({ enforcer, cap: "unattended", operation: "check", principal: runnerId }), respond(200))
  app.post("/studio/sessions", licenseGate<AppEnv>({ enforcer, cap: "developer", operation: "acquire", principal: userId }), respond(201))
  app.post("/attended/users", licenseGate<AppEnv>({ enforcer, cap: "attended", operation: "acquire", principal: userId }), respond(201))
  app.post(
    "/custom/runners",
    licenseGate<AppEnv>({ enforcer, cap: "unattended", operation: "acquire", principal: runnerId, onDenied: (error, c) => c.json({ refused: error.code }, 429) }),
    respond(201)
  )
  app.get(
    "/boom",
    licenseGate<AppEnv>({
      enforcer,
      cap: "unattended",
      operation: "check",
      principal: () => {
        throw new Error("principal exploded")
      }
    }),
    respond(200)
  )
  app.get("/open", (c) => c.json({ ok: true }))
  return {
    request: async (method, path, init = {}) => app.request(path, { method, headers: init.headers, body: init.body }),
    close: hub.dispose
  }
}

adapterSuite("Hono", makeHost)

hubSuite("Hono", async (hub) => {
  const app = new Hono()
  app.all("/license/*", (c) => hub.handler.fetch(c.req.raw))
  const runnerId = (c: Context) => c.req.header("x-runner-id")
  app.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: runnerId }), (c: Context<LicenseEnv>) => c.json({ license: c.var.license }, 201))
  app.get("/runners/work", licenseGate({ hub, cap: "unattended", operation: "check", principal: runnerId }), (c: Context<LicenseEnv>) => c.json({ license: c.var.license }))
  return { request: async (method, path, init = {}) => app.request(path, { method, headers: init.headers, body: init.body }), close: async () => undefined }
})

describe("Hono specifics", () => {
  const hubs: Array<TestHub> = []
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.dispose()
  })

  it("types c.var.license next to the app's own variables, and validates options at registration", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const app = new Hono<AppEnv>()
    app.use(async (c, next) => {
      c.set("requestId", "req-1")
      await next()
    })
    app.post(
      "/r",
      licenseGate<AppEnv>({ enforcer: hub.runtime, cap: "unattended", operation: "acquire", principal: (c) => `${c.var.requestId}-runner` }),
      (c) => c.json({ principal: c.var.license.principal, requestId: c.var.requestId })
    )
    expect(await (await app.request("/r", { method: "POST" })).json()).toEqual({ principal: "req-1-runner", requestId: "req-1" })
    expect(() => licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "check", principal: "x-user-id" } as never)).toThrow(PluginOptionsError)
  })

  it("a principal function may be async; its rejection reaches app.onError", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const app = new Hono()
    app.onError((error, c) => c.json({ hostError: error.message }, 502))
    app.post("/ok", licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "acquire", principal: async () => ({ id: "r1", name: "Runner one" }) }), (c) =>
      c.json(c.var.license, 201)
    )
    app.post(
      "/bad",
      licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "acquire", principal: () => Promise.reject(new Error("session store down")) }),
      (c) => c.json({})
    )
    expect((await app.request("/ok", { method: "POST" })).status).toBe(201)
    expect((await hub.services.runPromise(hub.runtime.principals("unattended"))).map((p) => [p.id, p.name])).toEqual([["r1", "Runner one"]])
    const bad = await app.request("/bad", { method: "POST" })
    expect(bad.status).toBe(502)
    expect(await bad.json()).toEqual({ hostError: "session store down" })
  })
})
