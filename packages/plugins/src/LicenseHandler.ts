/** Embed the Hub's license API (and whatever the Hub server serves) in a host server under a prefix such as `/license`. */
import type { IncomingMessage, ServerResponse } from "node:http"
import { HttpServer } from "@effect/platform"
import * as HubServer from "@exekra/server/http/HubServer"
import { Effect, Layer, ManagedRuntime, type Runtime } from "effect"
import { type Body, bodyOf, type ClientInfo, headersOf, writeResponse } from "./internal/nodeBridge.js"
import * as Problem from "./internal/problem.js"
import { PluginOptionsError } from "./PluginError.js"

export type { ClientInfo } from "./internal/nodeBridge.js"

/** The services the Hub server runs on: what `Hub.services(config)` builds. */
export type Services = HubServer.Requirements

/** How to embed the Hub. */
export interface Options {
  /** Path the Hub is mounted at: `""` (the root) or `/segment[/segment…]`, no trailing slash. Default `/license`. */
  readonly prefix?: string | undefined
  /**
   * Keep `X-Forwarded-For` / `X-Forwarded-Proto` as they arrive (only behind a reverse proxy you run).
   * Otherwise they are replaced by what the socket says, so sign-in rate limits key on the real client.
   */
  readonly trustProxy?: boolean | undefined
  /** Largest request body the Hub accepts, in bytes (the Hub's default otherwise). */
  readonly maxBodyBytes?: number | undefined
}

/** The Hub as a handler a host mounts: Node-style and Fetch-style, over one instance of the Hub server. */
export interface LicenseHandler {
  readonly prefix: string
  /**
   * Fetch-style: answer a request whose path is the prefix or below it (404 problem otherwise). `client`
   * gives the socket's facts when the host knows them (e.g. Hono on Node: `c.env.incoming.socket`).
   */
  readonly fetch: (request: Request, client?: ClientInfo) => Promise<Response>
  /**
   * Node-style, usable as Express middleware: paths outside the prefix go to `next` (404 without one).
   * Reads `req.originalUrl` when the host sets it, so `app.use(prefix, handler.node)` works as is.
   */
  readonly node: (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void
  /** Whether a path (no query) is the prefix or below it. */
  readonly matches: (path: string) => boolean
  /** Release the handler's own resources; the services stay with whoever built them. */
  readonly dispose: () => Promise<void>
}

const PREFIX = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/

// The path is taken as the request line gives it (`//x` stays a path, never a host); the Host header only
// names the origin, and an invalid one is ignored by the URL setter.
const urlOf = (req: IncomingMessage): URL | undefined => {
  const target = (req as IncomingMessage & { readonly originalUrl?: string }).originalUrl ?? req.url ?? "/"
  if (!target.startsWith("/")) return undefined
  try {
    const url = new URL(`http://localhost${target}`)
    if (req.headers.host !== undefined) url.host = req.headers.host
    return url
  } catch {
    return undefined
  }
}

const notFound = (path: string): Response => Problem.response(404, "NOT_FOUND", `${path} is not a route of the license Hub.`)

const unavailableBody = (): Response =>
  Problem.response(500, "BODY_CONSUMED", "The host parsed this request's body before the license Hub could read it. Mount the license handler before body parsers.")

/**
 * Build the Hub server's fetch-style handler over the host's services, mounted under `prefix`.
 *
 * @example
 * import * as Hub from "@exekra/server/Hub"
 * import { createLicenseHandler } from "@exekra/plugins/LicenseHandler"
 * import { ManagedRuntime } from "effect"
 *
 * const services = ManagedRuntime.make(Hub.services({ dataDir: "./data", publicKeys: [], version: "1.0.0" }))
 * export const hub = createLicenseHandler(services, { prefix: "/license" })
 * // Express: app.use("/license", hub.node)   Hono: app.all("/license/*", (c) => hub.fetch(c.req.raw))
 */
export const createLicenseHandler = <E>(
  services: ManagedRuntime.ManagedRuntime<Services, E> | Runtime.Runtime<Services>,
  options: Options = {}
): LicenseHandler => {
  const prefix = options.prefix ?? "/license"
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new PluginOptionsError({
      code: "PLUGIN_OPTIONS_INVALID",
      message: `Invalid license handler options: prefix must be "" or like "/license" (no trailing slash), got ${JSON.stringify(prefix)}.`
    })
  }
  const maxBodyBytes = options.maxBodyBytes
  if (maxBodyBytes !== undefined && (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0)) {
    throw new PluginOptionsError({ code: "PLUGIN_OPTIONS_INVALID", message: `Invalid license handler options: maxBodyBytes must be a positive integer, got ${String(maxBodyBytes)}.` })
  }
  const trustProxy = options.trustProxy === true

