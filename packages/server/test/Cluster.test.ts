// Several runtimes on one store under TestClock: the leader lease, takeover after a leader dies, one pinger, and the change feed.
import { describe, expect, it } from "@effect/vitest"
import { LicenseStore, type PortalClient } from "@exekra/core"
import { ChangeFeed, Cluster, LicenseRuntime } from "@exekra/server"
import { Context, Effect, Exit, Layer, Ref, Scope, TestClock } from "effect"
import { at, licenseFile, password, runtimeLayer, scriptedPortal } from "./fixtures.js"

const LEASE_MS = 10_000
const PORTAL = "http://127.0.0.1:9/portal"

/** One shared store seen as node `id`; `mortal` nodes never give their lease back, as a SIGKILLed process would not. */
const asNode = (store: LicenseStore.Store, id: string, mortal = false): LicenseStore.Store => ({
  ...store,
  nodeId: id,
  releaseLease: mortal ? () => Effect.void : store.releaseLease
})

interface Node {
  readonly cluster: Cluster.Cluster.Service
  readonly runtime: LicenseRuntime.LicenseRuntime.Service
  /** Stop the node: its scope closes (a mortal node keeps its lease until it runs out). */
  readonly stop: Effect.Effect<void>
}

/** Start a node in a scope of its own: cluster, runtime and change feed over the shared store, as Hub.services wires them. */
const startNode = (
  store: LicenseStore.Store,
  id: string,
  portal: Layer.Layer<PortalClient.PortalClient>,
  mortal = false,
  timing: { readonly leaseMs: number; readonly pollMs: number } = { leaseMs: LEASE_MS, pollMs: 100 }
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const storeLayer = Layer.succeed(LicenseStore.LicenseStore, asNode(store, id, mortal))
    const clusterLayer = Cluster.layer({ version: "test", leaseMs: timing.leaseMs }).pipe(Layer.provideMerge(storeLayer))
    const live = runtimeLayer(clusterLayer, portal, PORTAL).pipe(Layer.provideMerge(clusterLayer))
    const layer = ChangeFeed.layer({ pollMs: timing.pollMs }).pipe(Layer.provideMerge(live))
    const context = yield* Layer.buildWithScope(layer, scope)
    return {
      cluster: Context.get(context, Cluster.Cluster),
      runtime: Context.get(context, LicenseRuntime.LicenseRuntime),
      stop: Scope.close(scope, Exit.void)
    } satisfies Node
  })

const setup = Effect.gen(function* () {
  yield* TestClock.setTime(at("2027-01-02T00:00:00Z"))
  const store = yield* LicenseStore.makeMemory
  const up = yield* Ref.make<"up" | "down">("up")
  const pings = yield* Ref.make<ReadonlyArray<PortalClient.ValidationRequest>>([])
  return { store, pings, portal: scriptedPortal(up, pings) }
})

