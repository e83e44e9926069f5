// The runtime under a clock that is set back, jumps forward, or disagrees with the Portal: no license is ever extended, honest skew raises no alarm.
import { copyFileSync, existsSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Installation, Keyring, Keys, LicenseStore, PortalClient, Signer, Verifier } from "@exekra/core"
import { LicenseRuntime } from "@exekra/server"
import { Clock, Effect, Either, Layer, type Scope, Stream, TestClock } from "effect"
import { tempDir } from "./support/badHub.js"

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const YEAR = 365 * DAY
const T0 = Date.parse("2026-01-01T00:00:00Z")
const EXPIRES = Date.parse("2026-07-01T00:00:00Z")
const WARN = EXPIRES - 30 * DAY
const GRACE_END = EXPIRES + 14 * DAY
const EMAIL = "clock@time.example"
const PASSWORD = "a sturdy timing passphrase 3"

const vendor = Keys.privateKeyFromSeed(new Uint8Array(32).fill(0x43))
const license = (over: Partial<Signer.Issuable> = {}) =>
  Signer.sign(
    {
      licenseId: "lic_clock",
      type: "production",
      issuedTo: { name: "Clock Corp", email: EMAIL },
      issuedAt: "2025-12-01T00:00:00Z",
      caps: {
        unattended: { limit: 3, expiresAt: "2026-07-01T00:00:00Z" },
        attended: { limit: 3, expiresAt: "2026-10-01T00:00:00Z" }
      },
      expiryWarningDays: 30,
      gracePeriodDays: 14,
      validation: { required: false, intervalHours: 24 },
      ...over
    },
    vendor
  )

type Runtime = LicenseRuntime.LicenseRuntime.Service

/** A Portal double that answers at once: valid, with its serverTime this far from the Hub's clock. */
const portalAhead = (leadMs: () => number) =>
  Layer.succeed(
    PortalClient.PortalClient,
    PortalClient.PortalClient.of({
      validate: () => Effect.map(Clock.currentTimeMillis, (now) => ({ status: "valid" as const, serverTime: new Date(now + leadMs()) }))
    })
  )

/**
 * The runtime over a store, with the Portal double (no Portal URL unless given: validation then never pings). The
 * heartbeat beats yearly unless a test is about it: the TestClock runs every beat on the way, a few ms each.
 */
const runtimeLayer = (
  store: Layer.Layer<LicenseStore.LicenseStore, LicenseStore.StoreError>,
  options: { readonly portalUrl?: string; readonly leadMs?: () => number; readonly heartbeatMs?: number } = {}
) =>
  LicenseRuntime.layer({ version: "test", portalUrl: options.portalUrl, heartbeatMs: options.heartbeatMs ?? YEAR }).pipe(
    Layer.provide(Layer.mergeAll(Verifier.layerNodeCrypto(Keyring.make([vendor.publicKey])), portalAhead(options.leadMs ?? (() => 0)), Installation.layer)),
    Layer.provide(store)
  )

/** Run `body` with a runtime that stops (a clean shutdown) when it ends. */
const withRuntime = <A, E>(layer: Layer.Layer<LicenseRuntime.LicenseRuntime, LicenseStore.StoreError>, body: (runtime: Runtime) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.scoped(Effect.flatMap(LicenseRuntime.LicenseRuntime, body).pipe(Effect.provide(layer)))

const activate = (runtime: Runtime) => runtime.activate({ license: license(), email: EMAIL, password: PASSWORD })

/** Move the TestClock forward to `t`; every timer due on the way fires at its instant. */
const moveTo = (t: number) => Effect.flatMap(TestClock.currentTimeMillis, (now) => TestClock.adjust(t - now))

/**
 * `moveTo` for a runtime on SQLite: its writes are real I/O, during which the TestClock runs on, so a tick may end
 * after the move and arm the next timer late. Let the timers catch up until two readings of the summary agree.
 */
const moveToOnDisk = (runtime: Runtime, t: number) =>
  Effect.gen(function* () {
    yield* moveTo(t)
    let previous = ""
    for (;;) {
      yield* TestClock.adjust(0)
      const summary = yield* runtime.summary
      const current = JSON.stringify(summary)
      // Caught up: no cap has a change due at or before now, and nothing moved since the last reading.
      const overdue = Object.values(summary.caps).some((c) => c.nextChangeAt !== null && c.nextChangeAt <= t)
      if (!overdue && current === previous) return
      previous = current
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 10)))
    }
  })