  // The host's services, not a second copy: gates and the Hub API must share one LicenseRuntime.
  const context = ManagedRuntime.isManagedRuntime(services)
    ? Effect.map((services as ManagedRuntime.ManagedRuntime<Services, E>).runtimeEffect, (runtime) => runtime.context)
    : Effect.succeed((services as Runtime.Runtime<Services>).context)
  // The handler sets the forwarded headers itself (below), so the Hub may trust them.
  const inner = HubServer.makeWebHandler(Layer.mergeAll(Layer.effectContext(context), HttpServer.layerContext), {
    trustProxy: true,
    ...(maxBodyBytes === undefined ? {} : { maxBodyBytes })
  })

  const matches = (path: string): boolean =>
    prefix === "" || path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* "/" */)

  const forward = (url: URL, method: string, headers: Headers, body: Body | null, client: ClientInfo | undefined, signal?: AbortSignal): Promise<Response> => {
    const path = url.pathname
    if (!matches(path)) return Promise.resolve(notFound(path))
    if (!trustProxy) {
      headers.delete("x-forwarded-for")
      headers.delete("x-forwarded-proto")
      headers.delete("x-forwarded-prefix")
    }
    if (client?.remoteAddress !== undefined && !headers.has("x-forwarded-for")) headers.set("x-forwarded-for", client.remoteAddress)
    if (client?.encrypted !== undefined && !headers.has("x-forwarded-proto")) headers.set("x-forwarded-proto", client.encrypted ? "https" : "http")
    // Pages need their public base to build links; an outer proxy's prefix comes first.
    headers.set("x-forwarded-prefix", `${headers.get("x-forwarded-prefix") ?? ""}${prefix}`)
    const innerUrl = new URL(url.href)
    innerUrl.pathname = path.slice(prefix.length) || "/"
    return inner.handler(
      new Request(innerUrl, { method, headers, body, signal: signal ?? null, ...(body === null ? {} : { duplex: "half" }) } as RequestInit)
    )
  }

  const fetch = (request: Request, client?: ClientInfo): Promise<Response> =>
    forward(new URL(request.url), request.method, new Headers(request.headers), request.body, client, request.signal)

  const node = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    const url = urlOf(req)
    if (url === undefined || !matches(url.pathname)) {
      if (next !== undefined) return next()
      writeResponse(notFound(url?.pathname ?? "This path"), res, req.method).catch(() => res.destroy())
      return
    }
    const fail = (error: unknown) => {
      if (next !== undefined && !res.headersSent) return next(error)
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": Problem.contentType })
        res.end(JSON.stringify(Problem.body(500, "INTERNAL_ERROR", "The license Hub failed to answer.")))
      } else {
        res.destroy()
      }
    }
    try {
      const headers = headersOf(req)
      const body = bodyOf(req, headers)
      if (body === "unavailable") {
        writeResponse(unavailableBody(), res, req.method).catch(fail)
        return
      }
      // The inner request ends when the client goes away, which stops event streams.
      const abort = new AbortController()
      res.once("close", () => abort.abort())
      const socket = req.socket as (typeof req.socket & { readonly encrypted?: boolean }) | undefined
      forward(url, req.method ?? "GET", headers, body, { remoteAddress: socket?.remoteAddress, encrypted: socket?.encrypted === true }, abort.signal)
        .then((response) => writeResponse(response, res, req.method))
        .catch(fail)
    } catch (error) {
      fail(error)
    }
  }

  return Object.freeze({ prefix, fetch, node, matches, dispose: inner.dispose })
}
