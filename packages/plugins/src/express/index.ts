/** Express 5 adapter: route middleware that gates by a license operation and sets a typed `req.license`. */
import type { Admission } from "@exekra/core"
import type { NextFunction, Request, RequestHandler, Response } from "express"
import * as Gate from "../Gate.js"

export { type Admitted, PluginOptionsError, PrincipalError } from "../Gate.js"

declare global {
  // Express types its request through this global namespace; merging here types `req.license` everywhere.
  namespace Express {
    interface Request {
      /** What the license gate admitted this request as; set on gated routes only. */
      license?: Gate.Admitted | undefined
    }
  }
}

/** Express's default route params (its `ParamsDictionary`). */
type ParamsDictionary = Request["params"]

/** Answers a denial in place of the default 403 problem: respond, or call `next` (with an error to use the error path). */
export type DeniedHandler<P = ParamsDictionary> = (error: Admission.AdmissionError, req: Request<P>, res: Response, next: NextFunction) => void | Promise<void>

/** Options of `licenseGate`; `P` types `req.params` for `principal`: `licenseGate<{ id: string }>(…)`. */
export type Options<P = ParamsDictionary> = Gate.Options<Request<P>, DeniedHandler<P>>

const defaultDenied = (error: Admission.AdmissionError, _req: unknown, res: Response): void => {
  res.status(403).type(Gate.problemContentType).send(JSON.stringify(Gate.problem(error)))
}

/** A gate: Express route middleware, and `handler(h)`, the same gate and `h` as one route handler. */
export interface LicenseGate<P = ParamsDictionary> extends RequestHandler<P> {
  /**
   * The gate and `h` as one handler: `h` runs with `req.license` set when the request is admitted. The same answers
   * as the middleware, without Express dispatching a second layer (about 10 µs a request on Express 5, where a
   * `check` gate costs well under one).
   */
  readonly handler: (h: RequestHandler<P>) => RequestHandler<P>
}

/** Run a route handler as Express 5 does: what it throws, or its promise rejects with, goes to `next`. */
const invoke = <P>(h: RequestHandler<P>, req: Request<P>, res: Response, next: NextFunction): void => {
  try {
    const returned: unknown = h(req, res, next)
    if (returned instanceof Promise) returned.catch((error: unknown) => next(error ?? new Error("Rejected promise")))
  } catch (error) {
    next(error)
  }
}

/**
 * Gate a route: `acquire`/`release` run against the Enforcer before the handler, `check` answers in memory.
 * Denials answer 403 problem+json (or `onDenied`); failures, including errors of `principal`, go to `next(err)`.
 * Invalid options throw a `PluginOptionsError` here, at registration. Use it as middleware, or wrap the handler
 * with `.handler(h)`, the cheaper form for a hot route.
 *
 * @example
 * const hub = await createHub({ dataDir: "./data", version: "1.0.0" })   // from @exekra/server
 * app.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: (req) => req.get("x-runner-id") }), handler)
 * app.get("/steps", licenseGate({ hub, cap: "attended", operation: "check", principal: (req) => req.get("x-user-id") }).handler(steps))
 */
export const licenseGate = <P = ParamsDictionary>(options: Options<P>): LicenseGate<P> => {
  const gate = Gate.unsafeMake("express", options)
  const denied = gate.config.onDenied ?? defaultDenied
  // The one place an outcome becomes Express's answer; `admit` is the wrapped handler, or (middleware) none.
  const run = (req: Request<P>, res: Response, next: NextFunction, admit: RequestHandler<P> | undefined): void =>
    Gate.settle(gate.run(req), (outcome) => {
      switch (outcome._tag) {
        case "Allowed":
          req.license = outcome.admitted
          return admit === undefined ? next() : invoke(admit, req, res, next)
        case "Denied":
          try {
            const answered = denied(outcome.error, req, res, next)
            if (answered instanceof Promise) answered.catch(next)
          } catch (error) {
            next(error)
          }
          return
        case "Failed":
          return next(outcome.error)
      }
    }, next)
  const middleware: RequestHandler<P> = function licenseGate(req, res, next) {
    run(req, res, next, undefined)
  }
  const handler = (h: RequestHandler<P>): RequestHandler<P> =>
    function licensed(req, res, next) {
      run(req, res, next, h)
    }
  return Object.assign(middleware, { handler })
}