const order = ["unactivated", "active", "renewed", "expiring", "grace", "limited"] as const
const rank = (state: string) => order.indexOf(state as (typeof order)[number])

/** Everything that reads the clock: a moment for the timers, an acquisition on another cap, and a summary. */
const observeEverything = (runtime: Runtime) =>
  Effect.gen(function* () {
    yield* TestClock.adjust(0)
    yield* Effect.either(runtime.acquire("attended", "probe"))
    return yield* runtime.summary
  })

describe("clock set back", () => {
  const from = [
    ["expiring", WARN + DAY],
    ["grace", EXPIRES + DAY],
    ["limited", GRACE_END + DAY]
  ] as const
  for (const [state, at] of from) {
    it.scoped(`from ${state}: set back by minutes, days and years, the cap never returns to an earlier state and is not extended`, () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(T0)
        yield* withRuntime(runtimeLayer(LicenseStore.layerMemory), (runtime) =>
          Effect.gen(function* () {
            yield* activate(runtime)
            yield* moveTo(at)
            expect((yield* runtime.summary).caps.unattended.state).toBe(state)
            for (const back of [5 * MINUTE, 3 * DAY, 5 * YEAR]) {
              yield* TestClock.setTime(at - back)
              const summary = yield* observeEverything(runtime)
              // The License page reports how far the clock went back: "clock moved back".
              expect(summary.clock).toEqual({ now: at - back, highWater: at, skewMs: back })
              expect({ back, state: summary.caps.unattended.state }).toEqual({ back, state })
              // Admission follows the state it kept: limited still refuses.
              const attempt = yield* Effect.either(runtime.acquire("unattended", "after"))
              expect(Either.isLeft(attempt) ? attempt.left.code : "admitted").toBe(state === "limited" ? "CAP_LIMITED" : "admitted")
            }
            // Time running on from five years back: nothing earlier shows, and each instant still comes when due.
            for (const t of [at - 5 * YEAR + DAY, at - DAY, at]) {
              yield* moveTo(t)
              expect(rank((yield* observeEverything(runtime)).caps.unattended.state)).toBeGreaterThanOrEqual(rank(state))
            }
            if (at < GRACE_END) yield* moveTo(GRACE_END)
            expect((yield* runtime.summary).caps.unattended).toMatchObject({ state: "limited", limitedSince: GRACE_END })
          })
        )
      }), 60_000)
  }
})