describe("Cluster", () => {
  it.scoped("the first node takes the leader lease; the second follows; a node that stops hands the lease over at once", () =>
    Effect.gen(function* () {
      const { store, portal } = yield* setup
      const a = yield* startNode(store, "node_a", portal)
      const b = yield* startNode(store, "node_b", portal)
      expect(yield* a.cluster.isLeader).toBe(true)
      expect(yield* b.cluster.isLeader).toBe(false)
      const status = yield* b.cluster.status
      expect(status.nodes.map((n) => [n.id, n.leader, n.self])).toEqual([
        ["node_a", true, false],
        ["node_b", false, true]
      ])
      yield* a.stop
      // B renews every fifth of the lease: it finds the lease given back at its next renewal.
      yield* TestClock.adjust(LEASE_MS / 5)
      expect(yield* b.cluster.isLeader).toBe(true)
      yield* b.stop
    }))

  it.scoped("a leader that dies keeps no one leading past its lease: another node takes over within one lease period and one renewal", () =>
    Effect.gen(function* () {
      const { store, portal } = yield* setup
      const a = yield* startNode(store, "node_a", portal, true)
      const b = yield* startNode(store, "node_b", portal)
      yield* a.stop
      yield* TestClock.adjust(LEASE_MS - 1)
      expect(yield* b.cluster.isLeader).toBe(false)
      yield* TestClock.adjust(LEASE_MS / 5 + 1)
      expect(yield* b.cluster.isLeader).toBe(true)
      yield* b.stop
    }))

  it.scoped("only the leader pings the Portal; after it dies, exactly one other node pings", () =>
    Effect.gen(function* () {
      const { store, portal, pings } = yield* setup
      // Over simulated days the TestClock runs every renewal and poll on the way: an hour's lease keeps that small.
      const timing = { leaseMs: 3_600_000, pollMs: 600_000 }
      const a = yield* startNode(store, "node_a", portal, true, timing)
      const b = yield* startNode(store, "node_b", portal, false, timing)
      const c = yield* startNode(store, "node_c", portal, false, timing)
      yield* a.runtime.activate({ license: licenseFile({ validation: { required: true, intervalHours: 24, portalUrl: PORTAL } }), email: "admin@acme.example", password })
      // Followers see the activation through the change feed.
      yield* TestClock.adjust(timing.pollMs)
      expect(yield* b.runtime.isActivated).toBe(true)
      expect(yield* c.runtime.isActivated).toBe(true)
      const pingsAfter = (hours: number) => Effect.zipRight(TestClock.adjust(hours * 3_600_000), Effect.map(Ref.get(pings), (p) => p.length))
      const afterFirst = yield* pingsAfter(0)
      // A day on: one ping in the whole Hub, not one per node.
      expect((yield* pingsAfter(24)) - afterFirst).toBe(1)
      yield* a.stop
      yield* TestClock.adjust(timing.leaseMs + timing.leaseMs / 5)
      const leaders = [yield* b.cluster.isLeader, yield* c.cluster.isLeader]
      expect(leaders.filter(Boolean)).toHaveLength(1)
      const before = (yield* Ref.get(pings)).length
      expect((yield* pingsAfter(24)) - before).toBe(1)
      // The followers share the leader's posture.
      const [pb, pc] = [yield* b.runtime.summary, yield* c.runtime.summary]
      expect(pb.validation?.lastSuccessAt).toBe(pc.validation?.lastSuccessAt)
      expect(pb.validation?.lastSuccessAt).not.toBeNull()
      yield* b.stop
      yield* c.stop
    }))

  it.scoped("the change feed brings releases, admissions and renewals made on one node to another's check and summary", () =>
    Effect.gen(function* () {
      const { store, portal } = yield* setup
      const a = yield* startNode(store, "node_a", portal)
      const b = yield* startNode(store, "node_b", portal)
      yield* a.runtime.activate({ license: licenseFile(), email: "admin@acme.example", password })
      yield* a.runtime.acquire("unattended", "runner-1")
      yield* TestClock.adjust(200)
      expect(b.runtime.check("unattended", "runner-1")._tag).toBe("Right")
      yield* a.runtime.release("unattended", "runner-1")
      yield* b.runtime.acquire("developer", "dev-1")
      yield* TestClock.adjust(200)
      expect(b.runtime.check("unattended", "runner-1")._tag).toBe("Left")
      expect(a.runtime.check("developer", "dev-1")._tag).toBe("Right")
      expect((yield* a.runtime.summary).caps.developer.used).toBe(1)
      yield* b.runtime.install(licenseFile({ issuedAt: "2027-01-02T00:00:00Z", caps: { unattended: { limit: 9, expiresAt: "2028-01-01T00:00:00Z" } } }))
      yield* TestClock.adjust(200)
      expect((yield* a.runtime.summary).caps.unattended.limit).toBe(9)
      yield* a.stop
      yield* b.stop
    }))

  it.scoped("a node behind a pruned log reads everything again", () =>
    Effect.gen(function* () {
      const { store, portal } = yield* setup
      const a = yield* startNode(store, "node_a", portal)
      const b = yield* startNode(store, "node_b", portal)
      yield* a.runtime.activate({ license: licenseFile(), email: "admin@acme.example", password })
      yield* TestClock.adjust(200)
      // B misses these changes: they are pruned before its feed reads them.
      yield* a.runtime.acquire("attended", "ann")
      yield* store.pruneChanges(yield* store.latestSeq)
      yield* TestClock.adjust(200)
      expect(b.runtime.check("attended", "ann")._tag).toBe("Right")
      expect((yield* b.runtime.summary).caps.attended.used).toBe(1)
      yield* a.stop
      yield* b.stop
    }))
})
