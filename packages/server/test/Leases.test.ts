// Principal leases on the real runtime under TestClock: culled at the lease's end, revived within the window, exact under a heartbeat/cull race (fast-check), across a restart, and culled by the leader only.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Installation, LicenseStore, type PortalClient, Verifier } from "@exekra/core"
import { ChangeFeed, Cluster, LicenseRuntime } from "@exekra/server"
import * as Leases from "@exekra/server/Leases"
import { Chunk, Context, Effect, Either, Exit, Fiber, Layer, Ref, Scope, Stream, TestClock, TestContext } from "effect"
import fc from "fast-check"
import { vi } from "vitest"
import { at, keyring, licenseFile, password, runtimeLayer, scriptedPortal, SIMULATION_HEARTBEAT_MS } from "./fixtures.js"

// Every Hub here is activated, and scrypt at its production cost would dominate the property runs: the same password
// is hashed once for real and that genuine hash handed out again.
vi.mock("../src/Passwords.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../src/Passwords.js")>()
  const { Effect } = await import("effect")
  const hashes = new Map<string, string>()
  return {
    ...original,
    hash: (password: string) => {
      const known = hashes.get(password)
      return known !== undefined ? Effect.succeed(known) : Effect.tap(original.hash(password), (hash) => Effect.sync(() => hashes.set(password, hash)))
    }
  }
})

type Runtime = LicenseRuntime.LicenseRuntime.Service

const dir = mkdtempSync(join(tmpdir(), "exekra-leases-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `hub-${++files}.db`)

const T0 = at("2027-01-02T00:00:00Z")
const LEASE_S = 60
const LEASE_MS = LEASE_S * 1000
const cap = "unattended" as const

const portal = Effect.map(
  Effect.all([Ref.make<"up" | "down">("up"), Ref.make<ReadonlyArray<PortalClient.ValidationRequest>>([])]),
  ([up, pings]) => scriptedPortal(up, pings)
)

/** A runtime on `store` in a scope of its own, activated with the fixture license (3 Runners) unless `activate` is false. */
const startRuntime = (store: Layer.Layer<LicenseStore.LicenseStore, LicenseStore.StoreError>, activate = true, options: Partial<LicenseRuntime.RuntimeOptions> = {}) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const base = Layer.mergeAll(Verifier.layerNodeCrypto(keyring), yield* portal, Layer.provideMerge(Installation.layer, store))
    const layer = LicenseRuntime.layer({ version: "test", heartbeatMs: SIMULATION_HEARTBEAT_MS, ...options }).pipe(Layer.provideMerge(base))
    const context = yield* Layer.buildWithScope(layer, scope)
    const runtime = Context.get(context, LicenseRuntime.LicenseRuntime)
    const storeService = Context.get(context, LicenseStore.LicenseStore)
    if (activate && !(yield* runtime.isActivated)) yield* runtime.activate({ license: licenseFile(), email: "admin@acme.example", password })
    return { runtime, store: storeService, stop: Scope.close(scope, Exit.void) }
  })

const statusOf = (runtime: Runtime, id: string) =>
  Effect.map(runtime.principals(cap), (all) => all.find((p) => p.id === id))
const answer = <A>(effect: Effect.Effect<A, { readonly code: string }>) =>
  Effect.map(Effect.either(effect), (r) => (Either.isRight(r) ? "ok" : r.left.code))
const checkOf = (runtime: Runtime, id: string): string =>
  Either.match(runtime.check(cap, id), { onLeft: (e) => e.code, onRight: () => "allowed" })

