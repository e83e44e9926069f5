/** The Hub as plain Promises (DESIGN §10): `createHub(options)` for hosts that do not use Effect; a thin facade over the Effect services. */
import { KeyObject } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Admission, Cap, Keys } from "@exekra/core"
import { Cause, Effect, Either, Exit, Fiber, ManagedRuntime, Option, Schema, Stream } from "effect"
import * as DevKit from "./DevKit.js"
import { HubCallError, HubOptionsError } from "./EmbedError.js"
import * as HubApi from "./http/HubApi.js"
import * as Hub from "./Hub.js"
import * as LicenseHandler from "./LicenseHandler.js"
import * as Leases from "./Leases.js"
import * as LicenseRuntime from "./LicenseRuntime.js"
import * as Metrics from "./metrics/Metrics.js"
import * as DataFiles from "./internal/dataFiles.js"

export { AdmissionError } from "@exekra/core/Admission"
export { StoreError } from "@exekra/core/LicenseStore"
export { HubCallError, HubOptionsError } from "./EmbedError.js"

/** A vendor public key the Hub trusts. */
export type PublicKeyInput =
  /** Path of an SPKI PEM file (what `exekra-license keygen` writes as `public.key`), or the PEM text itself. */
  | string
  /** An Ed25519 public key object of `node:crypto`. */
  | KeyObject
  /** A key as `@exekra/core`'s `Keys` module reads it. */
  | Keys.PublicKey

/** How the Hub's API and pages are served by {@link EmbeddedHub.handler}. */
export interface HttpOptions {
  /**
   * The path the handler is mounted at: `app.use(prefix, hub.handler)`. `""` serves at the root, otherwise a
   * path like `/license` (leading slash, no trailing slash). Default `/license`.
   */
  readonly prefix?: string | undefined
  /** Largest request body the Hub accepts, in bytes. Default 131,072 (128 KiB: twice the largest license file). */
  readonly maxBodyBytes?: number | undefined
  /**
   * `Secure` on the admin session cookie: `"auto"` (default) sets it when the request came over https (a TLS
   * socket, or `X-Forwarded-Proto: https` with `trustProxy`); `true` always; `false` never (plain-http development).
   */
  readonly secureCookies?: "auto" | boolean | undefined
  /**
   * Trust `X-Forwarded-For` / `X-Forwarded-Proto` from a reverse proxy you run. Default false: they are replaced
   * by what the socket says, so sign-in rate limits key on the real client and a client cannot claim https.
   */
  readonly trustProxy?: boolean | undefined
  /** Longest time, in milliseconds, to receive a request and answer it (a stalled upload is answered 408). Default 30,000. */
  readonly requestTimeout?: number | undefined
}

/** Options of {@link createHub}. Only `dataDir` and `version` are required. */
export interface HubOptions {
  /**
   * Directory of the Hub's embedded SQLite database (`hub.sqlite`) and, when no vendor key is configured, of the
   * development key and demo license (`dev/`). Created if missing.
   */
  readonly dataDir: string
  /**
   * The vendor public keys the Hub trusts (several during a key rotation): SPKI PEM file paths, PEM text, or key
   * objects. When absent: the files named by `EXEKRA_PUBLIC_KEYS` (comma-separated); else a development key and a
   * 30-day demo trial license under `dataDir/dev/`, for trying the Hub out only.
   */
  readonly publicKeys?: ReadonlyArray<PublicKeyInput> | undefined
  /** Your product's version, reported to the Customer Portal in validation pings. */
  readonly version: string
  /**
   * Where the Hub keeps its state: a `postgres://user@host:port/db` URL for a Hub of several nodes, or a SQLite
   * file path (`sqlite:PATH` or a plain path). Default: `hub.sqlite` under `dataDir`.
   */
  readonly store?: string | undefined
  /** Customer Portal base URL for validation pings when a license names none (http or https). */
  readonly portalUrl?: string | undefined
  /** How {@link EmbeddedHub.handler} serves the Hub's API and pages. */
  readonly http?: HttpOptions | undefined
  /**
   * Principal leases to set at start, per cap (off by default): principals must heartbeat ({@link EmbeddedHub.heartbeat})
   * within `leaseSeconds` (60 or more) or they are culled; a culled one returns within `reviveSeconds` if a slot is free.
   * An admin may change them later on the License page.
   */
  readonly leases?: Partial<Record<Cap.Cap, Leases.LeaseInput>> | undefined
  /** Expose the Hub's Prometheus registry as {@link EmbeddedHub.metrics}, for your own `/metrics`. Default false. */
  readonly metrics?: boolean | undefined
}

