/** Effect `HttpRouter` adapter: route middleware that gates by a license operation and provides the `License` tag, and a Hub mount. */
import { type HttpApp, HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { Admission, LicenseStore } from "@exekra/core"
import { Context, Effect, Either, FiberRef, Option } from "effect"
import * as Gate from "../Gate.js"
import type { HubHandler } from "../HubHandler.js"
import { PluginOptionsError, type PrincipalError } from "../PluginError.js"

export type { HubHandler } from "../HubHandler.js"
export { type Admitted, PluginOptionsError, PrincipalError } from "../Gate.js"

/** What the license gate admitted the current request as; provided to the gated handler. */
export class License extends Context.Tag("@exekra/plugins/effect/License")<License, Gate.Admitted>() {}

/** Maps the request to the principal: a value, or an Effect whose failures stay in the error channel. */
export type PrincipalFn<E, R> = (request: HttpServerRequest.HttpServerRequest) => Gate.PrincipalInput | Effect.Effect<Gate.PrincipalInput, E, R>

/** Answers a denial in place of the default 403 problem. */
export type DeniedHandler<E, R> = (error: Admission.AdmissionError, request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>

/** Options of `licenseGate`. */
export type Options<E = never, R = never, E2 = never, R2 = never> = Gate.BaseOptions<PrincipalFn<E, R>, DeniedHandler<E2, R2>>

const defaultDenied = (error: Admission.AdmissionError): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(JSON.stringify(Gate.problem(error)), { status: 403, contentType: Gate.problemContentType })

// The request's context with `License` added, for `handler`, and put back when it ends however it ends: what
// `Effect.provideService` does, but that goes through `acquireUseRelease`, and on a `check` route its
// bookkeeping was most of the gate's cost (issue 16). The set runs inside `onExit`, so an interruption after it
// still restores.
const withLicense = <A, E, R>(handler: Effect.Effect<A, E, R>, context: Context.Context<never>, admitted: Gate.Admitted) =>
  Effect.onExit(
    Effect.zipRight(FiberRef.set(FiberRef.currentContext, Context.add(context, License, admitted)), handler as Effect.Effect<A, E, Exclude<R, License>>),
    () => FiberRef.set(FiberRef.currentContext, context)
  )

/**
 * Gate a handler (or a whole router with `HttpRouter.use`): it runs with `License` provided when admitted.
 * Denials answer 403 problem+json (or `onDenied`); failures of `principal`, a `PrincipalError` and store
 * failures stay in the error channel. Invalid options throw a `PluginOptionsError` here, at definition.
 * A `check` whose `principal` answers a plain value is decided in the same step that reads the request.
 *
 * @example
 * HttpRouter.post("/attended/runs", licenseGate({ hub, cap: "attended", operation: "check", principal: (req) => req.headers["x-user-id"] })(
 *   Effect.map(License, (license) => HttpServerResponse.unsafeJson({ user: license.principal }))
 * ))
 */
export const licenseGate = <E = never, R = never, E2 = never, R2 = never>(options: Options<E, R, E2, R2>) => {
  const config = Either.getOrThrowWith(Gate.validate("effect", options), (error) => error)
  const denied = (error: Admission.AdmissionError, request: HttpServerRequest.HttpServerRequest) =>
    config.onDenied === undefined ? Effect.succeed(defaultDenied(error)) : config.onDenied(error, request)
  return <E0, R0>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E0, R0>
  ): Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    E0 | E | E2 | PrincipalError | LicenseStore.StoreError,
    Exclude<R0, License> | R | R2 | HttpServerRequest.HttpServerRequest
  > =>
    Effect.withFiberRuntime((fiber) => {
      // The fiber's context is read once: it holds the request, and `withLicense` extends it.
      const context = fiber.getFiberRef(FiberRef.currentContext) as Context.Context<HttpServerRequest.HttpServerRequest>
      const request = Context.get(context, HttpServerRequest.HttpServerRequest)
      const input = config.principal(request)
      if (config.operation === "check" && !Effect.isEffect(input)) {
        // The hot path: the principal and the in-memory decision now, with no Effect between them.
        const principal = Gate.principalOf(input)
        if (Either.isLeft(principal)) return Effect.fail(principal.left)
        const decision = Gate.checkNow(config, principal.right)
        return Either.isLeft(decision) ? denied(decision.left, request) : withLicense(handler, context, decision.right)
      }
      const principal = Effect.flatMap(Effect.isEffect(input) ? input : Effect.succeed(input), Gate.principalOf)
      return Effect.flatMap(principal, (p) =>
        Effect.matchEffect(Gate.operate(config, p), {
          onFailure: (error): Effect.Effect<HttpServerResponse.HttpServerResponse, E2 | LicenseStore.StoreError, R2> =>
            error._tag === "AdmissionError" ? denied(error, request) : Effect.fail(error),
          // The principal's Effect may have run with its own context: the handler's is the one current now.
          onSuccess: (admitted) => Effect.withFiberRuntime((now) => withLicense(handler, now.getFiberRef(FiberRef.currentContext), admitted))
        })
      )
    })
}

/** The Hub as an Effect HTTP app: forwards the request, with the client's address, to `handler.fetch`. */
export const licenseApp = (handler: Pick<HubHandler, "fetch">): HttpApp.Default<HttpServerError.RequestError> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      Effect.tryPromise({
        try: (signal) =>
          Either.match(HttpServerRequest.toWebEither(request, { signal, runtime }), {
            onLeft: (error) => Promise.reject(error),
            onRight: (web) => handler.fetch(web, { remoteAddress: Option.getOrUndefined(request.remoteAddress) })
          }),
        catch: (cause) =>
          cause instanceof HttpServerError.RequestError ? cause : new HttpServerError.RequestError({ request, reason: "Transport", cause, description: "The license Hub failed to answer." })
      }).pipe(Effect.map(HttpServerResponse.fromWeb))
    )
  )

/**
 * Mount the Hub (API and pages) at the handler's prefix; the app sees the full path, the handler strips the prefix.
 *
 * @example
 * const hub = await createHub({ dataDir: "./data", version: "1.0.0" })   // from @exekra/server
 * const router = HttpRouter.empty.pipe(HttpRouter.get("/", home), mountLicenseHub(hub.handler))
 */
export const mountLicenseHub = (handler: Pick<HubHandler, "prefix" | "fetch">) => {
  const prefix = handler.prefix
  if (!prefix.startsWith("/")) {
    throw new PluginOptionsError({ code: "PLUGIN_OPTIONS_INVALID", message: "Invalid license Hub mount (effect): the handler needs a prefix such as /license to be mounted on a router." })
  }
  return HttpRouter.mountApp(prefix as `/${string}`, licenseApp(handler), { includePrefix: true })
}
