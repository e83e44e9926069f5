/** A request's bearer token or session cookie, resolved once per request: the authorization shared by the Hub's and the Portal's APIs. */
import { type HttpRouter, HttpServerRequest } from "@effect/platform"
import { Effect, type Exit, Schema } from "effect"
import * as HubHttpOptions from "../HubHttpOptions.js"
import * as Problem from "../Problem.js"

/** What differs between the servers that authorize this way. */
export interface Options<A> {
  /** Name of the server's session cookie. */
  readonly cookieName: string
  /** The server as error sentences name it: "Hub" or "Portal". */
  readonly product: string
  /** What a secret authenticates as, or the problem to answer (401, 503 when the store is down…). */
  readonly authenticate: (secret: string) => Effect.Effect<A, Problem.HttpProblem>
}

/** The security handlers of a middleware with a `bearer` and a `cookie` scheme, both resolving to `A`. */
export interface Handlers<A> {
  readonly bearer: () => Effect.Effect<A, Problem.HttpProblem, HttpRouter.HttpRouter.Provided>
  readonly cookie: () => Effect.Effect<A, Problem.HttpProblem, HttpRouter.HttpRouter.Provided>
}

/** What a middleware built by {@link make} answers when it refuses, as its OpenAPI document lists it. */
export const failure = Schema.Union(
  Problem.schema(401, ["UNAUTHORIZED"], "No valid session cookie or bearer token."),
  Problem.schema(403, ["CROSS_ORIGIN_REQUEST"], "A change authenticated by the session cookie came from another origin.")
)

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** The credential a request presents: a bearer token wins over the cookie, as for any API client. */
const presented = (
  request: HttpServerRequest.HttpServerRequest,
  cookieName: string
): { readonly secret: string; readonly byCookie: boolean } => {
  const bearer = BEARER.exec(request.headers.authorization ?? "")?.[1]
  return bearer !== undefined ? { secret: bearer, byCookie: false } : { secret: request.cookies[cookieName] ?? "", byCookie: true }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"])

/**
 * Whether a cookie-authenticated request may change state. Browsers send the cookie with requests from any page
 * of the same *site* (another port, a sibling subdomain: SameSite ignores both), and such a page can post a form or
 * an untyped body without a preflight. So an unsafe method needs the browser's word that it came from the server's
 * own origin: `Sec-Fetch-Site: same-origin` (or `none`, typed by the user), else an `Origin` equal to the server's.
 * A request with neither header does not come from a browser page, which would send at least `Origin` on a POST.
 */
export const isSameOriginChange = (request: HttpServerRequest.HttpServerRequest, settings: HubHttpOptions.Settings): boolean => {
  if (SAFE_METHODS.has(request.method)) return true
  const site = request.headers["sec-fetch-site"]
  if (site !== undefined) return site === "same-origin" || site === "none"
  const origin = request.headers.origin
  if (origin === undefined) return true
  const forwarded = settings.trustProxy ? request.headers["x-forwarded-host"]?.split(",")[0]?.trim() : undefined
  const host = forwarded ?? request.headers.host
  try {
    return host !== undefined && new URL(origin).host === host
  } catch {
    return false
  }
}

/** The 403 of a cookie-authenticated change from another origin, naming the server's own pages. */
const crossOrigin = (product: string): Problem.HttpProblem =>
  Problem.make(
    403,
    "CROSS_ORIGIN_REQUEST",
    `This change came from a page of another origin with the session cookie, and was refused. Use the ${product}'s own pages, or an API token (Authorization: Bearer) for scripts.`
  )

/** Security handlers that resolve the presented credential once per request, refusing cross-origin cookie changes. */
export const make = <A>(options: Options<A>): Handlers<A> => {
  const refused = crossOrigin(options.product)
  // The platform tries each scheme in turn and reports the last failure. Both resolve the same
  // credential (so the error reported is the presented credential's, e.g. 503 when the store is
  // down rather than "no cookie"), and the outcome is kept per request so the store is asked once.
  const outcomes = new WeakMap<HttpServerRequest.HttpServerRequest, Exit.Exit<A, Problem.HttpProblem>>()
  const resolve = Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const known = outcomes.get(request)
    if (known !== undefined) return yield* known
    const { secret, byCookie } = presented(request, options.cookieName)
    const outcome = yield* Effect.exit(
      byCookie && !isSameOriginChange(request, yield* HubHttpOptions.HubHttpOptions) ? Effect.fail(refused) : options.authenticate(secret)
    )
    outcomes.set(request, outcome)
    return yield* outcome
  })
  return { bearer: () => resolve, cookie: () => resolve }
}