/** What a heartbeat answers, as `POST /api/caps/{cap}/principals/{id}/heartbeat` does. */
export type Heartbeat = typeof HubApi.HeartbeatAnswer.Encoded

/** The Hub's metrics, for a vendor's own scrape endpoint. */
export interface HubMetrics {
  /** The prom-client registry of the Hub's series. */
  readonly registry: Metrics.Metrics.Service["registry"]
  /** The registry in the Prometheus text format, as `GET /metrics` answers. */
  readonly text: () => Promise<string>
  /** The text format's media type. */
  readonly contentType: string
}

/** A principal as the Hub API shows it: `admittedAt` is an ISO-8601 UTC timestamp. */
export type Principal = typeof HubApi.Principal.Encoded

/** What an acquisition answers, as `POST /api/caps/{cap}/principals` does. */
export interface Acquired {
  /** False when the principal already held a slot (acquire is idempotent). */
  readonly created: boolean
  /** Active principals of the cap after the acquisition. */
  readonly used: number
  readonly principal: Principal
}

/** The answer of {@link EmbeddedHub.check}: allowed, or refused with the code and the sentence the gates answer with. */
export type CheckResult =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly code: Admission.AdmissionErrorCode; readonly message: string }

/** The installed license and every cap: the body of `GET /api/license` (instants as ISO-8601 UTC strings). */
export type LicenseSummary = typeof HubApi.LicenseSummary.Encoded

/**
 * What {@link EmbeddedHub.subscribe} delivers, the events of `GET /api/events` in the same JSON form:
 * - `CapStateChanged`: a cap entered a state (`{ cap, from, to, status }`), e.g. `to: "expiring"`, `"grace"`, `"limited"`;
 * - `UsageChanged`: a principal was admitted or released (`{ cap, used, status }`);
 * - `LicenseChanged`: a license was activated, renewed, or a staged one took effect (`{ summary }`);
 * - `ValidationChanged`: the phone-home posture changed (`{ validation }`), e.g. the Portal stopped answering.
 */
export type HubEvent = Exclude<typeof HubApi.HubEvent.Encoded, { readonly _tag: "Snapshot" }>

