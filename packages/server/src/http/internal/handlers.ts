/** Handlers of every Hub API group: each maps an HTTP request to one runtime, store or auth call and back. */
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { Cap, LicenseStore } from "@exekra/core"
import { Clock, Deferred, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import { actorOf, AdminAuth } from "../../AdminAuth.js"
import { Cluster } from "../../cluster/Cluster.js"
import { LicenseRuntime } from "../../LicenseRuntime.js"
import { cookieName, CurrentAdmin, sessionCookie } from "../Authorization.js"
import { ActivationJson, Api, RenewalJson } from "../HubApi.js"
import { clientAddress, HubHttpOptions } from "../HubHttpOptions.js"
import * as Problem from "../Problem.js"
import * as Cookies from "./cookies.js"
import * as Events from "./events.js"
import * as Uploads from "./uploads.js"

// The documented bodies, except that the license may also arrive as a file's bytes (multipart).
const ActivationInput = Schema.Struct({ ...ActivationJson.fields, license: Uploads.LicenseInput })
const RenewalInput = Schema.Struct({ ...RenewalJson.fields, license: Uploads.LicenseInput })

const HealthLive = HttpApiBuilder.group(Api, "health", (handlers) =>
  handlers.handle("health", () => Effect.succeed({ status: "ok" as const }))
)

const ActivationLive = HttpApiBuilder.group(Api, "activation", (handlers) =>
  Effect.gen(function* () {
    const runtime = yield* LicenseRuntime
    const settings = yield* HubHttpOptions
    return handlers
      .handle("status", () =>
        Problem.answer(Effect.map(runtime.isActivated, (activated) => ({ activated, installationId: runtime.installationId })))
      )
      // Raw: the body is JSON or multipart, read by Uploads within the limits rather than decoded by the platform.
      .handleRaw("activate", ({ request }) =>
        Effect.flatMap(Uploads.read(request, ActivationInput, settings.maxBodyBytes), (input) =>
          Problem.answer(runtime.activate({ ...input, actor: clientAddress(request, settings) }))
        )
      )
  })
)

const SessionLive = HttpApiBuilder.group(Api, "session", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* AdminAuth
    const settings = yield* HubHttpOptions
    return handlers
      .handle("signIn", ({ payload, request }) =>
        Effect.gen(function* () {
          const session = yield* auth.signIn(payload.email, payload.password, clientAddress(request, settings))
          const now = yield* Clock.currentTimeMillis
          yield* HttpApiBuilder.securitySetCookie(sessionCookie, session.token, {
            ...(yield* Cookies.attributes(request, settings)),
            maxAge: Duration.millis(Math.max(0, session.expiresAt - now))
          })
          return session
        }).pipe(Problem.answer)
      )
      .handle("signOut", ({ request }) =>
        Effect.gen(function* () {
          const { secret } = yield* CurrentAdmin
          yield* auth.signOut(secret)
          const attributes = yield* Cookies.attributes(request, settings)
          yield* HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(HttpServerResponse.expireCookie(response, cookieName, attributes)))
        }).pipe(Problem.answer)
      )
  })
)

const LicenseLive = HttpApiBuilder.group(Api, "license", (handlers) =>
  Effect.gen(function* () {
    const runtime = yield* LicenseRuntime
    const settings = yield* HubHttpOptions
    return handlers
      .handle("summary", () => Problem.answer(runtime.summary))
      .handleRaw("renew", ({ request }) =>
        Effect.gen(function* () {
          const { principal } = yield* CurrentAdmin
          const input = yield* Uploads.read(request, RenewalInput, settings.maxBodyBytes)
          return yield* Problem.answer(runtime.install(input.license, { actor: actorOf(principal) }))
        })
      )
  })
)

const principalNotFound = (cap: Cap.Cap, id: string) =>
  Problem.make(404, "PRINCIPAL_NOT_FOUND", `There is no ${Cap.unitNames[cap].one} "${id}". List the principals of ${cap} to see their ids.`)

