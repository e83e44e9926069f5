/** ChangeFeed: follow the store's change log in sequence order and hand each page to the runtime to apply. */
import { LicenseStore } from "@exekra/core"
import { Duration, Effect, Layer, Queue, Stream } from "effect"
import { LicenseRuntime } from "../LicenseRuntime.js"
import { Cluster } from "./Cluster.js"

/** Tuning of the feed. */
export interface Options {
  /**
   * Longest wait between two reads of the change log when no wake-up arrives (default 500 ms): bounds staleness
   * when a notification is lost, and how soon a node notices the store is back.
   */
  readonly pollMs?: number | undefined
  /** Most changes read at once (default 1,000). */
  readonly pageSize?: number | undefined
}

/**
 * Follow the change log from `after`: on every wake-up of the store (and at least every `pollMs`) read the changes
 * after the last applied one and `apply` them, page by page, in order. A failed read or apply is retried at the next
 * wake-up from the same place, so a node cut off from the store catches up when it returns. Never ends.
 */
export const follow = (
  store: LicenseStore.LicenseStore.Service,
  after: number,
  apply: (page: LicenseStore.ChangePage) => Effect.Effect<void, LicenseStore.StoreError>,
  applied: (seq: number) => Effect.Effect<void>,
  options: Options = {}
): Effect.Effect<never, never, import("effect/Scope").Scope> =>
  Effect.gen(function* () {
    const pollMs = options.pollMs ?? 500
    const pageSize = options.pageSize ?? 1000
    const wake = yield* Queue.sliding<void>(1)
    yield* Effect.forkScoped(Stream.runForEach(store.wakeups, () => Queue.offer(wake, undefined)))
    let last = after
    let failing = false

    const catchUp = Effect.gen(function* () {
      while (true) {
        const page = yield* store.changesSince(last, pageSize)
        if (!page.gap && page.changes.length === 0) return
        yield* apply(page)
        // A gap was applied by reading everything again: continue after the newest change there is.
        last = page.changes.at(-1)?.seq ?? (yield* store.latestSeq)
        yield* applied(last)
        if (page.changes.length < pageSize) return
      }
    })

    return yield* Effect.forever(
      Effect.gen(function* () {
        yield* Effect.raceFirst(Queue.take(wake), Effect.sleep(Duration.millis(pollMs)))
        yield* catchUp.pipe(
          Effect.tap(() =>
            failing ? Effect.zipRight(Effect.logInfo(`Caught up with the store at change ${last}`), Effect.sync(() => void (failing = false))) : Effect.void
          ),
          Effect.catchAll((error) =>
            failing
              ? Effect.void
              : Effect.zipRight(
                  Effect.logWarning(`Cannot follow the store's changes (retrying): ${error.message}`),
                  Effect.sync(() => void (failing = true))
                )
          )
        )
      })
    )
  })

/** Keep the runtime in step with the other nodes for as long as the layer lives. */
export const layer = (options: Options = {}): Layer.Layer<never, never, LicenseStore.LicenseStore | LicenseRuntime | Cluster> =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const store = yield* LicenseStore.LicenseStore
      const runtime = yield* LicenseRuntime
      const cluster = yield* Cluster
      yield* Effect.forkScoped(follow(store, yield* cluster.appliedSeq, runtime.sync, cluster.applied, options))
    })
  )
