/** Admin authorization for the Hub API: a bearer token or the session cookie, resolved by AdminAuth. */
import { HttpApiMiddleware, HttpApiSecurity, HttpServerRequest } from "@effect/platform"
import { Context, Effect, type Exit, Layer } from "effect"
import { AdminAuth, type Principal } from "../AdminAuth.js"
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
  failure: Problem.schema(401, ["UNAUTHORIZED"], "No valid session cookie or bearer token."),
  provides: CurrentAdmin,
  security: { bearer: HttpApiSecurity.bearer, cookie: sessionCookie }
}) {}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** The credential a request presents: a bearer token wins over the cookie, as for any API client. */
const presented = (request: HttpServerRequest.HttpServerRequest): string =>
  BEARER.exec(request.headers.authorization ?? "")?.[1] ?? request.cookies[cookieName] ?? ""

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
      const secret = presented(request)
      const outcome = yield* Effect.exit(
        Problem.answer(Effect.map(auth.authenticate(secret), (principal) => ({ principal, secret })))
      )
      outcomes.set(request, outcome)
      return yield* outcome
    })
    return Authorization.of({ bearer: () => resolve, cookie: () => resolve })
  })
)
