/** Cluster service: this node's identity among the nodes sharing one store, the leader lease and the node list. */
import { LicenseStore } from "@exekra/core"
import { Clock, Context, Duration, Effect, Layer, Option, Schedule, SubscriptionRef, type Stream } from "effect"

/** Name of the lease whose holder pings the Portal and runs the Hub's housekeeping. */
export const LEADER_LEASE = "leader"

/** How long a leader's lease lasts without renewal: a dead leader is replaced within this (plus one renewal). */
export const DEFAULT_LEASE_MS = 10_000

/**
 * Changes the leader keeps in the log. A node further behind than this (cut off for long) is told of the gap and
 * reads everything again instead.
 */
export const KEEP_CHANGES = 10_000

/** How often the leader prunes the change log, in lease periods (a minute at the default lease). */
const PRUNE_EVERY_LEASES = 6

/** Tuning of the lease and of the node reports. */
export interface Options {
  /** Software version this node reports. */
  readonly version: string
  /** Lease period (default {@link DEFAULT_LEASE_MS}); the lease is renewed and the node reported every fifth of it. */
  readonly leaseMs?: number | undefined
}

/** One node as `GET /api/cluster` lists it. */
export interface NodeStatus extends LicenseStore.NodeRecord {
  readonly leader: boolean
  /** This node is the one answering. */
  readonly self: boolean
}

/** The cluster as `GET /api/cluster` returns it. */
export interface ClusterStatus {
  readonly node: string
  readonly store: LicenseStore.LicenseStore.Service["engine"]
  /** The highest change sequence in the store. */
  readonly seq: number
  readonly nodes: ReadonlyArray<NodeStatus>
}

/** This node's place in the cluster. */
export class Cluster extends Context.Tag("@exekra/server/Cluster")<Cluster, Cluster.Service>() {}

export declare namespace Cluster {
  /** The service's interface. */
  export interface Service {
    readonly nodeId: string
    /** Whether this node held the leader lease at its last renewal (and the lease has not run out since). */
    readonly isLeader: Effect.Effect<boolean>
    /** Leadership as it changes, starting with the current value. */
    readonly leadership: Stream.Stream<boolean>
    /** Record the last change sequence this node applied; reported with the next renewal. */
    readonly applied: (seq: number) => Effect.Effect<void>
    readonly appliedSeq: Effect.Effect<number>
    /** Every node seen within three lease periods, the leader marked. */
    readonly status: Effect.Effect<ClusterStatus, LicenseStore.StoreError>
  }
}

/** Join the cluster: report this node, take the leader lease when it is free, give it up on shutdown. */
export const make = (options: Options) =>
  Effect.gen(function* () {
    const store = yield* LicenseStore.LicenseStore
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS
    const nodeId = store.nodeId
    const startedAt = yield* Clock.currentTimeMillis
    const leader = yield* SubscriptionRef.make(false)
    // The lease's end as this node last claimed it: past it, this node is no longer leader even if the store is away.
    let leaseEnd = 0
    let appliedSeq = yield* store.latestSeq
    let unreachable = false
    let starting = true

    const renew = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const claimed = yield* store.claimLease(LEADER_LEASE, nodeId, now, leaseMs)
      if (claimed) leaseEnd = now + leaseMs
      yield* store.touchNode({ id: nodeId, version: options.version, startedAt, lastSeenAt: now, appliedSeq })
      if (unreachable) yield* Effect.logInfo("The store answers again")
      unreachable = false
      return claimed
    }).pipe(
      Effect.catchAll((error) =>
        Effect.gen(function* () {
          if (!unreachable) yield* Effect.logWarning(`Cannot renew this node's lease: ${error.message}`)
          unreachable = true
          // Still leader until the lease it holds runs out: no other node can take it before then either.
          return (yield* Clock.currentTimeMillis) < leaseEnd
        })
      ),
      Effect.flatMap((isLeader) =>
        SubscriptionRef.modify(leader, (was) => [was !== isLeader, isLeader] as const).pipe(
          Effect.tap((changed) => {
            if (!changed) return Effect.void
            // Taking the lead at start is the normal case of a single node; a change later is worth an operator's eye.
            const log = starting ? Effect.logDebug : Effect.logInfo
            return log(isLeader ? "This node is now the leader" : "This node is no longer the leader")
          }),
          Effect.ensuring(Effect.sync(() => void (starting = false)))
        )
      )
    )

    // Claim once before anything else starts, so a single node is leader from its first moment.
    yield* renew
    yield* Effect.forkScoped(Effect.repeat(renew, Schedule.spaced(Duration.millis(Math.max(1, Math.floor(leaseMs / 5))))))
    const prune = Effect.gen(function* () {
      if (!(yield* SubscriptionRef.get(leader))) return
      const latest = yield* store.latestSeq
      if (latest > KEEP_CHANGES) yield* store.pruneChanges(latest - KEEP_CHANGES)
    }).pipe(Effect.catchAll((e) => Effect.logWarning(`Could not prune the change log: ${e.message}`)))
    yield* Effect.forkScoped(Effect.repeat(prune, Schedule.spaced(Duration.millis(leaseMs * PRUNE_EVERY_LEASES))))
    yield* Effect.addFinalizer(() =>
      Effect.catchAll(store.releaseLease(LEADER_LEASE, nodeId), (e) => Effect.logWarning(`Could not give up the leader lease: ${e.message}`))
    )

    const isLeader = Effect.flatMap(SubscriptionRef.get(leader), (held) =>
      held ? Effect.map(Clock.currentTimeMillis, (now) => now < leaseEnd) : Effect.succeed(false)
    )

    const status: Cluster.Service["status"] = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const holder = yield* store.leaseHolder(LEADER_LEASE)
      const current = Option.filter(holder, (h) => h.until > now)
      const nodes = yield* store.listNodes(now - 3 * leaseMs)
      return {
        node: nodeId,
        store: store.engine,
        seq: yield* store.latestSeq,
        nodes: nodes.map((n) => ({
          ...n,
          ...(n.id === nodeId ? { appliedSeq } : {}),
          leader: Option.isSome(current) && current.value.holder === n.id,
          self: n.id === nodeId
        }))
      }
    })

    return Cluster.of({
      nodeId,
      isLeader,
      leadership: leader.changes,
      applied: (seq) => Effect.sync(() => void (appliedSeq = Math.max(appliedSeq, seq))),
      appliedSeq: Effect.sync(() => appliedSeq),
      status
    })
  })

/** The service as a scoped layer over the store: the lease is renewed until the scope closes. */
export const layer = (options: Options): Layer.Layer<Cluster, LicenseStore.StoreError, LicenseStore.LicenseStore> =>
  Layer.scoped(Cluster, make(options))
