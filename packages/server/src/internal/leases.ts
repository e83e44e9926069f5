/** Principal leases in the runtime: each cap's setting, heartbeats, and the leader's cull timer per leased cap. */
import { Admission, Cap, LicenseStore } from "@exekra/core"
import { Effect, Either, Option, type Scope } from "effect"
import { type CapLeaseStatus, type LeaseError, type LeaseInput, type LeaseSetting, validate } from "../Leases.js"
import type { CapStatus, RuntimeEvent } from "../LicenseRuntime.js"
import type { AdmissionMetrics } from "../metrics/AdmissionMetrics.js"
import * as Timer from "./timerLoop.js"

/** The part of a cap's runtime state leases read and change; the runtime owns it. */
export interface Slot {
  readonly cap: Cap.Cap
  /** Active principal ids, as `check` answers from them. */
  readonly admitted: Set<string>
  used: number
  /** Serialises the cap's admissions, heartbeats and culls within the process. */
  readonly lock: Effect.Semaphore
}

/** What the runtime gives the lease logic. */
export interface Host {
  readonly store: LicenseStore.Store
  readonly slots: Readonly<Record<Cap.Cap, Slot>>
  /** The clock, as the runtime reads it (remembering the latest time seen). */
  readonly observe: Effect.Effect<number>
  /** Whether this node culls: alone, or the cluster's leader. */
  readonly leading: () => boolean
  /** The cap's admission view at `now`, after any deadline its timer slept past. */
  readonly view: (cap: Cap.Cap, now: number) => Effect.Effect<Admission.CapView, LicenseStore.StoreError>
  readonly status: (cap: Cap.Cap) => CapStatus
  readonly publish: (event: RuntimeEvent) => Effect.Effect<unknown>
  readonly metrics: Option.Option<AdmissionMetrics.Service>
}

/** The runtime's lease logic. */
export interface Leases {
  /** The cap's lease as this node knows it (the store's, as of the last `settings` change applied). */
  readonly lease: (cap: Cap.Cap) => CapLeaseStatus | null
  /** Set (or with null turn off) a cap's lease, as an admin does. */
  readonly setLease: (cap: Cap.Cap, input: LeaseInput | null, actor: string) => Effect.Effect<CapLeaseStatus | null, LeaseError | LicenseStore.StoreError>
  /** A principal's heartbeat: renews its lease, or revives it within the revive window when a slot is free. */
  readonly heartbeat: (cap: Cap.Cap, id: string, actor: string) => Effect.Effect<Admission.Heartbeat, Admission.AdmissionError | LicenseStore.StoreError>
  /** After this node admitted principals of `cap` at `now`: their leases end no earlier than `now` + the lease. */
  readonly admitted: (cap: Cap.Cap, now: number) => Effect.Effect<void>
  /** Apply a page of the change log: settings changes are read again; principal changes re-arm the leader's timers. */
  readonly sync: (page: LicenseStore.ChangePage) => Effect.Effect<void, LicenseStore.StoreError>
  /** Become the one that culls: cull what is overdue now (leases that ended while no leader ran) and arm the timers. */
  readonly lead: Effect.Effect<void, LicenseStore.StoreError>
  /** The timers, one per cap, forked in the runtime's scope. */
  readonly start: Effect.Effect<void, never, Scope.Scope>
}

const toStatus = (lease: LicenseStore.CapLease): CapLeaseStatus => ({ leaseSeconds: lease.leaseSeconds, reviveSeconds: lease.reviveSeconds, since: lease.since })

const iso = (t: number): string => new Date(t).toISOString()

