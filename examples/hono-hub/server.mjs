// A Hono 4 product API (on @hono/node-server) that enforces its Exekra license in middleware and serves the license Hub under /license.
import { randomUUID } from "node:crypto"
import { serve } from "@hono/node-server"
import { licenseGate } from "@exekra/plugins/hono"
import { createHub } from "@exekra/server"
import { Hono } from "hono"

const port = Number(process.env.PORT ?? 3000)
const dataDir = process.env.DATA_DIR ?? "./data/hono-hub"

// The Hub: vendor keys from EXEKRA_PUBLIC_KEYS (a.pem,b.pem), else a development key and a demo trial license
// under DATA_DIR/dev/. The gates and the mounted Hub share its runtime and SQLite store.
const hub = await createHub({ dataDir, version: "1.0.0" })

const app = new Hono()
// The socket's address goes along, so the Hub's sign-in rate limit keys on the real client.
app.all("/license/*", (c) => hub.handler.fetch(c.req.raw, { remoteAddress: c.env.incoming.socket.remoteAddress }))

const runner = (c) => ({ id: c.req.header("x-runner-id"), name: c.req.header("x-runner-name") })
const user = (c) => c.req.header("x-user-id")

// Registering a Runner takes an Unattended slot (idempotent for a Runner already registered).
app.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: runner }), (c) =>
  c.json({ runner: c.var.license.principal, used: c.var.license.used }, c.var.license.created ? 201 : 200)
)
// Deregistering frees the slot.
app.delete("/runners/:id", licenseGate({ hub, cap: "unattended", operation: "release", principal: (c) => c.req.param("id") }), (c) =>
  c.json({ runner: c.var.license.principal, released: c.var.license.released })
)
// Opening Studio assigns the user a Developer seat.
app.post("/studio/sessions", licenseGate({ hub, cap: "developer", operation: "acquire", principal: user }), (c) =>
  c.json({ session: randomUUID(), user: c.var.license.principal }, 201)
)
// An attended run needs a user the admin granted on the License page: check, in memory, per request.
app.post("/attended/runs", licenseGate({ hub, cap: "attended", operation: "check", principal: user }), (c) =>
  c.json({ run: randomUUID(), user: c.var.license.principal }, 202)
)

const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`)
  if (hub.dev) console.log(`license Hub at /license; activate with ${hub.dev.licensePath} as ${hub.dev.email}`)
})

const shutdown = async () => {
  server.close()
  server.closeAllConnections?.()
  await hub.close()
}
process.once("SIGINT", shutdown)
process.once("SIGTERM", shutdown)
