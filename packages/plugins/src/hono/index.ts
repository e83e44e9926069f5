/** Hono 4 adapter: middleware that gates by a license operation and sets a typed `c.var.license`. */
import type { Admission } from "@exekra/core"
import type { Context, Env, MiddlewareHandler, Next } from "hono"
import type { BlankEnv } from "hono/types"
import { HTTPException } from "hono/http-exception"
import * as Gate from "../Gate.js"
import { PrincipalError } from "../PluginError.js"

export { type Admitted, PluginOptionsError, PrincipalError } from "../Gate.js"

/** The variables the gate adds: merge into your app's `Env` to type `c.var.license`. */
export interface LicenseEnv {
  Variables: {
    /** What the license gate admitted this request as. */
    license: Gate.Admitted
  }
}

/** Answers a denial in place of the default 403 problem. */
export type DeniedHandler<E extends Env = BlankEnv> = (error: Admission.AdmissionError, c: Context<E>) => Response | Promise<Response>

/** Options of `licenseGate`; `E` is the app's `Env`. */
export type Options<E extends Env = BlankEnv> = Gate.Options<Context<E>, DeniedHandler<E>>

const defaultDenied = (error: Admission.AdmissionError, c: Context): Response =>
  c.body(JSON.stringify(Gate.problem(error)), 403, { "content-type": Gate.problemContentType })

// A principal the request does not name is the client's fault: Hono's idiom for that is an HTTPException.
const thrown = (error: Error): Error =>
  error instanceof PrincipalError
    ? new HTTPException(400, {
        message: error.message,
        cause: error,
        res: new Response(JSON.stringify(Gate.principalProblem(error)), { status: 400, headers: { "content-type": Gate.problemContentType } })
      })
    : error

/**
 * Gate a route: `acquire`/`release` run against the Enforcer before the handler, `check` answers in memory.
 * Denials return a 403 problem+json Response (or `onDenied`'s); failures, including errors of `principal`,
 * are thrown to `app.onError`. Invalid options throw a `PluginOptionsError` here, at registration.
 *
 * @example
 * app.post("/attended/runs", licenseGate({ hub, cap: "attended", operation: "check", principal: (c) => c.req.header("x-user-id") }), (c) => c.json({ user: c.var.license.principal }))
 */
export const licenseGate = <E extends Env = BlankEnv>(options: Options<E>): MiddlewareHandler<E & LicenseEnv> => {
  const gate = Gate.unsafeMake("hono", options)
  const denied = gate.config.onDenied
  const answer = (outcome: Gate.Outcome, c: Context<E & LicenseEnv>, next: Next): Promise<Response | void> => {
    switch (outcome._tag) {
      case "Allowed":
        c.set("license", outcome.admitted)
        return next()
      case "Denied":
        return Promise.resolve(denied === undefined ? defaultDenied(outcome.error, c) : denied(outcome.error, c as unknown as Context<E>))
      case "Failed":
        throw thrown(outcome.error)
    }
  }
  return function licenseGate(c, next) {
    // `Context<E & LicenseEnv>` is the same object `principal` was promised as `Context<E>`.
    const result = gate.run(c as unknown as Context<E>)
    return result instanceof Promise ? result.then((outcome) => answer(outcome, c, next)) : answer(result, c, next)
  }
}
