/** Implementation of Gate: option checks, the per-request run, and the Exit → Outcome mapping. */
// The two modules the gates need, not the package index: a host that only gates never loads the stores.
import * as Admission from "@exekra/core/Admission"
import * as Cap from "@exekra/core/Cap"
import { Cause, Effect, Either, Exit } from "effect"
import type { Admitted, BaseOptions, Config, Gate, Operation, Options, Outcome, Principal, ProblemBody } from "../Gate.js"
import { PluginOptionsError, PrincipalError } from "../PluginError.js"
import * as Problem from "./problem.js"

const OPERATIONS: ReadonlyArray<Operation> = ["acquire", "release", "check", "heartbeat"]
const KNOWN_KEYS: ReadonlySet<string> = new Set(["enforcer", "hub", "cap", "operation", "principal", "onDenied", "actor"])

// The same id rule as the Hub API: an id the gate admits must be one an admin can later list,
// release or deactivate over that API.
const PRINCIPAL_ID = Admission.principalIdPattern
const NAME_MAX = 200

const isFunction = (u: unknown): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function"
const show = (u: unknown): string => (typeof u === "string" ? JSON.stringify(u) : typeof u === "function" ? "a function" : u === null ? "null" : typeof u)

const isEnforcer = (u: unknown): u is Admission.Enforcer => {
  const e = u as Record<string, unknown> | null | undefined
  return typeof e === "object" && e !== null && isFunction(e["acquire"]) && isFunction(e["release"]) && isFunction(e["check"])
}

// Exactly one of `enforcer` and `hub`; the types say so, this says so to JavaScript callers.
const deciderProblem = (enforcer: unknown, hub: unknown): string | undefined => {
  if (enforcer !== undefined && hub !== undefined) return "give either enforcer or hub, not both"
  if (hub !== undefined) {
    return typeof hub === "object" && hub !== null && isEnforcer((hub as { readonly enforcer?: unknown }).enforcer)
      ? undefined
      : "hub must be the hub from createHub(…) of @exekra/server (its enforcer implements acquire, release, check)"
  }
  return isEnforcer(enforcer)
    ? undefined
    : "enforcer must implement Admission.Enforcer (acquire, release, check): pass the Hub's LicenseRuntime, or pass hub: the hub from createHub(…)"
}

export const validate = <O extends BaseOptions<unknown, unknown>>(host: string, options: O): Either.Either<Config<O>, PluginOptionsError> => {
  const problems: Array<string> = []
  if (typeof options !== "object" || options === null) {
    problems.push(`options must be an object, got ${show(options)}`)
  } else {
    const o = options as unknown as Record<string, unknown>
    for (const key of Object.keys(o)) if (!KNOWN_KEYS.has(key)) problems.push(`unknown option "${key}"`)
    const decider = deciderProblem(o["enforcer"], o["hub"])
    if (decider !== undefined) problems.push(decider)
    if (!Cap.isCap(o["cap"])) problems.push(`cap must be one of ${Cap.all.join(", ")}, got ${show(o["cap"])}`)
    if (!OPERATIONS.includes(o["operation"] as Operation)) problems.push(`operation must be one of ${OPERATIONS.join(", ")}, got ${show(o["operation"])}`)
    if (o["operation"] === "heartbeat" && decider === undefined) {
      const enforcer = (o["enforcer"] ?? (o["hub"] as { readonly enforcer?: unknown } | undefined)?.enforcer) as Record<string, unknown>
      if (!isFunction(enforcer["heartbeat"])) problems.push("operation heartbeat needs an enforcer with heartbeat (the Hub's LicenseRuntime, or a hub from createHub)")
    }
    if (!isFunction(o["principal"])) problems.push(`principal must be a function of the request, got ${show(o["principal"])}`)
    if (o["onDenied"] !== undefined && !isFunction(o["onDenied"])) problems.push(`onDenied must be a function, got ${show(o["onDenied"])}`)
    if (o["actor"] !== undefined && (typeof o["actor"] !== "string" || o["actor"].length === 0)) problems.push(`actor must be a non-empty string, got ${show(o["actor"])}`)
  }
  if (problems.length > 0) {
    return Either.left(new PluginOptionsError({ code: "PLUGIN_OPTIONS_INVALID", message: `Invalid license gate options (${host}): ${problems.join("; ")}.` }))
  }
  // A copy of the known keys, frozen: later changes to the caller's object cannot change the gate. A hub is
  // read once, here: the gate holds the hub's Enforcer itself, the same object the hub's own calls use.
  return Either.right(
    Object.freeze({
      enforcer: (options.enforcer ?? options.hub?.enforcer) as Admission.Enforcer,
      cap: options.cap,
      operation: options.operation,
      principal: options.principal,
      onDenied: options.onDenied,
      actor: options.actor ?? `plugin:${host}`
    }) as unknown as Config<O>
  )
}