/** The Hub's API and pages as a node `(req, res, next?)` listener, mounted at `prefix`; also Fetch-style. */
export interface HubHandler {
  /** Serve a request under `prefix`; other paths go to `next` when given (Express, Connect), else answer 404. */
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void
  /** Where the handler expects to be mounted (`http.prefix`). */
  readonly prefix: string
  /** The same listener, as a property: what `@exekra/plugins/fastify`'s `licenseHub` mounts. */
  readonly node: (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void
  /** Fetch-style: answer a `Request` under `prefix` (Hono, Effect, workers); `client` gives the socket's address. */
  readonly fetch: (request: Request, client?: LicenseHandler.ClientInfo) => Promise<Response>
}

/** A running Hub, from {@link createHub}. Every method is safe to call concurrently. */
export interface EmbeddedHub {
  /** This installation's id: licenses bound to an installation name it. */
  readonly installationId: string
  /**
   * Admit a principal to a cap (register a Runner, assign a seat, grant attended use); idempotent. Rejects with an
   * `AdmissionError` (`code` `CAP_LIMIT_REACHED`, `CAP_LIMITED` or `CAP_UNACTIVATED`) when the cap refuses.
   */
  readonly acquire: (cap: Cap.Cap, id: string, options?: { readonly name?: string | undefined; readonly actor?: string | undefined }) => Promise<Acquired>
  /** Free a principal's slot and forget it; true if it held a record. */
  readonly release: (cap: Cap.Cap, id: string, options?: { readonly actor?: string | undefined }) => Promise<boolean>
  /**
   * A principal's heartbeat on a cap with a lease: renews its lease, or re-admits it within the revive window when a slot
   * is free. Rejects with an `AdmissionError` (`CAP_LIMIT_REACHED`, `PRINCIPAL_NOT_ADMITTED`, …).
   */
  readonly heartbeat: (cap: Cap.Cap, id: string, options?: { readonly actor?: string | undefined }) => Promise<Heartbeat>
  /** Free a principal's slot but keep its record (shown as deactivated); true if it held a record. */
  readonly deactivate: (cap: Cap.Cap, id: string, options?: { readonly actor?: string | undefined }) => Promise<boolean>
  /** May an admitted principal work now? Synchronous and in memory: call it on every request. */
  readonly check: (cap: Cap.Cap, id: string) => CheckResult
  /** The installed license and every cap, as `GET /api/license` answers. */
  readonly summary: () => Promise<LicenseSummary>
  /**
   * Call `listener` with every event from now on (see {@link HubEvent}); answers the function that stops it. A
   * listener that throws or rejects is logged and does not stop the others.
   */
  readonly subscribe: (listener: (event: HubEvent) => void | PromiseLike<void>) => () => void
  /** The Hub's API and pages (activation, sign-in, License page, `/api/…`): mount it at `http.prefix`, before body parsers. */
  readonly handler: HubHandler
  /**
   * Set when no vendor key was configured and the Hub trusts a development key: where its demo trial license is,
   * and the email to activate it with. Undefined in production.
   */
  readonly dev: { readonly licensePath: string; readonly email: string } | undefined
  /** The Enforcer the hub's calls run on: what `licenseGate({ hub, … })` of `@exekra/plugins` uses. */
  readonly enforcer: Admission.Enforcer
  /** The Hub's Prometheus registry when created with `metrics: true`; otherwise undefined. */
  readonly metrics: HubMetrics | undefined
  /** Stop the timers and the handler and close the store; afterwards every call fails with `HUB_CLOSED`. */
  readonly close: () => Promise<void>
}

// ---- options ------------------------------------------------------------------------------------

const KNOWN: ReadonlySet<string> = new Set(["dataDir", "publicKeys", "version", "store", "portalUrl", "http", "leases", "metrics"])
const KNOWN_HTTP: ReadonlySet<string> = new Set(["prefix", "maxBodyBytes", "secureCookies", "trustProxy", "requestTimeout"])

const invalid = (option: string, message: string, cause?: unknown) => new HubOptionsError({ code: "HUB_OPTIONS_INVALID", option, message, cause })

const show = (u: unknown): string => (typeof u === "string" ? JSON.stringify(u) : u === null ? "null" : Array.isArray(u) ? "an array" : typeof u)

const isNonEmptyString = (u: unknown): u is string => typeof u === "string" && u.trim() !== ""

/** The first invalid option, checked before anything is opened. */
const checkOptions = (options: HubOptions): HubOptionsError | undefined => {
  if (typeof options !== "object" || options === null) return invalid("options", `createHub takes an options object ({ dataDir, version, … }), got ${show(options)}.`)
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) return invalid(key, `Unknown option "${key}": createHub takes ${[...KNOWN].join(", ")}.`)
  }
  if (!isNonEmptyString(options.dataDir)) return invalid("dataDir", `dataDir must be the path of a directory for the Hub's data, e.g. "./data"; got ${show(options.dataDir)}.`)
  if (!isNonEmptyString(options.version)) return invalid("version", `version must be your product's version as a non-empty string, e.g. "1.4.0"; got ${show(options.version)}.`)
  const keys = options.publicKeys
  if (keys !== undefined) {
    if (!Array.isArray(keys) || keys.length === 0) {
      return invalid("publicKeys", "publicKeys must be a non-empty array of SPKI PEM file paths or key objects; leave it out to use EXEKRA_PUBLIC_KEYS or the development key.")
    }
  }
  if (options.store !== undefined && !isNonEmptyString(options.store)) {
    return invalid("store", `store must be a postgres:// URL or a SQLite file path; leave it out for hub.sqlite under dataDir. Got ${show(options.store)}.`)
  }
  if (options.portalUrl !== undefined) {
    const url = typeof options.portalUrl === "string" && URL.canParse(options.portalUrl) ? new URL(options.portalUrl) : undefined
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
      return invalid("portalUrl", `portalUrl must be the Customer Portal's http(s) base URL, e.g. "https://portal.example.com"; got ${show(options.portalUrl)}.`)
    }
  }
  const http = options.http
  if (http !== undefined) {
    if (typeof http !== "object" || http === null) return invalid("http", `http must be an object ({ prefix, maxBodyBytes, secureCookies, trustProxy, requestTimeout }), got ${show(http)}.`)
    for (const key of Object.keys(http)) {
      if (!KNOWN_HTTP.has(key)) return invalid(`http.${key}`, `Unknown option "http.${key}": http takes ${[...KNOWN_HTTP].join(", ")}.`)
    }
    // The handler's own checks, with the option named as the caller spelled it.
    const bad = LicenseHandler.checkOptions(http)
    if (bad !== undefined) return invalid(`http.${bad.option}`, `http.${bad.message}`)
  }
  if (options.metrics !== undefined && typeof options.metrics !== "boolean") return invalid("metrics", `metrics must be true or false, got ${show(options.metrics)}.`)
  const leases = options.leases
  if (leases !== undefined) {
    if (typeof leases !== "object" || leases === null) return invalid("leases", `leases must be an object by cap, e.g. { unattended: { leaseSeconds: 600 } }; got ${show(leases)}.`)
    for (const [cap, input] of Object.entries(leases)) {
      if (!Cap.isCap(cap)) return invalid(`leases.${cap}`, `leases takes the caps ${Cap.all.join(", ")}, got "${cap}".`)
      if (typeof input !== "object" || input === null) return invalid(`leases.${cap}`, `leases.${cap} must be { leaseSeconds, reviveSeconds? }, got ${show(input)}.`)
      const checked = Leases.validate(cap, input as Leases.LeaseInput)
      if (Either.isLeft(checked)) {
        const field = checked.left.code === "LEASE_INVALID" && (input as Leases.LeaseInput).reviveSeconds !== undefined ? "reviveSeconds" : "leaseSeconds"
        return invalid(`leases.${cap}.${field}`, checked.left.message, checked.left)
      }
    }
  }
  return undefined
}