describe("leases", () => {
  it.scoped("a Runner that misses its lease is culled exactly at the lease's end: slot freed, expired, audited, announced", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const { runtime, store } = yield* startRuntime(LicenseStore.layerMemory)
      const events = yield* Effect.forkScoped(Stream.runCollect(Stream.take(Stream.filter(runtime.events, (e) => e._tag === "PrincipalCulled"), 1)))
      expect(yield* runtime.setLease(cap, { leaseSeconds: LEASE_S, reviveSeconds: 30 })).toEqual({ leaseSeconds: 60, reviveSeconds: 30, since: T0 })
      yield* runtime.acquire(cap, "runner-1")
      yield* TestClock.adjust(1_000)
      yield* runtime.acquire(cap, "runner-2")
      yield* TestClock.adjust(LEASE_MS - 1_001)
      expect(checkOf(runtime, "runner-1")).toBe("allowed")
      expect((yield* runtime.summary).caps[cap].used).toBe(2)
      // The lease's end, to the millisecond.
      yield* TestClock.adjust(1)
      expect(checkOf(runtime, "runner-1")).toBe("PRINCIPAL_NOT_ADMITTED")
      expect(checkOf(runtime, "runner-2")).toBe("allowed")
      expect(yield* statusOf(runtime, "runner-1")).toMatchObject({ status: "expired", culledAt: T0 + LEASE_MS, heartbeatAt: T0 })
      expect((yield* runtime.summary).caps[cap]).toMatchObject({ used: 1, lease: { leaseSeconds: 60, reviveSeconds: 30 } })
      const audit = yield* store.listAudit({ limit: 20 })
      expect(audit.find((r) => r.action === "culled")).toMatchObject({ actor: "system", cap, principal: "runner-1", outcome: "ok" })
      const [culled] = Chunk.toReadonlyArray(yield* Fiber.join(events))
      expect(culled).toMatchObject({ _tag: "PrincipalCulled", cap, id: "runner-1", culledAt: T0 + LEASE_MS })
      yield* TestClock.adjust(1_000)
      expect(checkOf(runtime, "runner-2")).toBe("PRINCIPAL_NOT_ADMITTED")
    }))

  it.scoped("a heartbeat renews the lease from its own time; a cap without a lease culls no one", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const { runtime } = yield* startRuntime(LicenseStore.layerMemory)
      yield* runtime.setLease(cap, { leaseSeconds: LEASE_S })
      yield* runtime.acquire(cap, "runner-1")
      yield* runtime.acquire("developer", "dev-1")
      yield* TestClock.adjust(50_000)
      expect(yield* runtime.heartbeat(cap, "runner-1")).toMatchObject({ revived: false, leaseEndsAt: T0 + 50_000 + LEASE_MS, used: 1 })
      yield* TestClock.adjust(LEASE_MS - 1)
      expect(checkOf(runtime, "runner-1")).toBe("allowed")
      yield* TestClock.adjust(1)
      expect(checkOf(runtime, "runner-1")).toBe("PRINCIPAL_NOT_ADMITTED")
      expect(Either.isRight(runtime.check("developer", "dev-1"))).toBe(true)
      expect(yield* runtime.heartbeat("developer", "dev-1")).toMatchObject({ leaseEndsAt: null, revived: false })
      expect(yield* answer(runtime.heartbeat(cap, "nobody"))).toBe("PRINCIPAL_NOT_ADMITTED")
    }))

  it.scoped("revive: inside the window a heartbeat re-admits when a slot is free (else CAP_LIMIT_REACHED); after it, PRINCIPAL_NOT_ADMITTED", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const { runtime } = yield* startRuntime(LicenseStore.layerMemory)
      yield* runtime.setLease(cap, { leaseSeconds: LEASE_S, reviveSeconds: 30 })
      yield* runtime.acquire(cap, "a")
      yield* runtime.acquire(cap, "b")
      yield* TestClock.adjust(LEASE_MS + 10_000)
      expect((yield* runtime.summary).caps[cap].used).toBe(0)
      // Inside the window with a free slot: back, with a fresh lease.
      expect(yield* runtime.heartbeat(cap, "a")).toMatchObject({ revived: true, used: 1, leaseEndsAt: T0 + 70_000 + LEASE_MS })
      expect(checkOf(runtime, "a")).toBe("allowed")
      // Inside the window, but the limit (3) is reached meanwhile.
      yield* runtime.acquire(cap, "c")
      yield* runtime.acquire(cap, "d")
      const refused = yield* Effect.flip(runtime.heartbeat(cap, "b"))
      expect(refused).toMatchObject({ code: "CAP_LIMIT_REACHED", cap })
      expect(refused.message).toMatch(/limit reached \(3 of 3\)/)
      expect((yield* runtime.summary).caps[cap].used).toBe(3)
      // After the window: the principal must register again.
      yield* runtime.release(cap, "d")
      yield* TestClock.adjust(20_001)
      const lapsed = yield* Effect.flip(runtime.heartbeat(cap, "b"))
      expect(lapsed).toMatchObject({ code: "PRINCIPAL_NOT_ADMITTED" })
      expect(lapsed.message).toMatch(/revive window \(30 s\) has passed\. Register it again\./)
      expect(yield* runtime.acquire(cap, "b")).toMatchObject({ created: true })
    }))

  it.scoped("a full cap admits a new Runner once a dead one is culled", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const { runtime } = yield* startRuntime(LicenseStore.layerMemory)
      yield* runtime.setLease(cap, { leaseSeconds: LEASE_S })
      for (const id of ["r1", "r2", "r3"]) yield* runtime.acquire(cap, id)
      expect(yield* answer(runtime.acquire(cap, "r4"))).toBe("CAP_LIMIT_REACHED")
      // r2 and r3 keep heartbeating; r1 crashed.
      for (let beat = 1; beat <= 3; beat++) {
        yield* TestClock.adjust(30_000)
        yield* runtime.heartbeat(cap, "r2")
        yield* runtime.heartbeat(cap, "r3")
      }
      expect(yield* statusOf(runtime, "r1")).toMatchObject({ status: "expired", culledAt: T0 + LEASE_MS })
      expect(yield* runtime.acquire(cap, "r4")).toMatchObject({ created: true, used: 3 })
    }))

  it.scoped("bad settings are refused with a code; turning the lease off stops culling", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const { runtime } = yield* startRuntime(LicenseStore.layerMemory)
      expect(yield* answer(runtime.setLease(cap, { leaseSeconds: 59 }))).toBe("LEASE_TOO_SHORT")
      expect(yield* answer(runtime.setLease(cap, { leaseSeconds: 60.5 }))).toBe("LEASE_INVALID")
      expect(yield* answer(runtime.setLease(cap, { leaseSeconds: 60, reviveSeconds: -1 }))).toBe("LEASE_INVALID")
      expect(yield* answer(runtime.setLease(cap, { leaseSeconds: Leases.MAX_LEASE_SECONDS + 1 }))).toBe("LEASE_TOO_LONG")
      expect((yield* runtime.summary).caps[cap].lease).toBeNull()
      yield* runtime.setLease(cap, { leaseSeconds: 60 })
      yield* runtime.acquire(cap, "r1")
      yield* TestClock.adjust(30_000)
      expect(yield* runtime.setLease(cap, null)).toBeNull()
      yield* TestClock.adjust(3_600_000)
      expect(checkOf(runtime, "r1")).toBe("allowed")
    }))

  it.scoped("culling survives a restart: a lease that ended while the Hub was down is culled at start, as of its end", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const filename = freshFile()
      const first = yield* startRuntime(LicenseStore.layerSqlite({ filename }))
      yield* first.runtime.setLease(cap, { leaseSeconds: LEASE_S, reviveSeconds: 3_600 })
      yield* first.runtime.acquire(cap, "runner-1")
      yield* first.runtime.acquire(cap, "runner-2")
      yield* TestClock.adjust(30_000)
      yield* first.runtime.heartbeat(cap, "runner-2")
      yield* first.stop
      // Down for ten minutes: both leases end meanwhile, at different times.
      yield* TestClock.adjust(600_000)
      const second = yield* startRuntime(LicenseStore.layerSqlite({ filename }), false)
      expect((yield* second.runtime.summary).caps[cap]).toMatchObject({ used: 0, lease: { leaseSeconds: 60, reviveSeconds: 3_600 } })
      expect(yield* statusOf(second.runtime, "runner-1")).toMatchObject({ status: "expired", culledAt: T0 + LEASE_MS })
      expect(yield* statusOf(second.runtime, "runner-2")).toMatchObject({ status: "expired", culledAt: T0 + 30_000 + LEASE_MS })
      expect((yield* second.store.listAudit({ limit: 10 })).filter((r) => r.action === "culled").map((r) => r.principal).sort()).toEqual(["runner-1", "runner-2"])
      // The Runner comes back within the revive window of its lease's end.
      expect(yield* second.runtime.heartbeat(cap, "runner-1")).toMatchObject({ revived: true, used: 1 })
      yield* second.stop
    }))

  it.scoped("a lease given in the runtime options is set at start, once", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const setting = Either.getOrThrow(Leases.validate(cap, { leaseSeconds: 120, reviveSeconds: 10 }))
      const filename = freshFile()
      const first = yield* startRuntime(LicenseStore.layerSqlite({ filename }), true, { leases: [setting] })
      expect((yield* first.runtime.summary).caps[cap].lease).toEqual({ leaseSeconds: 120, reviveSeconds: 10, since: T0 })
      yield* first.stop
      yield* TestClock.adjust(1_000)
      const second = yield* startRuntime(LicenseStore.layerSqlite({ filename }), false, { leases: [setting] })
      // Unchanged, so not written again: the lease still runs from the first start.
      expect((yield* second.runtime.summary).caps[cap].lease).toEqual({ leaseSeconds: 120, reviveSeconds: 10, since: T0 })
      yield* second.stop
    }))
})

