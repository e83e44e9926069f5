// A real Hub with the pages, for the page and browser tests: SQLite in a temp dir, the fixture vendor key, composed as Hub.start composes it plus Pages.layer, or embedded in a node:http host under a prefix.
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { type Signer } from "@exekra/core"
import * as Hub from "@exekra/server/Hub"
import { createLicenseHandler, type Options as HandlerOptions } from "@exekra/server/LicenseHandler"
import { HubApiLive, HubHttpOptions } from "@exekra/server/http/index"
import * as Pages from "@exekra/server/pages/Pages"
import { Context, Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { licenseFile, password, vendorKey } from "../fixtures.js"

/** A started Hub and how to stop it. */
export interface TestHub {
  readonly url: string
  readonly installationId: string
  /** The data directory: its `hub.sqlite` is the Hub's store. */
  readonly dataDir: string
  readonly close: () => Promise<void>
}

/** The wiring the Hub server needs: the API and the pages on one router (the one-line change to `makeHubServer`). */
export const serverLayer = HttpApiBuilder.serve().pipe(Layer.provide(HubApiLive), Layer.provide(Pages.layer))

/** Start a Hub on 127.0.0.1, port 0, over a fresh SQLite data dir; `close` stops it and deletes the dir. */
export const startHub = async (settings: Partial<HubHttpOptions.Settings> = {}): Promise<TestHub> => {
  const dataDir = mkdtempSync(join(tmpdir(), "exekra-pages-"))
  const scope = Effect.runSync(Scope.make())
  const config = { dataDir, publicKeys: [vendorKey.publicKey], version: "test" }
  const layer = serverLayer.pipe(
    // As makeHubServer provides its settings: to the API and the pages alike.
    Layer.provide(Layer.succeed(HubHttpOptions.HubHttpOptions, HubHttpOptions.make(settings))),
    Layer.provideMerge(Hub.services(config)),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  const url = `http://127.0.0.1:${address.port}`
  const status = (await (await fetch(`${url}/api/activation`)).json()) as { installationId: string }
  return {
    url,
    installationId: status.installationId,
    dataDir,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/** A Hub mounted in a host: `url` is the Hub's public base (`origin` + prefix), so the helpers below work on it unchanged. */
export interface MountedHub extends TestHub {
  readonly origin: string
}

/** The host's own answer at `/`: a path the Hub does not own, so a redirect that lost the prefix lands here or on a 404. */
export const HOST_HOME = "The host application's home page"

/**
 * Embed a Hub under `prefix` in a node:http host on 127.0.0.1, as the examples do with `createHub(…).handler`: the
 * host answers `/` itself and hands everything else to `handler.node` (which answers 404 outside the prefix).
 */
export const startMountedHub = async (options: HandlerOptions & { readonly prefix: string } = { prefix: "/license" }): Promise<MountedHub> => {
  const dataDir = mkdtempSync(join(tmpdir(), "exekra-mounted-"))
  const services = ManagedRuntime.make(Hub.services({ dataDir, publicKeys: [vendorKey.publicKey], version: "test" }))
  const handler = createLicenseHandler(services, options)
  const server: Server = createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(HOST_HOME)
      return
    }
    handler.node(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const url = `${origin}${options.prefix}`
  const status = (await (await fetch(`${url}/api/activation`)).json()) as { installationId: string }
  return {
    url,
    origin,
    installationId: status.installationId,
    dataDir,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await handler.dispose()
      await services.dispose()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

const DAY = 86_400_000
/** An instant `n` days from now, as the license schema wants it (whole seconds, UTC). */
export const daysFromNow = (n: number): string => new Date(Math.floor((Date.now() + n * DAY) / 1000) * 1000).toISOString().replace(".000Z", "Z")

/** A license valid now (the fixture's, with dates around the real clock, since the Hub runs on it). */
export const currentLicense = (over: Partial<Signer.Issuable> = {}): string =>
  licenseFile({
    issuedAt: daysFromNow(-10),
    caps: {
      unattended: { limit: 3, expiresAt: daysFromNow(200) },
      developer: { limit: 2, expiresAt: daysFromNow(200) },
      attended: { limit: 5, expiresAt: daysFromNow(300) }
    },
    ...over
  })

/** The fixture license's admin email. */
export const EMAIL = "admin@acme.example"
export { password as PASSWORD }

/** Activate through the API (JSON), for tests about what comes after activation. */
export const activate = async (hub: TestHub, license: string): Promise<void> => {
  const response = await fetch(`${hub.url}/api/activation`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ license, email: EMAIL, password })
  })
  if (response.status !== 201) throw new Error(`activation failed: ${response.status} ${await response.text()}`)
}

/** A bearer token for the API, from a sign-in. */
export const apiToken = async (hub: TestHub): Promise<string> => {
  const response = await fetch(`${hub.url}/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: EMAIL, password })
  })
  if (!response.ok) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { token: string }).token
}
