/** Fastify 5 adapter: a fastify-plugin that gates routes declaring `config.license` in `onRequest`, and one that mounts the Hub. */
import type { Admission } from "@exekra/core"
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, onRequestHookHandler, RouteHandlerMethod } from "fastify"
import { fastifyPlugin } from "fastify-plugin"
import * as Gate from "../Gate.js"
import type { HubHandler } from "../HubHandler.js"
import { PluginOptionsError } from "../PluginError.js"

export type { HubHandler } from "../HubHandler.js"
export { type Admitted, PluginOptionsError, PrincipalError } from "../Gate.js"

/**
 * Answers a denial in place of the default 403 problem (`return reply.code(…).send(…)` is fine); if it
 * leaves the reply unsent, the default is sent. A rejected promise goes to the error handler.
 */
export type DeniedHandler = (error: Admission.AdmissionError, request: FastifyRequest, reply: FastifyReply) => unknown

/** How one route is gated: set as the route's `config.license`. It may name its own `enforcer` or `hub` (not both). */
export type RouteLicense = RouteGate &
  (
    | {
        /** Overrides the plugin's `enforcer` or `hub` for this route. */
        readonly enforcer?: Admission.Enforcer | undefined
        readonly hub?: never
      }
    | {
        /** Overrides the plugin's `enforcer` or `hub` for this route: the hub from `createHub(…)`. */
        readonly hub?: Gate.Hub | undefined
        readonly enforcer?: never
      }
  )

/** What a route's `config.license` says besides who decides. */
export interface RouteGate {
  /** The capacity the route uses: `unattended`, `developer` or `attended`. */
  readonly cap: Gate.Options<FastifyRequest, DeniedHandler>["cap"]
  /** `acquire` admits, `release` frees, `check` asks (in memory) whether an admitted principal may work. */
  readonly operation: Gate.Options<FastifyRequest, DeniedHandler>["operation"]
  /** Maps the request to the principal id (or `{ id, name }`, or a promise of either). Its errors go to the error handler. */
  readonly principal: Gate.Options<FastifyRequest, DeniedHandler>["principal"]
  /** Overrides the plugin's `onDenied` for this route. */
  readonly onDenied?: DeniedHandler | undefined
  /** Overrides the plugin's `actor` for this route. */
  readonly actor?: string | undefined
}

/** Options of the `licenseGate` plugin, what every gated route shares: `enforcer` or `hub` (exactly one), `onDenied`, `actor`. */
export type PluginOptions = Gate.Decider & {
  /** Answers a denial in place of the default 403 problem, on every gated route without its own. */
  readonly onDenied?: DeniedHandler | undefined
  /** Who the audit log names for acquisitions and releases; default `plugin:fastify`. */
  readonly actor?: string | undefined
}

/** Options of the `licenseHub` plugin. */
export interface HubOptions {
  /** `createHub(…).handler` or `createLicenseHandler(…)` (both `@exekra/server`); its prefix is where the Hub is mounted. */
  readonly handler: Pick<HubHandler, "prefix" | "node">
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Gate this route by a license operation (needs the `licenseGate` plugin registered before the route). */
    license?: RouteLicense
  }
  interface FastifyRequest {
    /** What the license gate admitted this request as; null on ungated routes. */
    license: Gate.Admitted | null
  }
}

const defaultDenied = (error: Admission.AdmissionError, reply: FastifyReply): void => {
  void reply.code(403).header("content-type", Gate.problemContentType).send(JSON.stringify(Gate.problem(error)))
}

// Fastify's `done` takes an Error; anything else thrown is wrapped.
const toError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)))

const onRequestOf = (gate: Gate.Gate<FastifyRequest, DeniedHandler>): onRequestHookHandler =>
  function licenseGate(request, reply, done) {
    Gate.settle(gate.run(request), (outcome) => {
      switch (outcome._tag) {
        case "Allowed":
          request.license = outcome.admitted
          return done()
        case "Denied": {
          const onDenied = gate.config.onDenied
          if (onDenied === undefined) return defaultDenied(outcome.error, reply)
          const fallback = () => {
            if (!reply.sent) defaultDenied(outcome.error, reply)
          }
          try {
            const answered = onDenied(outcome.error, request, reply)
            if (answered instanceof Promise) answered.then(fallback, (error: unknown) => done(toError(error)))
            else fallback()
          } catch (error) {
            done(toError(error))
          }
          return
        }
        case "Failed":
          return done(outcome.error)
      }
    }, (error) => done(toError(error)))
  }

