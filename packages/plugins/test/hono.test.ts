// Hono 4 adapter with the real framework through app.request: the shared suite (middleware and handler form), c.var.license typing, `header`, and Hono idioms.
import { request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { serve } from "@hono/node-server"
import { header, licenseGate, type LicenseEnv, type Options, PluginOptionsError } from "@exekra/plugins/hono"
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

// The same product API with every gate in its handler form, `licenseGate(options).handler(h)`.
const makeHandlerHost = async ({ runtime, services }: TestHub): Promise<Host> => {
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
  const respond = (status: 200 | 201) => (c: Context<AppEnv & LicenseEnv>) => c.json({ license: c.var.license }, status)
  const gate = (options: Omit<Options<AppEnv>, "enforcer">) => licenseGate<AppEnv>({ enforcer, ...options } as Options<AppEnv>)
  app.post("/runners", gate({ cap: "unattended", operation: "acquire", principal: header("x-runner-id") }).handler(respond(201)))
  app.delete("/runners/:id", gate({ cap: "unattended", operation: "release", principal: (c) => c.req.param("id") }).handler(respond(200)))
  app.get("/runners/work", gate({ cap: "unattended", operation: "check", principal: header("x-runner-id") }).handler(respond(200)))
  app.post("/studio/sessions", gate({ cap: "developer", operation: "acquire", principal: header("x-user-id") }).handler(respond(201)))
  app.post("/attended/users", gate({ cap: "attended", operation: "acquire", principal: header("x-user-id") }).handler(respond(201)))
  app.post(
    "/custom/runners",
    gate({ cap: "unattended", operation: "acquire", principal: header("x-runner-id"), onDenied: (error, c) => c.json({ refused: error.code }, 429) }).handler(respond(201))
  )
  app.get(
    "/boom",
    gate({
      cap: "unattended",
      operation: "check",
      principal: () => {
        throw new Error("principal exploded")
      }
    }).handler(respond(200))
  )
  app.get("/open", (c) => c.json({ ok: true }))
  return {
    request: async (method, path, init = {}) => app.request(path, { method, headers: init.headers, body: init.body }),
    close: hub.dispose
  }
}

adapterSuite("Hono (handler form)", makeHandlerHost)

hubSuite("Hono", async (hub) => {
  const app = new Hono()
  app.all("/license/*", (c) => hub.handler.fetch(c.req.raw))
  const runnerId = (c: Context) => c.req.header("x-runner-id")
  app.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: runnerId }), (c: Context<LicenseEnv>) => c.json({ license: c.var.license }, 201))
  app.get("/runners/work", licenseGate({ hub, cap: "unattended", operation: "check", principal: runnerId }), (c: Context<LicenseEnv>) => c.json({ license: c.var.license }))
  app.post("/runners/heartbeat", licenseGate({ hub, cap: "unattended", operation: "heartbeat", principal: runnerId }), (c: Context<LicenseEnv>) => c.json({ license: c.var.license }))
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

  it("the handler form answers an admitted check synchronously, and validates its options at registration like the middleware", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    await hub.services.runPromise(hub.runtime.acquire("unattended", "r1"))
    const gate = licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "check", principal: header("x-runner-id") })
    const work = gate.handler((c) => c.json({ principal: c.var.license.principal }))
    const answers: Array<unknown> = []
    const app = new Hono()
    app.get("/work", (c, next) => {
      const answer = work(c, next)
      answers.push(answer)
      return answer
    })
    const admitted = await app.request("/work", { headers: { "x-runner-id": "r1" } })
    expect(await admitted.json()).toEqual({ principal: "r1" })
    const refused = await app.request("/work", { headers: { "x-runner-id": "ghost" } })
    expect(refused.status).toBe(403)
    expect(await refused.json()).toMatchObject({ code: "PRINCIPAL_NOT_ADMITTED" })
    // No promise on either path: the gate decided in memory and the handler is synchronous.
    expect(answers.map((answer) => answer instanceof Response)).toEqual([true, true])
    expect(() => licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "nope", principal: header("x") } as never).handler(work)).toThrow(PluginOptionsError)
  })

  it("header(name) answers what c.req.header(name) answers, on @hono/node-server from the Node request and elsewhere from Hono's", async () => {
    const app = new Hono()
    const runnerId = header("X-Runner-Id")
    // `c.req.header` is read after `header`, so that `header` never finds the WHATWG Headers already built.
    app.get("/h", (c) => {
      const fromHeader = runnerId(c) ?? null
      return c.json({ fromHeader, fromHono: c.req.header("x-runner-id") ?? null, node: (c.env as { incoming?: unknown } | undefined)?.incoming !== undefined })
    })
    // In-process (no Node request): Hono's own answer.
    expect(await (await app.request("/h", { headers: { "x-runner-id": "r1" } })).json()).toEqual({ fromHeader: "r1", fromHono: "r1", node: false })
    expect(await (await app.request("/h")).json()).toEqual({ fromHeader: null, fromHono: null, node: false })

    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server
    await new Promise((resolve) => server.once("listening", resolve))
    const port = (server.address() as AddressInfo).port
    // Header fields exactly as sent, repeated and in mixed case: what Headers.get joins, `header` joins alike.
    const get = (headers: ReadonlyArray<string>) =>
      new Promise<unknown>((resolve, reject) => {
        // A raw header list goes out as it is: Node adds no Host to it.
        const req = httpRequest({ host: "127.0.0.1", port, path: "/h", headers: ["host", `127.0.0.1:${port}`, ...headers] }, (res) => {
          let body = ""
          res.setEncoding("utf8")
          res.on("data", (chunk: string) => (body += chunk))
          res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode}: ${body}`))))
        })
        req.on("error", reject)
        req.end()
      })
    try {
      expect(await get(["X-Runner-Id", "r1"])).toEqual({ fromHeader: "r1", fromHono: "r1", node: true })
      expect(await get(["x-runner-id", "r1", "X-RUNNER-ID", "r2", "x-other", "o"])).toEqual({ fromHeader: "r1, r2", fromHono: "r1, r2", node: true })
      expect(await get(["x-other", "o"])).toEqual({ fromHeader: null, fromHono: null, node: true })
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
