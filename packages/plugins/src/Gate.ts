/** The framework-free glue every host adapter shares: validated gate options, one run per request, a tagged outcome. */
import type { Admission, Cap, LicenseStore } from "@exekra/core"
import type { Effect, Either } from "effect"
import * as internal from "./internal/gate.js"
import * as Problem from "./internal/problem.js"
import type { PluginOptionsError, PrincipalError } from "./PluginError.js"

export { PluginOptionsError, PrincipalError } from "./PluginError.js"

/** What `principal(request)` may answer: an id, an id with a display name, or nothing (then the request fails with PRINCIPAL_MISSING). */
export type PrincipalInput = string | { readonly id: string; readonly name?: string | undefined } | null | undefined

/** A principal as the gate hands it to the Enforcer: an id the Hub API can also address, and an optional name. */
export interface Principal {
  readonly id: string
  readonly name: string | undefined
}

/** What a gated request was admitted as: available to the route as `req.license`, `request.license`, `c.var.license` or the Effect `License` tag. */
export type Admitted =
  | {
      readonly operation: "acquire"
      readonly cap: Cap.Cap
      readonly principal: string
      /** False when the principal already held a slot (acquire is idempotent). */
      readonly created: boolean
      /** Active principals of the cap after the acquisition. */
      readonly used: number
    }
  | {
      readonly operation: "release"
      readonly cap: Cap.Cap
      readonly principal: string
      /** False when the principal held no record. */
      readonly released: boolean
    }
  | { readonly operation: "check"; readonly cap: Cap.Cap; readonly principal: string }
  | {
      readonly operation: "heartbeat"
      readonly cap: Cap.Cap
      readonly principal: string
      /** True when this heartbeat re-admitted a principal whose lease had ended (within the cap's revive window). */
      readonly revived: boolean
      /** When the principal's lease now ends (epoch ms); null when its cap has no lease. */
      readonly leaseEndsAt: number | null
    }

/** What a gate does: the admission operations, and `heartbeat` for principals of a cap with a lease. */
export type Operation = Admission.Operation | "heartbeat"

/** The result of running a gate for one request. */
export type Outcome =
  | { readonly _tag: "Allowed"; readonly admitted: Admitted }
  | { readonly _tag: "Denied"; readonly error: Admission.AdmissionError }
  | { readonly _tag: "Failed"; readonly error: Error }

/** What a gate needs of a hub: its Enforcer. `createHub(…)` from `@exekra/server` answers one. */
export interface Hub {
  /** The hub's `LicenseRuntime`, which decides every admission. */
  readonly enforcer: Admission.Enforcer
}

/** Who decides, given exactly one way: an Enforcer, or a hub whose Enforcer is used. */
export type Decider =
  | {
      /** Who decides: the Hub's `LicenseRuntime` or any `Admission.Enforcer`. */
      readonly enforcer: Admission.Enforcer
      readonly hub?: never
    }
  | {
      /** The hub from `createHub(…)` (`@exekra/server`): its Enforcer decides. */
      readonly hub: Hub
      readonly enforcer?: never
    }

/**
 * Options every adapter takes; `PrincipalFn` is the shape of `principal` (a value or promise for callback
 * hosts, an Effect for Effect) and `Denied` the host's denial hook. Who decides is given as `enforcer` or as
 * `hub`, never both.
 */
export type BaseOptions<PrincipalFn, Denied> = Decider & GateOptions<PrincipalFn, Denied>

/** The options of a gate besides who decides. */
export interface GateOptions<PrincipalFn, Denied> {
  /** The capacity the route uses: `unattended` (Runners), `developer` (Studio seats) or `attended` (attended users). */
  readonly cap: Cap.Cap
  /**
   * `acquire` admits (register a Runner, assign a seat, grant attended), `release` frees, `check` asks whether an admitted
   * principal may work, `heartbeat` renews a principal's lease on a cap with leases (a Runner's periodic call).
   */
  readonly operation: Operation
  /** Maps the host's request to the principal id. Its errors go to the host's error path. */
  readonly principal: PrincipalFn
  /** Answers a denial instead of the default `403 application/problem+json`. */
  readonly onDenied?: Denied | undefined
  /** Who the audit log names for acquisitions and releases; default `plugin:<host>`. */
  readonly actor?: string | undefined
}

/** Options of a callback-style host (Express, Fastify, Hono, node:http): `principal` answers a value or a promise of one. */
export type Options<Request, Denied> = BaseOptions<(request: Request) => PrincipalInput | PromiseLike<PrincipalInput>, Denied>

/** Validated, frozen options: what a gate runs with; `enforcer` is the one given, or the hub's. */
export type Config<O> = Readonly<Omit<O, "actor" | "enforcer" | "hub">> & { readonly actor: string; readonly enforcer: Admission.Enforcer }

/** A gate: its frozen config and `run`, synchronous for `check` (the hot path) and a promise for `acquire`/`release`. */
export interface Gate<Request, Denied> {
  readonly config: Config<Options<Request, Denied>>
  /** Never throws and never rejects: every failure comes back as `Failed`. */
  readonly run: (request: Request) => Outcome | Promise<Outcome>
}

/** The default denial body (RFC 9457), the same shape the Hub API answers with. */
export interface ProblemBody {
  readonly type: string
  readonly title: string
  readonly status: 403
  readonly code: Admission.AdmissionErrorCode
  readonly detail: string
}

/** Media type of the default denial. */
export const problemContentType: "application/problem+json" = Problem.contentType

/** The problem a host may answer for a `PrincipalError` (400, with its code). */
export const principalProblem = (error: PrincipalError) => Problem.body(400, error.code, error.message)

/** The default denial body of an admission error. */
export const problem: (error: Admission.AdmissionError) => ProblemBody = internal.problem

/** Validate options once; `host` names the adapter in messages and in the default audit actor. */
export const make: <Request, Denied>(host: string, options: Options<Request, Denied>) => Either.Either<Gate<Request, Denied>, PluginOptionsError> =
  internal.make

/** `make`, throwing the `PluginOptionsError`: for adapters whose setup idiom is a throwing factory. */
export const unsafeMake: <Request, Denied>(host: string, options: Options<Request, Denied>) => Gate<Request, Denied> = internal.unsafeMake

/** Validate options whose `principal` has another shape (the Effect adapter's); the shared checks only. */
export const validate: <O extends BaseOptions<unknown, unknown>>(host: string, options: O) => Either.Either<Config<O>, PluginOptionsError> =
  internal.validate

/** Normalise what `principal(request)` answered. */
export const principalOf: (input: unknown) => Either.Either<Principal, PrincipalError> = internal.principalOf

/** Run the operation for a principal as an Effect, for hosts that are Effects themselves. */
export const operate: (
  config: Config<BaseOptions<unknown, unknown>>,
  principal: Principal
) => Effect.Effect<Admitted, Admission.AdmissionError | LicenseStore.StoreError> = internal.operate

/** The `check` operation now, as an Either: the same decision `operate` makes for `check`, for hosts that answer it inline. */
export const checkNow: (config: Config<BaseOptions<unknown, unknown>>, principal: Principal) => Either.Either<Admitted, Admission.AdmissionError> =
  internal.checkNow

/** Call `f` with the outcome now if it is ready, or when it is (`check` stays synchronous); `onThrow` gets what `f` throws after a wait. */
export const settle: (result: Outcome | Promise<Outcome>, f: (outcome: Outcome) => void, onThrow: (error: unknown) => void) => void = internal.settle