describe("clock jumps forward", () => {
  it.scoped("a jump over several deadlines: each cap lands in its state with the exact instants, through every state in order", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      yield* withRuntime(runtimeLayer(LicenseStore.layerMemory), (runtime) =>
        Effect.gen(function* () {
          yield* activate(runtime)
          const changes: Array<string> = []
          yield* Effect.forkScoped(
            Stream.runForEach(runtime.events, (e) => Effect.sync(() => (e._tag === "CapStateChanged" ? changes.push(`${e.cap}:${e.to}`) : undefined)))
          )
          yield* TestClock.adjust(0)
          // From active straight past the unattended cap's grace and into the attended cap's warning window.
          const target = Date.parse("2026-09-10T00:00:00Z")
          yield* TestClock.setTime(target)
          const summary = yield* runtime.summary
          expect(summary.caps.unattended).toMatchObject({ state: "limited", limitedSince: GRACE_END })
          expect(summary.caps.attended.state).toBe("expiring")
          expect(changes.filter((c) => c.startsWith("unattended"))).toEqual(["unattended:expiring", "unattended:grace", "unattended:limited"])
          expect(summary.clock).toEqual({ now: target, highWater: target, skewMs: 0 })
        })
      )
    }))

  it.scoped("a restart after the clock jumped catches up at once", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("exekra-clock-")
      const store = () => LicenseStore.layerSqlite({ filename: join(dir, "hub.sqlite") })
      yield* TestClock.setTime(T0)
      yield* withRuntime(runtimeLayer(store()), activate)
      yield* TestClock.setTime(GRACE_END + YEAR)
      yield* withRuntime(runtimeLayer(store()), (runtime) =>
        Effect.gen(function* () {
          const summary = yield* runtime.summary
          expect(summary.caps.unattended).toMatchObject({ state: "limited", limitedSince: GRACE_END })
          expect(summary.caps.attended.state).toBe("limited")
          expect(yield* Effect.flip(runtime.acquire("attended", "late"))).toMatchObject({ code: "CAP_LIMITED" })
        })
      )
    }))

  /**
   * A clock as Date.now() and setTimeout behave: the wall time is the TestClock plus an offset (moved by a jump),
   * while sleeps stay on the TestClock, monotonic. The cap timers, armed from the wall time, sleep past a jump.
   */
  const jumpingWallClock = Effect.gen(function* () {
    const test = yield* TestClock.testClock()
    const offset = { ms: 0 }
    const wall: Clock.Clock = {
      [Clock.ClockTypeId]: Clock.ClockTypeId,
      unsafeCurrentTimeMillis: () => test.unsafeCurrentTimeMillis() + offset.ms,
      unsafeCurrentTimeNanos: () => BigInt(test.unsafeCurrentTimeMillis() + offset.ms) * 1_000_000n,
      currentTimeMillis: Effect.sync(() => test.unsafeCurrentTimeMillis() + offset.ms),
      currentTimeNanos: Effect.sync(() => BigInt(test.unsafeCurrentTimeMillis() + offset.ms) * 1_000_000n),
      sleep: (duration) => test.sleep(duration)
    }
    return { test, offset, wall }
  })

  // Nothing but `check` is asked: the hourly heartbeat notices the jump.
  it.scoped("a wall-clock jump past expiry and grace is noticed within the hour, while timers sleep in monotonic time", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const { test, offset, wall } = yield* jumpingWallClock
      yield* withRuntime(runtimeLayer(LicenseStore.layerMemory, { heartbeatMs: HOUR }), (runtime) =>
        Effect.gen(function* () {
          yield* activate(runtime)
          yield* runtime.acquire("unattended", "r1")
          // The timers are armed (sleeping until the warning, five months of monotonic time) before the jump.
          yield* test.adjust(0)
          expect((yield* runtime.summary).caps.unattended.nextChangeAt).toBe(WARN)
          // The wall clock jumps past the unattended cap's expiry and grace; monotonic time goes on by an hour.
          offset.ms = GRACE_END + DAY - T0
          // TestClock.adjust would find `wall` as the clock: adjust the TestClock itself.
          yield* test.adjust(HOUR)
          // The summary only reads the state: the heartbeat is what moved it.
          expect((yield* runtime.summary).caps.unattended).toMatchObject({ state: "limited", limitedSince: GRACE_END })
          expect(yield* Effect.flip(runtime.acquire("unattended", "r2"))).toMatchObject({ code: "CAP_LIMITED" })
        })
      ).pipe(Effect.withClock(wall))
    }))

  // An acquisition reads the clock: it catches up at once, whatever the heartbeat.
  it.scoped("after a wall-clock jump, the next acquisition decides in the new state without waiting for a timer", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const { offset, test, wall } = yield* jumpingWallClock
      yield* withRuntime(runtimeLayer(LicenseStore.layerMemory), (runtime) =>
        Effect.gen(function* () {
          yield* activate(runtime)
          yield* test.adjust(0)
          offset.ms = EXPIRES + DAY - T0
          const admitted = yield* runtime.acquire("unattended", "in-grace")
          expect(admitted.created).toBe(true)
          expect((yield* runtime.summary).caps.unattended).toMatchObject({ state: "grace", reason: "expired" })
          offset.ms = GRACE_END + DAY - T0
          expect(yield* Effect.flip(runtime.acquire("unattended", "too-late"))).toMatchObject({ code: "CAP_LIMITED" })
          expect((yield* runtime.summary).caps.unattended).toMatchObject({ state: "limited", limitedSince: GRACE_END })
        })
      ).pipe(Effect.withClock(wall))
    }))
})