// ---- the heartbeat/cull race ---------------------------------------------------------------------------------------

/** One call of the race, `offset` ms from the lease's end: a Runner's heartbeat, a newcomer's acquisition, or a cull. */
type Call =
  | { readonly kind: "heartbeat"; readonly who: number; readonly offset: number }
  | { readonly kind: "acquire"; readonly who: number; readonly offset: number }
  | { readonly kind: "cull"; readonly offset: number }

// Few instants, around the lease's end and the revive windows' ends, so calls often share one and race.
const offset = fc.constantFrom(-2, -1, 0, 1, 2, 5, 9, 10, 11, 29, 30, 31, 40).map((s) => s * 1000)
const who = fc.integer({ min: 0, max: 3 })
const runtimeCall: fc.Arbitrary<Call> = fc.oneof(
  fc.record({ kind: fc.constant("heartbeat" as const), who: fc.integer({ min: 0, max: 2 }), offset }),
  fc.record({ kind: fc.constant("acquire" as const), who, offset })
)
const storeCall: fc.Arbitrary<Call> = fc.oneof(
  { arbitrary: runtimeCall, weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("cull" as const), offset }), weight: 1 }
)
const runners = ["r0", "r1", "r2"]
const idOf = (c: Exclude<Call, { kind: "cull" }>) => (c.kind === "heartbeat" ? runners[c.who]! : `new-${c.who}`)

