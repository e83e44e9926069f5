/** Reading a page request, alike on the Hub and the Portal: its url-encoded form and query, and the double-submit token of the forms shown before sign-in. */
import { HttpServerRequest, HttpServerResponse, UrlParams } from "@effect/platform"
import { Effect, Option } from "effect"
import type { Settings } from "../../http/HubHttpOptions.js"
import * as Cookies from "../../http/internal/cookies.js"
import { fromRequestError } from "../../http/internal/requestProblems.js"
import type * as Problem from "../../http/Problem.js"
import * as Csrf from "../Csrf.js"

/** The request's url-encoded form; a body that cannot be read is a problem like the `product`'s API's. */
export const form = (settings: Settings, product = "Hub"): Effect.Effect<UrlParams.UrlParams, Problem.HttpProblem, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    request.urlParamsBody.pipe(Effect.mapError((error) => fromRequestError(error, settings.maxBodyBytes, product)))
  )

/** A form field's first value, or "" when the form has none. */
export const field = (params: UrlParams.UrlParams, name: string): string => Option.getOrElse(UrlParams.getFirst(params, name), () => "")

/** A query parameter given once, or undefined. */
export const searchParam = (name: string): Effect.Effect<string | undefined, never, HttpServerRequest.ParsedSearchParams> =>
  Effect.map(HttpServerRequest.ParsedSearchParams, (params) => {
    const value = params[name]
    return typeof value === "string" ? value : undefined
  })

/** The value of the request's `name` cookie, or null when it has none or an empty one (a session that was signed out). */
export const cookie = (name: string): Effect.Effect<string | null, never, HttpServerRequest.HttpServerRequest> =>
  Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    const value = request.cookies[name]
    return value === undefined || value.length === 0 ? null : value
  })

/** The double-submit token of a form shown before sign-in, and whether its cookie is still to be set. */
export interface PreSessionToken {
  readonly token: string
  readonly fresh: boolean
}

/** The double-submit tokens of the forms shown before sign-in, kept in the `cookieName` cookie. */
export const preSessionTokens = (cookieName: string, settings: Settings) => ({
  /** The token of the request's cookie, or a new one. */
  token: Effect.map(HttpServerRequest.HttpServerRequest, (request): PreSessionToken => {
    const existing = request.cookies[cookieName]
    return existing !== undefined && /^[A-Za-z0-9_-]{43}$/.test(existing) ? { token: existing, fresh: false } : { token: Csrf.newToken(), fresh: true }
  }),
  /** `response`, setting the cookie when the token is new. */
  withCookie: (
    response: HttpServerResponse.HttpServerResponse,
    token: PreSessionToken
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      if (!token.fresh) return response
      const request = yield* HttpServerRequest.HttpServerRequest
      // The token is base64url, which cookies always accept: a CookiesError here would be a bug, not a request failure.
      return yield* Effect.orDie(
        HttpServerResponse.setCookie(response, cookieName, token.token, yield* Cookies.attributes(request, settings))
      )
    })
})
