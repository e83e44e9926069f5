/** Prometheus metrics of the Hub (DESIGN §12) with prom-client: a registry of its own, gauges read at scrape time from the license summary, counters the runtime feeds. */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Admission, Cap, LicenseStore } from "@exekra/core"
import { Cause, Context, Effect, Exit, Layer, Option, Runtime } from "effect"
import { Counter, Gauge, Histogram, Registry } from "prom-client"
import { AdminAuth } from "../AdminAuth.js"
import { Cluster } from "../cluster/Cluster.js"
import * as Problem from "../http/Problem.js"
import { LicenseRuntime, type LicenseSummary } from "../LicenseRuntime.js"
import { AdmissionMetrics } from "./AdmissionMetrics.js"

/** The Hub's metrics registry: what `GET /metrics` answers, and what a vendor may merge into its own `/metrics`. */
export class Metrics extends Context.Tag("@exekra/server/Metrics")<Metrics, Metrics.Service>() {}

export declare namespace Metrics {
  /** The service's interface. */
  export interface Service {
    /** A prom-client registry of the Hub's series only (no process metrics: the host has its own). */
    readonly registry: Registry
  }
}

/** Upper bounds (seconds) of the acquisition latency histogram: a group-committed acquisition takes about a millisecond. */
export const ACQUISITION_BUCKETS: ReadonlyArray<number> = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** Path of the scrape endpoint. */
export const path = "/metrics"

/**
 * The registry with the series the runtime feeds as admission happens (denials, acquisition latency), and the
 * `AdmissionMetrics` service that feeds them: provide it to the runtime.
 */
export const layer: Layer.Layer<Metrics | AdmissionMetrics> = Layer.effectContext(
  Effect.sync(() => {
    const registry = new Registry()
    const denials = new Counter({
      name: "exekra_admission_denials_total",
      help: "Refused acquisitions, heartbeats and checks, by cap and denial code.",
      labelNames: ["cap", "code"] as const,
      registers: [registry]
    })
    // Every series exists from the start, at 0, so rate() and alerts see the first denial.
    for (const cap of Cap.all) for (const code of Admission.AdmissionErrorCode.literals) denials.inc({ cap, code }, 0)
    const latency = new Histogram({
      name: "exekra_acquisition_duration_seconds",
      help: "Time from an acquisition's request to its answer (admitted or refused), by cap.",
      labelNames: ["cap"] as const,
      buckets: [...ACQUISITION_BUCKETS],
      registers: [registry]
    })
    for (const cap of Cap.all) latency.zero({ cap })
    const admission: AdmissionMetrics.Service = {
      denied: (cap, code) => denials.inc({ cap, code }),
      acquired: (cap, seconds) => latency.observe({ cap }, seconds)
    }
    return Context.make(Metrics, { registry }).pipe(Context.add(AdmissionMetrics, admission))
  })
)

/** What the gauges show at one scrape. */
interface Snapshot {
  readonly summary: LicenseSummary
  readonly nodes: number
  /** Changes written to the store that this node has not applied yet. */
  readonly lag: number
}

const seconds = (ms: number): number => ms / 1000

/**
 * The gauges, computed at each scrape from `LicenseRuntime.summary` (what `GET /api/license` returns) and the cluster's
 * status; they leave the registry when the layer's scope closes.
 */