/** The calls grouped by instant, in time order. */
const instants = (calls: ReadonlyArray<Call>): ReadonlyArray<readonly [number, ReadonlyArray<Call>]> => {
  const byTime = new Map<number, Array<Call>>()
  for (const c of calls) byTime.set(c.offset, [...(byTime.get(c.offset) ?? []), c])
  return [...byTime].sort((a, b) => a[0] - b[0])
}

/**
 * What must hold after a race: at most the limit active, the count equal to the active records, no principal listed
 * twice; and each principal's answers at its last instant agree with where it ended: active if one of them succeeded,
 * else not (a principal that sent nothing is past its lease's end, so culled).
 */
const judge = (listed: ReadonlyArray<LicenseStore.LeasedPrincipal>, used: number, last: ReadonlyMap<string, ReadonlyArray<boolean>>) => {
  const active = new Set(listed.filter((p) => p.status === "active").map((p) => p.id))
  expect(active.size).toBeLessThanOrEqual(3)
  expect(used).toBe(active.size)
  expect(new Set(listed.map((p) => p.id)).size).toBe(listed.length)
  for (const [id, answers] of last) expect([id, active.has(id)]).toEqual([id, answers.some(Boolean)])
  for (const id of runners) if (!last.has(id)) expect([id, active.has(id)]).toEqual([id, false])
}