/** The validated lease settings of the options, in cap order. */
const leaseSettings = (options: HubOptions): ReadonlyArray<Leases.LeaseSetting> =>
  Cap.all.flatMap((cap) => {
    const input = options.leases?.[cap]
    if (input === undefined) return []
    const checked = Leases.validate(cap, input)
    return Either.isRight(checked) ? [checked.right] : []
  })

// A key given as text: PEM armour means the key itself, anything else a file path.
const isPem = (text: string): boolean => /-----BEGIN [A-Z ]*KEY-----/.test(text)

const keyFrom = (input: PublicKeyInput, index: number): Effect.Effect<Keys.PublicKey, HubOptionsError> => {
  const option = `publicKeys[${index}]`
  if (typeof input === "string") {
    if (isPem(input)) {
      return Either.match(Keys.publicKeyFromPem(input), {
        onLeft: (e) => Effect.fail(invalid(option, `${option} is PEM text but not an Ed25519 public key: ${e.message}`, e)),
        onRight: Effect.succeed
      })
    }
    return Effect.mapError(DevKit.readPublicKey(input), (e) => invalid(option, e.message, e))
  }
  if (input instanceof KeyObject) {
    if (input.type !== "public" || input.asymmetricKeyType !== "ed25519") {
      return Effect.fail(invalid(option, `${option} must be an Ed25519 public KeyObject, got a ${input.type} ${input.asymmetricKeyType ?? "secret"} key. Use crypto.createPublicKey(pem).`))
    }
    return Either.match(Keys.publicKeyFromPem(input.export({ format: "pem", type: "spki" }).toString()), {
      onLeft: (e) => Effect.fail(invalid(option, e.message, e)),
      onRight: Effect.succeed
    })
  }
  if (typeof input === "object" && input !== null && typeof input.kid === "string" && input.raw instanceof Uint8Array && input.raw.length === 32) {
    return Effect.succeed(Keys.publicKeyFromRaw(input.raw))
  }
  return Effect.fail(invalid(option, `${option} must be the path of an SPKI PEM file, PEM text, or a public key object; got ${show(input)}.`))
}

/** The keys the Hub trusts: the given ones, else `EXEKRA_PUBLIC_KEYS`, else the dev key (DevKit decides the last two). */
const resolveKeys = (options: HubOptions): Effect.Effect<DevKit.TrustedKeys, HubOptionsError> =>
  options.publicKeys === undefined
    ? DevKit.trustedKeys(options.dataDir).pipe(
        Effect.mapError((e) =>
          e._tag === "TrustedKeyError"
            ? invalid("publicKeys", `EXEKRA_PUBLIC_KEYS names a key that cannot be used: ${e.message}`, e)
            : invalid("publicKeys", `The development key under ${options.dataDir}/dev cannot be read (${e.message}); pass publicKeys, or remove that dev directory.`, e)
        ),
        Effect.tap((trusted) =>
          trusted.dev === undefined
            ? Effect.void
            : Effect.logWarning(`No vendor public key configured (publicKeys, EXEKRA_PUBLIC_KEYS): trusting the development key under ${options.dataDir}/dev, for trying the Hub out only.`)
        )
      )
    : Effect.map(Effect.forEach(options.publicKeys, keyFrom), (publicKeys) => ({ publicKeys, dev: undefined }))

