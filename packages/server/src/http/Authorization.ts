/** Admin authorization for the Hub API: a bearer token or the session cookie, resolved by AdminAuth. */
import { HttpApiMiddleware, HttpApiSecurity, HttpServerRequest } from "@effect/platform"
import { Context, Effect, type Exit, Layer, Schema } from "effect"
import { AdminAuth, type Principal } from "../AdminAuth.js"
import * as HubHttpOptions from "./HubHttpOptions.js"
import * as Problem from "./Problem.js"

/** Name of the session cookie set at sign-in. */
export const cookieName = "exekra_session"

/** The session cookie as an OpenAPI security scheme. */
export const sessionCookie = HttpApiSecurity.apiKey({ in: "cookie", key: cookieName })

/** The caller of an admin route and the secret it authenticated with (sign-out ends that session). */
export class CurrentAdmin extends Context.Tag("@exekra/server/http/CurrentAdmin")<
  CurrentAdmin,
  { readonly principal: Principal; readonly secret: string }
>() {}

/** Security middleware of every admin route: `Authorization: Bearer <token>` or the session cookie. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@exekra/server/http/Authorization", {
  failure: Schema.Union(
    Problem.schema(401, ["UNAUTHORIZED"], "No valid session cookie or bearer token."),
    Problem.schema(403, ["CROSS_ORIGIN_REQUEST"], "A change authenticated by the session cookie came from another origin.")
  ),
  provides: CurrentAdmin,
  security: { bearer: HttpApiSecurity.bearer, cookie: sessionCookie }
}) {}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** The credential a request presents: a bearer token wins over the cookie, as for any API client. */
const presented = (request: HttpServerRequest.HttpServerRequest): { readonly secret: string; readonly byCookie: boolean } => {
  const bearer = BEARER.exec(request.headers.authorization ?? "")?.[1]
  return bearer !== undefined ? { secret: bearer, byCookie: false } : { secret: request.cookies[cookieName] ?? "", byCookie: true }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"])

/**
 * Whether a cookie-authenticated request may change state. Browsers send the cookie with requests from any page
 * of the same *site* (another port, a sibling subdomain: SameSite ignores both), and such a page can post a form or
 * an untyped body without a preflight. So an unsafe method needs the browser's word that it came from the Hub's
 * own origin: `Sec-Fetch-Site: same-origin` (or `none`, typed by the user), else an `Origin` equal to the Hub's.
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

const crossOrigin = Problem.make(
  403,
  "CROSS_ORIGIN_REQUEST",
  "This change came from a page of another origin with the session cookie, and was refused. Use the Hub's own pages, or an API token (Authorization: Bearer) for scripts."
)

/** The middleware over AdminAuth. */
export const layer: Layer.Layer<Authorization, never, AdminAuth> = Layer.effect(
  Authorization,
  Effect.gen(function* () {
    const auth = yield* AdminAuth
    // The platform tries each scheme in turn and reports the last failure. Both resolve the same
    // credential (so the error reported is the presented credential's, e.g. 503 when the store is
    // down rather than "no cookie"), and the outcome is kept per request so the store is asked once.
    const outcomes = new WeakMap<HttpServerRequest.HttpServerRequest, Exit.Exit<Context.Tag.Service<CurrentAdmin>, Problem.HttpProblem>>()
    const resolve = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const known = outcomes.get(request)
      if (known !== undefined) return yield* known
      const { secret, byCookie } = presented(request)
      const outcome = yield* Effect.exit(
        byCookie && !isSameOriginChange(request, yield* HubHttpOptions.HubHttpOptions)
          ? Effect.fail(crossOrigin)
          : Problem.answer(Effect.map(auth.authenticate(secret), (principal) => ({ principal, secret })))
      )
      outcomes.set(request, outcome)
      return yield* outcome
    })
    return Authorization.of({ bearer: () => resolve, cookie: () => resolve })
  })
)