/**
 * On the runtime: three Runners admitted at T0 (the limit), lease 60 s, revive 0/10/30 s; calls land at whole seconds
 * around the lease's end, those of one instant concurrently, and the runtime's own cull timer fires at the end on the
 * way. Afterwards every answer, the runtime's memory (`check`, the summary) and the store agree.
 */
const runtimeRace = (reviveSeconds: number, calls: ReadonlyArray<Call>) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(T0)
    const { runtime, store: s, stop } = yield* startRuntime(LicenseStore.layerMemory)
    yield* runtime.setLease(cap, { leaseSeconds: LEASE_S, reviveSeconds })
    for (const id of runners) yield* runtime.acquire(cap, id)
    const last = new Map<string, ReadonlyArray<boolean>>()
    const groups = instants(calls)
    for (const [at, group] of groups) {
      yield* TestClock.setTime(T0 + LEASE_MS + at)
      const answers = yield* Effect.all(
        group.flatMap((c) =>
          c.kind === "cull"
            ? []
            : [Effect.map(c.kind === "heartbeat" ? answer(runtime.heartbeat(cap, idOf(c))) : answer(runtime.acquire(cap, idOf(c))), (a) => [idOf(c), a === "ok"] as const)]
        ),
        { concurrency: "unbounded" }
      )
      const here = new Map<string, Array<boolean>>()
      for (const [id, ok] of answers) here.set(id, [...(here.get(id) ?? []), ok])
      for (const [id, oks] of here) last.set(id, oks)
    }
    yield* TestClock.setTime(T0 + LEASE_MS + Math.max(0, groups.at(-1)?.[0] ?? 0))
    const listed = yield* s.listLeased(cap)
    judge(listed, (yield* runtime.summary).caps[cap].used, last)
    expect((yield* s.countActive)[cap]).toBe((yield* runtime.summary).caps[cap].used)
    for (const p of listed) expect([p.id, checkOf(runtime, p.id)]).toEqual([p.id, p.status === "active" ? "allowed" : "PRINCIPAL_NOT_ADMITTED"])
    yield* stop
  })

/**
 * On the SQLite store itself, whose transactions interleave for real: the same calls, culls among them, each instant's
 * calls fired at once (as nodes would), decided by the store's transactions alone.
 */
const storeRace = (reviveSeconds: number, calls: ReadonlyArray<Call>) =>
  Effect.gen(function* () {
    const s = yield* LicenseStore.makeSqlite({ filename: freshFile() })
    yield* s.setCapLease(cap, { leaseSeconds: LEASE_S, reviveSeconds }, T0)
    for (const id of runners) yield* s.admit(cap, id, null, 3, T0)
    const last = new Map<string, ReadonlyArray<boolean>>()
    const groups = instants(calls)
    for (const [at, group] of groups) {
      const now = T0 + LEASE_MS + at
      const answers = yield* Effect.all(
        group.map((c) =>
          c.kind === "cull"
            ? Effect.as(s.cull(cap, now), null)
            : c.kind === "heartbeat"
              ? Effect.map(s.heartbeat(cap, idOf(c), 3, now), (o) => [idOf(c), o._tag === "Renewed" || o._tag === "Revived"] as const)
              : Effect.map(s.admit(cap, idOf(c), null, 3, now), (o) => [idOf(c), o._tag !== "Full"] as const)
        ),
        { concurrency: "unbounded" }
      )
      const here = new Map<string, Array<boolean>>()
      for (const a of answers) if (a !== null) here.set(a[0], [...(here.get(a[0]) ?? []), a[1]])
      for (const [id, oks] of here) last.set(id, oks)
    }
    yield* s.cull(cap, T0 + LEASE_MS + Math.max(0, groups.at(-1)?.[0] ?? 0))
    judge(yield* s.listLeased(cap), (yield* s.countActive)[cap], last)
  })

describe("leases under a heartbeat/cull race (fast-check)", () => {
  it.effect("on the runtime: answers, memory and store agree; never above the limit, never counted twice", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.constantFrom(0, 10, 30), fc.array(runtimeCall, { minLength: 1, maxLength: 16 }), (revive, calls) =>
          Effect.runPromise(Effect.scoped(runtimeRace(revive, calls)).pipe(Effect.provide(TestContext.TestContext)))
        ),
        { numRuns: 60 }
      )
    ), 120_000)

  it.effect("on the SQLite store's transactions: the same", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.constantFrom(0, 10, 30), fc.array(storeCall, { minLength: 1, maxLength: 20 }), (revive, calls) =>
          Effect.runPromise(Effect.scoped(storeRace(revive, calls)))
        ),
        { numRuns: 60 }
      )
    ), 120_000)
})

