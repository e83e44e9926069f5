// Plain node:http adapter on 127.0.0.1: the shared suite, the default error answer, and listener failures.
import { createServer, type IncomingMessage, request as httpRequest, type RequestListener, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { type ErrorHandler, licenseGate, PluginOptionsError } from "@exekra/plugins/node"
import { createLicenseHandler } from "@exekra/server/LicenseHandler"
import { afterEach, describe, expect, it } from "vitest"
import { makeHub, type TestHub } from "./helpers.js"
import { adapterSuite, expectProblem, type Host, hubSuite } from "./suite.js"

const listen = async (listener: RequestListener, onClose: () => Promise<void>): Promise<Host & { readonly url: string }> => {
  const server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    request: (method, path, init = {}) => fetch(`http://127.0.0.1:${port}${path}`, { method, headers: init.headers, body: init.body }),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await onClose()
    }
  }
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const hostError: ErrorHandler = (error, _req, res) => json(res, (error as { statusCode?: number }).statusCode ?? 500, { hostError: error.message, code: (error as { code?: string }).code })
const header = (name: string) => (req: IncomingMessage) => req.headers[name] as string | undefined

const makeHost = async ({ runtime, services }: TestHub): Promise<Host> => {
  const hub = createLicenseHandler(services, { prefix: "/license" })
  const enforcer = runtime
  const respond = (status: number) => (_req: IncomingMessage, res: ServerResponse, license: unknown) => json(res, status, { license })
  const common = { enforcer, onError: hostError } as const
  const acquireRunner = licenseGate({ ...common, cap: "unattended", operation: "acquire", principal: header("x-runner-id") })(respond(201))
  const workRunner = licenseGate({ ...common, cap: "unattended", operation: "check", principal: header("x-runner-id") })(respond(200))
  const releaseRunner = licenseGate({ ...common, cap: "unattended", operation: "release", principal: (req) => decodeURIComponent(req.url!.split("/")[2]!) })(respond(200))
  const seat = licenseGate({ ...common, cap: "developer", operation: "acquire", principal: header("x-user-id") })(respond(201))
  const attended = licenseGate({ ...common, cap: "attended", operation: "acquire", principal: header("x-user-id") })(respond(201))
  const custom = licenseGate({ ...common, cap: "unattended", operation: "acquire", principal: header("x-runner-id"), onDenied: (error, _req, res) => json(res, 429, { refused: error.code }) })(
    respond(201)
  )
  const boom = licenseGate({
    ...common,
    cap: "unattended",
    operation: "check",
    principal: () => {
      throw new Error("principal exploded")
    }
  })(respond(200))
  const product: RequestListener = (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!
    const route = `${req.method} ${path}`
    if (route === "POST /runners") return acquireRunner(req, res)
    if (route === "GET /runners/work") return workRunner(req, res)
    if (req.method === "DELETE" && /^\/runners\/[^/]+$/.test(path)) return releaseRunner(req, res)
    if (route === "POST /studio/sessions") return seat(req, res)
    if (route === "POST /attended/users") return attended(req, res)
    if (route === "POST /custom/runners") return custom(req, res)
    if (route === "GET /boom") return boom(req, res)
    if (route === "GET /open") return json(res, 200, { ok: true })
    json(res, 404, { error: "not found" })
  }
  return listen((req, res) => hub.node(req, res, () => product(req, res)), hub.dispose)
}

adapterSuite("node:http", makeHost)

hubSuite("node:http", async (hub) => {
  const respond = (status: number) => (_req: IncomingMessage, res: ServerResponse, license: unknown) => json(res, status, { license })
  const acquire = licenseGate({ hub, cap: "unattended", operation: "acquire", principal: header("x-runner-id") })(respond(201))
  const work = licenseGate({ hub, cap: "unattended", operation: "check", principal: header("x-runner-id") })(respond(200))
  const beat = licenseGate({ hub, cap: "unattended", operation: "heartbeat", principal: header("x-runner-id") })(respond(200))
  return listen(
    (req, res) =>
      hub.handler(req, res, () => {
        if (req.method === "POST" && req.url === "/runners") return acquire(req, res)
        if (req.method === "POST" && req.url === "/runners/heartbeat") return beat(req, res)
        if (req.method === "GET" && req.url === "/runners/work") return work(req, res)
        json(res, 404, { error: "not found" })
      }),
    async () => undefined
  )
})

describe("node:http specifics", () => {
  const hubs: Array<TestHub> = []
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.dispose()
  })

  it("without onError answers failures as problem+json: 400 for a missing principal, 500 without internals otherwise", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const gated = licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "acquire", principal: header("x-runner-id") })
    const host = await listen(
      gated((req) => {
        if (req.headers["x-fail"] !== undefined) throw new Error("listener failed with a secret")
        throw new Error("unreachable")
      }),
      async () => undefined
    )
    await expectProblem(await host.request("GET", "/"), 400, "PRINCIPAL_MISSING")
    const failed = await expectProblem(await host.request("GET", "/", { headers: { "x-runner-id": "r1", "x-fail": "1" } }), 500, "INTERNAL_ERROR")
    expect(failed.detail).not.toMatch(/secret/)
    await host.close()
  })

  it("refuses an onError that is not a function, at registration", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    expect(() => licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "check", principal: () => "r1", onError: "log" as never })).toThrow(PluginOptionsError)
  })

  it("the Hub handler answers 404 problem outside its prefix when no next is given, and streams server-sent events", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const handler = createLicenseHandler(hub.services, { prefix: "/license" })
    const host = await listen((req, res) => handler.node(req, res), handler.dispose)
    await expectProblem(await host.request("GET", "/licenses"), 404, "NOT_FOUND")
    // Odd request lines and Host headers are paths and origins, never a way around the prefix or a crash.
    const raw = (path: string, hostHeader: string) =>
      new Promise<number>((resolve, reject) => {
        const port = Number(new URL(host.url).port)
        const req = httpRequest({ host: "127.0.0.1", port, path, setHost: false, headers: { host: hostHeader } }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        req.on("error", reject)
        req.end()
      })
    expect(await raw("//license/api/health", "127.0.0.1")).toBe(404)
    expect(await raw("/license/api/health", "not a host")).toBe(200)
    const { token } = (await (
      await host.request("POST", "/license/api/session", { headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "admin@acme.example", password: "correct horse battery staple" }) })
    ).json()) as { token: string }
    const events = await host.request("GET", "/license/api/events", { headers: { authorization: `Bearer ${token}` } })
    expect(events.status).toBe(200)
    expect(events.headers.get("content-type")).toMatch(/^text\/event-stream/)
    const reader = events.body!.getReader()
    const decoder = new TextDecoder()
    let text = ""
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const chunk = await reader.read()
        if (chunk.done) throw new Error(`stream ended before ${needle}: ${text}`)
        text += decoder.decode(chunk.value, { stream: true })
      }
    }
    await readUntil('"_tag":"Snapshot"')
    // The stream is live through the bridge: an admission made now arrives as an event.
    await hub.services.runPromise(hub.runtime.acquire("unattended", "r-live"))
    await readUntil('"_tag":"UsageChanged"')
    expect(text).toMatch(/"cap":"unattended","used":1/)
    await reader.cancel()
    await host.close()
  })
})