// ---- running effects as promises ----------------------------------------------------------------

// Rejections carry the typed error itself (AdmissionError, StoreError, …), not Effect's FiberFailure wrapper.
const settle = <A>(exit: Exit.Exit<A, unknown>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) throw failure.value
  throw Cause.squash(exit.cause)
}

const closedError = () => new HubCallError({ code: "HUB_CLOSED", message: "This hub was closed: create a new one with createHub." })

/**
 * Start a Hub in this process and answer it once its store is open and its license loaded. Options are checked
 * first: a bad one rejects with a `HubOptionsError` naming it; a store that cannot be opened rejects with the
 * store's `StoreError` (`code` `STORE_UNAVAILABLE`, `STORE_CORRUPT` or `STORE_FAILED`).
 *
 * @example
 * import { createHub } from "@exekra/server"
 * import { licenseGate } from "@exekra/plugins/express"
 * import express from "express"
 *
 * const hub = await createHub({ dataDir: "./data", publicKeys: ["keys/public.key"], version: "1.4.0" })
 * const app = express()
 * app.use("/license", hub.handler)   // activation, sign-in, the License page and /license/api/…
 * app.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: (req) => req.get("x-runner-id") }), register)
 * hub.subscribe((event) => { if (event._tag === "CapStateChanged" && event.to === "grace") notifyAdmins(event) })
 */