// The plugin's own options are checked by the same validation as a route's, with a placeholder route part;
// what it answers holds the Enforcer to use (the one given, or the hub's).
const checkPluginOptions = (options: PluginOptions) => {
  const { enforcer, hub, onDenied, actor } = options
  return Gate.validate("fastify", { enforcer, hub, onDenied, actor, cap: "unattended", operation: "check", principal: () => null } as Gate.BaseOptions<() => null, DeniedHandler>)
}

const gatePlugin: FastifyPluginCallback<PluginOptions> = (fastify, options, done) => {
  const checked = checkPluginOptions(options)
  if (checked._tag === "Left") return done(checked.left)
  const defaults = Object.freeze({ enforcer: checked.right.enforcer, onDenied: options.onDenied, actor: options.actor })
  fastify.decorateRequest("license", null)
  // Each gated route gets its own validated gate, at registration, as a route-level onRequest hook:
  // it runs after the host's own onRequest hooks (authentication) and before the body is parsed;
  // routes without `config.license` pay nothing.
  fastify.addHook("onRoute", (route) => {
    const spec = route.config?.license
    if (spec === undefined) return
    // A route naming its own enforcer or hub uses it (both named is refused by the validation); else the plugin's.
    const own = spec.enforcer !== undefined || spec.hub !== undefined
    const gate = Gate.unsafeMake<FastifyRequest, DeniedHandler>("fastify", {
      ...spec,
      ...(own ? {} : { enforcer: defaults.enforcer }),
      onDenied: spec.onDenied ?? defaults.onDenied,
      actor: spec.actor ?? defaults.actor
    } as Gate.Options<FastifyRequest, DeniedHandler>)
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
    route.onRequest = [...existing, onRequestOf(gate)]
  })
  done()
}

/**
 * Register before the routes it gates; then a route opts in with `config: { license: { cap, operation, principal } }`.
 * Denials answer 403 problem+json (or `onDenied`); failures, including errors of `principal`, go to `done(err)`
 * and so to the error handler. Invalid plugin options fail registration; an invalid route spec throws when the route is added.
 *
 * @example
 * await app.register(licenseGate, { hub })   // hub = await createHub(…) from @exekra/server; or { enforcer: runtime }
 * app.post("/runners", { config: { license: { cap: "unattended", operation: "acquire", principal: (r) => r.headers["x-runner-id"] as string } } }, handler)
 */
export const licenseGate = fastifyPlugin(gatePlugin, { name: "@exekra/plugins/fastify", fastify: "5.x" })

const unreachable: RouteHandlerMethod = async () => undefined

const hubPlugin: FastifyPluginCallback<HubOptions> = (fastify, options, done) => {
  const handler = options.handler
  if (typeof handler?.node !== "function") {
    return done(new PluginOptionsError({ code: "PLUGIN_OPTIONS_INVALID", message: "Invalid license Hub options (fastify): handler must be createHub(…).handler or come from createLicenseHandler (@exekra/server)." }))
  }
  // The Hub reads the raw request itself: take the request over in onRequest, before Fastify parses the body.
  const hijack: onRequestHookHandler = function licenseHub(request, reply, next) {
    reply.hijack()
    handler.node(request.raw, reply.raw)
    next()
  }
  fastify.all(handler.prefix === "" ? "/" : handler.prefix, { onRequest: hijack }, unreachable)
  fastify.all(`${handler.prefix}/*`, { onRequest: hijack }, unreachable)
  done()
}

/**
 * Mount the Hub (API and pages) at the handler's prefix.
 *
 * @example
 * const hub = await createHub({ dataDir: "./data", version: "1.0.0" })   // from @exekra/server
 * await app.register(licenseHub, { handler: hub.handler })
 */
export const licenseHub = fastifyPlugin(hubPlugin, { name: "@exekra/plugins/fastify/hub", fastify: "5.x" })