describe("the Portal's clock", () => {
  it.scoped("ahead of the local clock by a few hours: no alarm, no state change, the skew reported", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const lead = { ms: 0 }
      yield* withRuntime(runtimeLayer(LicenseStore.layerMemory, { portalUrl: "http://portal.invalid", leadMs: () => lead.ms }), (runtime) =>
        Effect.gen(function* () {
          yield* activate(runtime)
          yield* TestClock.adjust(0)
          const changes: Array<string> = []
          yield* Effect.forkScoped(Stream.runForEach(runtime.events, (e) => Effect.sync(() => (e._tag === "CapStateChanged" ? changes.push(e.to) : undefined))))
          yield* moveTo(T0 + 10 * DAY)
          lead.ms = 3 * HOUR
          yield* runtime.validateNow
          yield* TestClock.adjust(0)
          const summary = yield* runtime.summary
          expect(summary.validation).toMatchObject({ lastStatus: "valid", failingSince: null, lastSuccessAt: T0 + 10 * DAY })
          expect(summary.clock).toEqual({ now: T0 + 10 * DAY, highWater: T0 + 10 * DAY + 3 * HOUR, skewMs: 3 * HOUR })
          expect(Object.values(summary.caps).map((c) => c.state)).toEqual(["active", "unactivated", "active"])
          expect(changes).toEqual([])
          // The daily pings go on with the same lead: the skew stays a few hours, it does not accumulate.
          yield* moveTo(T0 + 20 * DAY)
          expect((yield* runtime.summary).clock.skewMs).toBe(3 * HOUR)
        })
      )
    }))
})