export const createHub = async (options: HubOptions): Promise<EmbeddedHub> => {
  const bad = checkOptions(options)
  if (bad !== undefined) throw bad
  try {
    DataFiles.makeDirectory(options.dataDir)
  } catch (cause) {
    throw invalid("dataDir", `Cannot create the data directory ${options.dataDir}: check the path and its permissions.`, cause)
  }
  const { publicKeys, dev } = settle(await Effect.runPromiseExit(resolveKeys(options)))

  const services = ManagedRuntime.make(
    Hub.services({
      dataDir: options.dataDir,
      store: options.store,
      publicKeys,
      version: options.version,
      portalUrl: options.portalUrl,
      leases: leaseSettings(options)
    })
  )
  const exit = await services.runPromiseExit(LicenseRuntime.LicenseRuntime)
  if (Exit.isFailure(exit)) await services.dispose()
  const runtime = settle(exit)

  const inner = LicenseHandler.createLicenseHandler(services, options.http ?? {})
  const registry = options.metrics === true ? (await services.runPromise(Metrics.Metrics)).registry : undefined
  const metrics: HubMetrics | undefined =
    registry === undefined ? undefined : Object.freeze({ registry, text: () => registry.metrics(), contentType: registry.contentType })
  let closed = false
  const listeners = new Set<(event: HubEvent) => void | PromiseLike<void>>()

  const encodeEvent = Schema.encode(HubApi.HubEvent)
  const encodeSummary = Schema.encode(HubApi.LicenseSummary)
  const encodePrincipal = Schema.encode(HubApi.Principal)
  const encodeHeartbeat = Schema.encode(HubApi.HeartbeatAnswer)
  const logListenerFailure = (error: unknown) =>
    services.runFork(Effect.logError("A createHub subscriber failed; the other subscribers still got the event.", error))

  // One subscription to the runtime's events for every listener: it is in place before createHub answers, so
  // a listener added later misses nothing that happens after `subscribe` returns.
  const deliver = (event: LicenseRuntime.RuntimeEvent) =>
    Effect.flatMap(encodeEvent(event), (encoded) =>
      Effect.sync(() => {
        for (const listener of [...listeners]) {
          try {
            const result = listener(encoded as HubEvent)
            if (result !== undefined && typeof result.then === "function") result.then(undefined, logListenerFailure)
          } catch (error) {
            logListenerFailure(error)
          }
        }
      })
    ).pipe(Effect.catchAllCause((cause) => Effect.logError("An event could not be delivered to createHub subscribers.", cause)))
  const dispatcher = services.runFork(Stream.runForEach(runtime.events, deliver))

  const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => (closed ? Promise.reject(closedError()) : services.runPromiseExit(effect).then(settle))

  // Arguments are checked as the Hub API checks them, so whatever the hub admits an admin can address later.
  const argumentError = (cap: unknown, id: unknown): HubCallError | undefined => {
    if (closed) return closedError()
    if (!Cap.isCap(cap)) return new HubCallError({ code: "CAP_INVALID", message: `cap must be one of ${Cap.all.join(", ")}, got ${show(cap)}.` })
    if (typeof id !== "string" || !Admission.principalIdPattern.test(id)) {
      return new HubCallError({ code: "PRINCIPAL_INVALID", message: "A principal id is 1 to 256 letters, digits or . _ : @ + -." })
    }
    return undefined
  }
  const withArguments = <A>(cap: Cap.Cap, id: string, f: () => Promise<A>): Promise<A> => {
    const error = argumentError(cap, id)
    return error === undefined ? f() : Promise.reject(error)
  }

  const node: HubHandler["node"] = (req, res, next) => {
    if (!closed) return inner.node(req, res, next)
    // Closed: the host's own routes still go on; the Hub's answer that it is gone.
    const path = ((req as IncomingMessage & { readonly originalUrl?: string }).originalUrl ?? req.url ?? "/").split("?")[0] ?? "/"
    if (next !== undefined && !inner.matches(path)) return next()
    res.writeHead(503, { "content-type": "application/problem+json" })
    res.end(JSON.stringify({ type: "urn:exekra:problem:HUB_CLOSED", title: "Hub closed", status: 503, code: "HUB_CLOSED", detail: closedError().message }))
  }
  const handler: HubHandler = Object.assign((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => node(req, res, next), {
    prefix: inner.prefix,
    node,
    fetch: (request: Request, client?: LicenseHandler.ClientInfo) => (closed ? Promise.reject(closedError()) : inner.fetch(request, client))
  })

  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      closed = true
      listeners.clear()
      await inner.dispose()
      await Effect.runPromise(Fiber.interrupt(dispatcher))
      await services.dispose()
    })())

  return Object.freeze({
    installationId: runtime.installationId,
    acquire: (cap, id, opts) =>
      withArguments(cap, id, () =>
        run(
          Effect.flatMap(runtime.acquire(cap, id, { name: opts?.name, actor: opts?.actor ?? "host" }), (acquired) =>
            Effect.map(encodePrincipal(acquired.principal), (principal): Acquired => ({ created: acquired.created, used: acquired.used, principal }))
          )
        )
      ),
    heartbeat: (cap, id, opts) =>
      withArguments(cap, id, () =>
        run(
          Effect.flatMap(runtime.heartbeat(cap, id, { actor: opts?.actor ?? "host" }), (beat) =>
            encodeHeartbeat({ principal: beat.principal, revived: beat.revived, leaseEndsAt: beat.leaseEndsAt, used: beat.used })
          )
        )
      ),
    release: (cap, id, opts) => withArguments(cap, id, () => run(runtime.release(cap, id, { actor: opts?.actor ?? "host" }))),
    deactivate: (cap, id, opts) => withArguments(cap, id, () => run(runtime.deactivate(cap, id, { actor: opts?.actor ?? "host" }))),
    check: (cap, id) => {
      const error = argumentError(cap, id)
      // An id the Hub could never admit is simply not admitted; a closed hub or a wrong cap is the caller's mistake.
      if (error !== undefined && error.code !== "PRINCIPAL_INVALID") throw error
      return Either.match(runtime.check(cap, String(id)), {
        onLeft: (denied): CheckResult => ({ allowed: false, code: denied.code, message: denied.message }),
        onRight: (): CheckResult => ({ allowed: true })
      })
    },
    summary: () => run(Effect.flatMap(runtime.summary, encodeSummary)),
    subscribe: (listener) => {
      if (typeof listener !== "function") throw new TypeError("subscribe takes a function of the event.")
      if (closed) throw closedError()
      // A wrapper per call, so subscribing the same function twice gives two independent subscriptions.
      const entry = (event: HubEvent) => listener(event)
      listeners.add(entry)
      return () => void listeners.delete(entry)
    },
    handler,
    dev: dev === undefined ? undefined : Object.freeze({ licensePath: dev.licensePath, email: dev.email }),
    enforcer: runtime,
    metrics,
    close
  } satisfies EmbeddedHub)
}
