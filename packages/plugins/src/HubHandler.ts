/** What the adapters need of a mounted Hub: a structural type `@exekra/server`'s handlers satisfy, so the plugins never import the server. */
import type { IncomingMessage, ServerResponse } from "node:http"

/** What the socket says about the client, which a Fetch `Request` cannot carry. */
export interface ClientInfo {
  readonly remoteAddress?: string | undefined
  readonly encrypted?: boolean | undefined
}

/**
 * The Hub's API and pages as a handler mounted under `prefix`: `createHub(…).handler`, or `createLicenseHandler(…)`,
 * both from `@exekra/server`. The Fastify and Effect adapters mount it (`licenseHub`, `mountLicenseHub`).
 */
export interface HubHandler {
  /** Where the Hub is mounted: `""` (the root) or `/segment[/segment…]`. */
  readonly prefix: string
  /** Node-style: serve a request under the prefix; other paths go to `next` (404 without one). */
  readonly node: (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void
  /** Fetch-style: answer a request under the prefix; `client` gives the socket's facts when the host knows them. */
  readonly fetch: (request: Request, client?: ClientInfo) => Promise<Response>
}
