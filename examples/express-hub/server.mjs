// An Express 5 product API that enforces its Exekra license at the route boundary and serves the license Hub under /license.
import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { createLicenseHandler, licenseGate } from "@exekra/plugins/express"
import * as DevKit from "@exekra/server/DevKit"
import * as Hub from "@exekra/server/Hub"
import { LicenseRuntime } from "@exekra/server/LicenseRuntime"
import { Effect, ManagedRuntime } from "effect"
import express from "express"

const port = Number(process.env.PORT ?? 3000)
const dataDir = process.env.DATA_DIR ?? "./data/express-hub"

// The vendor's public keys (EXEKRA_PUBLIC_KEYS=a.pem,b.pem), or a development key and a demo trial license.
const { publicKeys, dev } = await Effect.runPromise(DevKit.trustedKeys(dataDir))

// One set of Hub services: the gates and the mounted Hub share its LicenseRuntime and SQLite store.
const services = ManagedRuntime.make(Hub.services({ dataDir, publicKeys, version: "1.0.0" }))
const license = await services.runPromise(LicenseRuntime)
const hub = createLicenseHandler(services, { prefix: "/license" })

const app = express()
// The Hub reads its own request bodies, so it is mounted before the product's body parser.
app.use("/license", hub.node)
app.use(express.json())

const runner = (req) => ({ id: req.get("x-runner-id"), name: req.get("x-runner-name") })
const user = (req) => req.get("x-user-id")

// Registering a Runner takes an Unattended slot (idempotent for a Runner already registered).
app.post("/runners", licenseGate({ enforcer: license, cap: "unattended", operation: "acquire", principal: runner }), (req, res) => {
  res.status(req.license.created ? 201 : 200).json({ runner: req.license.principal, used: req.license.used })
})
// Deregistering frees the slot.
app.delete("/runners/:id", licenseGate({ enforcer: license, cap: "unattended", operation: "release", principal: (req) => req.params.id }), (req, res) => {
  res.json({ runner: req.license.principal, released: req.license.released })
})
// Opening Studio assigns the user a Developer seat.
app.post("/studio/sessions", licenseGate({ enforcer: license, cap: "developer", operation: "acquire", principal: user }), (req, res) => {
  res.status(201).json({ session: randomUUID(), user: req.license.principal })
})
// An attended run needs a user the admin granted on the License page: check, in memory, per request.
app.post("/attended/runs", licenseGate({ enforcer: license, cap: "attended", operation: "check", principal: user }), (req, res) => {
  res.status(202).json({ run: randomUUID(), user: req.license.principal })
})

app.use((err, _req, res, _next) => {
  res.status(err.statusCode ?? 500).json({ error: err.code ?? "INTERNAL_ERROR", message: err.statusCode ? err.message : "Internal error" })
})

const server = app.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
  if (dev) console.log(`license Hub at /license; activate with ${join(dataDir, "dev", "demo-trial.lic")} as ${dev.email}`)
})

const shutdown = async () => {
  server.close()
  server.closeAllConnections()
  await hub.dispose()
  await services.dispose()
}
process.once("SIGINT", shutdown)
process.once("SIGTERM", shutdown)
