/** The runtime's phone-home: the validation machine, its timer and ping fiber, and adopting the leader's record. */
import type { Cap, LicenseStore, PortalClient, Verifier } from "@exekra/core"
import {
  type CapContext,
  type CapEvent,
  heedsValidationSuccess,
  nextValidationDeadline,
  type ValidationEvent,
  validationMachine,
  type ValidationSnapshot
} from "@exekra/machines"
import { Cause, Effect, Either, Exit, FiberHandle, Option, type Scope } from "effect"
import { type Actor, createActor } from "xstate"
import type { RuntimeEvent, ValidationPosture } from "../LicenseRuntime.js"
import { validationPosture } from "./summary.js"
import * as Timer from "./timerLoop.js"

/**
 * How far ahead of the local clock a Portal's `serverTime` is believed. Within it, the Portal's time
 * raises the high-water mark (catching a Hub clock set back); beyond it, a wrong or hostile answer
 * would end grace periods early, so it is logged and ignored.
 */
export const MAX_PORTAL_LEAD_MS = 86_400_000

type ValidationActor = Actor<typeof validationMachine>

/** Events for one cap: one, or several that cost one snapshot write. */
type CapEvents = CapEvent | [CapEvent, ...Array<CapEvent>]

/** What the runtime gives the phone-home. */
export interface Host {
  readonly store: LicenseStore.Store
  readonly portal: PortalClient.PortalClient.Service
  /** This Hub's installation id, sent in every ping. */
  readonly installationId: string
  /** Software version reported in pings. */
  readonly version: string
  /** Portal base URL used when the license names none. */
  readonly portalUrl: string | undefined
  /** The clock, as the runtime reads it (remembering the latest time seen). */
  readonly observe: Effect.Effect<number>
  /** The latest time the runtime has seen. */
  readonly seen: () => number
  /** Whether this node pings: alone, or the cluster's leader. */
  readonly leading: () => boolean
  /** The installed license, if any. */
  readonly installed: () => Verifier.VerifiedLicense | null
  /** A cap's machine context as it is now. */
  readonly capContext: (cap: Cap.Cap) => CapContext
  /** Send events to the caps `which` selects, under the machine lock. */
  readonly sendCapsWhere: (which: (cap: Cap.Cap) => boolean, events: (cap: Cap.Cap) => CapEvents) => Effect.Effect<void, LicenseStore.StoreError>
  /** Send events to every cap, under the machine lock. */
  readonly sendAllCaps: (events: (cap: Cap.Cap) => CapEvents) => Effect.Effect<void, LicenseStore.StoreError>
  /** The runtime's one writer at a time for actor events and license changes. */
  readonly machineLock: Effect.Semaphore
  readonly publish: (event: RuntimeEvent) => Effect.Effect<unknown>
}

/** The runtime's validation pings. */
export interface PhoneHome {
  /** The phone-home posture of the installed license; null when none is installed. */
  readonly posture: () => ValidationPosture | null
  /** Start a ping now, unless this node does not ping or one is in flight. */
  readonly ping: Effect.Effect<void>
  /** Wake the validation timer to read its deadline again. */
  readonly arm: Effect.Effect<void>
  /** Start the ping whose deadline passed by `now` without its timer firing (the wall clock jumped). */
  readonly catchUp: (now: number) => Effect.Effect<void>
  /** After `next` replaced `previous` as the installed license at `now`: a new interval starts a fresh machine. */
  readonly licenseChanged: (previous: Verifier.VerifiedLicense | null, next: Verifier.VerifiedLicense, now: number) => Effect.Effect<void>
  /** Adopt the leader's validation record and machine, when this node follows and they changed. */
  readonly reload: Effect.Effect<void, LicenseStore.StoreError>
  /** Taking the lead: a ping the previous leader left in flight failed; then this node's validation timer runs. */
  readonly lead: Effect.Effect<void, LicenseStore.StoreError>
  /** At start: a ping the last run was in the middle of when it stopped never got its answer, so it failed. */
  readonly recover: Effect.Effect<void, LicenseStore.StoreError>
  /** The validation timer, forked in the runtime's scope. */
  readonly start: Effect.Effect<void, never, Scope.Scope>
}

const causeMessage = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

const intervalOf = (license: Verifier.VerifiedLicense | null) => license?.payload.validation.intervalHours ?? 24

