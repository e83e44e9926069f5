// Clustered Hubs for the cluster and fault suites (issue 12): three `serve` processes on one store, a client that
// keeps response headers, fresh PostgreSQL databases and a throwaway PostgreSQL server, and a Portal that logs pings.
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chownSync, mkdirSync, readFileSync } from "node:fs"
import { createServer as createHttpServer, request as httpRequest } from "node:http"
import { type AddressInfo, createServer as createNetServer } from "node:net"
import { join } from "node:path"
import { promisify } from "node:util"
import pg, { type Client as PgClient } from "pg"
import { type Child, start } from "../hub.js"
import * as Client from "../support/client.js"
import { email, type LicenseFile, password, writePublicKey } from "../support/licenses.js"
import * as Scratch from "../support/scratch.js"

const run = promisify(execFile)

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// ---- HTTP ----------------------------------------------------------------------------------------------

/** A reply with its headers (503s carry Retry-After). */
export type Reply = Client.Reply

/** A JSON client of one node. */
export type Api = Client.Client

/**
 * A JSON client of one node (test/support/client.ts): bearer `token` or session `cookie`, at most `sockets`
 * connections, and a request with no answer within 30 s ends as a transport error.
 */
export const api = (url: string, auth: { readonly token?: string; readonly cookie?: string } = {}, sockets = 100): Api =>
  Client.make(url, { ...auth, sockets, timeoutMs: 30_000 })

export const field = Client.field

export const describeReply = Client.describe

/** The body of a reply with status `status`, else an error naming what was expected. */
export const expectStatus = (reply: Reply, status: number, what: string): unknown => {
  if (reply._tag !== "Response" || reply.status !== status) throw new Error(`${what}: expected ${status}, got ${describeReply(reply)}`)
  return reply.body
}

/** A server-sent event stream of one node, every event kept with the moment it arrived. */
export interface EventStream {
  readonly events: ReadonlyArray<{ readonly at: number; readonly event: Record<string, unknown> }>
  /** Resolves once the stream's response has started (the snapshot comes first). */
  readonly opened: Promise<void>
  readonly close: () => void
}

export const events = (url: string, token: string): EventStream => {
  const received: Array<{ at: number; event: Record<string, unknown> }> = []
  const target = new URL(url)
  let buffer = ""
  let resolveOpened: () => void = () => undefined
  let rejectOpened: (e: Error) => void = () => undefined
  const opened = new Promise<void>((resolve, reject) => {
    resolveOpened = resolve
    rejectOpened = reject
  })
  const req = httpRequest(
    { host: target.hostname, port: target.port, path: "/api/events", headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } },
    (res) => {
      if (res.statusCode !== 200) rejectOpened(new Error(`GET /api/events: ${res.statusCode}`))
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        buffer += chunk
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          for (const line of frame.split("\n")) {
            if (!line.startsWith("data: ")) continue
            const event = JSON.parse(line.slice(6)) as Record<string, unknown>
            received.push({ at: performance.now(), event })
            if (event._tag === "Snapshot") resolveOpened()
          }
        }
      })
      res.on("error", () => undefined)
    }
  )
  req.on("error", (e) => rejectOpened(e))
  req.end()
  return { events: received, opened, close: () => req.destroy() }
}

// ---- waiting and figures -------------------------------------------------------------------------------

/**
 * Poll `probe` every `intervalMs` until it returns true; resolve with the ms from `from` to the first true reading.
 * Rejects after `timeoutMs` with `what` and the last reading's description.
 */
