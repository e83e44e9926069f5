// A plain node:http product API that enforces its Exekra license by wrapping listeners and serves the license Hub under /license.
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import { licenseGate } from "@exekra/plugins/node"
import { createHub } from "@exekra/server"

const port = Number(process.env.PORT ?? 3000)
const dataDir = process.env.DATA_DIR ?? "./data/node-http-hub"

// The Hub: vendor keys from EXEKRA_PUBLIC_KEYS (a.pem,b.pem), else a development key and a demo trial license
// under DATA_DIR/dev/. The gates and the mounted Hub share its runtime and SQLite store.
const hub = await createHub({ dataDir, version: "1.0.0" })

const json = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}
const runner = (req) => ({ id: req.headers["x-runner-id"], name: req.headers["x-runner-name"] })
const user = (req) => req.headers["x-user-id"]

// Registering a Runner takes an Unattended slot (idempotent for a Runner already registered).
const registerRunner = licenseGate({ hub, cap: "unattended", operation: "acquire", principal: runner })((_req, res, granted) =>
  json(res, granted.created ? 201 : 200, { runner: granted.principal, used: granted.used })
)
// Deregistering frees the slot.
const deregisterRunner = licenseGate({ hub, cap: "unattended", operation: "release", principal: (req) => decodeURIComponent(req.url.split("/")[2]) })(
  (_req, res, granted) => json(res, 200, { runner: granted.principal, released: granted.released })
)
// Opening Studio assigns the user a Developer seat.
const openStudio = licenseGate({ hub, cap: "developer", operation: "acquire", principal: user })((_req, res, granted) =>
  json(res, 201, { session: randomUUID(), user: granted.principal })
)
// An attended run needs a user the admin granted on the License page: check, in memory, per request.
const startAttendedRun = licenseGate({ hub, cap: "attended", operation: "check", principal: user })((_req, res, granted) =>
  json(res, 202, { run: randomUUID(), user: granted.principal })
)

const product = (req, res) => {
  const path = req.url.split("?")[0]
  if (req.method === "POST" && path === "/runners") return registerRunner(req, res)
  if (req.method === "DELETE" && /^\/runners\/[^/]+$/.test(path)) return deregisterRunner(req, res)
  if (req.method === "POST" && path === "/studio/sessions") return openStudio(req, res)
  if (req.method === "POST" && path === "/attended/runs") return startAttendedRun(req, res)
  json(res, 404, { error: "NOT_FOUND" })
}

// Requests under /license go to the Hub; everything else to the product.
const server = createServer((req, res) => hub.handler(req, res, () => product(req, res)))
server.listen(port, "127.0.0.1", () => {
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