export const principalOf = (input: unknown): Either.Either<Principal, PrincipalError> => {
  let id: unknown = input
  let name: unknown
  if (typeof input === "object" && input !== null) {
    id = (input as { readonly id?: unknown }).id
    name = (input as { readonly name?: unknown }).name
  }
  if (id === undefined || id === null || id === "") {
    return Either.left(new PrincipalError({ code: "PRINCIPAL_MISSING", message: "The request names no principal: principal(request) answered no id.", statusCode: 400 }))
  }
  if (typeof id !== "string" || !PRINCIPAL_ID.test(id)) {
    return Either.left(
      new PrincipalError({ code: "PRINCIPAL_INVALID", message: "The principal id must be 1 to 256 letters, digits or . _ : @ + -.", statusCode: 400 })
    )
  }
  if (name !== undefined && (typeof name !== "string" || name.length > NAME_MAX)) {
    return Either.left(new PrincipalError({ code: "PRINCIPAL_INVALID", message: `The principal name must be a string of at most ${NAME_MAX} characters.`, statusCode: 400 }))
  }
  return Either.right({ id, name: name as string | undefined })
}

export const problem = (error: Admission.AdmissionError): ProblemBody => Problem.body(403, error.code, error.message)

type AnyConfig = Config<BaseOptions<unknown, unknown>>

export const checkNow = (config: AnyConfig, principal: Principal): Either.Either<Admitted, Admission.AdmissionError> =>
  Either.map(config.enforcer.check(config.cap, principal.id), (): Admitted => ({ operation: "check", cap: config.cap, principal: principal.id }))

export const operate = (config: AnyConfig, principal: Principal) => {
  switch (config.operation) {
    case "check":
      return Effect.suspend(() => checkNow(config, principal))
    case "acquire":
      return Effect.map(
        config.enforcer.acquire(config.cap, principal.id, { name: principal.name, actor: config.actor }),
        (acquired): Admitted => ({ operation: "acquire", cap: config.cap, principal: principal.id, created: acquired.created, used: acquired.used })
      )
    case "release":
      return Effect.map(
        config.enforcer.release(config.cap, principal.id, { actor: config.actor }),
        (released): Admitted => ({ operation: "release", cap: config.cap, principal: principal.id, released })
      )
    case "heartbeat": {
      // Checked when the gate was made: a heartbeat gate's enforcer implements heartbeat.
      const heartbeat = config.enforcer.heartbeat!
      return Effect.map(
        heartbeat(config.cap, principal.id, { actor: config.actor }),
        (beat): Admitted => ({ operation: "heartbeat", cap: config.cap, principal: principal.id, revived: beat.revived, leaseEndsAt: beat.leaseEndsAt })
      )
    }
  }
}

const allowed = (admitted: Admitted): Outcome => ({ _tag: "Allowed", admitted })
const denied = (error: Admission.AdmissionError): Outcome => ({ _tag: "Denied", error })
// Hosts' error paths expect Error instances (Fastify's `done(err)`; Express reads `next("route")` as routing):
// anything else thrown is wrapped, keeping the original as `cause`.
const failed = (error: unknown): Outcome => ({
  _tag: "Failed",
  error: error instanceof Error ? error : new Error(`License gate failed: ${String(error)}`, { cause: error })
})

const fromExit = (exit: Exit.Exit<Admitted, unknown>): Outcome => {
  if (Exit.isSuccess(exit)) return allowed(exit.value)
  const error = Cause.squash(exit.cause)
  return error instanceof Admission.AdmissionError ? denied(error) : failed(error)
}

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { readonly then?: unknown }).then === "function"

export const make = <Request, Denied>(host: string, options: Options<Request, Denied>): Either.Either<Gate<Request, Denied>, PluginOptionsError> =>
  Either.map(validate(host, options), (config) => {
    const forPrincipal = (input: unknown): Outcome | Promise<Outcome> => {
      const principal = principalOf(input)
      if (Either.isLeft(principal)) return failed(principal.left)
      if (config.operation === "check") {
        // The hot path: a synchronous, in-memory answer; no Effect fiber and no promise.
        try {
          return Either.match(checkNow(config, principal.right), { onLeft: denied, onRight: allowed })
        } catch (defect) {
          return failed(defect)
        }
      }
      return Effect.runPromiseExit(operate(config, principal.right)).then(fromExit)
    }
    const run = (request: Request): Outcome | Promise<Outcome> => {
      let input: ReturnType<typeof config.principal>
      try {
        input = config.principal(request)
      } catch (error) {
        return failed(error)
      }
      return isPromiseLike(input) ? Promise.resolve(input).then(forPrincipal, failed) : forPrincipal(input)
    }
    return Object.freeze({ config, run })
  })

export const unsafeMake = <Request, Denied>(host: string, options: Options<Request, Denied>): Gate<Request, Denied> =>
  Either.getOrThrowWith(make(host, options), (error) => error)

export const settle = (result: Outcome | Promise<Outcome>, f: (outcome: Outcome) => void, onThrow: (error: unknown) => void): void => {
  // A synchronous throw reaches the host's own request handling; a throw after a promise would be an
  // unhandled rejection (a crash on Node), so it goes to the adapter's error path instead.
  if (result instanceof Promise) void result.then(f).catch(onThrow)
  else f(result)
}
