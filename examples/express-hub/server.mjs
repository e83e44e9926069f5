// An Express 5 product API that enforces its Exekra license at the route boundary and serves the license Hub under /license.
import { randomUUID } from "node:crypto"
import { licenseGate } from "@exekra/plugins/express"
import { createHub } from "@exekra/server"
import express from "express"

const port = Number(process.env.PORT ?? 3000)
const dataDir = process.env.DATA_DIR ?? "./data/express-hub"

// The Hub: vendor keys from EXEKRA_PUBLIC_KEYS (a.pem,b.pem), else a development key and a demo trial license
// under DATA_DIR/dev/. The gates and the mounted Hub share its runtime and SQLite store.
const hub = await createHub({ dataDir, version: "1.0.0" })

const app = express()
// The Hub reads its own request bodies, so it is mounted before the product's body parser.
app.use("/license", hub.handler)
app.use(express.json())

const runner = (req) => ({ id: req.get("x-runner-id"), name: req.get("x-runner-name") })
const user = (req) => req.get("x-user-id")

// Registering a Runner takes an Unattended slot (idempotent for a Runner already registered).
app.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: runner }), (req, res) => {
  res.status(req.license.created ? 201 : 200).json({ runner: req.license.principal, used: req.license.used })
})
// Deregistering frees the slot.
app.delete("/runners/:id", licenseGate({ hub, cap: "unattended", operation: "release", principal: (req) => req.params.id }), (req, res) => {
  res.json({ runner: req.license.principal, released: req.license.released })
})
// Opening Studio assigns the user a Developer seat.
app.post("/studio/sessions", licenseGate({ hub, cap: "developer", operation: "acquire", principal: user }), (req, res) => {
  res.status(201).json({ session: randomUUID(), user: req.license.principal })
})
// An attended run needs a user the admin granted on the License page: check, in memory, per request.
app.post("/attended/runs", licenseGate({ hub, cap: "attended", operation: "check", principal: user }), (req, res) => {
  res.status(202).json({ run: randomUUID(), user: req.license.principal })
})

app.use((err, _req, res, _next) => {
  res.status(err.statusCode ?? 500).json({ error: err.code ?? "INTERNAL_ERROR", message: err.statusCode ? err.message : "Internal error" })
})

const server = app.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
  if (hub.dev) console.log(`license Hub at /license; activate with ${hub.dev.licensePath} as ${hub.dev.email}`)
})

const shutdown = async () => {
  server.close()
  server.closeAllConnections()
  await hub.close()
}
process.once("SIGINT", shutdown)
process.once("SIGTERM", shutdown)
