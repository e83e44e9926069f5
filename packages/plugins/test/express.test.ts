// Express 5 adapter with the real framework on 127.0.0.1: the shared suite, typing of req.license, and Express idioms.
import type { AddressInfo } from "node:net"
import { licenseGate, PluginOptionsError } from "@exekra/plugins/express"
import { createLicenseHandler } from "@exekra/server/LicenseHandler"
import express, { type ErrorRequestHandler } from "express"
import { afterEach, describe, expect, it } from "vitest"
import { makeHub, type TestHub } from "./helpers.js"
import { adapterSuite, expectProblem, type Host, hubSuite } from "./suite.js"

/** Serve an Express app on an ephemeral port and talk to it with fetch. */
const listen = async (app: express.Express, onClose: () => Promise<void>): Promise<Host> => {
  const server = app.listen(0, "127.0.0.1")
  await new Promise<void>((resolve) => server.once("listening", resolve))
  const { port } = server.address() as AddressInfo
  return {
    request: (method, path, init = {}) => fetch(`http://127.0.0.1:${port}${path}`, { method, headers: init.headers, body: init.body }),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await onClose()
    }
  }
}

const hostError: ErrorRequestHandler = (err: Error & { statusCode?: number; code?: string }, _req, res, _next) => {
  res.status(err.statusCode ?? 500).json({ hostError: err.message, code: err.code })
}

const makeHost = async ({ runtime, services }: TestHub): Promise<Host> => {
  const hub = createLicenseHandler(services, { prefix: "/license" })
  const app = express()
  // The Hub reads its own bodies; body parsers for the product come after it.
  app.use("/license", hub.node)
  app.use(express.json())
  const enforcer = runtime
  const runnerId = (req: express.Request) => req.get("x-runner-id")
  const respond = (status: number) => (req: express.Request, res: express.Response) => {
    res.status(status).json({ license: req.license })
  }
  app.post("/runners", licenseGate({ enforcer, cap: "unattended", operation: "acquire", principal: runnerId }), respond(201))
  app.delete("/runners/:id", licenseGate<{ id: string }>({ enforcer, cap: "unattended", operation: "release", principal: (req) => req.params.id }), respond(200))
  app.get("/runners/work", licenseGate({ enforcer, cap: "unattended", operation: "check", principal: runnerId }), respond(200))
  app.post("/studio/sessions", licenseGate({ enforcer, cap: "developer", operation: "acquire", principal: (req) => req.get("x-user-id") }), respond(201))
  app.post("/attended/users", licenseGate({ enforcer, cap: "attended", operation: "acquire", principal: (req) => req.get("x-user-id") }), respond(201))
  app.post(
    "/custom/runners",
    licenseGate({ enforcer, cap: "unattended", operation: "acquire", principal: runnerId, onDenied: (error, _req, res) => void res.status(429).json({ refused: error.code }) }),
    respond(201)
  )
  app.get(
    "/boom",
    licenseGate({
      enforcer,
      cap: "unattended",
      operation: "check",
      principal: () => {
        throw new Error("principal exploded")
      }
    }),
    respond(200)
  )
  app.get("/open", (_req, res) => void res.json({ ok: true }))
  app.use(hostError)
  return listen(app, hub.dispose)
}

adapterSuite("Express", makeHost)

// The same product API with every gate in its handler form, `licenseGate(options).handler(h)`.
const makeHandlerHost = async ({ runtime, services }: TestHub): Promise<Host> => {
  const hub = createLicenseHandler(services, { prefix: "/license" })
  const app = express()
  app.use("/license", hub.node)
  app.use(express.json())
  const enforcer = runtime
  const runnerId = (req: express.Request) => req.get("x-runner-id")
  const respond = (status: number) => (req: express.Request, res: express.Response) => {
    res.status(status).json({ license: req.license })
  }
  app.post("/runners", licenseGate({ enforcer, cap: "unattended", operation: "acquire", principal: runnerId }).handler(respond(201)))
  app.delete("/runners/:id", licenseGate<{ id: string }>({ enforcer, cap: "unattended", operation: "release", principal: (req) => req.params.id }).handler(respond(200)))
  app.get("/runners/work", licenseGate({ enforcer, cap: "unattended", operation: "check", principal: runnerId }).handler(respond(200)))
  app.post("/studio/sessions", licenseGate({ enforcer, cap: "developer", operation: "acquire", principal: (req) => req.get("x-user-id") }).handler(respond(201)))
  app.post("/attended/users", licenseGate({ enforcer, cap: "attended", operation: "acquire", principal: (req) => req.get("x-user-id") }).handler(respond(201)))
  app.post(
    "/custom/runners",
    licenseGate({ enforcer, cap: "unattended", operation: "acquire", principal: runnerId, onDenied: (error, _req, res) => void res.status(429).json({ refused: error.code }) }).handler(
      respond(201)
    )
  )
  app.get(
    "/boom",
    licenseGate({
      enforcer,
      cap: "unattended",
      operation: "check",
      principal: () => {
        throw new Error("principal exploded")
      }
    }).handler(respond(200))
  )
  app.get("/open", (_req, res) => void res.json({ ok: true }))
  app.use(hostError)
  return listen(app, hub.dispose)
}

