/** Hono 4 adapter: a gate as middleware or wrapped round a handler, a typed `c.var.license`, and a cheap header principal. */
import type { Admission } from "@exekra/core"
import type { Context, Env, Handler, MiddlewareHandler, Next } from "hono"
import type { BlankEnv, BlankInput, HandlerResponse, Input } from "hono/types"
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

/** A gate: Hono middleware, and `handler(h)`, the same gate and `h` as one route handler. */
export interface LicenseGate<E extends Env = BlankEnv> extends MiddlewareHandler<E & LicenseEnv> {
  /**
   * The gate and `h` as one handler: `h` runs with `c.var.license` set when the request is admitted. The same
   * answers as the middleware, without Hono dispatching a second handler (a middleware chain costs a few µs a
   * request, a `check` gate well under one).
   */
  readonly handler: <P extends string = any, I extends Input = BlankInput, R extends HandlerResponse<any> = any>(
    h: Handler<E & LicenseEnv, P, I, R>
  ) => Handler<E, P, I, R | Response | Promise<Response | Exclude<Awaited<R>, void>>>
}

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
 * are thrown to `app.onError`. Invalid options throw a `PluginOptionsError` here, at registration. Use it as
 * middleware, or wrap the handler with `.handler(h)`, the cheaper form for a hot route.
 *
 * @example
 * const attended = licenseGate({ hub, cap: "attended", operation: "check", principal: header("x-user-id") })
 * app.post("/attended/runs", attended, (c) => c.json({ user: c.var.license.principal }))
 * app.post("/attended/steps", attended.handler((c) => c.json({ user: c.var.license.principal })))
 */
export const licenseGate = <E extends Env = BlankEnv>(options: Options<E>): LicenseGate<E> => {
  const gate = Gate.unsafeMake("hono", options)
  const denied = gate.config.onDenied
  // What runs when a request is admitted: the wrapped handler, or (middleware) `next`.
  type Admit = (c: Context<E & LicenseEnv>, next: Next) => unknown
  // The one place an outcome becomes Hono's answer.
  const answer = (outcome: Gate.Outcome, c: Context<E & LicenseEnv>, next: Next, admit: Admit | undefined): unknown => {
    switch (outcome._tag) {
      case "Allowed":
        c.set("license", outcome.admitted)
        return admit === undefined ? next() : admit(c, next)
      case "Denied":
        return denied === undefined ? defaultDenied(outcome.error, c) : denied(outcome.error, c as unknown as Context<E>)
      case "Failed":
        throw thrown(outcome.error)
    }
  }
  const run = (c: Context<E & LicenseEnv>, next: Next, admit: Admit | undefined): unknown => {
    // `Context<E & LicenseEnv>` is the same object `principal` was promised as `Context<E>`.
    const result = gate.run(c as unknown as Context<E>)
    return result instanceof Promise ? result.then((outcome) => answer(outcome, c, next, admit)) : answer(result, c, next, admit)
  }
  const middleware: MiddlewareHandler<E & LicenseEnv> = function licenseGate(c, next) {
    // Middleware answers a promise: Hono awaits each step of its chain anyway.
    return Promise.resolve(run(c, next, undefined) as Response | void)
  }
  const handler: LicenseGate<E>["handler"] = <P extends string, I extends Input, R extends HandlerResponse<any>>(h: Handler<E & LicenseEnv, P, I, R>) =>
    function licensed(c: Context<E, P, I>, next: Next) {
      // Synchronous when the gate and `h` are (a `check` and a plain handler): no promise on the hot path.
      return run(c as unknown as Context<E & LicenseEnv>, next, h as unknown as Admit) as R | Response | Promise<Response | Exclude<Awaited<R>, void>>
    }
  return Object.assign(middleware, { handler })
}

interface NodeBindings {
  readonly incoming?: { readonly rawHeaders?: unknown } | null
}

/**
 * A `principal` that reads one request header, as `c.req.header(name)` answers it. On @hono/node-server it reads
 * the Node request (`c.env.incoming`) instead: `c.req.header()` there first builds the whole WHATWG `Headers`
 * (≈ 4 µs a request) unless something else already did.
 *
 * @example
 * app.get("/runners/work", licenseGate({ hub, cap: "unattended", operation: "check", principal: header("x-runner-id") }), work)
 */
export const header = (name: string) => {
  const key = name.toLowerCase()
  return function header(c: Context): string | undefined {
    const raw = (c.env as NodeBindings | undefined)?.incoming?.rawHeaders
    if (!Array.isArray(raw)) return c.req.header(key)
    // The rule `Headers.get` follows, which is how @hono/node-server builds `c.req.raw.headers` from `rawHeaders`:
    // every field of the name, case-insensitively, joined with ", ".
    let value: string | undefined
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const field = raw[i] as string
      if (field.length === key.length && field.toLowerCase() === key) value = value === undefined ? (raw[i + 1] as string) : `${value}, ${raw[i + 1] as string}`
    }
    return value
  }
}