export const waitUntil = async (
  what: string,
  probe: () => Promise<boolean | string>,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number; readonly from?: number } = {}
): Promise<number> => {
  const from = options.from ?? performance.now()
  const deadline = performance.now() + (options.timeoutMs ?? 10_000)
  let last: boolean | string = false
  for (;;) {
    last = await probe()
    if (last === true) return performance.now() - from
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}${typeof last === "string" ? `: ${last}` : ""}`)
    await sleep(options.intervalMs ?? 10)
  }
}

/** The `p`-th percentile (0–100, nearest rank) of `values`. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export const round = (ms: number): number => Math.round(ms)

// ---- PostgreSQL ----------------------------------------------------------------------------------------

/** The test server: `EXEKRA_TEST_PG_URL`, else the machine's own. */
export const pgServerUrl: string = process.env.EXEKRA_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** The URL of database `name` on the server of `serverUrl`, same user. */
export const databaseUrl = (serverUrl: string, name: string): string => {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.href
}

const hostOf = (url: string): string => {
  const u = new URL(url)
  return `${u.hostname}:${u.port || "5432"}${u.pathname}`
}

/** Connect an admin client; no server is a failure with what to do about it (the PostgreSQL tests never skip). */
export const pgConnect = async (url: string): Promise<PgClient> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, application_name: "exekra-cluster-test" })
  // A connection the test itself terminates (or a server it stops) emits 'error'; the next query reports it.
  client.on("error", () => undefined)
  try {
    await client.connect()
  } catch (e) {
    throw new Error(
      `The cluster tests need PostgreSQL, and none answered at ${hostOf(url)} (${(e as Error).message}). ` +
        "Start one (`pg_ctlcluster --skip-systemctl-redirect 15 main start`, or `.ci/run`, which starts one), " +
        "or point EXEKRA_TEST_PG_URL at a server where the user may create databases."
    )
  }
  return client
}

/** One statement on a short-lived connection; its rows. */
export const pgQuery = async <R extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, params: ReadonlyArray<unknown> = []): Promise<Array<R>> => {
  const client = await pgConnect(url)
  try {
    return (await client.query<R>(text, [...params])).rows
  } finally {
    await client.end().catch(() => undefined)
  }
}

export interface Database {
  readonly name: string
  readonly url: string
  /** `DROP DATABASE … WITH (FORCE)`: ends whatever connections are still open. */
  readonly drop: () => Promise<void>
}

/** `CREATE DATABASE exekra_c_<random>` on the server of `serverUrl`. */
export const freshDatabase = async (serverUrl: string = pgServerUrl): Promise<Database> => {
  const name = `exekra_c_${randomBytes(6).toString("hex")}`
  await pgQuery(serverUrl, `CREATE DATABASE ${name}`)
  return {
    name,
    url: databaseUrl(serverUrl, name),
    drop: () =>
      pgQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(
        () => undefined,
        (e: Error) => console.warn(`could not drop the test database ${name}: ${e.message}`)
      )
  }
}

/** End every connection to database `name` but the asking one; how many were ended. */
export const terminateConnections = async (admin: PgClient, name: string): Promise<number> =>
  (
    await admin.query<{ ended: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name]
    )
  ).rows.filter((r) => r.ended).length

/** A free TCP port on 127.0.0.1 (free when asked; the throwaway server binds it right after). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createNetServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Debian's PostgreSQL binaries (the CI image's); `PG_BIN` to use others. */
export const pgBin = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin"

/** A PostgreSQL server of the test's own, to stop and start under load (never the machine's shared one). */
export interface ThrowawayPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly serverUrl: string
  readonly port: number
  /** `pg_ctl stop -m mode`: `fast` ends sessions and shuts down cleanly, `immediate` is a crash. */
  readonly stop: (mode?: "fast" | "immediate") => Promise<void>
  readonly start: () => Promise<void>
  /** Stop for good and remove its files. */
  readonly destroy: () => Promise<void>
}

/**
 * initdb a cluster into a scratch directory as the `postgres` user (the tests run as root; PostgreSQL refuses root),
 * listening on 127.0.0.1 at a free port with its socket in the directory, and start it.
 */
export const throwawayPostgres = async (): Promise<ThrowawayPostgres> => {
  const dir = Scratch.dir("pg")
  const data = join(dir, "data")
  mkdirSync(data, { mode: 0o700 })
  const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim())
  const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim())
  chownSync(dir, uid, gid)
  chownSync(data, uid, gid)
  const asPostgres = (command: string, args: ReadonlyArray<string>) =>
    run("runuser", ["-u", "postgres", "--", join(pgBin, command), ...args], { timeout: 60_000 })
  try {
    await asPostgres("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
  } catch (e) {
    throw new Error(`initdb of a throwaway PostgreSQL failed (binaries: ${pgBin}; PG_BIN to change): ${(e as Error).message}`)
  }
  const port = await freePort()
  const log = join(dir, "server.log")
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c dynamic_shared_memory_type=mmap`
  const ctl = (args: ReadonlyArray<string>) =>
    asPostgres("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "30", "-o", options, ...args]).then(
      () => undefined,
      (e: Error) => {
        let tail = ""
        try {
          tail = readFileSync(log, "utf8").split("\n").slice(-15).join("\n")
        } catch {
          // no log yet
        }
        throw new Error(`pg_ctl ${args.join(" ")}: ${e.message}\n${tail}`)
      }
    )
  await ctl(["start"])
  let running = true
  return {
    serverUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: async (mode = "fast") => {
      await ctl(["stop", "-m", mode])
      running = false
    },
    start: async () => {
      await ctl(["start"])
      running = true
    },
    destroy: async () => {
      if (running) await ctl(["stop", "-m", "fast"]).catch(() => undefined)
      running = false
    }
  }
}

