/** The LicenseRuntime implementation: cap actors and their timers, admission and installs; leases, phone-home and following other nodes are wired in from beside it. */
import {
  Admission,
  Cap,
  Installation,
  LicenseError,
  LicenseStore,
  PortalClient,
  Verifier
} from "@exekra/core"
import { activationMachine, capMachine, type CapEvent, type CapSnapshot, capTerms, capView, nextDeadline, summarize } from "@exekra/machines"
import { Clock, Effect, Either, Exit, Option, PubSub, Queue, Stream } from "effect"
import { type Actor, createActor } from "xstate"
import { ActivationError } from "../ActivationError.js"
import { Cluster } from "../cluster/Cluster.js"
import {
  type Actor as ActorOption,
  type CapStatus,
  type LicenseRuntime,
  type LicenseSummary,
  type RuntimeEvent
} from "../LicenseRuntime.js"
import type { LeaseSetting } from "../Leases.js"
import { AdmissionMetrics } from "../metrics/AdmissionMetrics.js"
import * as Passwords from "../Passwords.js"
import { capStatus, licenseSummary } from "./summary.js"
import * as Follow from "./follow.js"
import * as GroupCommit from "./groupCommit.js"
import * as Leases from "./leases.js"
import * as PhoneHome from "./phoneHome.js"
import * as Timer from "./timerLoop.js"

export { MAX_PORTAL_LEAD_MS } from "./phoneHome.js"

/** Settings of a runtime. */
export interface RuntimeOptions {
  /** Software version reported in validation pings. */
  readonly version: string
  /** Portal base URL used when the license names none. */
  readonly portalUrl?: string | undefined
  /**
   * Period of the heartbeat (default {@link HEARTBEAT_MS}, an hour): the most time a crash loses, and how late a
   * wall-clock jump is noticed by `check`. Simulations that move a TestClock by years may choose a longer one,
   * since the TestClock runs every beat on the way.
   */
  readonly heartbeatMs?: number | undefined
  /**
   * Principal leases to set at start (validated with `Leases.validate`), e.g. from `createHub`. A cap's setting is
   * written only when the store's differs; an admin may change it later. Caps not listed keep the store's setting.
   */
  readonly leases?: ReadonlyArray<LeaseSetting> | undefined
}

type CapActor = Actor<typeof capMachine>

interface CapSlot extends Leases.Slot {
  actor: CapActor
  /** Wakes the cap's timer loop to re-read its deadline. */
  readonly timer: Timer.Timer
}

/**
 * How often the runtime persists the time it has seen and looks for deadlines its timers slept past. Timers
 * sleep on a monotonic clock: after a wall-clock jump (an NTP step, a VM resumed) they would wake late, and a
 * crash would lose the time since the last write. Both are bounded by this period.
 */
export const HEARTBEAT_MS = 3_600_000

/** Most acquisitions of one cap decided in one store transaction. */
const MAX_BATCH = 256

/** One acquisition waiting for its batch. */
interface AcquireRequest {
  readonly id: string
  readonly name: string | null
  readonly actor: string
}

const utcDay = (t: number): string => new Date(t).toISOString().slice(0, 10)

const toStored = (verified: Verifier.VerifiedLicense, now: number): LicenseStore.StoredLicense => ({
  text: verified.text,
  fingerprint: verified.fingerprint,
  licenseId: verified.payload.licenseId,
  issuedAt: verified.payload.issuedAt.getTime(),
  storedAt: now
})

const activationError = (code: ActivationError["code"], message: string) => new ActivationError({ code, message })