/** Build the lease logic from the store's settings, applying `configured` settings (runtime options) that differ. */
export const make = (host: Host, configured: ReadonlyArray<LeaseSetting>) =>
  Effect.gen(function* () {
    const { store, slots } = host
    const leases = new Map<Cap.Cap, CapLeaseStatus>()
    /** The earliest lease end among a cap's active principals, as far as this node knows; null when none. */
    const nextEnd = new Map<Cap.Cap, number | null>()
    const timers = {} as Record<Cap.Cap, Timer.Timer>
    for (const cap of Cap.all) timers[cap] = yield* Timer.make

    const loadSettings = Effect.gen(function* () {
      const stored = yield* store.capLeases
      const changed: Array<Cap.Cap> = []
      for (const cap of Cap.all) {
        const next = stored.find((l) => l.cap === cap)
        const before = leases.get(cap)
        if (next === undefined ? before === undefined : before !== undefined && before.since === next.since && before.leaseSeconds === next.leaseSeconds && before.reviveSeconds === next.reviveSeconds) continue
        if (next === undefined) leases.delete(cap)
        else leases.set(cap, toStatus(next))
        changed.push(cap)
      }
      return changed
    })

    yield* loadSettings
    for (const setting of configured) {
      const current = leases.get(setting.cap)
      if (current?.leaseSeconds === setting.leaseSeconds && current.reviveSeconds === setting.reviveSeconds) continue
      yield* store.setCapLease(setting.cap, setting, yield* host.observe)
    }
    if (configured.length > 0) yield* loadSettings

    const lease = (cap: Cap.Cap): CapLeaseStatus | null => leases.get(cap) ?? null
    const wake = (cap: Cap.Cap) => timers[cap].rearm

    /** Read when the cap's next lease ends from the store (a read, no write), and re-arm its timer. */
    const refresh = (cap: Cap.Cap) =>
      Effect.gen(function* () {
        const l = leases.get(cap)
        if (l === undefined || !host.leading()) {
          nextEnd.set(cap, null)
          return yield* wake(cap)
        }
        let earliest: number | null = null
        for (const p of yield* store.listLeased(cap)) {
          if (p.status !== "active") continue
          const end = LicenseStore.leaseEnd(l, p.heartbeatAt)
          earliest = earliest === null ? end : Math.min(earliest, end)
        }
        nextEnd.set(cap, earliest)
        yield* wake(cap)
      })

    /** Audit lines are bookkeeping of writes already committed: a failure to record them is logged, not answered. */
    const record = (records: ReadonlyArray<LicenseStore.AuditRecord>) =>
      Effect.catchAll(store.appendAudits(records), (e) => Effect.logError(`Lease changes committed, but their audit lines could not be recorded: ${e.message}`))

    /** Bring memory in step with principals the store just culled, and tell subscribers. Holds the cap's lock. */
    const applyCulled = (cap: Cap.Cap, culled: ReadonlyArray<LicenseStore.LeasedPrincipal>, used: number, now: number) =>
      Effect.gen(function* () {
        const slot = slots[cap]
        for (const p of culled) slot.admitted.delete(p.id)
        const usedBefore = slot.used
        slot.used = used
        if (culled.length === 0) return
        yield* record(
          culled.map((p) => ({
            at: now,
            actor: "system",
            action: "culled",
            outcome: "ok" as const,
            cap,
            principal: p.id,
            code: null,
            detail: `lease ended ${iso(p.culledAt ?? now)} without a heartbeat`
          }))
        )
        for (const p of culled) yield* host.publish({ _tag: "PrincipalCulled", cap, id: p.id, culledAt: p.culledAt ?? now, status: host.status(cap) })
        if (used !== usedBefore) yield* host.publish({ _tag: "UsageChanged", cap, used, status: host.status(cap) })
      })

    /** The leader's cull of one cap at its timer (or at start): one store transaction decides. */
    const cullNow = (cap: Cap.Cap) =>
      slots[cap].lock.withPermits(1)(
        Effect.gen(function* () {
          if (!host.leading() || !leases.has(cap)) {
            nextEnd.set(cap, null)
            return
          }
          const now = yield* host.observe
          const outcome = yield* store.cull(cap, now)
          nextEnd.set(cap, outcome.nextEndAt)
          yield* applyCulled(cap, outcome.culled, outcome.used, now)
        })
      )

    const setLease: Leases["setLease"] = (cap, input, actor) =>
      Effect.gen(function* () {
        const setting = input === null ? null : yield* validate(cap, input)
        const now = yield* host.observe
        yield* store.setCapLease(cap, setting, now)
        yield* loadSettings
        yield* record([
          {
            at: now,
            actor,
            action: "lease",
            outcome: "ok",
            cap,
            principal: null,
            code: null,
            detail: setting === null ? "lease off" : `lease ${setting.leaseSeconds} s, revive ${setting.reviveSeconds} s`
          }
        ])
        yield* refresh(cap)
        yield* host.publish({ _tag: "LeaseChanged", cap, lease: lease(cap), status: host.status(cap) })
        return lease(cap)
      })

    const denied = (cap: Cap.Cap, code: Admission.AdmissionErrorCode, message: string) => {
      if (Option.isSome(host.metrics)) host.metrics.value.denied(cap, code)
      return Effect.fail(new Admission.AdmissionError({ code, cap, message }))
    }

    const heartbeat: Leases["heartbeat"] = (cap, id, actor) =>
      slots[cap].lock.withPermits(1)(
        Effect.gen(function* () {
          const slot = slots[cap]
          const now = yield* host.observe
          const view = yield* host.view(cap, now)
          if (view.state === "unactivated") {
            const refusal = Admission.decide(view, "check", false)
            if (Either.isLeft(refusal)) return yield* denied(cap, refusal.left.code, refusal.left.message)
          }
          const wasAdmitted = slot.admitted.has(id)
          // A limited cap admits no one new, so a culled principal cannot come back while it is limited.
          const outcome = yield* store.heartbeat(cap, id, view.state === "limited" ? 0 : view.ceiling, now)
          const l = lease(cap)
          const unit = Cap.unitNames[cap]
          if (outcome._tag === "Renewed" || outcome._tag === "Revived") {
            const p = outcome.principal
            slot.admitted.add(id)
            const usedBefore = slot.used
            slot.used = outcome.used
            if (outcome._tag === "Revived") {
              yield* record([{ at: now, actor, action: "revived", outcome: "ok", cap, principal: id, code: null, detail: "heartbeat within the revive window" }])
              if (outcome.used !== usedBefore || !wasAdmitted) yield* host.publish({ _tag: "UsageChanged", cap, used: outcome.used, status: host.status(cap) })
              yield* admitted(cap, now)
            }
            return {
              principal: { cap, id, name: p.name, status: "active", admittedAt: p.admittedAt },
              revived: outcome._tag === "Revived",
              leaseEndsAt: l === null ? null : LicenseStore.leaseEnd(l, p.heartbeatAt),
              used: outcome.used
            } satisfies Admission.Heartbeat
          }
          // The heartbeat itself may have culled a principal whose lease had ended before any cull ran here.
          if (outcome._tag !== "NotAdmitted" && wasAdmitted) yield* applyCulled(cap, [outcome.principal], outcome.used, now)
          else slot.used = outcome.used
          const refuse = (code: Admission.AdmissionErrorCode, message: string) =>
            Effect.zipRight(
              record([{ at: now, actor, action: "heartbeat", outcome: "denied", cap, principal: id, code, detail: message }]),
              denied(cap, code, message)
            )
          switch (outcome._tag) {
            case "NotAdmitted":
              return yield* refuse(
                "PRINCIPAL_NOT_ADMITTED",
                `This ${unit.one} is not admitted, so it has no lease to renew. Register it first (${unit.many}: ${outcome.used} of ${view.limit} in use).`
              )
            case "Lapsed": {
              const ended = outcome.principal.culledAt ?? outcome.principal.updatedAt
              return yield* refuse(
                "PRINCIPAL_NOT_ADMITTED",
                l === null
                  ? `This ${unit.one}'s lease ended ${iso(ended)} and ${cap} has no lease any more, so it cannot come back by a heartbeat. Register it again.`
                  : `This ${unit.one}'s lease ended ${iso(ended)} and its revive window (${l.reviveSeconds} s) has passed. Register it again.`
              )
            }
            case "Full": {
              if (view.state === "limited") {
                const refusal = Admission.decide(view, "acquire", false)
                if (Either.isLeft(refusal)) return yield* refuse(refusal.left.code, refusal.left.message)
              }
              return yield* refuse(
                "CAP_LIMIT_REACHED",
                `${Admission.limitReachedMessage({ cap, used: outcome.used, limit: view.limit })} This ${unit.one}'s lease ended ${iso(outcome.principal.culledAt ?? now)}; it may come back by a heartbeat once a slot is free.`
              )
            }
          }
        })
      )

    const admitted: Leases["admitted"] = (cap, now) =>
      Effect.suspend(() => {
        const l = leases.get(cap)
        if (l === undefined || !host.leading()) return Effect.void
        const end = LicenseStore.leaseEnd(l, now)
        const known = nextEnd.get(cap) ?? null
        nextEnd.set(cap, known === null ? end : Math.min(known, end))
        return wake(cap)
      })

    const sync: Leases["sync"] = (page) =>
      Effect.gen(function* () {
        const settings = page.gap || page.changes.some((c) => c.topic === "settings")
        const changed = settings ? yield* loadSettings : []
        for (const cap of changed) yield* host.publish({ _tag: "LeaseChanged", cap, lease: lease(cap), status: host.status(cap) })
        if (!host.leading()) return
        for (const cap of Cap.all) {
          if (!leases.has(cap) && !changed.includes(cap)) continue
          if (page.gap || changed.includes(cap) || page.changes.some((c) => c.topic === "principal" && c.cap === cap)) yield* refresh(cap)
        }
      })

    const lead = Effect.forEach(Cap.all, (cap) => (leases.has(cap) ? cullNow(cap) : Effect.void), { discard: true }).pipe(
      Effect.zipRight(Effect.forEach(Cap.all, wake, { discard: true }))
    )

    const start = Effect.forEach(
      Cap.all,
      (cap) => Effect.forkScoped(timers[cap].run(() => (host.leading() && leases.has(cap) ? (nextEnd.get(cap) ?? null) : null), cullNow(cap))),
      { discard: true }
    )

    return { lease, setLease, heartbeat, admitted, sync, lead, start } satisfies Leases
  })