// ---- nodes ---------------------------------------------------------------------------------------------

/** Where the nodes keep their state. */
export interface Store {
  readonly engine: "sqlite" | "postgres"
  /** PostgreSQL: the database, for admin statements. */
  readonly database?: Database
  /** The arguments that select the store, for node `name` under `cwd`. */
  readonly args: (name: string) => ReadonlyArray<string>
  readonly drop: () => Promise<void>
}

/**
 * SQLite: every node on one data folder, hence one hub.sqlite (several processes on one machine, as in the issue's
 * report). `--store` names the file explicitly too, as an operator would for a file elsewhere.
 */
export const sqliteStore = (): Store => ({
  engine: "sqlite",
  args: () => ["--data", "data", "--store", join("data", "hub.sqlite")],
  drop: async () => undefined
})

/** PostgreSQL: a fresh database on `serverUrl`; each node its own data folder, like separate machines. */
export const postgresStore = async (serverUrl: string = pgServerUrl): Promise<Store> => {
  const database = await freshDatabase(serverUrl)
  return { engine: "postgres", database, args: (name) => ["--data", `data-${name}`, "--store", database.url], drop: database.drop }
}

export const makeStore = (engine: "sqlite" | "postgres"): Promise<Store> => (engine === "sqlite" ? Promise.resolve(sqliteStore()) : postgresStore())

/** Longest a node may take to start listening (a loaded 2-core machine takes a few seconds). */
const START_TIMEOUT_MS = 60_000

/** Every child started here, so a failing test still stops them. */
const running = new Set<Child>()

/** SIGKILL every node still running; for afterAll/afterEach. */
export const stopAll = async (): Promise<void> => {
  await Promise.all([...running].map((c) => c.stop("SIGKILL")))
}

/** One `serve` process of a cluster, restartable under the same node id and folders. */
export interface Node {
  readonly name: string
  readonly url: string
  readonly child: Child
  readonly running: boolean
  /** (Re)start it and wait until it listens. */
  readonly start: () => Promise<void>
  readonly kill: () => Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly stop: () => Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Every line it printed, over all its runs. */
  readonly log: () => string
}

export interface ClusterOptions {
  readonly count?: number
  /** `--lease-ms`: short in tests, so a dead leader is replaced quickly. */
  readonly leaseMs?: number
  /** `--portal-url` of each node (the license names none): a path per node tells who pinged. */
  readonly portalUrl?: (name: string) => string
}

export interface Cluster {
  readonly cwd: string
  readonly store: Store
  readonly nodes: ReadonlyArray<Node>
  readonly close: () => Promise<void>
}

