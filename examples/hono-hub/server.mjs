// A Hono 4 product API (on @hono/node-server) that enforces its Exekra license in middleware and serves the license Hub under /license.
import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { serve } from "@hono/node-server"
import { createLicenseHandler, licenseGate } from "@exekra/plugins/hono"
import * as DevKit from "@exekra/server/DevKit"
import * as Hub from "@exekra/server/Hub"
import { LicenseRuntime } from "@exekra/server/LicenseRuntime"
import { Effect, ManagedRuntime } from "effect"
import { Hono } from "hono"

const port = Number(process.env.PORT ?? 3000)
const dataDir = process.env.DATA_DIR ?? "./data/hono-hub"

// The vendor's public keys (EXEKRA_PUBLIC_KEYS=a.pem,b.pem), or a development key and a demo trial license.
const { publicKeys, dev } = await Effect.runPromise(DevKit.trustedKeys(dataDir))

// One set of Hub services: the gates and the mounted Hub share its LicenseRuntime and SQLite store.
const services = ManagedRuntime.make(Hub.services({ dataDir, publicKeys, version: "1.0.0" }))
const license = await services.runPromise(LicenseRuntime)
const hub = createLicenseHandler(services, { prefix: "/license" })

const app = new Hono()
// The socket's address goes along, so the Hub's sign-in rate limit keys on the real client.
app.all("/license/*", (c) => hub.fetch(c.req.raw, { remoteAddress: c.env.incoming.socket.remoteAddress }))

const runner = (c) => ({ id: c.req.header("x-runner-id"), name: c.req.header("x-runner-name") })
const user = (c) => c.req.header("x-user-id")

// Registering a Runner takes an Unattended slot (idempotent for a Runner already registered).
app.post("/runners", licenseGate({ enforcer: license, cap: "unattended", operation: "acquire", principal: runner }), (c) =>
  c.json({ runner: c.var.license.principal, used: c.var.license.used }, c.var.license.created ? 201 : 200)
)
// Deregistering frees the slot.
app.delete("/runners/:id", licenseGate({ enforcer: license, cap: "unattended", operation: "release", principal: (c) => c.req.param("id") }), (c) =>
  c.json({ runner: c.var.license.principal, released: c.var.license.released })
)
// Opening Studio assigns the user a Developer seat.
app.post("/studio/sessions", licenseGate({ enforcer: license, cap: "developer", operation: "acquire", principal: user }), (c) =>
  c.json({ session: randomUUID(), user: c.var.license.principal }, 201)
)
// An attended run needs a user the admin granted on the License page: check, in memory, per request.
app.post("/attended/runs", licenseGate({ enforcer: license, cap: "attended", operation: "check", principal: user }), (c) =>
  c.json({ run: randomUUID(), user: c.var.license.principal }, 202)
)

const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`)
  if (dev) console.log(`license Hub at /license; activate with ${join(dataDir, "dev", "demo-trial.lic")} as ${dev.email}`)
})

const shutdown = async () => {
  server.close()
  server.closeAllConnections?.()
  await hub.dispose()
  await services.dispose()
}
process.once("SIGINT", shutdown)
process.once("SIGTERM", shutdown)