export const layerGauges: Layer.Layer<never, never, Metrics | LicenseRuntime> = Layer.scopedDiscard(
  Effect.gen(function* () {
    const { registry } = yield* Metrics
    const runtime = yield* LicenseRuntime
    const cluster = yield* Effect.serviceOption(Cluster)
    const run = Runtime.runPromiseExit(yield* Effect.runtime<never>())

    const read: Effect.Effect<Snapshot, LicenseStore.StoreError> = Effect.gen(function* () {
      const summary = yield* runtime.summary
      if (Option.isNone(cluster)) return { summary, nodes: 1, lag: 0 }
      const status = yield* cluster.value.status
      const applied = yield* cluster.value.appliedSeq
      return { summary, nodes: Math.max(1, status.nodes.length), lag: Math.max(0, status.seq - applied) }
    })

    const labels = ["cap"] as const
    const names: Array<string> = []
    const gauge = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L>) => {
      names.push(name)
      return new Gauge<L>({ name, help, labelNames, registers: [registry], collect: () => refresh() })
    }
    const used = gauge("exekra_cap_used", "Principals holding a slot of the cap.", labels)
    const limit = gauge("exekra_cap_limit", "The cap's licensed limit (0 when not granted).", labels)
    const ceiling = gauge("exekra_cap_ceiling", "Most principals the cap admits: the limit plus overage.", labels)
    const state = gauge("exekra_cap_state", "1 for the cap's current lifecycle state, 0 for the others.", ["cap", "state"] as const)
    const expiry = gauge("exekra_cap_expiry_timestamp_seconds", "When the cap's license expires (Unix seconds); absent when not granted.", labels)
    const lastSuccess = gauge(
      "exekra_validation_last_success_timestamp_seconds",
      "The last successful validation ping to the Portal (Unix seconds); 0 before the first.",
      [] as ReadonlyArray<never>
    )
    const nodes = gauge("exekra_cluster_nodes", "Nodes of this Hub that reported themselves within three leader-lease periods.", [] as ReadonlyArray<never>)
    const lag = gauge("exekra_change_feed_lag", "Changes in the store's log that this node has not applied yet (latest sequence minus applied).", [] as ReadonlyArray<never>)

    const apply = (s: Snapshot): void => {
      expiry.reset()
      for (const cap of Cap.all) {
        const c = s.summary.caps[cap]
        used.set({ cap }, c.used)
        limit.set({ cap }, c.limit)
        ceiling.set({ cap }, c.ceiling)
        for (const st of Cap.states) state.set({ cap, state: st }, st === c.state ? 1 : 0)
        if (c.expiresAt !== null) expiry.set({ cap }, seconds(c.expiresAt))
      }
      // A gauge without labels always has a sample: 0 says "never", as an alert on `time() - …` wants.
      lastSuccess.set(seconds(s.summary.validation?.lastSuccessAt ?? 0))
      nodes.set(s.nodes)
      lag.set(s.lag)
    }

    // One read per scrape: prom-client asks every gauge at once, and they share the read in flight. A failed read
    // rejects the scrape with the StoreError itself, so the route (or a vendor's handler) can tell what failed.
    let inFlight: Promise<void> | null = null
    const refresh = (): Promise<void> => {
      inFlight ??= run(read)
        .then((exit) => {
          if (Exit.isFailure(exit)) throw Cause.squash(exit.cause)
          apply(exit.value)
        })
        .finally(() => {
          inFlight = null
        })
      return inFlight
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const name of names) registry.removeSingleMetric(name)
      })
    )
  })
)

const BEARER = /^Bearer\s+(\S+)\s*$/i

const unauthorized = (detail: string) => Problem.make(401, "UNAUTHORIZED", detail)

/** The admin's API token a scrape presents, checked by AdminAuth: only `Authorization: Bearer`, never the cookie. */
const authorize = (auth: AdminAuth.Service, request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function* () {
    const token = BEARER.exec(request.headers.authorization ?? "")?.[1]
    if (token === undefined) {
      return yield* unauthorized("GET /metrics needs an API token: send Authorization: Bearer <token>, with a token made by POST /api/tokens (or on the License page).")
    }
    const principal = yield* Problem.answer(auth.authenticate(token))
    if (principal.kind !== "api") {
      return yield* unauthorized("A sign-in session cannot scrape metrics: give Prometheus an API token (POST /api/tokens) as its bearer token.")
    }
  })

/** The text of one scrape; a store failure during it is answered as the API answers one (503 with Retry-After). */
const scrape = (registry: Registry) =>
  Effect.tryPromise({ try: () => registry.metrics(), catch: (error) => error }).pipe(
    Effect.catchAll((error) =>
      error instanceof LicenseStore.StoreError
        ? Problem.fromStore(error)
        : Effect.zipRight(Effect.logError("A metrics scrape failed", error), Effect.fail(Problem.internalError()))
    )
  )

/**
 * `GET /metrics` on the API's router: the registry in the Prometheus text format, for a bearer API token only
 * (401 problem otherwise).
 */
export const route: Layer.Layer<never, never, Metrics | AdminAuth> = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const { registry } = yield* Metrics
    const auth = yield* AdminAuth
    yield* router.get(
      path,
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        yield* authorize(auth, request)
        const body = yield* scrape(registry)
        return HttpServerResponse.text(body, { contentType: registry.contentType, headers: { "cache-control": "no-store" } })
      }).pipe(Effect.catchAll((problem) => Effect.succeed(Problem.toResponse(problem))))
    )
  })
)
