// Bench: requests/s of a license-gated `check` route against the same route ungated, per host framework, and with the Portal down.
//
// A fair pair: the ungated route reads the principal's header exactly as the gate's `principal` does and then
// answers the same body, so the ratio is the gate's own cost (the decision, the host's way of running it, and
// handing the route what was admitted), not the cost of identifying the caller, which an ungated route of a real
// product pays too. Hono is measured in both of its forms: the handler form `licenseGate(o).handler(h)` (one
// handler) and middleware (which adds Hono's dispatch of a second handler, the same as any middleware).
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import autocannon from "autocannon"
import { rate, table } from "./measure.mjs"

const HOSTS = (process.env.EXEKRA_BENCH_HOSTS ?? "express,fastify,hono,node:http,effect").split(",")
// Each route gets ROUNDS × SECONDS of load, its rounds interleaved with the other routes' so that drift in
// the machine's load hits them alike; a ratio is the median of the rounds' ratios, a rate the median round.
// The server's CPU time per request (Linux) is a second, steadier view of the gate's cost: ungated ÷ gated.
const SECONDS = Number(process.env.EXEKRA_BENCH_SECONDS ?? 1)
const ROUNDS = Number(process.env.EXEKRA_BENCH_ROUNDS ?? 5)
const USER = "bench-user"

// ---- the servers (a child process, so the load generator does not share their event loop) --------

/** A Hub runtime on a fresh SQLite store, activated with a license whose validation is required and points at `portalUrl`. */
const openHub = async (portalUrl) => {
  const { Keys, Signer } = await import("@exekra/core")
  const Hub = await import("@exekra/server/Hub")
  const { LicenseRuntime } = await import("@exekra/server/LicenseRuntime")
  const { ManagedRuntime } = await import("effect")
  const dataDir = mkdtempSync(join(tmpdir(), "exekra-bench-hosts-"))
  const key = Keys.generate()
  const iso = (days) => new Date(Math.floor(Date.now() / 1000 + days * 86_400) * 1000).toISOString().replace(".000Z", "Z")
  const license = Signer.sign(
    {
      licenseId: "lic_bench_hosts",
      type: "production",
      issuedTo: { name: "Bench Corp", email: "admin@bench.example" },
      issuedAt: iso(-1),
      caps: { attended: { limit: 10, expiresAt: iso(365) } },
      validation: { required: true, intervalHours: 1, portalUrl }
    },
    key
  )
  const services = ManagedRuntime.make(Hub.services({ dataDir, publicKeys: [key.publicKey], version: "bench" }))
  const runtime = await services.runPromise(LicenseRuntime)
  await services.runPromise(runtime.activate({ license, email: "admin@bench.example", password: "a sturdy passphrase 42" }))
  await services.runPromise(runtime.acquire("attended", USER))
  // Ping now and wait until the runtime has seen the Portal's answer (or its absence).
  await services.runPromise(runtime.validateNow)
  let validation = null
  for (let i = 0; i < 200 && validation?.lastSuccessAt == null && validation?.failingSince == null; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    validation = (await services.runPromise(runtime.summary)).validation
  }
  if (validation?.lastSuccessAt == null && validation?.failingSince == null) throw new Error(`the Hub never heard from ${portalUrl}`)
  return { runtime, portalUp: validation.lastSuccessAt !== null, close: async () => (await services.dispose(), rmSync(dataDir, { recursive: true, force: true })) }
}

const listen = (server) => new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)))

