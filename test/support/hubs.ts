// Built `exekra-license serve` child processes for the fault and load suites: start, activate, authorise, inspect.
import type { Cap } from "@exekra/core"
import { type Child, start } from "../hub.js"
import * as Client from "./client.js"
import { email, type LicenseFile, password } from "./licenses.js"

/** A running `serve` child and its base URL. */
export interface Server {
  readonly child: Child
  readonly url: string
}

/** Every child started here, so a failing test still stops them (see `stopAll`). */
const running = new Set<Child>()

/**
 * Start `serve` on 127.0.0.1 with an ephemeral port, on data directory `data` (relative to `cwd`),
 * and wait for its "listening on" line: the store is open and migrated once it prints.
 */
export const serve = async (cwd: string, data: string, publicKey: string): Promise<Server> => {
  const child = start(["serve", "--host", "127.0.0.1", "--port", "0", "--data", data, "--public-key", publicKey], cwd)
  running.add(child)
  void child.exit.then(() => running.delete(child))
  const [, url] = await child.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
  return { child, url: url! }
}

/** SIGKILL every child still running; for afterAll/afterEach. */
export const stopAll = async (): Promise<void> => {
  await Promise.all([...running].map((c) => c.stop("SIGKILL")))
}

const expectStatus = (reply: Client.Reply, status: number, what: string): unknown => {
  if (reply._tag !== "Response" || reply.status !== status) throw new Error(`${what}: expected ${status}, got ${Client.describe(reply)}`)
  return reply.body
}

/** Activate through the API, sign in, and create an API token (stored, so it survives restarts). */
export const activate = async (url: string, license: LicenseFile, tokenName = "load"): Promise<string> => {
  const anonymous = Client.make(url, { sockets: 1 })
  try {
    expectStatus(await anonymous.send("POST", "/api/activation", { license: license.text, email, password }), 201, "activation")
    const session = Client.field(expectStatus(await anonymous.send("POST", "/api/session", { email, password }), 200, "sign-in"), "token")
    const admin = Client.make(url, { token: String(session), sockets: 1 })
    try {
      return String(Client.field(expectStatus(await admin.send("POST", "/api/tokens", { name: tokenName }), 201, "token"), "token"))
    } finally {
      admin.close()
    }
  } finally {
    anonymous.close()
  }
}

/** The ids of the active principals of `cap`, as `GET /api/caps/{cap}/principals` lists them. */
export const activePrincipals = async (client: Client.Client, cap: Cap.Cap): Promise<Array<string>> => {
  const body = expectStatus(await client.send("GET", `/api/caps/${cap}/principals`), 200, `list ${cap}`)
  const list = Client.field(body, "principals")
  if (!Array.isArray(list)) throw new Error(`list ${cap}: no principals in ${JSON.stringify(body).slice(0, 200)}`)
  return list.filter((p) => Client.field(p, "status") === "active").map((p) => String(Client.field(p, "id")))
}

/** What `GET /api/license` says is installed: the file's identity and each cap's limit and usage. */
export interface Installed {
  readonly fingerprint: string
  readonly licenseId: string
  readonly issuedAt: number
  readonly caps: Readonly<Record<string, { readonly limit: number; readonly ceiling: number; readonly used: number }>>
}

export const installed = async (client: Client.Client): Promise<Installed> => {
  const body = expectStatus(await client.send("GET", "/api/license"), 200, "license summary")
  const license = Client.field(body, "license")
  const caps = Client.field(body, "caps")
  if (typeof caps !== "object" || caps === null) throw new Error(`license summary without caps: ${JSON.stringify(body).slice(0, 200)}`)
  return {
    fingerprint: String(Client.field(license, "fingerprint")),
    licenseId: String(Client.field(license, "licenseId")),
    issuedAt: Date.parse(String(Client.field(license, "issuedAt"))),
    caps: Object.fromEntries(
      Object.entries(caps).map(([cap, status]) => [
        cap,
        { limit: Number(Client.field(status, "limit")), ceiling: Number(Client.field(status, "ceiling")), used: Number(Client.field(status, "used")) }
      ])
    )
  }
}
