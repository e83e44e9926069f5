/** `exekra-license serve`: run the Hub license server (activation, License page and API). */
import { Command, Options } from "@effect/cli"
import { Config, Console, Effect, Option } from "effect"
import { LicenseStore } from "@exekra/core"
import * as DevKit from "../DevKit.js"
import { descriptions } from "./commands.js"
import * as Hub from "../Hub.js"

const options = {
  port: Options.integer("port").pipe(
    Options.withFallbackConfig(Config.integer("EXEKRA_PORT")),
    Options.withDefault(8080),
    Options.withDescription("Port to listen on (0 picks a free one); env EXEKRA_PORT; default 8080.")
  ),
  host: Options.text("host").pipe(
    Options.withFallbackConfig(Config.string("EXEKRA_HOST")),
    Options.withDefault("127.0.0.1"),
    Options.withDescription("Address to listen on; env EXEKRA_HOST; default 127.0.0.1.")
  ),
  store: Options.text("store").pipe(
    Options.withFallbackConfig(Config.string("EXEKRA_STORE")),
    Options.optional,
    Options.withDescription(
      "Where the Hub keeps its state: postgres://user@host:port/db for a Hub of several nodes sharing one database, or a SQLite file path; " +
        "env EXEKRA_STORE; default the embedded SQLite file DATA/hub.sqlite."
    )
  ),
  node: Options.text("node-id").pipe(
    Options.withFallbackConfig(Config.string("EXEKRA_NODE_ID")),
    Options.optional,
    Options.withDescription("This node's name among the Hub's nodes, in logs and GET /api/cluster; env EXEKRA_NODE_ID; default a random node_… id.")
  ),
  leaseMs: Options.integer("lease-ms").pipe(
    Options.withFallbackConfig(Config.integer("EXEKRA_LEASE_MS")),
    Options.withDefault(10_000),
    Options.withDescription("Leader lease period in ms: a node that dies is replaced as leader within about this long; env EXEKRA_LEASE_MS; default 10000.")
  ),
  data: Options.text("data").pipe(
    Options.withFallbackConfig(Config.string("EXEKRA_DATA")),
    Options.withDefault("./data"),
    Options.withDescription("Directory of the embedded SQLite database; env EXEKRA_DATA; default ./data.")
  ),
  publicKey: Options.file("public-key", { exists: "yes" }).pipe(
    Options.repeated,
    Options.withDescription(
      "Vendor public key (SPKI PEM) to trust; repeat for key rotation; env EXEKRA_PUBLIC_KEYS (comma-separated). " +
        "Without one, a development key and a demo trial license are created under DATA/dev/."
    )
  ),
  portalUrl: Options.text("portal-url").pipe(
    Options.withFallbackConfig(Config.string("EXEKRA_PORTAL_URL")),
    Options.optional,
    Options.withDescription("Customer Portal base URL for validation pings when the license names none; env EXEKRA_PORTAL_URL.")
  ),
  trustProxy: Options.boolean("trust-proxy").pipe(
    Options.withFallbackConfig(Config.boolean("EXEKRA_TRUST_PROXY")),
    Options.withDescription("Trust X-Forwarded-For/-Proto from a reverse proxy; env EXEKRA_TRUST_PROXY.")
  )
}

/** Serve the Hub until SIGINT/SIGTERM, then close the server and the database. */
export const serve = (version: string) =>
  Command.make("serve", options, (o) => {
    const nodeId = Option.getOrElse(o.node, LicenseStore.newNodeId)
    return Effect.gen(function* () {
      // A repeated option parses as [] when absent: trustedKeys then consults EXEKRA_PUBLIC_KEYS.
      const { publicKeys, dev } = yield* DevKit.trustedKeys(o.data, o.publicKey)
      const store = Option.getOrUndefined(o.store)
      const running = yield* Hub.start({
        dataDir: o.data,
        store,
        nodeId,
        leaseMs: o.leaseMs,
        host: o.host,
        port: o.port,
        publicKeys,
        portalUrl: Option.getOrUndefined(o.portalUrl),
        version,
        trustProxy: o.trustProxy
      })
      const engine = Hub.storeLocation({ dataDir: o.data, store }).engine
      yield* Effect.logInfo("Hub started").pipe(Effect.annotateLogs({ url: running.url, installationId: running.installationId, data: o.data, store: engine }))
      yield* Console.log(`Exekra Hub listening on ${running.url}  (installation ${running.installationId}, node ${nodeId}, ${engine} store)`)
      if (dev !== undefined) {
        yield* Console.log(
          [
            "No vendor public key configured: using a development key (trust it only for trying things out).",
            `  Open ${running.url}/ and upload the demo trial license: ${dev.licensePath}`,
            `  Licensed email: ${dev.email}`
          ].join("\n")
        )
      }
      return yield* Effect.never
      // Every line this node logs names it: several nodes of one Hub write to one log collector.
    }).pipe(Effect.scoped, Effect.annotateLogs("node", nodeId))
  }
  ).pipe(Command.withDescription(descriptions.serve))
