/** Admin authorization for the Hub API: a bearer token or the session cookie, resolved by AdminAuth. */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import { AdminAuth, type Principal } from "../AdminAuth.js"
import * as RequestAuth from "./internal/requestAuth.js"
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
  failure: RequestAuth.failure,
  provides: CurrentAdmin,
  security: { bearer: HttpApiSecurity.bearer, cookie: sessionCookie }
}) {}

/** Whether a cookie-authenticated request may change state: safe methods always, unsafe ones only from the server's own origin. */
export const isSameOriginChange = RequestAuth.isSameOriginChange

/** The middleware over AdminAuth. */
export const layer: Layer.Layer<Authorization, never, AdminAuth> = Layer.effect(
  Authorization,
  Effect.map(AdminAuth, (auth) =>
    Authorization.of(
      RequestAuth.make({
        cookieName,
        product: "Hub",
        authenticate: (secret) => Problem.answer(Effect.map(auth.authenticate(secret), (principal) => ({ principal, secret })))
      })
    )
  )
)
