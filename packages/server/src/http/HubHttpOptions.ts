/** Settings of the Hub HTTP API: body limit, cookie security, proxy trust, SSE keep-alive. */
import { HttpServerRequest } from "@effect/platform"
import { Context, Duration, Option } from "effect"

/** What a deployment may tune; every field has a safe default. */
export interface Settings {
  /** Largest request body accepted, in bytes (default 128 KiB: twice the largest license file). */
  readonly maxBodyBytes: number
  /** `Secure` on the session cookie: `"auto"` sets it when the request came over https. */
  readonly secureCookies: "auto" | boolean
  /** Take the client address and scheme from `X-Forwarded-For` / `X-Forwarded-Proto` (only behind a proxy you run). */
  readonly trustProxy: boolean
  /** Interval of `: keep-alive` comments on the event stream, so proxies keep it open. */
  readonly keepAlive: Duration.DurationInput
  /**
   * Longest time to receive a request and produce its response (default 30 s). A body that stops arriving, or ends
   * where a multipart form cannot (the parser then never finishes), is answered 408 instead of holding a fiber and a socket.
   */
  readonly requestTimeout: Duration.DurationInput
}

/** The settings in force; the defaults apply unless a layer provides others. */
export class HubHttpOptions extends Context.Reference<HubHttpOptions>()("@exekra/server/http/HubHttpOptions", {
  defaultValue: (): Settings => ({
    maxBodyBytes: 128 * 1024,
    secureCookies: "auto",
    trustProxy: false,
    keepAlive: Duration.seconds(15),
    requestTimeout: Duration.seconds(30)
  })
}) {}

/** The settings with some fields overridden. */
export const make = (overrides: Partial<Settings> = {}): Settings => ({ ...HubHttpOptions.defaultValue(), ...overrides })

/** The client's address: the socket's peer, or the first `X-Forwarded-For` hop when the proxy is trusted. */
export const clientAddress = (request: HttpServerRequest.HttpServerRequest, settings: Settings): string => {
  const forwarded = settings.trustProxy ? request.headers["x-forwarded-for"]?.split(",")[0]?.trim() : undefined
  return forwarded !== undefined && forwarded.length > 0 ? forwarded : Option.getOrElse(request.remoteAddress, () => "unknown")
}

/** Whether the request reached the Hub over https (directly, or through a trusted proxy). */
export const isHttps = (request: HttpServerRequest.HttpServerRequest, settings: Settings): boolean => {
  if (settings.trustProxy && request.headers["x-forwarded-proto"]?.split(",")[0]?.trim() === "https") return true
  if (request.originalUrl.startsWith("https:")) return true
  // node:http requests expose their socket; a TLS socket is `encrypted`.
  const source = request.source as { readonly socket?: { readonly encrypted?: unknown } } | null | undefined
  return source?.socket?.encrypted === true
}

/** Whether to mark the session cookie `Secure` for this request. */
export const secureCookie = (request: HttpServerRequest.HttpServerRequest, settings: Settings): boolean =>
  settings.secureCookies === "auto" ? isHttps(request, settings) : settings.secureCookies