adapterSuite("Express (handler form)", makeHandlerHost)

hubSuite("Express", async (hub) => {
  const app = express()
  app.use("/license", hub.handler)
  const runnerId = (req: express.Request) => req.get("x-runner-id")
  app.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: runnerId }), (req, res) => void res.status(201).json({ license: req.license }))
  app.get("/runners/work", licenseGate({ hub, cap: "unattended", operation: "check", principal: runnerId }), (req, res) => void res.json({ license: req.license }))
  app.post("/runners/heartbeat", licenseGate({ hub, cap: "unattended", operation: "heartbeat", principal: runnerId }), (req, res) => void res.json({ license: req.license }))
  return listen(app, async () => undefined)
})

describe("Express specifics", () => {
  const hubs: Array<TestHub> = []
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.dispose()
  })

  it("validates options once, at registration, with a typed error", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const bad = { enforcer: hub.runtime, cap: "runners", operation: "acquire", principal: () => "r1" } as unknown as Parameters<typeof licenseGate>[0]
    expect(() => licenseGate(bad)).toThrow(PluginOptionsError)
    expect(() => licenseGate(bad)).toThrow(/cap must be one of unattended, developer, attended, got "runners"/)
  })

  it("uses options as given at registration: later changes to the caller's object change nothing", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const options = { enforcer: hub.runtime, cap: "unattended" as "unattended" | "developer", operation: "acquire" as const, principal: (req: express.Request) => req.get("x-runner-id") }
    const frozenBefore = Object.isFrozen(options)
    const gate = licenseGate(options)
    options.cap = "developer"
    expect(Object.isFrozen(options)).toBe(frozenBefore)
    const app = express()
    app.post("/r", gate, (req, res) => void res.status(201).json({ license: req.license }))
    const host = await listen(app, async () => undefined)
    const body = (await (await host.request("POST", "/r", { headers: { "x-runner-id": "r1" } })).json()) as { license: { cap: string } }
    expect(body.license.cap).toBe("unattended")
    await host.close()
  })

  it("handler form: what the handler throws or rejects with goes to the error path, and its next() to the next route", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const gate = licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "acquire", principal: (req) => req.get("x-runner-id") })
    const app = express()
    app.post(
      "/throws",
      gate.handler(() => {
        throw Object.assign(new Error("handler threw"), { statusCode: 502 })
      })
    )
    app.post(
      "/rejects",
      gate.handler(async () => {
        throw Object.assign(new Error("handler rejected"), { statusCode: 504 })
      })
    )
    app.post(
      "/next",
      gate.handler((_req, _res, next) => next())
    )
    app.post("/next", (req, res) => void res.status(202).json({ license: req.license }))
    app.use(hostError)
    const host = await listen(app, async () => undefined)
    const threw = await host.request("POST", "/throws", { headers: { "x-runner-id": "r1" } })
    expect([threw.status, await threw.json()]).toEqual([502, { hostError: "handler threw" }])
    const rejected = await host.request("POST", "/rejects", { headers: { "x-runner-id": "r2" } })
    expect([rejected.status, await rejected.json()]).toEqual([504, { hostError: "handler rejected" }])
    // r1 holds its slot (the gate admitted it before its handler threw): acquiring again admits it again.
    const passed = await host.request("POST", "/next", { headers: { "x-runner-id": "r1" } })
    expect(passed.status).toBe(202)
    expect(await passed.json()).toMatchObject({ license: { cap: "unattended", principal: "r1" } })
    // r1 and r2 were admitted before their handlers failed: the limit of 2 is reached.
    const full = await host.request("POST", "/next", { headers: { "x-runner-id": "r3" } })
    await expectProblem(full, 403, "CAP_LIMIT_REACHED")
    await host.close()
  })

  it("an async onDenied that rejects goes to the error path; a Hub JSON body survives a global express.json()", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const handler = createLicenseHandler(hub.services)
    const app = express()
    app.use(express.json())
    app.use("/license", handler.node)
    app.post(
      "/r",
      licenseGate({
        enforcer: hub.runtime,
        cap: "attended",
        operation: "acquire",
        principal: () => "u1",
        onDenied: async () => {
          throw Object.assign(new Error("denial hook failed"), { statusCode: 503 })
        }
      }),
      (_req, res) => void res.sendStatus(201)
    )
    app.use(hostError)
    const host = await listen(app, handler.dispose)
    const failed = await host.request("POST", "/r")
    expect(failed.status).toBe(503)
    expect(await failed.json()).toMatchObject({ hostError: "denial hook failed" })
    // express.json() consumed the stream first: the handler re-encodes the parsed JSON for the Hub.
    const session = await host.request("POST", "/license/api/session", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "admin@acme.example", password: "wrong password here" })
    })
    await expectProblem(session, 401, "INVALID_CREDENTIALS")
    await host.close()
  })
})