const makeNode = (cwd: string, name: string, args: ReadonlyArray<string>): Node => {
  let child: Child | undefined
  let url = ""
  let previous = ""
  const node: Node = {
    name,
    get url() {
      return url
    },
    get child() {
      if (child === undefined) throw new Error(`${name} never started`)
      return child
    },
    get running() {
      return child !== undefined && child.process.exitCode === null && child.process.signalCode === null
    },
    start: async () => {
      if (child !== undefined) previous += child.output()
      const c = start(["serve", "--host", "127.0.0.1", "--port", "0", "--node-id", name, ...args], cwd)
      child = c
      running.add(c)
      void c.exit.then(() => running.delete(c))
      // Bounded: a node that neither listens nor exits (stuck opening its store) fails the test with what it printed.
      let timer: NodeJS.Timeout | undefined
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not listen within ${START_TIMEOUT_MS} ms; it printed:\n${c.output()}`)), START_TIMEOUT_MS)
      })
      const listening = c.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/).catch(async () => {
        const exit = await c.exit
        // 'exit' can come before the last of its output: give the pipes a moment to drain.
        await sleep(300)
        throw new Error(`${name} exited (${JSON.stringify(exit)}) before listening; it printed:\n${c.output()}`)
      })
      try {
        url = (await Promise.race([listening, stuck]))[1]!
      } finally {
        clearTimeout(timer)
      }
    },
    kill: () => node.child.stop("SIGKILL"),
    stop: () => node.child.stop("SIGTERM"),
    log: () => previous + (child?.output() ?? "")
  }
  return node
}

/** Start `count` nodes (n1, n2, …) on `store` at once, as a deployment starts its replicas. */
export const startCluster = async (store: Store, options: ClusterOptions = {}): Promise<Cluster> => {
  const cwd = Scratch.dir(`cluster-${store.engine}`)
  const publicKey = writePublicKey(cwd)
  const nodes = Array.from({ length: options.count ?? 3 }, (_, i) => {
    const name = `n${i + 1}`
    const args = [...store.args(name), "--public-key", publicKey, "--lease-ms", String(options.leaseMs ?? 1_500)]
    if (options.portalUrl !== undefined) args.push("--portal-url", options.portalUrl(name))
    return makeNode(cwd, name, args)
  })
  await Promise.all(nodes.map((n) => n.start()))
  return {
    cwd,
    store,
    nodes,
    close: async () => {
      await Promise.all(nodes.filter((n) => n.running).map((n) => n.kill()))
      await store.drop()
    }
  }
}

/** Lines a node logged at ERROR or worse, for failure messages and the "never a 500" checks. */
export const errorLines = (node: Node): Array<string> => node.log().split("\n").filter((line) => /\b(ERROR|FATAL)\b/.test(line))

// ---- the Hub's API -------------------------------------------------------------------------------------

/** What activation and sign-in give the tests. */
export interface Admin {
  /** An API token (stored; survives restarts, valid on every node). */
  readonly token: string
  /** The session token of the sign-in, and the cookie header that carries it. */
  readonly session: string
  readonly cookie: string
}

/** Sign in on `url`: the session token and its cookie. */
export const signIn = async (url: string): Promise<{ readonly session: string; readonly cookie: string }> => {
  const anonymous = api(url, {}, 1)
  try {
    const reply = await anonymous.send("POST", "/api/session", { email, password })
    const session = String(field(expectStatus(reply, 200, "sign-in"), "token"))
    const setCookie = reply._tag === "Response" ? (reply.headers["set-cookie"] ?? []) : []
    const cookie = setCookie.map((c) => c.split(";")[0]!).find((c) => c.startsWith("exekra_session="))
    if (cookie === undefined) throw new Error(`sign-in set no session cookie: ${JSON.stringify(setCookie)}`)
    return { session, cookie }
  } finally {
    anonymous.close()
  }
}

/** `POST /api/activation` through `url` (201 expected). */
export const activateOnly = async (url: string, license: LicenseFile): Promise<void> => {
  const anonymous = api(url, {}, 1)
  try {
    expectStatus(await anonymous.send("POST", "/api/activation", { license: license.text, email, password }), 201, "activation")
  } finally {
    anonymous.close()
  }
}

/** Sign in on `url` and create an API token there. */
export const signInWithToken = async (url: string): Promise<Admin> => {
  const { session, cookie } = await signIn(url)
  const admin = api(url, { token: session }, 1)
  try {
    const token = String(field(expectStatus(await admin.send("POST", "/api/tokens", { name: "cluster" }), 201, "token"), "token"))
    return { token, session, cookie }
  } finally {
    admin.close()
  }
}

/** Activate through `url`, sign in there, and create an API token there. */
export const activate = async (url: string, license: LicenseFile): Promise<Admin> => {
  await activateOnly(url, license)
  return signInWithToken(url)
}

/** `GET /api/cluster` as the tests read it. */
export interface ClusterView {
  readonly node: string
  readonly store: string
  readonly seq: number
  readonly nodes: ReadonlyArray<{ readonly id: string; readonly leader: boolean; readonly self: boolean; readonly appliedSeq: number; readonly lastSeenAt: string }>
}

export const clusterView = async (client: Api): Promise<ClusterView> => expectStatus(await client.send("GET", "/api/cluster"), 200, "GET /api/cluster") as ClusterView

/** The leader as `client`'s node sees it, or null. */
export const leaderOf = async (client: Api): Promise<string | null> => {
  const reply = await client.send("GET", "/api/cluster")
  if (reply._tag !== "Response" || reply.status !== 200) return null
  const leaders = (reply.body as ClusterView).nodes.filter((n) => n.leader).map((n) => n.id)
  return leaders.length === 1 ? leaders[0]! : null
}

/** The principals of `cap` a node lists as active (read from the store), sorted. */
export const listed = async (client: Api, cap: string): Promise<Array<string>> => {
  const body = expectStatus(await client.send("GET", `/api/caps/${cap}/principals`), 200, `list ${cap} on ${client.url}`)
  const list = field(body, "principals")
  if (!Array.isArray(list)) throw new Error(`list ${cap}: ${JSON.stringify(body).slice(0, 200)}`)
  return list
    .filter((p) => field(p, "status") === "active")
    .map((p) => String(field(p, "id")))
    .sort()
}

/** `check` from a node's memory: "allowed", or the refusal's code, or what went wrong. */
export const check = async (client: Api, cap: string, id: string): Promise<string> => {
  const reply = await client.send("GET", `/api/caps/${cap}/principals/${id}/check`)
  if (reply._tag === "Response" && reply.status === 200) return "allowed"
  if (reply._tag === "Response" && reply.status === 403) return String(field(reply.body, "code"))
  return describeReply(reply)
}

/** `used` of `cap` as a node's `GET /api/license` reports it (its memory), and the installed file's fingerprint. */
export const licenseView = async (client: Api): Promise<{ readonly fingerprint: string; readonly issuedAt: number; readonly used: Record<string, number> }> => {
  const body = expectStatus(await client.send("GET", "/api/license"), 200, `GET /api/license on ${client.url}`)
  const license = field(body, "license")
  const caps = field(body, "caps") as Record<string, unknown>
  return {
    fingerprint: String(field(license, "fingerprint")),
    issuedAt: Date.parse(String(field(license, "issuedAt"))),
    used: Object.fromEntries(Object.entries(caps).map(([cap, status]) => [cap, Number(field(status, "used"))]))
  }
}

// ---- a Portal that logs who pinged ---------------------------------------------------------------------

/** A Portal on 127.0.0.1:0 answering every ping "valid"; node `n` is given `${url}/n` so each ping names its node. */
export interface PingLog {
  readonly url: string
  readonly pings: ReadonlyArray<{ readonly node: string; readonly at: number; readonly body: string }>
  readonly close: () => Promise<void>
}

export const pingLog = async (): Promise<PingLog> => {
  const pings: Array<{ node: string; at: number; body: string }> = []
  const server = createHttpServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const node = (req.url ?? "").split("/")[1] ?? ""
      pings.push({ node, at: performance.now(), body: Buffer.concat(chunks).toString("utf8") })
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ status: "valid", serverTime: new Date().toISOString() }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    pings,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
