/** Where the pages are mounted: the public path prefix every link, form, redirect and asset URL starts with ("" at the root). */
import type { HttpServerRequest } from "@effect/platform"
import { Context, Effect } from "effect"

/**
 * Whether the pages take their prefix from `X-Forwarded-Prefix`. Only the Hub's own handler (`createLicenseHandler`)
 * turns it on, as it sets that header itself on every request it forwards; a Hub serving on its own (`Hub.start`,
 * `serve`) ignores the header, so a request cannot make its pages link or redirect anywhere else.
 */
export class TrustForwardedPrefix extends Context.Reference<TrustForwardedPrefix>()("@exekra/server/pages/TrustForwardedPrefix", {
  defaultValue: (): boolean => false
}) {}

// Segments of unreserved and sub-delimiter characters (as LicenseHandler's prefix option): a leading slash, no
// empty segment (so never `//`, a scheme-relative URL), no backslash (browsers read it as a slash), no scheme.
const PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/
const DOTS = /(^|\/)\.\.?(\/|$)/

/** Whether `prefix` is a path the pages may put in front of their URLs: `""` or `/segment[/segment…]`, no dot segments. */
export const isBasePath = (prefix: string): boolean => prefix.length <= 1024 && PATH.test(prefix) && !DOTS.test(prefix)

/** The prefix an outer proxy forwards, without its trailing slash, when it is a valid path; else `""`. */
export const outerPrefix = (header: string | null | undefined): string => {
  const trimmed = (header ?? "").trim().replace(/\/+$/, "")
  return isBasePath(trimmed) ? trimmed : ""
}

/** The request's base path: the trusted `X-Forwarded-Prefix` when it is a valid path, else `""`. */
export const fromRequest = (request: HttpServerRequest.HttpServerRequest, trusted: boolean): string => {
  if (!trusted) return ""
  const header = request.headers["x-forwarded-prefix"]
  return header !== undefined && isBasePath(header) ? header : ""
}

/**
 * The path the session and pre-sign-in cookies are scoped to: the base path, or `/` at the root. Under a prefix the
 * browser then sends them to the Hub only, not to every route of the host application around it.
 */
export const cookiePath = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<string> =>
  Effect.map(TrustForwardedPrefix, (trusted) => fromRequest(request, trusted) || "/")