const CapsLive = HttpApiBuilder.group(Api, "caps", (handlers) =>
  Effect.gen(function* () {
    const runtime = yield* LicenseRuntime
    const actor = Effect.map(CurrentAdmin, ({ principal }) => actorOf(principal))
    const freed = (cap: Cap.Cap, id: string) => (found: boolean) => (found ? Effect.void : Effect.fail(principalNotFound(cap, id)))
    return handlers
      .handle("principals", ({ path }) =>
        Problem.answer(Effect.map(runtime.principals(path.cap), (principals) => ({ cap: path.cap, principals })))
      )
      .handle("acquire", ({ path, payload }) =>
        Effect.flatMap(actor, (actor) => Problem.answer(runtime.acquire(path.cap, payload.id, { name: payload.name, actor })))
      )
      .handle("release", ({ path }) =>
        Effect.flatMap(actor, (actor) => Problem.answer(runtime.release(path.cap, path.id, { actor }))).pipe(
          Effect.flatMap(freed(path.cap, path.id))
        )
      )
      .handle("deactivate", ({ path }) =>
        Effect.flatMap(actor, (actor) => Problem.answer(runtime.deactivate(path.cap, path.id, { actor }))).pipe(
          Effect.flatMap(freed(path.cap, path.id))
        )
      )
      .handle("check", ({ path }) =>
        Either.match(runtime.check(path.cap, path.id), {
          onLeft: (denied) => Effect.fail(Problem.fromDomain(denied)),
          onRight: () => Effect.succeed({ allowed: true as const })
        })
      )
      .handle("heartbeat", ({ path }) => Effect.flatMap(actor, (actor) => Problem.answer(runtime.heartbeat(path.cap, path.id, { actor }))))
      .handle("lease", ({ path }) => Problem.answer(Effect.map(runtime.summary, (summary) => ({ cap: path.cap, lease: summary.caps[path.cap].lease }))))
      .handle("setLease", ({ path, payload }) =>
        Effect.flatMap(actor, (actor) => Problem.answer(Effect.map(runtime.setLease(path.cap, payload.lease, { actor }), (lease) => ({ cap: path.cap, lease }))))
      )
  })
)

const EventsLive = HttpApiBuilder.group(Api, "events", (handlers) =>
  Effect.gen(function* () {
    const runtime = yield* LicenseRuntime
    const settings = yield* HubHttpOptions
    // Completed when the API is torn down: open streams end, so the server can close.
    const shutdown = yield* Effect.acquireRelease(Deferred.make<void>(), (deferred) => Deferred.succeed(deferred, undefined))
    return handlers.handleRaw("stream", () => Effect.succeed(Events.response(runtime, settings.keepAlive, shutdown)))
  })
)

const TokensLive = HttpApiBuilder.group(Api, "tokens", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* AdminAuth
    const actor = Effect.map(CurrentAdmin, ({ principal }) => actorOf(principal))
    return handlers
      .handle("create", ({ payload }) => Effect.flatMap(actor, (actor) => Problem.answer(auth.createApiToken(payload.name, actor))))
      .handle("list", () => Problem.answer(Effect.map(auth.listApiTokens, (tokens) => ({ tokens }))))
      .handle("revoke", ({ path }) => Effect.flatMap(actor, (actor) => Problem.answer(auth.revoke(path.name, actor))))
  })
)

/** Usage history as CSV (`day,cap,peak`), the shape a true-up spreadsheet takes. */
const usageCsv = (points: ReadonlyArray<LicenseStore.UsagePoint>): string =>
  ["day,cap,peak", ...points.map((p) => `${p.day},${p.cap},${p.peak}`)].join("\r\n") + "\r\n"

const ReportsLive = HttpApiBuilder.group(Api, "reports", (handlers) =>
  Effect.gen(function* () {
    const store = yield* LicenseStore.LicenseStore
    return handlers
      .handle("usage", ({ urlParams }) =>
        Problem.answer(store.usageHistory).pipe(
          Effect.map((days) =>
            urlParams.format === "csv"
              ? HttpServerResponse.text(usageCsv(days), {
                  contentType: "text/csv; charset=utf-8",
                  headers: { "content-disposition": 'attachment; filename="exekra-usage.csv"' }
                })
              : { days }
          )
        )
      )
      .handle("audit", ({ urlParams }) =>
        Problem.answer(Effect.map(store.listAudit({ limit: urlParams.limit ?? 100 }), (records) => ({ records })))
      )
  })
)

/** Every group's handlers. */
const ClusterLive = HttpApiBuilder.group(Api, "cluster", (handlers) =>
  Effect.gen(function* () {
    const store = yield* LicenseStore.LicenseStore
    const cluster = yield* Effect.serviceOption(Cluster)
    // A runtime embedded without the Cluster service is a cluster of one that follows no one.
    const alone = Effect.map(store.latestSeq, (seq) => ({ node: store.nodeId, store: store.engine, seq, nodes: [] }))
    return handlers.handle("status", () => Problem.answer(Option.match(cluster, { onNone: () => alone, onSome: (c) => c.status })))
  })
)

export const groups = Layer.mergeAll(HealthLive, ActivationLive, SessionLive, LicenseLive, CapsLive, EventsLive, TokensLive, ReportsLive, ClusterLive)