describe("restart with the clock set back (SQLite)", () => {
  it.scoped("after the cap went limited, a restart years back is still limited and refuses", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("exekra-clock-")
      const store = () => LicenseStore.layerSqlite({ filename: join(dir, "hub.sqlite") })
      yield* TestClock.setTime(T0)
      yield* withRuntime(runtimeLayer(store()), (runtime) =>
        Effect.gen(function* () {
          yield* activate(runtime)
          yield* runtime.acquire("unattended", "r1")
          yield* moveToOnDisk(runtime, GRACE_END + DAY)
          expect((yield* runtime.summary).caps.unattended).toMatchObject({ state: "limited", limitedSince: GRACE_END })
        })
      )
      for (const back of [HOUR, 90 * DAY, 3 * YEAR]) {
        yield* TestClock.setTime(GRACE_END + DAY - back)
        yield* withRuntime(runtimeLayer(store()), (runtime) =>
          Effect.gen(function* () {
            const summary = yield* runtime.summary
            expect({ back, state: summary.caps.unattended.state }).toEqual({ back, state: "limited" })
            expect(summary.clock.highWater).toBeGreaterThanOrEqual(GRACE_END + DAY)
            expect(yield* Effect.flip(runtime.acquire("unattended", "r2"))).toMatchObject({ code: "CAP_LIMITED" })
            // The admitted principal keeps its record; nothing was deleted.
            expect(Either.isRight(runtime.check("unattended", "r1"))).toBe(true)
          })
        )
      }
    }))

  it.scoped("after months of running between deadlines with admissions, a clean restart back at the start does not re-live them", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("exekra-clock-")
      const store = () => LicenseStore.layerSqlite({ filename: join(dir, "hub.sqlite") })
      yield* TestClock.setTime(T0)
      yield* withRuntime(runtimeLayer(store()), (runtime) =>
        Effect.gen(function* () {
          yield* activate(runtime)
          // No deadline falls before the warning (2026-06-01): the runtime is only asked to admit.
          yield* moveTo(T0 + 120 * DAY)
          yield* runtime.acquire("unattended", "r1")
        })
      )
      yield* TestClock.setTime(T0 + DAY)
      yield* withRuntime(runtimeLayer(store()), (runtime) =>
        Effect.gen(function* () {
          expect((yield* runtime.summary).clock.highWater).toBe(T0 + 120 * DAY)
        })
      )
    }))

  // `check` (the hot path) never reads the clock; a clean shutdown does, and persists what it read.
  it.scoped("after months of running on check() alone, a clean restart back at the start does not re-live them", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("exekra-clock-")
      const store = () => LicenseStore.layerSqlite({ filename: join(dir, "hub.sqlite") })
      yield* TestClock.setTime(T0)
      yield* withRuntime(runtimeLayer(store()), (runtime) =>
        Effect.gen(function* () {
          yield* activate(runtime)
          yield* runtime.acquire("unattended", "r1")
          yield* moveTo(T0 + 120 * DAY)
          expect(Either.isRight(runtime.check("unattended", "r1"))).toBe(true)
        })
      )
      yield* TestClock.setTime(T0 + DAY)
      yield* withRuntime(runtimeLayer(store()), (runtime) =>
        Effect.gen(function* () {
          expect((yield* runtime.summary).clock.highWater).toBeGreaterThanOrEqual(T0 + 120 * DAY)
        })
      )
    }))

  // Without a clean shutdown (a crash, kill -9, power loss) the heartbeat's last write is what remains: a crash loses
  // at most one period. The database is copied while the Hub runs, as a crash leaves it. A daily beat keeps the run short.
  it.scoped("after months of running, a crash and a restart back at the start do not re-live them", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("exekra-clock-")
      const live = join(dir, "hub.sqlite")
      const crashed = join(dir, "crashed.sqlite")
      yield* TestClock.setTime(T0)
      const liveStore = LicenseStore.layerSqlite({ filename: live })
      // The store shared with the test, which reads the mark through it: its operations queue behind the beat's write.
      const running = runtimeLayer(liveStore, { heartbeatMs: DAY }).pipe(Layer.provideMerge(liveStore))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const runtime = yield* LicenseRuntime.LicenseRuntime
          const store = yield* LicenseStore.LicenseStore
          yield* activate(runtime)
          // Day by day, as a live Hub runs: each beat's write lands before the next day (under a TestClock moved by
          // months at once, the real I/O would let the beats fall behind the simulated time).
          for (let day = 1; day <= 120; day++) {
            yield* TestClock.adjust(DAY)
            yield* TestClock.adjust(0)
            expect(yield* store.raiseHighWater(0)).toBe(T0 + day * DAY)
          }
          yield* runtime.acquire("unattended", "r1")
          yield* runtime.summary
          // The files as a crash leaves them: the database and its write-ahead log.
          for (const suffix of ["", "-wal"]) if (existsSync(live + suffix)) copyFileSync(live + suffix, crashed + suffix)
        }).pipe(Effect.provide(running))
      )
      yield* TestClock.setTime(T0 + DAY)
      yield* withRuntime(runtimeLayer(LicenseStore.layerSqlite({ filename: crashed })), (runtime) =>
        Effect.gen(function* () {
          expect((yield* runtime.summary).clock.highWater).toBeGreaterThanOrEqual(T0 + 120 * DAY - DAY)
        })
      )
    }))
})
