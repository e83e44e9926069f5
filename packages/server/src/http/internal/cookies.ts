/** The attributes of every cookie the Hub and the Portal set: one place, so a session cookie and its expiry never disagree. */
import type { HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import * as BasePath from "../../pages/internal/basePath.js"
import { secureCookie, type Settings } from "../HubHttpOptions.js"

/** HttpOnly, SameSite=Strict, Secure over HTTPS (per `settings`), and scoped to the request's base path. */
export const attributes = (request: HttpServerRequest.HttpServerRequest, settings: Settings) =>
  Effect.map(BasePath.cookiePath(request), (path) => ({ httpOnly: true, sameSite: "strict", path, secure: secureCookie(request, settings) }) as const)