/** Build the phone-home from the `persisted` validation snapshot (if any), or fresh at `now`. */
export const make = (host: Host, persisted: string | undefined, now: number) =>
  Effect.gen(function* () {
    const { store, portal, machineLock } = host
    const validationTimer = yield* Timer.make
    const validationFiber = yield* FiberHandle.make()
    const newValidationActor = (now: number): ValidationActor =>
      createActor(validationMachine, { input: { intervalHours: intervalOf(host.installed()), now } })
    let validation: ValidationActor = (() => {
      const actor =
        persisted === undefined
          ? newValidationActor(now)
          : createActor(validationMachine, { snapshot: JSON.parse(persisted) as ValidationSnapshot, input: { intervalHours: intervalOf(host.installed()), now } })
      return actor.start()
    })()

    const portalUrlOf = (license: Verifier.VerifiedLicense | null) => license?.payload.validation.portalUrl ?? host.portalUrl ?? null

    const posture = (): ValidationPosture | null => {
      const installed = host.installed()
      return installed === null ? null : validationPosture(installed, validation.getSnapshot(), portalUrlOf(installed))
    }

    const persistValidation = Effect.gen(function* () {
      const c = validation.getSnapshot().context
      yield* store.putSnapshot("validation", JSON.stringify(validation.getPersistedSnapshot()))
      yield* store.putValidation({
        lastAttemptAt: Math.max(c.lastSuccessAt ?? 0, c.failingSince ?? 0) || null,
        lastSuccessAt: c.lastSuccessAt,
        failingSince: c.failingSince,
        lastError: c.lastError,
        lastStatus: c.lastStatus,
        consecutiveFailures: c.consecutiveFailures,
        nextAttemptAt: c.nextAttemptAt
      })
      const p = posture()
      if (p !== null) yield* host.publish({ _tag: "ValidationChanged", validation: p })
    })

    const sendValidation = (event: ValidationEvent) =>
      machineLock.withPermits(1)(Effect.zipRight(Effect.sync(() => validation.send(event)), persistValidation))

    /** A ping that got no answer (or could not record it) is a failed ping: backoff and grace apply as for a refusal. */
    const recordPingFailure = (error: string) =>
      Effect.gen(function* () {
        const now = yield* host.observe
        yield* sendValidation({ type: "PING_FAILED", now, error })
        const failingSince = validation.getSnapshot().context.failingSince ?? now
        yield* host.sendAllCaps(() => ({ type: "VALIDATION_FAILED", now, failingSince }))
      })

    /** One phone-home, already marked in flight (PING_DUE sent): never on the admission path, it runs in its own fiber. */
    const pingInFlight = (license: Verifier.VerifiedLicense, url: string) =>
      Effect.gen(function* () {
        yield* machineLock.withPermits(1)(persistValidation)
        // The daily ping also persists the latest time seen, so a restart with the clock set back loses at most a day.
        yield* store.raiseHighWater(host.seen())
        const result = yield* Effect.either(
          portal.validate(url, { licenseId: license.payload.licenseId, installationId: host.installationId, version: host.version })
        )
        const now = yield* host.observe
        if (Either.isLeft(result)) return yield* recordPingFailure(`${result.left.code}: ${result.left.message}`)
        const serverTime = result.right.serverTime.getTime()
        yield* sendValidation({ type: "PING_SUCCEEDED", now, status: result.right.status, serverTime })
        const succeeded: CapEvent = { type: "VALIDATION_SUCCEEDED", now }
        if (serverTime <= now) {
          // A Portal clock behind the Hub's tells the caps nothing; the success itself only caps counting a failure.
          yield* host.sendCapsWhere((cap) => heedsValidationSuccess(host.capContext(cap)), () => succeeded)
        } else if (serverTime - now <= MAX_PORTAL_LEAD_MS) {
          yield* store.raiseHighWater(serverTime)
          yield* host.sendAllCaps(() => [{ type: "CLOCK_OBSERVED", now, serverTime }, succeeded])
        } else {
          yield* Effect.logWarning(
            `The Portal's clock is ${Math.round((serverTime - now) / 3_600_000)} h ahead of this Hub's; not trusted as the time. Check the Hub's clock.`
          )
          yield* host.sendAllCaps(() => succeeded)
        }
      }).pipe(
        // Whatever ends a ping early (a defect in the client, a store error while recording it) must not leave the
        // machine in `pinging`, where no next attempt is scheduled. An interruption is shutdown: the next start recovers.
        Effect.onExit((exit) =>
          Exit.isFailure(exit) && !Exit.isInterrupted(exit) && validation.getSnapshot().value === "pinging"
            ? Effect.catchAllCause(recordPingFailure(`PING_ABORTED: ${causeMessage(exit.cause)}`), Effect.logError)
            : Effect.void
        ),
        Effect.ensuring(armValidation)
      )

    const armValidation: Effect.Effect<void> = validationTimer.rearm
    const validationDeadline = () => {
      const installed = host.installed()
      return !host.leading() || installed === null || portalUrlOf(installed) === null ? null : nextValidationDeadline(validation.getSnapshot().context)
    }

    /**
     * Start a ping unless one is in flight. PING_DUE is sent before any I/O, so from this moment the validation
     * deadline is null and the timer loop waits instead of firing again while the ping's first write is slow.
     */
    const startPing: Effect.Effect<void> = Effect.gen(function* () {
      const license = host.installed()
      const url = portalUrlOf(license)
      if (!host.leading() || license === null || url === null || validation.getSnapshot().value === "pinging") return
      const now = yield* host.observe
      validation.send({ type: "PING_DUE", now })
      // The ping runs in a fiber of its own, so the timer loop is never blocked by a slow Portal.
      yield* FiberHandle.run(validationFiber, Effect.catchAllCause(pingInFlight(license, url), Effect.logError))
    })

    const catchUp: PhoneHome["catchUp"] = (now) =>
      Effect.suspend(() => {
        const ping = validationDeadline()
        return ping !== null && ping <= now ? startPing : Effect.void
      })

    const licenseChanged: PhoneHome["licenseChanged"] = (previous, next, now) =>
      Effect.suspend(() => {
        if (intervalOf(previous) !== intervalOf(next)) {
          validation.stop()
          validation = newValidationActor(now).start()
        }
        return armValidation
      })

    /**
     * The leader's validation record and machine, adopted with what they mean for the caps. The leader itself is their
     * only writer and never reads them back: a read racing its next write would take it back in time.
     */
    const reloadValidation = Effect.gen(function* () {
      if (host.leading()) return
      const now = yield* host.observe
      const adopted = yield* machineLock.withPermits(1)(
        Effect.gen(function* () {
          const json = (yield* store.getSnapshots).get("validation")
          if (json === undefined || json === JSON.stringify(validation.getPersistedSnapshot())) return false
          validation.stop()
          validation = createActor(validationMachine, {
            snapshot: JSON.parse(json) as ValidationSnapshot,
            input: { intervalHours: intervalOf(host.installed()), now }
          }).start()
          return true
        })
      )
      if (!adopted) return
      const c = validation.getSnapshot().context
      if (c.failingSince !== null) {
        const failingSince = c.failingSince
        yield* host.sendAllCaps(() => ({ type: "VALIDATION_FAILED", now, failingSince }))
      } else if (c.lastSuccessAt !== null) {
        yield* host.sendAllCaps(() => ({ type: "VALIDATION_SUCCEEDED", now }))
      }
      const p = posture()
      if (p !== null) yield* host.publish({ _tag: "ValidationChanged", validation: p })
      yield* armValidation
    })

    const lead = Effect.gen(function* () {
      if (validation.getSnapshot().value === "pinging" && Option.isNone(FiberHandle.unsafeGet(validationFiber))) {
        yield* recordPingFailure("PING_INTERRUPTED: the node that was pinging stopped before the answer.")
      }
      yield* armValidation
    })

    const recover = Effect.suspend(() =>
      validation.getSnapshot().value === "pinging" ? recordPingFailure("PING_INTERRUPTED: the Hub stopped while a ping was in flight.") : Effect.void
    )

    const start = Effect.asVoid(Effect.forkScoped(validationTimer.run(validationDeadline, startPing)))

    return {
      posture,
      ping: startPing,
      arm: armValidation,
      catchUp,
      licenseChanged,
      reload: reloadValidation,
      lead,
      recover,
      start
    } satisfies PhoneHome
  })