const serve = async () => {
  // A Portal that answers `valid`, and a port nobody listens on.
  const portal = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ status: "valid", serverTime: new Date().toISOString() }))
    })
  })
  const portalPort = await listen(portal)
  const closed = createServer()
  const closedPort = await listen(closed)
  await new Promise((resolve) => closed.close(resolve))

  // Opened side by side: the Portal-down Hub spends a few seconds on its first ping's retries.
  const [up, down] = await Promise.all([openHub(`http://127.0.0.1:${portalPort}`), openHub(`http://127.0.0.1:${closedPort}`)])
  if (!up.portalUp || down.portalUp) throw new Error("the Portal-up Hub must have validated and the Portal-down Hub must be failing")
  const check = (enforcer, principal) => ({ enforcer, cap: "attended", operation: "check", principal })
  const body = JSON.stringify({ ok: true })
  const ports = {}
  const servers = []

  {
    const { default: express } = await import("express")
    const { licenseGate } = await import("@exekra/plugins/express")
    const app = express()
    const answer = (_req, res) => res.type("application/json").send(body)
    const user = (req) => req.get("x-user-id")
    app.get("/open", (req, res) => (user(req), answer(req, res)))
    app.get("/gated", licenseGate(check(up.runtime, user)).handler(answer))
    app.get("/gated-down", licenseGate(check(down.runtime, user)).handler(answer))
    app.get("/gated-middleware", licenseGate(check(up.runtime, user)), answer)
    const server = createServer(app)
    ports.express = await listen(server)
    servers.push(() => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))))
  }
  {
    const { default: Fastify } = await import("fastify")
    const { licenseGate } = await import("@exekra/plugins/fastify")
    const app = Fastify()
    await app.register(licenseGate, { enforcer: up.runtime })
    const answer = async (_request, reply) => reply.type("application/json").send(body)
    const user = (request) => request.headers["x-user-id"]
    app.get("/open", async (request, reply) => (user(request), answer(request, reply)))
    app.get("/gated", { config: { license: { cap: "attended", operation: "check", principal: user } } }, answer)
    app.get("/gated-down", { config: { license: { cap: "attended", operation: "check", principal: user, enforcer: down.runtime } } }, answer)
    await app.listen({ port: 0, host: "127.0.0.1" })
    ports.fastify = app.server.address().port
    servers.push(() => app.close())
  }
  {
    const { Hono } = await import("hono")
    const { serve: serveHono } = await import("@hono/node-server")
    const { header, licenseGate } = await import("@exekra/plugins/hono")
    const app = new Hono()
    const answer = (c) => c.body(body, 200, { "content-type": "application/json" })
    const user = header("x-user-id")
    app.get("/open", (c) => (user(c), answer(c)))
    app.get("/gated", licenseGate(check(up.runtime, user)).handler(answer))
    app.get("/gated-down", licenseGate(check(down.runtime, user)).handler(answer))
    app.get("/gated-middleware", licenseGate(check(up.runtime, user)), answer)
    const server = serveHono({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" })
    await new Promise((resolve) => server.once("listening", resolve))
    ports.hono = server.address().port
    servers.push(() => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))))
  }
  {
    const { licenseGate } = await import("@exekra/plugins/node")
    const answer = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(body)
    }
    const user = (req) => req.headers["x-user-id"]
    const gated = licenseGate(check(up.runtime, user))(answer)
    const gatedDown = licenseGate(check(down.runtime, user))(answer)
    const open = (req, res) => (user(req), answer(req, res))
    const server = createServer((req, res) => (req.url === "/gated" ? gated(req, res) : req.url === "/gated-down" ? gatedDown(req, res) : open(req, res)))
    ports["node:http"] = await listen(server)
    servers.push(() => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))))
  }
  {
    const { HttpRouter, HttpServerRequest, HttpServerResponse } = await import("@effect/platform")
    const { NodeHttpServer } = await import("@effect/platform-node")
    const { Effect } = await import("effect")
    const { licenseGate } = await import("@exekra/plugins/effect")
    const answer = Effect.sync(() => HttpServerResponse.text(body, { contentType: "application/json" }))
    const user = (request) => request.headers["x-user-id"]
    const router = HttpRouter.empty.pipe(
      HttpRouter.get("/open", Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => (user(request), answer))),
      HttpRouter.get("/gated", licenseGate(check(up.runtime, user))(answer)),
      HttpRouter.get("/gated-down", licenseGate(check(down.runtime, user))(answer))
    )
    const handler = await Effect.runPromise(NodeHttpServer.makeHandler(router))
    const server = createServer(handler)
    ports.effect = await listen(server)
    servers.push(() => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))))
  }

  // Between rounds the parent asks for a full collection, so that no round pays for the garbage of the one before.
  process.on("message", (message) => {
    if (message !== "gc") return
    globalThis.gc?.()
    process.send?.("gc-done")
  })
  console.log(`READY ${JSON.stringify(ports)}`)
  const stop = async () => {
    for (const close of servers) await close()
    portal.closeAllConnections()
    portal.close()
    await up.close()
    await down.close()
  }
  process.once("SIGTERM", () => (process.disconnect?.(), stop()))
  process.once("SIGINT", () => (process.disconnect?.(), stop()))
}

// ---- the load ------------------------------------------------------------------------------------

// Gated routes measured beside a host's main `/gated` (its recommended form), each against the same ungated route.
// Express and Hono gate a hot route best in the handler form (`licenseGate(o).handler(h)`); the middleware form costs
// what the framework's own second dispatch costs, shown beside it.
const VARIANTS = {
  express: [{ path: "/gated-middleware", label: "gated check, middleware" }],
  hono: [{ path: "/gated-middleware", label: "gated check, middleware" }]
}

