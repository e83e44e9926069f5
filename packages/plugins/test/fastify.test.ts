// Fastify 5 adapter with the real framework through fastify.inject: the shared suite, onRequest gating before body parsing, and registration errors.
import { licenseGate, licenseHub, PluginOptionsError } from "@exekra/plugins/fastify"
import { createLicenseHandler } from "@exekra/server/LicenseHandler"
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify"
import { afterEach, describe, expect, it } from "vitest"
import { makeHub, type TestHub } from "./helpers.js"
import { adapterSuite, expectProblem, type Host, hubSuite } from "./suite.js"

/** Drive a Fastify app in-process with inject, answering Fetch Responses like the other hosts. */
const injecting = (app: FastifyInstance, onClose: () => Promise<void>): Host => ({
  request: async (method, path, init = {}) => {
    const reply = await app.inject({ method: method as "GET", url: path, headers: { ...init.headers }, ...(init.body === undefined ? {} : { payload: init.body }) })
    const headers = new Headers()
    for (const [name, value] of Object.entries(reply.headers)) {
      if (value !== undefined) for (const v of Array.isArray(value) ? value : [String(value)]) headers.append(name, v)
    }
    return new Response(reply.statusCode === 204 ? null : reply.rawPayload, { status: reply.statusCode, headers })
  },
  close: async () => {
    await app.close()
    await onClose()
  }
})

const runnerId = (request: FastifyRequest) => request.headers["x-runner-id"] as string | undefined
const userId = (request: FastifyRequest) => request.headers["x-user-id"] as string | undefined

const makeHost = async ({ runtime, services }: TestHub): Promise<Host> => {
  const handler = createLicenseHandler(services, { prefix: "/license" })
  const app = Fastify()
  await app.register(licenseGate, { enforcer: runtime })
  await app.register(licenseHub, { handler })
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    void reply.code(error.statusCode ?? 500).send({ hostError: error.message, code: error.code })
  })
  const respond = (status: number) => async (request: FastifyRequest, reply: FastifyReply) => reply.code(status).send({ license: request.license })
  app.post("/runners", { config: { license: { cap: "unattended", operation: "acquire", principal: runnerId } } }, respond(201))
  app.delete<{ Params: { id: string } }>(
    "/runners/:id",
    { config: { license: { cap: "unattended", operation: "release", principal: (request) => (request.params as { id: string }).id } } },
    respond(200)
  )
  app.get("/runners/work", { config: { license: { cap: "unattended", operation: "check", principal: runnerId } } }, respond(200))
  app.post("/studio/sessions", { config: { license: { cap: "developer", operation: "acquire", principal: userId } } }, respond(201))
  app.post("/attended/users", { config: { license: { cap: "attended", operation: "acquire", principal: userId } } }, respond(201))
  app.post(
    "/custom/runners",
    {
      config: {
        license: {
          cap: "unattended",
          operation: "acquire",
          principal: runnerId,
          onDenied: (error, _request, reply) => reply.code(429).send({ refused: error.code })
        }
      }
    },
    respond(201)
  )
  app.get(
    "/boom",
    {
      config: {
        license: {
          cap: "unattended",
          operation: "check",
          principal: () => {
            throw new Error("principal exploded")
          }
        }
      }
    },
    respond(200)
  )
  app.get("/open", async () => ({ ok: true }))
  await app.ready()
  return injecting(app, handler.dispose)
}

adapterSuite("Fastify", makeHost)

hubSuite("Fastify", async (hub) => {
  const app = Fastify()
  await app.register(licenseGate, { hub })
  await app.register(licenseHub, { handler: hub.handler })
  const respond = (status: number) => async (request: FastifyRequest, reply: FastifyReply) => reply.code(status).send({ license: request.license })
  app.post("/runners", { config: { license: { cap: "unattended", operation: "acquire", principal: runnerId } } }, respond(201))
  app.get("/runners/work", { config: { license: { cap: "unattended", operation: "check", principal: runnerId } } }, respond(200))
  app.post("/runners/heartbeat", { config: { license: { cap: "unattended", operation: "heartbeat", principal: runnerId } } }, respond(200))
  await app.ready()
  return injecting(app, async () => undefined)
})

describe("Fastify specifics", () => {
  const hubs: Array<TestHub> = []
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.dispose()
  })

  it("is a fastify-plugin with a name and a version range, and decorates request.license", async () => {
    const meta = (licenseGate as unknown as Record<symbol, { name: string; fastify: string }>)[Symbol.for("plugin-meta")]
    expect(meta).toMatchObject({ name: "@exekra/plugins/fastify", fastify: "5.x" })
    const hub = await makeHub()
    hubs.push(hub)
    const app = Fastify()
    await app.register(licenseGate, { enforcer: hub.runtime })
    app.get("/open", async (request) => ({ license: request.license }))
    expect(app.hasRequestDecorator("license")).toBe(true)
    expect((await app.inject("/open")).json()).toEqual({ license: null })
    await app.close()
  })

  it("gates in onRequest: a denied request is refused before its body is parsed, and after the host's own onRequest hooks", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const app = Fastify()
    let parsed = 0
    app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
      parsed++
      done(null, JSON.parse(body as string))
    })
    await app.register(licenseGate, { enforcer: hub.runtime })
    // Authentication first: the principal comes from what the host's hook decided.
    app.addHook("onRequest", async (request) => {
      ;(request as FastifyRequest & { user?: string }).user = request.headers["x-user"] as string
    })
    app.post(
      "/attended/users",
      { config: { license: { cap: "attended", operation: "acquire", principal: (request) => (request as FastifyRequest & { user?: string }).user } } },
      async () => ({ ok: true })
    )
    const refused = await app.inject({ method: "POST", url: "/attended/users", headers: { "content-type": "application/json", "x-user": "u1" }, payload: "{not json" })
    const problem = await expectProblem(new Response(refused.rawPayload, { status: refused.statusCode, headers: { "content-type": String(refused.headers["content-type"]) } }), 403, "CAP_LIMITED")
    expect(problem.detail).toMatch(/grace period has ended/)
    expect(parsed).toBe(0)
    await app.close()
  })

  it("refuses invalid options: plugin options fail registration, a route spec fails when the route is added", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const noEnforcer = Fastify()
    await expect(noEnforcer.register(licenseGate, {} as { enforcer: typeof hub.runtime })).rejects.toThrow(PluginOptionsError)
    await noEnforcer.close()

    const app = Fastify()
    await app.register(licenseGate, { enforcer: hub.runtime })
    expect(() =>
      app.post("/x", { config: { license: { cap: "unattended", operation: "admit" as "acquire", principal: () => "r1" } } }, async () => ({}))
    ).toThrow(/operation must be one of acquire, release, check, heartbeat, got "admit"/)
    await app.close()
  })

  it("the Hub mount takes the raw request before Fastify parses it: activation-style JSON and multipart reach the Hub", async () => {
    const hub = await makeHub(null)
    hubs.push(hub)
    const handler = createLicenseHandler(hub.services, { prefix: "/license" })
    const app = Fastify()
    await app.register(licenseHub, { handler })
    const activation = await app.inject({ method: "GET", url: "/license/api/activation" })
    expect(activation.json()).toMatchObject({ activated: false, installationId: hub.runtime.installationId })
    const malformed = await app.inject({
      method: "POST",
      url: "/license/api/activation",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ license: "garbage", email: "admin@acme.example", password: "correct horse battery staple" })
    })
    expect(malformed.statusCode).toBe(400)
    expect(malformed.json()).toMatchObject({ code: "LICENSE_MALFORMED" })
    await app.close()
    await handler.dispose()
  })
})
