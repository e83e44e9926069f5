/** The Hub as one unit: store, verifier, installation, Portal client, runtime, auth and HTTP server, from a config. */
import { createServer } from "node:http"
import { join } from "node:path"
import { FetchHttpClient, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Installation, Keyring, type Keys, LicenseStore, PortalClient, Verifier } from "@exekra/core"
import { Data, Effect, Layer } from "effect"
import * as AdminAuth from "./AdminAuth.js"
import * as ChangeFeed from "./cluster/ChangeFeed.js"
import * as Cluster from "./cluster/Cluster.js"
import * as DataFiles from "./internal/dataFiles.js"
import * as HubServer from "./http/HubServer.js"
import type { LeaseSetting } from "./Leases.js"
import * as LicenseRuntime from "./LicenseRuntime.js"
import * as Metrics from "./metrics/Metrics.js"

/** Everything a Hub needs to start. */
export interface HubConfig {
  /** Directory of the embedded SQLite database (`hub.sqlite`); created if missing. */
  readonly dataDir: string
  /**
   * Where the Hub keeps its state: a `postgres://user@host:port/db` URL for a Hub of several nodes, or a SQLite
   * file path; default the embedded SQLite file under `dataDir`.
   */
  readonly store?: string | undefined
  /** This node's id among the nodes sharing the store (default a random `node_…`); shown by `GET /api/cluster`. */
  readonly nodeId?: string | undefined
  /** Leader lease period in ms (default 10 s): a dead leader is replaced within about this long. */
  readonly leaseMs?: number | undefined
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** The vendor keys the Hub trusts. */
  readonly publicKeys: ReadonlyArray<Keys.PublicKey>
  /** Portal base URL used when a license names none. */
  readonly portalUrl?: string | undefined
  /** Software version reported in validation pings. */
  readonly version: string
  /** Trust `X-Forwarded-For` / `X-Forwarded-Proto` from a reverse proxy. */
  readonly trustProxy?: boolean | undefined
  /** Principal leases to set at start (each checked with `Leases.validate`); an admin may change them later. */
  readonly leases?: ReadonlyArray<LeaseSetting> | undefined
}

/** The Hub could not start; `code` is stable. */
export class HubError extends Data.TaggedError("HubError")<{
  readonly code: "HUB_DATA_UNWRITABLE" | "HUB_NO_TRUSTED_KEY" | "HUB_LISTEN_FAILED" | LicenseStore.StoreError["code"]
  readonly message: string
}> {}

/** File name of the Hub's database inside its data directory. */
export const DATABASE_FILE = "hub.sqlite"

/** Where a Hub's store lives: `config.store` if given, else the embedded SQLite file under `dataDir`. */
export const storeLocation = (config: Pick<HubConfig, "dataDir" | "store">): LicenseStore.Location =>
  config.store === undefined || config.store === "" ? { engine: "sqlite", filename: join(config.dataDir, DATABASE_FILE) } : LicenseStore.parseLocation(config.store)

/**
 * The Hub's services, without the HTTP server: what embedding hosts provide to their own servers. They include the
 * Prometheus registry (`Metrics.Metrics`), fed by the runtime and read at each scrape.
 */
export const services = (config: Omit<HubConfig, "host" | "port">) => {
  const store = LicenseStore.layerAt(storeLocation(config), { nodeId: config.nodeId })
  const base = Layer.mergeAll(
    Verifier.layerNodeCrypto(Keyring.make(config.publicKeys)),
    PortalClient.layer().pipe(Layer.provide(FetchHttpClient.layer)),
    Installation.layer,
    // Joined before the runtime loads its state, so the change feed starts from a sequence that state already covers.
    Cluster.layer({ version: config.version, leaseMs: config.leaseMs })
  ).pipe(Layer.provideMerge(store))
  const live = Layer.mergeAll(LicenseRuntime.layer({ version: config.version, portalUrl: config.portalUrl, leases: config.leases }), AdminAuth.layer()).pipe(
    Layer.provideMerge(base),
    Layer.provideMerge(Metrics.layer)
  )
  return Layer.mergeAll(ChangeFeed.layer(), Metrics.layerGauges).pipe(Layer.provideMerge(live))
}

/** Where a started Hub listens. */
export interface RunningHub {
  readonly url: string
  readonly installationId: string
}

/** Start a Hub in the current scope; it stops (server first, then the database) when the scope closes. */
export const start = (config: HubConfig) =>
  Effect.gen(function* () {
    if (config.publicKeys.length === 0) {
      return yield* new HubError({ code: "HUB_NO_TRUSTED_KEY", message: "No vendor public key is configured: pass --public-key FILE (or EXEKRA_PUBLIC_KEYS)." })
    }
    yield* Effect.try({
      try: () => DataFiles.makeDirectory(config.dataDir),
      catch: () => new HubError({ code: "HUB_DATA_UNWRITABLE", message: `Cannot create the data directory ${config.dataDir}: check its permissions.` })
    })
    const server = NodeHttpServer.layer(createServer, { host: config.host, port: config.port })
    const hub = HubServer.makeHubServer({ trustProxy: config.trustProxy ?? false }, Metrics.route).pipe(
      Layer.provideMerge(services(config)),
      Layer.provideMerge(server)
    )
    const context = yield* Layer.build(hub).pipe(
      Effect.catchTag("ServeError", (e) =>
        Effect.fail(new HubError({ code: "HUB_LISTEN_FAILED", message: `Cannot listen on ${config.host}:${config.port} (${String(e.cause)}): pick another --port or --host.` }))
      ),
      Effect.catchTag("StoreError", (e) => Effect.fail(new HubError({ code: e.code, message: e.message })))
    )
    const address = HttpServer.HttpServer.pipe(Effect.map((s) => s.address), Effect.provide(context))
    const bound = yield* address
    const runtime = yield* Effect.provide(LicenseRuntime.LicenseRuntime, context)
    const url = bound._tag === "TcpAddress" ? `http://${bound.hostname.includes(":") ? `[${bound.hostname}]` : bound.hostname}:${bound.port}` : `unix:${bound.path}`
    return { url, installationId: runtime.installationId } satisfies RunningHub
  })