/** CPU seconds the process's main thread (which serves every request) has run, or undefined off Linux. */
const cpuSeconds = (pid) => {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e9
  } catch {
    return undefined
  }
}

const load = async (url, seconds, requests) => {
  const result = await autocannon({ url, connections: 10, duration: seconds, headers: { "x-user-id": USER }, ...(requests ? { requests } : {}) })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx answers and ${result.errors} errors under load`)
  return result
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Start the hosts in a child process, measure each, and return table rows; ratios are measured in this run. */
export const run = async () => {
  const child = spawn(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--serve"], { stdio: ["ignore", "pipe", "pipe", "ipc"] })
  const exited = new Promise((resolve) => child.once("exit", resolve))
  let output = ""
  const ports = await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk
      const ready = /READY (\{.*\})/.exec(output)
      if (ready) resolve(JSON.parse(ready[1]))
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    void exited.then(() => reject(new Error(`bench hosts exited before they were ready:\n${output}`)))
  })
  const collected = () =>
    new Promise((resolve) => {
      child.once("message", resolve)
      child.send("gc")
    })
  // One round of a route: its req/s, and the server's CPU time per request it answered.
  const measure = async (url) => {
    await collected()
    const before = cpuSeconds(child.pid)
    const result = await load(url, SECONDS)
    const after = cpuSeconds(child.pid)
    return { rps: result.requests.average, cpu: before === undefined || after === undefined ? undefined : ((after - before) * 1e6) / result.requests.total }
  }
  const x = (r) => `${r.toFixed(2)}×`
  const rows = []
  try {
    for (const host of HOSTS) {
      const base = `http://127.0.0.1:${ports[host]}`
      const variants = VARIANTS[host] ?? []
      const paths = ["/open", "/gated", "/gated-down", ...variants.map((v) => v.path)]
      // Warm every route of this host up once before measuring any of them.
      await load(base, 0.5, paths.map((path) => ({ path })))
      const rounds = Object.fromEntries(paths.map((path) => [path, []]))
      for (let round = 0; round < ROUNDS; round++) {
        // Every other round in reverse order, so that a route is not always measured right after the same one.
        for (const path of round % 2 === 0 ? paths : [...paths].reverse()) rounds[path].push(await measure(`${base}${path}`))
      }
      // A ratio is the median of the rounds' own ratios: each round's routes ran within seconds of each other.
      const rps = (path) => median(rounds[path].map((r) => r.rps))
      const ratio = (path, against) => median(rounds[path].map((r, i) => r.rps / rounds[against][i].rps))
      rows.push(
        { figure: `req/s ${host}, ungated route`, value: rate(rps("/open")), baseline: "(baseline)", ratio: "1.00×" },
        { figure: `req/s ${host}, gated check`, value: rate(rps("/gated")), baseline: "ungated", ratio: x(ratio("/gated", "/open")) },
        ...variants.map((v) => ({ figure: `req/s ${host}, ${v.label}`, value: rate(rps(v.path)), baseline: "ungated", ratio: x(ratio(v.path, "/open")) })),
        { figure: `req/s ${host}, gated check, Portal down`, value: rate(rps("/gated-down")), baseline: "Portal up", ratio: x(ratio("/gated-down", "/gated")) }
      )
      // The server's CPU per request: what the gate costs, less exposed than req/s to what else the machine runs.
      if (rounds["/open"].every((r) => r.cpu !== undefined)) {
        const cpu = (path) => median(rounds[path].map((r) => r.cpu))
        const cheaper = (path) => median(rounds[path].map((r, i) => rounds["/open"][i].cpu / r.cpu))
        rows.push(
          ...["/gated", ...variants.map((v) => v.path)].map((path) => ({
            figure: `server CPU µs/request ${host}, ${path === "/gated" ? "gated check" : variants.find((v) => v.path === path).label}`,
            value: cpu(path).toFixed(1),
            baseline: `${cpu("/open").toFixed(1)} ungated`,
            ratio: x(cheaper(path))
          }))
        )
      }
    }
  } finally {
    child.kill("SIGTERM")
    await exited
  }
  return rows
}

const main = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]
if (main && process.argv[2] === "--serve") await serve()
else if (main) table(`Host frameworks — gated check vs ungated (autocannon, 10 connections, ${ROUNDS} interleaved rounds × ${SECONDS} s, medians)`, await run())