// ---- a cluster: only the leader culls ---------------------------------------------------------------------------

const NODE_LEASE_MS = 10_000

/** A node over the shared store whose culls are counted. */
const startNode = (store: LicenseStore.Store, id: string, culls: Ref.Ref<ReadonlyArray<string>>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const counted: LicenseStore.Store = {
      ...store,
      nodeId: id,
      cull: (c, now) => Effect.zipRight(Ref.update(culls, (all) => [...all, id]), store.cull(c, now))
    }
    const storeLayer = Layer.succeed(LicenseStore.LicenseStore, counted)
    const clusterLayer = Cluster.layer({ version: "test", leaseMs: NODE_LEASE_MS }).pipe(Layer.provideMerge(storeLayer))
    const live = runtimeLayer(clusterLayer, yield* portal).pipe(Layer.provideMerge(clusterLayer))
    const context = yield* Layer.buildWithScope(ChangeFeed.layer({ pollMs: 100 }).pipe(Layer.provideMerge(live)), scope)
    return { runtime: Context.get(context, LicenseRuntime.LicenseRuntime), cluster: Context.get(context, Cluster.Cluster), stop: Scope.close(scope, Exit.void) }
  })

describe("leases in a cluster", () => {
  it.scoped("only the leader culls; the follower learns of the cull through the change feed; a new leader takes culling over", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const store = yield* LicenseStore.makeMemory
      const culls = yield* Ref.make<ReadonlyArray<string>>([])
      const a = yield* startNode(store, "node_a", culls)
      const b = yield* startNode(store, "node_b", culls)
      yield* a.runtime.activate({ license: licenseFile(), email: "admin@acme.example", password })
      yield* TestClock.adjust(100)
      expect(yield* a.cluster.isLeader).toBe(true)
      // Set on the follower, admitted on the follower: the leader learns both through the feed.
      yield* b.runtime.setLease(cap, { leaseSeconds: LEASE_S })
      yield* b.runtime.acquire(cap, "runner-1")
      yield* TestClock.adjust(100)
      expect((yield* a.runtime.summary).caps[cap].lease).toMatchObject({ leaseSeconds: 60 })
      const followerEvents = yield* Effect.forkScoped(Stream.runCollect(Stream.take(Stream.filter(b.runtime.events, (e) => e._tag === "PrincipalCulled"), 1)))
      yield* Ref.set(culls, [])
      yield* TestClock.setTime(T0 + 100 + LEASE_MS)
      expect(checkOf(a.runtime, "runner-1")).toBe("PRINCIPAL_NOT_ADMITTED")
      yield* TestClock.adjust(100)
      expect(checkOf(b.runtime, "runner-1")).toBe("PRINCIPAL_NOT_ADMITTED")
      expect((yield* b.runtime.summary).caps[cap].used).toBe(0)
      expect(Chunk.toReadonlyArray(yield* Fiber.join(followerEvents))).toMatchObject([{ _tag: "PrincipalCulled", id: "runner-1" }])
      expect(new Set(yield* Ref.get(culls))).toEqual(new Set(["node_a"]))
      // The leader stops; the follower takes over and culls from then on.
      yield* b.runtime.acquire(cap, "runner-2")
      yield* a.stop
      yield* TestClock.adjust(NODE_LEASE_MS / 5)
      expect(yield* b.cluster.isLeader).toBe(true)
      yield* Ref.set(culls, [])
      yield* TestClock.adjust(LEASE_MS)
      expect(checkOf(b.runtime, "runner-2")).toBe("PRINCIPAL_NOT_ADMITTED")
      expect(new Set(yield* Ref.get(culls))).toEqual(new Set(["node_b"]))
      yield* b.stop
    }))
})
