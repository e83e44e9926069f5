// A Fastify 5 product API that enforces its Exekra license in onRequest and serves the license Hub under /license.
import { randomUUID } from "node:crypto"
import { licenseGate, licenseHub } from "@exekra/plugins/fastify"
import { createHub } from "@exekra/server"
import Fastify from "fastify"

const port = Number(process.env.PORT ?? 3000)
const dataDir = process.env.DATA_DIR ?? "./data/fastify-hub"

// The Hub: vendor keys from EXEKRA_PUBLIC_KEYS (a.pem,b.pem), else a development key and a demo trial license
// under DATA_DIR/dev/. The gates and the mounted Hub share its runtime and SQLite store.
const hub = await createHub({ dataDir, version: "1.0.0" })

const app = Fastify()
// Gated routes declare `config.license`; the plugin must be registered before them.
await app.register(licenseGate, { hub })
await app.register(licenseHub, { handler: hub.handler })

const runner = (request) => ({ id: request.headers["x-runner-id"], name: request.headers["x-runner-name"] })
const user = (request) => request.headers["x-user-id"]

// Registering a Runner takes an Unattended slot (idempotent for a Runner already registered).
app.post("/runners", { config: { license: { cap: "unattended", operation: "acquire", principal: runner } } }, async (request, reply) =>
  reply.code(request.license.created ? 201 : 200).send({ runner: request.license.principal, used: request.license.used })
)
// Deregistering frees the slot.
app.delete("/runners/:id", { config: { license: { cap: "unattended", operation: "release", principal: (request) => request.params.id } } }, async (request) => ({
  runner: request.license.principal,
  released: request.license.released
}))
// Opening Studio assigns the user a Developer seat.
app.post("/studio/sessions", { config: { license: { cap: "developer", operation: "acquire", principal: user } } }, async (request, reply) =>
  reply.code(201).send({ session: randomUUID(), user: request.license.principal })
)
// An attended run needs a user the admin granted on the License page: check, in memory, per request.
app.post("/attended/runs", { config: { license: { cap: "attended", operation: "check", principal: user } } }, async (request, reply) =>
  reply.code(202).send({ run: randomUUID(), user: request.license.principal })
)

const url = await app.listen({ port, host: "127.0.0.1" })
console.log(`listening on ${url}`)
if (hub.dev) console.log(`license Hub at /license; activate with ${hub.dev.licensePath} as ${hub.dev.email}`)

const shutdown = async () => {
  await app.close()
  await hub.close()
}
process.once("SIGINT", shutdown)
process.once("SIGTERM", shutdown)
