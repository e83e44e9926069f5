/** Following the other nodes: a cluster node applies the store's change log to what it holds in memory. */
import { Cap, type LicenseStore, type Verifier } from "@exekra/core"
import type { CapEvent } from "@exekra/machines"
import { Effect, Either, Option } from "effect"
import type { CapStatus, LicenseSummary, RuntimeEvent } from "../LicenseRuntime.js"
import type * as Leases from "./leases.js"
import type * as PhoneHome from "./phoneHome.js"

/** What the runtime gives the follower. */
export interface Host {
  readonly store: LicenseStore.Store
  readonly verifier: Verifier.Verifier.Service
  /** Each cap's admitted principals, count and lock, as the runtime holds them. */
  readonly slots: Readonly<Record<Cap.Cap, Leases.Slot>>
  /** The clock, as the runtime reads it (remembering the latest time seen). */
  readonly observe: Effect.Effect<number>
  /** The latest time the runtime has seen. */
  readonly seen: () => number
  /** Raise the latest time seen to `t`, a later time another node has seen. */
  readonly setSeen: (t: number) => void
  /** The installed license, if any. */
  readonly installed: () => Verifier.VerifiedLicense | null
  /** Make `verified` the installed license in memory, as another node already stored it. */
  readonly applyInstalled: (verified: Verifier.VerifiedLicense, now: number) => Effect.Effect<void, LicenseStore.StoreError>
  /** Tell the activation machine the Hub was activated with `license` at `at`. */
  readonly activated: (license: Verifier.VerifiedLicense, at: number) => void
  /** The license staged to install later, if any. */
  readonly pending: () => Verifier.VerifiedLicense | null
  /** Replace (or with null clear) the staged license in memory. */
  readonly setPending: (license: Verifier.VerifiedLicense | null) => void
  /** Send every cap the `staged` license's terms, to promote on their own when it is due. */
  readonly stage: (staged: Verifier.VerifiedLicense, now: number) => Effect.Effect<void, LicenseStore.StoreError>
  /** Send events to every cap, under the machine lock. */
  readonly sendAllCaps: (events: (cap: Cap.Cap) => CapEvent) => Effect.Effect<void, LicenseStore.StoreError>
  /** A cap's status as events carry it. */
  readonly status: (cap: Cap.Cap) => CapStatus
  /** The license summary at `now`. */
  readonly summary: (now: number) => LicenseSummary
  readonly publish: (event: RuntimeEvent) => Effect.Effect<unknown>
  /** Serialises installs, promotions and reloads of the license. */
  readonly installLock: Effect.Semaphore
  readonly phoneHome: Pick<PhoneHome.PhoneHome, "reload">
  readonly leases: Pick<Leases.Leases, "sync">
}

/** The runtime's following of the other nodes. */
export interface Follow {
  /** Apply the store's installed and pending license if another node changed them; the caller holds the install lock. */
  readonly reloadLicenseHeld: Effect.Effect<void, LicenseStore.StoreError>
  /** Apply a page of the store's change log. */
  readonly sync: (page: LicenseStore.ChangePage) => Effect.Effect<void, LicenseStore.StoreError>
}

/** Build the follower over the runtime's state. */
export const make = (host: Host): Follow => {
  const { store, verifier, slots } = host

  /** The installed and pending license as the store has them, applied if another node changed them. Holds installLock. */
  const reloadLicenseHeld = Effect.gen(function* () {
    const now = yield* host.observe
    const stored = yield* store.getLicense
    if (Option.isSome(stored) && stored.value.fingerprint !== host.installed()?.fingerprint) {
      const verified = yield* Effect.either(verifier.verify(stored.value.text))
      if (Either.isLeft(verified)) {
        yield* Effect.logError(`Another node installed a license this node cannot verify: ${verified.left.code}. ${verified.left.message}`)
      } else {
        const first = host.installed() === null
        yield* host.applyInstalled(verified.right, now)
        if (first) host.activated(verified.right, stored.value.storedAt)
      }
    }
    const storedPending = yield* store.getPending
    const fingerprint = Option.getOrNull(Option.map(storedPending, (p) => p.fingerprint))
    if (fingerprint === (host.pending()?.fingerprint ?? null)) return
    if (Option.isNone(storedPending)) {
      host.setPending(null)
    } else {
      const verified = yield* Effect.either(verifier.verify(storedPending.value.text))
      if (Either.isLeft(verified)) return yield* Effect.logError(`Another node staged a license this node cannot verify: ${verified.left.code}.`)
      const staged = verified.right
      host.setPending(staged)
      yield* host.stage(staged, now)
    }
    yield* host.publish({ _tag: "LicenseChanged", summary: host.summary(now) })
  })

  /** Active principals of a cap as the store has them: `ids` only, or every one (null). */
  const reloadPrincipals = (cap: Cap.Cap, ids: ReadonlyArray<string> | null) =>
    slots[cap].lock.withPermits(1)(
      Effect.gen(function* () {
        const slot = slots[cap]
        const found = ids === null ? yield* store.listPrincipals(cap) : yield* store.findPrincipals(cap, ids)
        // Principals this node had admitted that another node (the leader) culled: subscribers here hear of it too.
        const culled = found.filter((p) => p.status === "expired" && slot.admitted.has(p.id))
        const active = new Set(found.filter((p) => p.status === "active").map((p) => p.id))
        if (ids === null) slot.admitted.clear()
        for (const id of ids ?? active) {
          if (active.has(id)) slot.admitted.add(id)
          else slot.admitted.delete(id)
        }
        const used = (yield* store.countActive)[cap]
        const changed = used !== slot.used
        slot.used = used
        for (const p of culled) yield* host.publish({ _tag: "PrincipalCulled", cap, id: p.id, culledAt: p.updatedAt, status: host.status(cap) })
        if (changed) yield* host.publish({ _tag: "UsageChanged", cap, used, status: host.status(cap) })
      })
    )

  /** A later time another node has seen (or a Portal told it) counts here too. */
  const reloadClock = Effect.gen(function* () {
    const highWater = yield* store.getHighWater
    if (highWater <= host.seen()) return
    host.setSeen(highWater)
    const now = yield* host.observe
    yield* host.sendAllCaps(() => ({ type: "CLOCK_OBSERVED", now, serverTime: highWater }))
  })

  /**
   * Apply a page of the store's change log: read again what it names. Reading the store's state (not replaying the
   * change) makes applying idempotent and order-safe, this node's own changes included.
   */
  const sync: Follow["sync"] = (page) =>
    Effect.gen(function* () {
      const topics = new Set(page.changes.map((c) => c.topic))
      if (page.gap || topics.has("license") || topics.has("pending") || topics.has("admin")) yield* host.installLock.withPermits(1)(reloadLicenseHeld)
      for (const cap of Cap.all) {
        if (page.gap) {
          yield* reloadPrincipals(cap, null)
          continue
        }
        const ids = page.changes.filter((c) => c.topic === "principal" && c.cap === cap && c.key !== null).map((c) => c.key!)
        if (ids.length > 0) yield* reloadPrincipals(cap, ids)
      }
      if (page.gap || topics.has("validation")) yield* host.phoneHome.reload
      if (page.gap || topics.has("clock")) yield* reloadClock
      yield* host.leases.sync(page)
    })

  return { reloadLicenseHeld, sync }
}
