/** Plain `node:http` adapter: wrap a request listener so it runs only when the license admits the request. */
import type { IncomingMessage, ServerResponse } from "node:http"
import type { Admission } from "@exekra/core"
import * as Gate from "../Gate.js"
import * as Problem from "../internal/problem.js"
import { PrincipalError } from "../PluginError.js"

export { type Admitted, PluginOptionsError, PrincipalError } from "../Gate.js"

/** A request listener that also receives what the gate admitted. */
export type GatedListener = (req: IncomingMessage, res: ServerResponse, license: Gate.Admitted) => void | Promise<void>

/** Answers a denial in place of the default 403 problem. */
export type DeniedHandler = (error: Admission.AdmissionError, req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/** node:http has no error path of its own: this is it. Default: a problem+json answer without internals. */
export type ErrorHandler = (error: Error, req: IncomingMessage, res: ServerResponse) => void

/** Options of `licenseGate`: the gate's (`enforcer` or `hub`, `cap`, `operation`, `principal`, `onDenied`, `actor`) and `onError`. */
export type Options = Gate.Options<IncomingMessage, DeniedHandler> & {
  /** node:http's error path: failures, including errors of `principal` and of the listener. Default: a problem+json answer. */
  readonly onError?: ErrorHandler | undefined
}

const send = (res: ServerResponse, status: number, body: object): void => {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, { "content-type": Gate.problemContentType })
  res.end(JSON.stringify(body))
}

const defaultDenied: DeniedHandler = (error, _req, res) => send(res, 403, Gate.problem(error))

const defaultError: ErrorHandler = (error, _req, res) => {
  if (error instanceof PrincipalError) {
    return send(res, 400, Gate.principalProblem(error))
  }
  send(res, 500, Problem.body(500, "INTERNAL_ERROR", "The server failed to answer this request."))
}

/**
 * Gate a listener: `acquire`/`release` run against the Enforcer first, `check` answers in memory; the listener
 * runs only when admitted. Denials answer 403 problem+json (or `onDenied`); failures, including errors of
 * `principal` and of the listener itself, go to `onError`. Invalid options throw a `PluginOptionsError` here.
 *
 * @example
 * const registerRunner = licenseGate({ hub, cap: "unattended", operation: "acquire", principal: (req) => req.headers["x-runner-id"] as string })
 * createServer(registerRunner((req, res, license) => res.end(JSON.stringify(license))))
 */
export const licenseGate = (options: Options): ((listener: GatedListener) => (req: IncomingMessage, res: ServerResponse) => void) => {
  const { onError, ...gateOptions } = options
  const gate = Gate.unsafeMake("node", gateOptions)
  if (onError !== undefined && typeof onError !== "function") {
    throw new Gate.PluginOptionsError({ code: "PLUGIN_OPTIONS_INVALID", message: "Invalid license gate options (node): onError must be a function." })
  }
  const fail = onError ?? defaultError
  const denied = gate.config.onDenied ?? defaultDenied
  const guarded = (req: IncomingMessage, res: ServerResponse, f: () => void | Promise<void>): void => {
    const toError = (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error))
      try {
        fail(e, req, res)
      } catch {
        // A throwing onError must not take the server down: answer the safe default instead.
        defaultError(e, req, res)
      }
    }
    try {
      const result = f()
      if (result instanceof Promise) result.catch(toError)
    } catch (error) {
      toError(error)
    }
  }
  return (listener) =>
    function licenseGate(req, res) {
      Gate.settle(gate.run(req), (outcome) => {
        switch (outcome._tag) {
          case "Allowed":
            return guarded(req, res, () => listener(req, res, outcome.admitted))
          case "Denied":
            return guarded(req, res, () => denied(outcome.error, req, res))
          case "Failed":
            return guarded(req, res, () => {
              throw outcome.error
            })
        }
      }, (error) => defaultError(error instanceof Error ? error : new Error(String(error)), req, res))
    }
}