/** Build a runtime: load the installed license, restore or start the actors, arm their timers. */
export const make = (options: RuntimeOptions) =>
  Effect.gen(function* () {
    const store = yield* LicenseStore.LicenseStore
    const metrics = yield* Effect.serviceOption(AdmissionMetrics)
    // Alone (no Cluster service) this runtime is the leader; in a cluster only the lease holder pings the Portal.
    const cluster = yield* Effect.serviceOption(Cluster)
    let leading = Option.isNone(cluster)
    const verifier = yield* Verifier.Verifier
    const portal = yield* PortalClient.PortalClient
    const { id: installationId } = yield* Installation.Installation
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<RuntimeEvent>(), PubSub.shutdown)
    // One writer at a time for actor events and license changes, so snapshots persist in order.
    const machineLock = yield* Effect.makeSemaphore(1)
    const installLock = yield* Effect.makeSemaphore(1)

    const start = yield* Clock.currentTimeMillis
    const highWater = yield* store.raiseHighWater(start)
    // The latest time this runtime has seen; a clock read below it means the clock was set back.
    let seen = highWater
    /** Read the clock, remembering the latest time seen. */
    const observe = Effect.map(Clock.currentTimeMillis, (now) => {
      seen = Math.max(seen, now)
      return now
    })

    let installed: Verifier.VerifiedLicense | null = null
    let installedAt = start
    const stored = yield* store.getLicense
    if (Option.isSome(stored)) {
      const verified = yield* Effect.either(verifier.verify(stored.value.text))
      if (Either.isRight(verified)) {
        installed = verified.right
        installedAt = stored.value.storedAt
      } else {
        // A stored license that no longer verifies (its key was removed from the keyring) grants nothing.
        yield* Effect.logError(`The installed license no longer verifies: ${verified.left.code}. ${verified.left.message}`)
      }
    }
    let pending: Verifier.VerifiedLicense | null = null
    const storedPending = yield* store.getPending
    if (Option.isSome(storedPending)) {
      const verified = yield* Effect.either(verifier.verify(storedPending.value.text))
      if (Either.isRight(verified)) pending = verified.right
    }

    const snapshots = yield* store.getSnapshots
    const termsOf = (license: Verifier.VerifiedLicense | null, cap: Cap.Cap) =>
      license === null ? null : capTerms(license.payload, cap)
    const notBeforeOf = (license: Verifier.VerifiedLicense) => license.payload.notBefore?.getTime() ?? 0

    const counts = yield* store.countActive
    const slots = {} as Record<Cap.Cap, CapSlot>
    for (const cap of Cap.all) {
      const terms = termsOf(installed, cap)
      const persisted = snapshots.get(`cap:${cap}`)
      let actor: CapActor | undefined
      if (persisted !== undefined) {
        // A snapshot is reused only for the license it was taken under; otherwise start from the license.
        const snapshot = JSON.parse(persisted) as CapSnapshot
        const license = snapshot.context.license
        const matches = terms === null ? license === null : license !== null && license.licenseId === terms.licenseId && license.issuedAt === terms.issuedAt
        if (matches) actor = createActor(capMachine, { snapshot, input: { cap, now: start } })
      }
      actor ??= createActor(capMachine, { input: { cap, now: start, highWater, license: terms, installedAt } })
      actor.start()
      const principals = yield* store.listPrincipals(cap)
      slots[cap] = {
        cap,
        actor,
        admitted: new Set(principals.filter((p) => p.status === "active").map((p) => p.id)),
        used: counts[cap],
        lock: yield* Effect.makeSemaphore(1),
        timer: yield* Timer.make
      }
    }

    const activation = createActor(activationMachine, { input: { installationId } }).start()
    /** Tell the activation machine the Hub was activated with `license` at `at` (by an earlier run, or another node). */
    const activated = (license: Verifier.VerifiedLicense, at: number) => {
      activation.send({ type: "LICENSE_ACCEPTED", summary: summarize(license.payload, installationId) })
      activation.send({ type: "ADMIN_CREATED", email: license.payload.issuedTo.email })
      activation.send({ type: "ACTIVATION_COMMITTED", now: at })
    }
    if (installed !== null) activated(installed, installedAt)

    // ---- views -------------------------------------------------------------------------------

    const statusOf = (slot: CapSlot): CapStatus => capStatus(slot.cap, slot.actor.getSnapshot(), slot.used, leases.lease(slot.cap))

    const summaryNow = (now: number): LicenseSummary =>
      licenseSummary({
        installationId,
        installed,
        pending,
        posture: phoneHome.posture(),
        caps: Object.fromEntries(Cap.all.map((cap) => [cap, statusOf(slots[cap])])) as Record<Cap.Cap, CapStatus>,
        now,
        latest: Math.max(slots.unattended.actor.getSnapshot().context.highWater, seen, now)
      })
    const summary = Effect.map(observe, summaryNow)

    const publish = (event: RuntimeEvent) => PubSub.publish(pubsub, event)
    const leases = yield* Leases.make(
      {
        store,
        slots,
        observe,
        leading: () => leading,
        view: (cap, now) => Effect.zipRight(catchUp(cap, now), Effect.sync(() => capView(slots[cap].actor.getSnapshot(), slots[cap].used))),
        status: (cap) => statusOf(slots[cap]),
        publish,
        metrics
      },
      options.leases ?? []
    )
    const audit = (record: Omit<LicenseStore.AuditRecord, "at" | "cap" | "principal" | "code" | "detail"> & Partial<LicenseStore.AuditRecord>) =>
      Effect.flatMap(observe, (at) =>
        store.appendAudit({ cap: null, principal: null, code: null, detail: null, ...record, at })
      )

    // ---- actors and timers -------------------------------------------------------------------

    /**
     * Send events to a cap, persist its snapshot once, publish a state change and re-arm its one timer. Several events
     * in one call (a ping's clock reading and its success) cost one write, as the daily ping runs for years.
     */
    const sendCap = (cap: Cap.Cap, ...events: [CapEvent, ...Array<CapEvent>]): Effect.Effect<void, LicenseStore.StoreError> =>
      Effect.gen(function* () {
        const slot = slots[cap]
        const before = slot.actor.getSnapshot().value
        // A cap hears the time only at its own deadlines and events; after the clock is set back, it must
        // still evaluate at the latest time this Hub has seen, or an upload would be judged in the past. An event
        // carrying that time observes it itself.
        const first = events[0]
        if (seen > first.now && seen > slot.actor.getSnapshot().context.highWater) slot.actor.send({ type: "CLOCK_OBSERVED", now: first.now, serverTime: seen })
        for (const event of events) slot.actor.send(event)
        const after = slot.actor.getSnapshot()
        yield* store.putSnapshot(`cap:${cap}`, JSON.stringify(slot.actor.getPersistedSnapshot()))
        if (after.value !== before) {
          yield* publish({ _tag: "CapStateChanged", cap, from: before, to: after.value, status: statusOf(slot) })
          yield* audit({
            actor: "system",
            action: "state-change",
            outcome: "ok",
            cap,
            detail: `${before} → ${after.value} (${after.context.reason})`
          })
        }
        yield* arm(slot)
      })

    /** Send events to the caps `which` selects (read under the lock), each as one {@link sendCap}. */
    const sendCapsWhere = (which: (cap: Cap.Cap) => boolean, events: (cap: Cap.Cap) => CapEvent | [CapEvent, ...Array<CapEvent>]) =>
      machineLock.withPermits(1)(
        Effect.forEach(
          Cap.all,
          (cap) => {
            if (!which(cap)) return Effect.void
            const e = events(cap)
            return Array.isArray(e) ? sendCap(cap, ...e) : sendCap(cap, e)
          },
          { discard: true }
        )
      )
    const sendAllCaps = (events: (cap: Cap.Cap) => CapEvent | [CapEvent, ...Array<CapEvent>]) => sendCapsWhere(() => true, events)

    // The validation actor (from its snapshot, or fresh), its timer and ping fiber; built once the cap sends it uses exist.
    const phoneHome = yield* PhoneHome.make(
      {
        store,
        portal,
        installationId,
        version: options.version,
        portalUrl: options.portalUrl,
        observe,
        seen: () => seen,
        leading: () => leading,
        installed: () => installed,
        capContext: (cap) => slots[cap].actor.getSnapshot().context,
        sendCapsWhere,
        sendAllCaps,
        machineLock,
        publish
      },
      snapshots.get("validation"),
      start
    )

    /** Tick a cap whose deadline is already past at `now`: the wall clock jumped while its timer slept. */
    const catchUp = (cap: Cap.Cap, now: number) => {
      const due = nextDeadline(slots[cap].actor.getSnapshot().context)
      return due !== null && due <= now ? tick(cap) : Effect.void
    }

    /** Persist the time seen, and tick any cap (or ping) whose deadline passed without its timer firing. */
    const heartbeat: Effect.Effect<void, LicenseStore.StoreError> = Effect.gen(function* () {
      const now = yield* observe
      yield* store.raiseHighWater(now)
      for (const cap of Cap.all) yield* catchUp(cap, now)
      yield* phoneHome.catchUp(now)
    })

    const arm = (slot: CapSlot): Effect.Effect<void> => slot.timer.rearm

    /** Time passed for a cap; a due pending license is promoted to installed first. */
    const tick = (cap: Cap.Cap) =>
      Effect.gen(function* () {
        const now = yield* observe
        yield* store.raiseHighWater(now)
        yield* promotePendingIfDue(now)
        yield* machineLock.withPermits(1)(sendCap(cap, { type: "TICK", now }))
      })

    const promotePendingIfDue = (now: number) =>
      installLock.withPermits(1)(
        Effect.gen(function* () {
          const due = pending
          if (due === null || Math.max(now, slots.unattended.actor.getSnapshot().context.highWater) < notBeforeOf(due)) return
          const current = installed
          const swapped = yield* store.replaceLicense(current?.fingerprint ?? null, toStored(due, now))
          // Another node promoted it (or installed a newer one) first: take the store's.
          if (!swapped) return yield* follow.reloadLicenseHeld
          yield* store.setPending(null)
          installed = due
          pending = null
          installedAt = notBeforeOf(due)
          // The caps already hold the staged terms and promote them on their own TICK.
          yield* sendAllCaps(() => ({ type: "TICK", now }))
          yield* audit({ actor: "system", action: "pending-installed", outcome: "ok", detail: due.payload.licenseId })
          yield* publish({ _tag: "LicenseChanged", summary: summaryNow(now) })
        })
      )

    // ---- admission ---------------------------------------------------------------------------

    const check = (cap: Cap.Cap, id: string): Admission.Decision => {
      const decision = decideCheck(cap, id)
      if (Either.isLeft(decision) && Option.isSome(metrics)) metrics.value.denied(cap, decision.left.code)
      return decision
    }
    const decideCheck = (cap: Cap.Cap, id: string): Admission.Decision => {
      const slot = slots[cap]
      // "Verify on every check": a memoised verification of the exact installed bytes, a map lookup.
      if (installed !== null && Either.isLeft(verifier.verifySync(installed.text))) {
        return Either.left(new Admission.AdmissionError({ code: "CAP_UNACTIVATED", cap, message: "The installed license no longer verifies. Upload it again from the Customer Portal." }))
      }
      return Admission.decide(capView(slot.actor.getSnapshot(), slot.used), "check", slot.admitted.has(id))
    }

    const usageChanged = (slot: CapSlot, now: number) =>
      Effect.zipRight(
        store.recordUsage(slot.cap, utcDay(now), slot.used),
        publish({ _tag: "UsageChanged", cap: slot.cap, used: slot.used, status: statusOf(slot) })
      )

    /**
     * Decide a batch of one cap's acquisitions, in arrival order, with one store transaction for those the store must
     * decide (group commit). A full cap is not refused from memory: `used` is this node's last count, and another node
     * sharing the store may have freed slots (or admitted the principal) since; the store's transaction decides.
     */
    const admitBatch = (cap: Cap.Cap) => (batch: ReadonlyArray<AcquireRequest>) =>
      slots[cap].lock.withPermits(1)(
        Effect.gen(function* () {
          const slot = slots[cap]
          const now = yield* observe
          yield* catchUp(cap, now)
          const view = capView(slot.actor.getSnapshot(), slot.used)
          const answers: Array<Exit.Exit<Admission.Acquired, Admission.AdmissionError>> = []
          const audits: Array<LicenseStore.AuditRecord> = []
          const line = (r: AcquireRequest, outcome: "ok" | "denied", error?: Admission.AdmissionError): LicenseStore.AuditRecord => ({
            at: now,
            actor: r.actor,
            action: "acquire",
            outcome,
            cap,
            principal: r.id,
            code: error?.code ?? null,
            detail: error?.message ?? null
          })
          const toStore: Array<number> = []
          batch.forEach((r, i) => {
            const decision = Admission.decide(view, "acquire", slot.admitted.has(r.id))
            if (Either.isLeft(decision) && decision.left.code !== "CAP_LIMIT_REACHED") {
              audits.push(line(r, "denied", decision.left))
              answers[i] = Exit.fail(decision.left)
            } else toStore.push(i)
          })
          const outcomes =
            toStore.length === 0 ? [] : yield* store.admitMany(cap, toStore.map((i) => ({ id: batch[i]!.id, name: batch[i]!.name })), view.ceiling, now)
          // Each change of the count, in commit order: subscribers see every admission, as if they were one by one.
          const counts: Array<number> = []
          outcomes.forEach((outcome, k) => {
            const i = toStore[k]!
            const r = batch[i]!
            if (outcome.used !== slot.used || outcome._tag === "Admitted") counts.push(outcome.used)
            slot.used = outcome.used
            if (outcome._tag === "Full") {
              // Another node filled the cap since this one last counted.
              const error = new Admission.AdmissionError({
                code: "CAP_LIMIT_REACHED",
                cap,
                message: Admission.limitReachedMessage({ cap, used: outcome.used, limit: view.limit })
              })
              audits.push(line(r, "denied", error))
              answers[i] = Exit.fail(error)
              return
            }
            slot.admitted.add(r.id)
            if (outcome._tag === "Admitted") audits.push(line(r, "ok"))
            const p = outcome.principal
            answers[i] = Exit.succeed({
              // Admitted or already admitted: active either way.
              principal: { cap: p.cap, id: p.id, name: p.name, status: "active", admittedAt: p.admittedAt },
              created: outcome._tag === "Admitted",
              used: outcome.used
            })
          })
          // The acquisitions are durable and answered now; their audit lines and usage peak are written behind them, in
          // order, while the next batch commits. A failed write there is logged, not reported to callers whose slots
          // are already theirs (a crash in between loses those lines, as it did when they were written after the commit).
          yield* Queue.offer(
            bookkeeping,
            Effect.catchAll(
              Effect.zipRight(store.appendAudits(audits), counts.length > 0 ? store.recordUsage(cap, utcDay(now), Math.max(...counts)) : Effect.void),
              (e) => Effect.logError(`Admissions committed, but their audit lines or usage could not be recorded: ${e.message}`)
            )
          )
          const snapshot = slot.actor.getSnapshot()
          for (const used of counts) yield* publish({ _tag: "UsageChanged", cap, used, status: capStatus(cap, snapshot, used, leases.lease(cap)) })
          if (outcomes.some((o) => o._tag === "Admitted")) yield* leases.admitted(cap, now)
          return answers
        })
      )

    // Writes that follow committed acquisitions, one at a time in commit order; drained at shutdown.
    const bookkeeping = yield* Queue.unbounded<Effect.Effect<void>>()
    yield* Effect.forkScoped(Effect.forever(Effect.flatten(Queue.take(bookkeeping))))
    yield* Effect.addFinalizer(() => Effect.flatMap(Queue.takeAll(bookkeeping), (pending) => Effect.forEach(pending, (write) => write, { discard: true })))

    const acquireOf = {} as Record<Cap.Cap, (request: AcquireRequest) => Effect.Effect<Admission.Acquired, Admission.AdmissionError | LicenseStore.StoreError>>
    for (const cap of Cap.all) acquireOf[cap] = yield* GroupCommit.make(admitBatch(cap), MAX_BATCH)

    const acquire: Admission.Enforcer["acquire"] = (cap, id, opts) => {
      const request = acquireOf[cap]({ id, name: opts?.name ?? null, actor: opts?.actor ?? "admin" })
      if (Option.isNone(metrics)) return request
      const report = metrics.value
      // Latency on Effect's Clock (nanoseconds), so a TestClock governs it as it governs every other time.
      return Effect.flatMap(Clock.currentTimeNanos, (started) =>
        request.pipe(
          Effect.tapError((e) => Effect.sync(() => (e._tag === "AdmissionError" ? report.denied(cap, e.code) : undefined))),
          Effect.onExit(() => Effect.map(Clock.currentTimeNanos, (ended) => report.acquired(cap, Number(ended - started) / 1e9)))
        )
      )
    }

    const freeSlot = (action: "release" | "deactivate") => (cap: Cap.Cap, id: string, opts?: ActorOption) => {
      const slot = slots[cap]
      return slot.lock.withPermits(1)(
        Effect.gen(function* () {
          const now = yield* observe
          const found = action === "release" ? yield* store.release(cap, id) : yield* store.deactivate(cap, id, now)
          if (!found) return false
          slot.admitted.delete(id)
          slot.used = (yield* store.countActive)[cap]
          yield* audit({ actor: opts?.actor ?? "admin", action, outcome: "ok", cap, principal: id })
          yield* usageChanged(slot, now)
          return true
        })
      )
    }

    // ---- installing licenses ------------------------------------------------------------------

    const evaluationNow = Effect.map(observe, (now) => Math.max(now, seen, slots.unattended.actor.getSnapshot().context.highWater))

    const checkBinding = (verified: Verifier.VerifiedLicense) =>
      verified.payload.installationId !== undefined && verified.payload.installationId !== installationId
        ? Effect.fail(
            LicenseError.of(
              "LICENSE_WRONG_INSTALLATION",
              `This license is bound to installation ${verified.payload.installationId}, but this Hub is ${installationId}. Request a license for this installation id from the Customer Portal.`
            )
          )
        : Effect.void

    /** Make `verified` the installed license in memory; `persist` false when another node already stored it. */
    const applyInstalled = (verified: Verifier.VerifiedLicense, now: number, persist = true) =>
      Effect.gen(function* () {
        const previous = installed
        installed = verified
        installedAt = now
        if (pending !== null && pending.payload.issuedAt.getTime() <= verified.payload.issuedAt.getTime()) {
          pending = null
          if (persist) yield* store.setPending(null)
        }
        yield* sendAllCaps((cap) => ({ type: "LICENSE_INSTALLED", now, license: termsOf(verified, cap) }))
        // Installing clears a cap's staged license; a newer future-dated file still waiting is staged again.
        const waiting = pending
        if (waiting !== null) {
          yield* sendAllCaps((cap) => ({ type: "LICENSE_STAGED", now, notBefore: notBeforeOf(waiting), license: termsOf(waiting, cap) }))
        }
        yield* phoneHome.licenseChanged(previous, verified, now)
        yield* publish({ _tag: "LicenseChanged", summary: summaryNow(now) })
      })

    /** How often an upload is judged again after another node changed the installed license under it. */
    const INSTALL_ATTEMPTS = 5

    const install = (license: string | Uint8Array, opts?: ActorOption) =>
      installLock.withPermits(1)(
        Effect.gen(function* () {
          const actor = opts?.actor ?? "admin"
          const verified = yield* verifier.verify(license)
          yield* checkBinding(verified)
          for (let attempt = 1; ; attempt++) {
            // The upload is judged against the store's license, not this node's last view of it: another node may
            // have installed a newer one a moment ago.
            yield* follow.reloadLicenseHeld
            const current = installed
            if (current === null) return yield* activationError("NOT_ACTIVATED", "This Hub is not activated yet. Activate it with a license file and an admin account first.")
            const now = yield* observe
            if (verified.fingerprint === current.fingerprint) return summaryNow(now)
            if (verified.payload.issuedAt.getTime() < current.payload.issuedAt.getTime()) {
              return yield* LicenseError.of(
                "LICENSE_ROLLBACK",
                `This license was issued ${verified.payload.issuedAt.toISOString()}, before the installed one (${current.payload.issuedAt.toISOString()}). Upload the newest license file from the Customer Portal.`
              )
            }
            const notBefore = notBeforeOf(verified)
            if (notBefore > (yield* evaluationNow)) {
              yield* store.setPending(toStored(verified, now))
              pending = verified
              yield* sendAllCaps((cap) => ({ type: "LICENSE_STAGED", now, notBefore, license: termsOf(verified, cap) }))
              yield* audit({ actor, action: "upload", outcome: "ok", detail: `${verified.payload.licenseId} staged until ${new Date(notBefore).toISOString()}` })
              yield* publish({ _tag: "LicenseChanged", summary: summaryNow(now) })
              return summaryNow(now)
            }
            const swapped = yield* store.replaceLicense(current.fingerprint, toStored(verified, now))
            if (swapped) {
              yield* applyInstalled(verified, now)
              yield* audit({ actor, action: "upload", outcome: "ok", detail: verified.payload.licenseId })
              return summaryNow(now)
            }
            // Another node installed a license between the read and the swap: read it, and judge the upload again.
            if (attempt === INSTALL_ATTEMPTS) {
              return yield* new LicenseStore.StoreError({
                code: "STORE_UNAVAILABLE",
                message: "Other nodes kept changing the installed license while this upload was applied. Reload the License page and upload again."
              })
            }
          }
        }).pipe(
          Effect.tapError((error) =>
            audit({ actor: opts?.actor ?? "admin", action: "upload", outcome: "failed", code: error.code, detail: error.message })
          )
        )
      )

    const activate: LicenseRuntime.Service["activate"] = (input) =>
      installLock.withPermits(1)(
        Effect.gen(function* () {
          if (installed !== null || Option.isSome(yield* store.getAdmin)) {
            activation.send({ type: "LICENSE_REJECTED", code: "LICENSE_MALFORMED" })
            return yield* activationError("ALREADY_ACTIVATED", "This Hub is already activated. Sign in, and upload renewals on the License page.")
          }
          const verified = yield* verifier.verify(input.license).pipe(
            Effect.flatMap((v) => Effect.as(checkBinding(v), v)),
            Effect.tapError((e) => Effect.sync(() => activation.send({ type: "LICENSE_REJECTED", code: e.code })))
          )
          const at = yield* evaluationNow
          const notBefore = notBeforeOf(verified)
          const rejectLicense = (error: LicenseError) =>
            Effect.zipRight(Effect.sync(() => activation.send({ type: "LICENSE_REJECTED", code: error.code })), Effect.fail(error))
          if (notBefore > at) {
            return yield* rejectLicense(
              LicenseError.of("LICENSE_NOT_YET_VALID", `This license is valid from ${new Date(notBefore).toISOString()}. Activate it from then on, or ask for a license valid now.`)
            )
          }
          const expiries = Object.values(verified.payload.caps).map((g) => g.expiresAt.getTime())
          if (expiries.every((e) => e <= at)) {
            return yield* rejectLicense(
              LicenseError.of("LICENSE_EXPIRED", `Every capacity in this license expired (last on ${new Date(Math.max(...expiries)).toISOString().slice(0, 10)}). Download a renewed license from the Customer Portal.`)
            )
          }
          activation.send({ type: "LICENSE_ACCEPTED", summary: summarize(verified.payload, installationId) })
          const rejectAdmin = (code: "ADMIN_EMAIL_MISMATCH" | "PASSWORD_TOO_WEAK", message: string) =>
            Effect.zipRight(Effect.sync(() => activation.send({ type: "ADMIN_REJECTED", code })), Effect.fail(activationError(code, message)))
          const email = input.email.trim()
          if (email.toLowerCase() !== verified.payload.issuedTo.email.toLowerCase()) {
            return yield* rejectAdmin("ADMIN_EMAIL_MISMATCH", "The admin email must be the email the license was issued to. Use that address, or ask for the license to be reissued.")
          }
          const weakness = Passwords.weakness(input.password, email)
          if (weakness !== undefined) return yield* rejectAdmin("PASSWORD_TOO_WEAK", weakness)
          const now = yield* observe
          const passwordHash = yield* Passwords.hash(input.password)
          activation.send({ type: "ADMIN_CREATED", email })
          const created = yield* store.activate(toStored(verified, now), { email, passwordHash, createdAt: now }).pipe(
            Effect.tapError(() => Effect.sync(() => activation.send({ type: "ACTIVATION_ABORTED" })))
          )
          if (!created) {
            activation.send({ type: "ACTIVATION_ABORTED" })
            return yield* activationError("ALREADY_ACTIVATED", "This Hub is already activated. Sign in, and upload renewals on the License page.")
          }
          activation.send({ type: "ACTIVATION_COMMITTED", now })
          yield* applyInstalled(verified, now)
          yield* audit({ actor: input.actor ?? email, action: "activate", outcome: "ok", detail: verified.payload.licenseId })
          return summaryNow(now)
        }).pipe(
          Effect.tapError((error) =>
            error._tag === "StoreError"
              ? Effect.void
              : audit({ actor: input.actor ?? "anonymous", action: "activate", outcome: "failed", code: error.code, detail: error.message })
          )
        )
      )

    // ---- following the other nodes --------------------------------------------------------------

    // The store's change log applied to this node's memory: licenses, principals, the validation record, the clock.
    const follow = Follow.make({
      store,
      verifier,
      slots,
      observe,
      seen: () => seen,
      setSeen: (t) => void (seen = t),
      installed: () => installed,
      applyInstalled: (verified, now) => applyInstalled(verified, now, false),
      activated,
      pending: () => pending,
      setPending: (license) => void (pending = license),
      stage: (staged, now) => sendAllCaps((cap) => ({ type: "LICENSE_STAGED", now, notBefore: notBeforeOf(staged), license: termsOf(staged, cap) })),
      sendAllCaps,
      status: (cap) => statusOf(slots[cap]),
      summary: summaryNow,
      publish,
      installLock,
      phoneHome,
      leases
    })

    /** Taking the lead: the phone-home first (a ping the previous leader left in flight failed), then the leases. */
    const lead = Effect.gen(function* () {
      yield* phoneHome.lead
      // Leases that ended while no node was leading are culled now.
      yield* leases.lead
    })

    // ---- start ---------------------------------------------------------------------------------

    // On shutdown, persist the latest time seen: the next start must not evaluate before it.
    yield* Effect.addFinalizer(() =>
      Effect.catchAll(Effect.flatMap(observe, () => store.raiseHighWater(seen)), (e) => Effect.logWarning(`Could not save the clock high-water mark: ${e.message}`))
    )

    // Catch up with time that passed while the Hub was down, then start every timer.
    for (const slot of Object.values(slots)) {
      yield* Effect.forkScoped(slot.timer.run(() => nextDeadline(slot.actor.getSnapshot().context), tick(slot.cap)))
    }
    yield* phoneHome.start
    yield* leases.start
    const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(heartbeatMs), Effect.catchAllCause(heartbeat, Effect.logError))))
    // A ping the last run was in the middle of when it stopped never got its answer: it failed.
    yield* phoneHome.recover
    yield* promotePendingIfDue(start)
    yield* sendAllCaps(() => ({ type: "TICK", now: start }))
    yield* phoneHome.arm
    // Alone, this runtime culls: leases that ended while the Hub was down are culled at start.
    if (leading) yield* leases.lead
    if (Option.isSome(cluster)) {
      yield* Effect.forkScoped(
        Stream.runForEach(cluster.value.leadership, (isLeader) =>
          Effect.zipRight(
            Effect.sync(() => void (leading = isLeader)),
            isLeader ? Effect.catchAllCause(lead, Effect.logError) : Effect.void
          )
        )
      )
    }

    return {
      installationId,
      isActivated: Effect.sync(() => installed !== null),
      summary,
      activate,
      install,
      acquire,
      release: freeSlot("release"),
      deactivate: freeSlot("deactivate"),
      check,
      principals: store.listLeased,
      heartbeat: (cap, id, opts) => leases.heartbeat(cap, id, opts?.actor ?? "admin"),
      setLease: (cap, lease, opts) => leases.setLease(cap, lease, opts?.actor ?? "admin"),
      events: Stream.fromPubSub(pubsub),
      validateNow: Effect.asVoid(phoneHome.ping),
      sync: follow.sync
    } satisfies LicenseRuntime.Service
  })
