/** Embed the Hub's license API (and whatever the Hub server serves) in a host server under a prefix such as `/license`. */
import type { IncomingMessage, ServerResponse } from "node:http"
import { HttpServer } from "@effect/platform"
import { Duration, Effect, Layer, ManagedRuntime, type Runtime } from "effect"
import { HubOptionsError } from "./EmbedError.js"
import * as HubServer from "./http/HubServer.js"
import * as Problem from "./http/Problem.js"
import { type Body, bodyOf, type ClientInfo, headersOf, writeResponse } from "./internal/nodeBridge.js"
import { outerPrefix, TrustForwardedPrefix } from "./pages/internal/basePath.js"

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
  /** Largest request body the Hub accepts, in bytes. Default 128 KiB (twice the largest license file). */
  readonly maxBodyBytes?: number | undefined
  /**
   * `Secure` on the session cookie: `"auto"` (default) sets it when the request came over https (the socket is TLS,
   * or `X-Forwarded-Proto: https` with `trustProxy`); `true` always, `false` never (plain-http development only).
   */
  readonly secureCookies?: "auto" | boolean | undefined
  /**
   * Longest time, in milliseconds, to receive a request and answer it; a body that stops arriving is answered
   * `408` instead of holding a socket. Default 30,000. The live event stream is not cut by it.
   */
  readonly requestTimeout?: number | undefined
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

/** A problem+json Response in the Hub API's exact form. */
const problem = (status: number, code: string, detail: string): Response =>
  new Response(JSON.stringify({ type: Problem.typeOf(code), title: Problem.titleOf(code), status, code, detail }), {
    status,
    headers: { "content-type": Problem.contentType }
  })

const notFound = (path: string): Response => problem(404, "NOT_FOUND", `${path} is not a route of the license Hub.`)

const unavailableBody = (): Response =>
  problem(500, "BODY_CONSUMED", "The host parsed this request's body before the license Hub could read it. Mount the license handler before body parsers.")

const optionsError = (option: string, message: string) => new HubOptionsError({ code: "HUB_OPTIONS_INVALID", option, message })

/** Check handler options without building anything: the first invalid one, or undefined. */
export const checkOptions = (options: Options): HubOptionsError | undefined => {
  if (typeof options !== "object" || options === null) return optionsError("options", `The license handler options must be an object, got ${String(options)}.`)
  const { prefix, maxBodyBytes, trustProxy, secureCookies, requestTimeout } = options
  if (prefix !== undefined && (typeof prefix !== "string" || !PREFIX.test(prefix))) {
    return optionsError("prefix", `prefix must be "" (the root) or a path like "/license" (leading slash, no trailing slash), got ${JSON.stringify(prefix)}.`)
  }
  if (maxBodyBytes !== undefined && (typeof maxBodyBytes !== "number" || !Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0)) {
    return optionsError("maxBodyBytes", `maxBodyBytes must be a positive integer number of bytes (default 131072), got ${String(maxBodyBytes)}.`)
  }
  if (trustProxy !== undefined && typeof trustProxy !== "boolean") {
    return optionsError("trustProxy", `trustProxy must be true or false (true only behind a reverse proxy you run), got ${String(trustProxy)}.`)
  }
  if (secureCookies !== undefined && secureCookies !== "auto" && typeof secureCookies !== "boolean") {
    return optionsError("secureCookies", `secureCookies must be "auto", true or false, got ${JSON.stringify(secureCookies)}.`)
  }
  if (requestTimeout !== undefined && (typeof requestTimeout !== "number" || !Number.isFinite(requestTimeout) || requestTimeout <= 0)) {
    return optionsError("requestTimeout", `requestTimeout must be a positive number of milliseconds (default 30000), got ${String(requestTimeout)}.`)
  }
  return undefined
}

/**
 * Build the Hub server's handler over the host's services, mounted under `prefix`: the Effect way of embedding
 * the Hub (`createHub` builds one for you). Invalid options throw a `HubOptionsError` naming the option.
 *
 * @example
 * import * as Hub from "@exekra/server/Hub"
 * import { createLicenseHandler } from "@exekra/server/LicenseHandler"
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
  const invalid = checkOptions(options)
  if (invalid !== undefined) throw invalid
  const prefix = options.prefix ?? "/license"
  const trustProxy = options.trustProxy === true
  const { maxBodyBytes, secureCookies, requestTimeout } = options

  // The host's services, not a second copy: gates and the Hub API must share one LicenseRuntime.
  const context = ManagedRuntime.isManagedRuntime(services)
    ? Effect.map((services as ManagedRuntime.ManagedRuntime<Services, E>).runtimeEffect, (runtime) => runtime.context)
    : Effect.succeed((services as Runtime.Runtime<Services>).context)
  // The handler sets the forwarded headers itself (below), so the Hub may trust them, the pages' prefix included.
  const inner = HubServer.makeWebHandler(Layer.mergeAll(Layer.effectContext(context), HttpServer.layerContext, Layer.succeed(TrustForwardedPrefix, true)), {
    trustProxy: true,
    ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
    ...(secureCookies === undefined ? {} : { secureCookies }),
    ...(requestTimeout === undefined ? {} : { requestTimeout: Duration.millis(requestTimeout) })
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
    // Pages need their public base to build links; an outer proxy's prefix comes first, when it is a path.
    headers.set("x-forwarded-prefix", `${outerPrefix(headers.get("x-forwarded-prefix"))}${prefix}`)
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
        writeResponse(problem(500, "INTERNAL_ERROR", "The license Hub failed to answer."), res, req.method).catch(() => res.destroy())
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
