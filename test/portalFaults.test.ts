// The runtime with the real PortalClient (fetch) against a Portal that is down, refusing, hanging, failing or lying about the time.
//
// Time: the runtime runs on TestClock, so grace and limited are checked at exact licensed instants. The sockets are
// real, so a ping's answer arrives in real time: the tests wait (in real time) for the runtime to publish the ping's
// result and never move the TestClock while an answer is on its way. The client runs with `retries: 0` so that
// the only Effect-clock timer inside a ping is its 10 s timeout, which the hanging-Portal tests fire on purpose
// with TestClock.adjust; the client's own retry backoff is covered by packages/core/test/PortalClient.test.ts, and
// the runtime's retry schedule (1, 2, 4 … minutes) runs here on TestClock as in production.
import { join } from "node:path"
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Installation, Keyring, Keys, LicenseStore, PortalClient, Signer, Verifier } from "@exekra/core"
import { LicenseRuntime } from "@exekra/server"
import { Clock, Duration, Effect, Either, Layer, Stream, TestClock } from "effect"
import { tempDir } from "./support/badHub.js"
import { type FaultMode, type FaultPortal, faultPortal } from "./support/faultPortal.js"

const DAY = 86_400_000
const YEAR = 365 * DAY
const T0 = Date.parse("2026-03-01T00:00:00Z")
const EXPIRES = Date.parse("2027-03-01T00:00:00Z")
const GRACE_DAYS = 14
const TIMEOUT = Duration.seconds(10)
const MONTHLY = 720
const EMAIL = "ops@fault.example"
const PASSWORD = "a sturdy fault passphrase 9"

const vendor = Keys.privateKeyFromSeed(new Uint8Array(32).fill(0x46))
const license = (required: boolean, over: Partial<Signer.Issuable> = {}) =>
  Signer.sign(
    {
      licenseId: "lic_faults",
      type: "production",
      issuedTo: { name: "Fault Corp", email: EMAIL },
      issuedAt: "2026-02-01T00:00:00Z",
      caps: {
        unattended: { limit: 3, expiresAt: "2027-03-01T00:00:00Z" },
        developer: { limit: 2, expiresAt: "2027-03-01T00:00:00Z" }
      },
      gracePeriodDays: GRACE_DAYS,
      validation: { required, intervalHours: 24 },
      ...over
    },
    vendor
  )

type Runtime = LicenseRuntime.LicenseRuntime.Service

interface Ctx {
  readonly runtime: Runtime
  readonly portal: FaultPortal
  readonly events: Array<LicenseRuntime.RuntimeEvent>
}

const realWait = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** A runtime on an in-memory store with the real PortalClient over fetch, pointed at a fault Portal; events are collected. */
const withFaults = <A, E>(mode: FaultMode, body: (ctx: Ctx) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(T0)
    const portal = yield* faultPortal(mode, T0)
    const client = PortalClient.layer({ timeout: TIMEOUT, retries: 0 }).pipe(Layer.provide(FetchHttpClient.layer))
    const layer = LicenseRuntime.layer({ version: "9.9.9", portalUrl: portal.url, heartbeatMs: YEAR }).pipe(
      Layer.provide(Layer.mergeAll(Verifier.layerNodeCrypto(Keyring.make([vendor.publicKey])), client, Installation.layer)),
      Layer.provide(LicenseStore.layerMemory)
    )
    return yield* Effect.gen(function* () {
      const runtime = yield* LicenseRuntime.LicenseRuntime
      const events: Array<LicenseRuntime.RuntimeEvent> = []
      yield* Effect.forkScoped(Stream.runForEach(runtime.events, (e) => Effect.sync(() => events.push(e))))
      yield* TestClock.adjust(0)
      return yield* body({ runtime, portal, events })
    }).pipe(Effect.provide(layer))
  })

/** Poll (in real time) until `done` holds, failing after `ms`. */
const eventually = <E>(done: Effect.Effect<boolean, E>, what: string, ms = 20_000) =>
  Effect.gen(function* () {
    const deadline = performance.now() + ms
    while (!(yield* done)) {
      if (performance.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* realWait(5)
    }
  })

/** What follows a ping's result (the caps' events) is in memory: settle until two readings of the summary agree. */
const settle = (ctx: Ctx) =>
  Effect.gen(function* () {
    let previous = ""
    for (;;) {
      yield* TestClock.adjust(0)
      const current = JSON.stringify(yield* ctx.runtime.summary)
      if (current === previous) return
      previous = current
      yield* realWait(5)
    }
  })

/** No ping in flight: the validation record has a next attempt (it has none while a ping runs). */
const noPingInFlight = (ctx: Ctx) => Effect.map(ctx.runtime.summary, (s) => s.validation === null || s.validation.nextAttemptAt !== null)

/** Results of pings published after event `from`: a ping publishes ValidationChanged as it starts and with its result. */
const resultsSince = (ctx: Ctx, from: number) =>
  ctx.events.slice(from).filter((e) => e._tag === "ValidationChanged" && e.validation.nextAttemptAt !== null).length

/** Wait until the runtime has processed the result of a ping published after event `from`, and settled. */
const awaitPingResult = (ctx: Ctx, from: number) =>
  Effect.zipRight(eventually(Effect.sync(() => resultsSince(ctx, from) > 0), "the ping's result"), settle(ctx))

/** Wait for the ping just started (after event `from`); a hanging Portal is given the client's timeout on the TestClock. */
const completePing = (ctx: Ctx, from: number, received: number) =>
  Effect.gen(function* () {
    if (ctx.portal.mode === "hang") {
      yield* eventually(Effect.sync(() => ctx.portal.received() > received && ctx.portal.hanging() > 0), "the Portal to receive the ping")
      yield* TestClock.adjust(TIMEOUT)
    }
    yield* awaitPingResult(ctx, from)
  })

/** Ping now (once any ping in flight has answered) and wait for its result. */
const pingNow = (ctx: Ctx) =>
  Effect.gen(function* () {
    yield* eventually(noPingInFlight(ctx), "the ping in flight to answer")
    const from = ctx.events.length
    const received = ctx.portal.received()
    yield* ctx.runtime.validateNow
    yield* completePing(ctx, from, received)
  })

/**
 * Move the TestClock to `t`, stopping at each ping the runtime makes on the way until it has answered: the TestClock
 * must not run past a ping's timeout while its answer is still on the wire. The Portal's clock follows ours.
 */
const moveTo = (ctx: Ctx, t: number) =>
  Effect.gen(function* () {
    // Against a hanging Portal every ping ends at its timeout, on the TestClock itself: no stops needed.
    while (ctx.portal.mode !== "hang") {
      yield* eventually(noPingInFlight(ctx), "the ping in flight to answer")
      const next = (yield* ctx.runtime.summary).validation?.nextAttemptAt ?? null
      const now = yield* TestClock.currentTimeMillis
      if (next === null || next > t) break
      const from = ctx.events.length
      const received = ctx.portal.received()
      yield* TestClock.adjust(Math.max(0, next - now))
      ctx.portal.now = Math.max(next, now)
      yield* completePing(ctx, from, received)
    }
    yield* TestClock.adjust(t - (yield* TestClock.currentTimeMillis))
    ctx.portal.now = t
    yield* settle(ctx)
  })

const capState = (runtime: Runtime) => Effect.map(runtime.summary, (s) => s.caps.unattended)

/**
 * Activate at T0 with the Portal answering, and wait for the first ping (due at once). Tests that run to the expiry
 * ping monthly rather than daily: each ping is a real request the test waits for.
 */
const activateWithPortalUp = (ctx: Ctx, required = true, intervalHours = 24) =>
  Effect.gen(function* () {
    const from = ctx.events.length
    yield* ctx.runtime.activate({ license: license(required, { validation: { required, intervalHours } }), email: EMAIL, password: PASSWORD })
    yield* awaitPingResult(ctx, from)
    const posture = (yield* ctx.runtime.summary).validation
    expect(posture).toMatchObject({ required, lastStatus: "valid", lastSuccessAt: T0, failingSince: null })
    expect((yield* capState(ctx.runtime)).state).toBe("active")
  })

const failures: ReadonlyArray<readonly [FaultMode, string]> = [
  ["down", "PORTAL_UNREACHABLE"],
  ["refuse", "PORTAL_UNREACHABLE"],
  ["hang", "PORTAL_TIMEOUT"],
  ["http500", "PORTAL_HTTP_ERROR"],
  ["garbage", "PORTAL_BAD_RESPONSE"],
  ["wrongShape", "PORTAL_BAD_RESPONSE"],
  ["badTime", "PORTAL_BAD_RESPONSE"]
]

describe("Portal faults with validation required", () => {
  for (const [mode, code] of failures) {
    it.scoped(`${mode}: ${code}; grace from the first failure, limited exactly ${GRACE_DAYS} days later, recovery on the first good answer`, () =>
      withFaults("up", (ctx) =>
        Effect.gen(function* () {
          const { runtime, portal } = ctx
          yield* activateWithPortalUp(ctx)
          yield* runtime.acquire("unattended", "r1")
          // Two healthy days: the daily pings succeed.
          yield* moveTo(ctx, T0 + 2 * DAY)
          yield* portal.set(mode)
          yield* pingNow(ctx)
          const posture = (yield* runtime.summary).validation
          expect(posture?.lastError).toMatch(new RegExp(`^${code}: `))
          const failingSince = posture?.failingSince
          // The first failure is observed when the ping gives up: at once, or when the timeout fires.
          expect(failingSince).toBe(T0 + 2 * DAY + (mode === "hang" ? Duration.toMillis(TIMEOUT) : 0))
          const graceEnd = failingSince! + GRACE_DAYS * DAY
          expect(yield* capState(runtime)).toMatchObject({ state: "grace", reason: "portal-unreachable", grace: { endsAt: graceEnd } })
          // Grace admits; the runtime keeps retrying (1, 2, 4 … minutes, then daily) while the Portal stays bad.
          expect((yield* runtime.acquire("unattended", "r2")).created).toBe(true)
          const from = ctx.events.length
          yield* moveTo(ctx, graceEnd - 1)
          expect((yield* capState(runtime)).state).toBe("grace")
          expect(resultsSince(ctx, from)).toBeGreaterThan(10)
          expect((yield* runtime.summary).validation?.failingSince).toBe(failingSince)
          yield* moveTo(ctx, graceEnd)
          expect(yield* capState(runtime)).toMatchObject({ state: "limited", reason: "portal-unreachable", limitedSince: graceEnd })
          expect(yield* Effect.flip(runtime.acquire("unattended", "r3"))).toMatchObject({ code: "CAP_LIMITED" })
          // refuse-new: admitted principals keep working.
          expect(Either.isRight(runtime.check("unattended", "r1"))).toBe(true)
          // The first good answer restores the caps at once.
          yield* portal.set("up")
          yield* pingNow(ctx)
          expect((yield* runtime.summary).validation).toMatchObject({ failingSince: null, lastStatus: "valid", lastSuccessAt: graceEnd })
          expect((yield* capState(runtime)).state).toBe("active")
          expect((yield* runtime.acquire("unattended", "r3")).created).toBe(true)
        })
      ), 120_000)
  }

  it.scoped("admission never waits on the Portal: acquire and check complete while a ping hangs", () =>
    withFaults("up", (ctx) =>
      Effect.gen(function* () {
        const { runtime, portal } = ctx
        yield* activateWithPortalUp(ctx)
        // Informational, not asserted: the same acquisition with the Portal idle, for comparison.
        const idleStart = performance.now()
        yield* runtime.acquire("unattended", "r0")
        const idleMs = performance.now() - idleStart
        yield* portal.set("hang")
        const received = portal.received()
        yield* runtime.validateNow
        yield* eventually(Effect.sync(() => portal.received() > received && portal.hanging() === 1), "the Portal to hold the ping")
        const start = performance.now()
        const acquired = yield* runtime.acquire("unattended", "r1")
        const checked = runtime.check("unattended", "r1")
        const hangingMs = performance.now() - start
        expect(acquired.created).toBe(true)
        expect(Either.isRight(checked)).toBe(true)
        // The ping is still in flight: the acquisition did not wait for it.
        expect(portal.hanging()).toBe(1)
        expect((yield* runtime.summary).validation?.nextAttemptAt).toBeNull()
        console.log(`acquire with the Portal idle: ${idleMs.toFixed(2)} ms; while a ping hangs: ${hangingMs.toFixed(2)} ms (informational)`)
        const from = ctx.events.length
        yield* TestClock.adjust(TIMEOUT)
        yield* awaitPingResult(ctx, from)
        expect((yield* runtime.summary).validation?.lastError).toMatch(/^PORTAL_TIMEOUT: /)
        expect(portal.hanging()).toBe(0)
      })
    ), 60_000)
})

describe("Portal faults with validation optional", () => {
  it.scoped("a failing Portal changes nothing: the caps expire exactly at their licensed instants", () =>
    withFaults("up", (ctx) =>
      Effect.gen(function* () {
        const { runtime, portal } = ctx
        yield* activateWithPortalUp(ctx, false, MONTHLY)
        yield* portal.set("garbage")
        yield* pingNow(ctx)
        expect((yield* runtime.summary).validation?.failingSince).toBe(T0)
        expect((yield* capState(runtime)).state).toBe("active")
        const warnAt = EXPIRES - 30 * DAY
        yield* moveTo(ctx, warnAt - 1)
        expect((yield* capState(runtime)).state).toBe("active")
        yield* moveTo(ctx, warnAt)
        expect((yield* capState(runtime)).state).toBe("expiring")
        yield* moveTo(ctx, EXPIRES - 1)
        expect((yield* capState(runtime)).state).toBe("expiring")
        yield* moveTo(ctx, EXPIRES)
        expect(yield* capState(runtime)).toMatchObject({ state: "grace", reason: "expired", grace: { endsAt: EXPIRES + GRACE_DAYS * DAY } })
        yield* moveTo(ctx, EXPIRES + GRACE_DAYS * DAY - 1)
        expect((yield* capState(runtime)).state).toBe("grace")
        yield* moveTo(ctx, EXPIRES + GRACE_DAYS * DAY)
        expect(yield* capState(runtime)).toMatchObject({ state: "limited", limitedSince: EXPIRES + GRACE_DAYS * DAY })
      })
    ), 120_000)
})

describe("a wrong Portal serverTime", () => {
  it.scoped("far behind the local clock (10 years) changes nothing", () =>
    withFaults("up", (ctx) =>
      Effect.gen(function* () {
        const { runtime, portal } = ctx
        yield* activateWithPortalUp(ctx, true, MONTHLY)
        yield* moveTo(ctx, T0 + DAY)
        yield* portal.set({ skewMs: -3650 * DAY })
        const received = portal.received()
        yield* pingNow(ctx)
        expect(portal.received()).toBe(received + 1)
        const summary = yield* runtime.summary
        expect(summary.validation).toMatchObject({ failingSince: null, lastStatus: "valid" })
        expect(summary.clock).toEqual({ now: T0 + DAY, highWater: T0 + DAY, skewMs: 0 })
        expect(summary.caps.unattended.state).toBe("active")
        yield* moveTo(ctx, EXPIRES + GRACE_DAYS * DAY - 1)
        expect((yield* capState(runtime)).state).toBe("grace")
      })
    ), 60_000)

  // A serverTime far ahead would make every cap evaluate years on (limited at once, and persisted); the runtime
  // believes a Portal at most MAX_PORTAL_LEAD_MS (a day) ahead of the local clock and ignores the rest.
  for (const required of [true, false]) {
    it.scoped(`far ahead of the local clock (10 years) is ignored: the licensed instants hold (validation ${required ? "required" : "optional"})`, () =>
      withFaults("up", (ctx) =>
        Effect.gen(function* () {
          const { runtime, portal } = ctx
          yield* activateWithPortalUp(ctx, required, MONTHLY)
          yield* runtime.acquire("unattended", "r1")
          yield* moveTo(ctx, T0 + DAY)
          yield* portal.set({ skewMs: 3650 * DAY })
          const received = portal.received()
          yield* pingNow(ctx)
          expect(portal.received()).toBe(received + 1)
          expect((yield* runtime.summary).validation).toMatchObject({ failingSince: null, lastStatus: "valid", lastSuccessAt: T0 + DAY })
          expect((yield* capState(runtime)).state).toBe("active")
          expect((yield* runtime.acquire("unattended", "r2")).created).toBe(true)
          yield* portal.set("up")
          yield* moveTo(ctx, EXPIRES - 1)
          expect((yield* capState(runtime)).state).toBe("expiring")
          yield* moveTo(ctx, EXPIRES)
          expect((yield* capState(runtime)).state).toBe("grace")
        })
      ), 60_000)
  }

  it.scoped("ahead by a few hours is believed: it raises the high-water mark, reported as skew, and changes no state far from a deadline", () =>
    withFaults("up", (ctx) =>
      Effect.gen(function* () {
        const { runtime, portal } = ctx
        yield* activateWithPortalUp(ctx)
        yield* moveTo(ctx, T0 + DAY)
        const changes = ctx.events.filter((e) => e._tag === "CapStateChanged").length
        yield* portal.set({ skewMs: 3 * 3_600_000 })
        yield* pingNow(ctx)
        const summary = yield* runtime.summary
        expect(summary.clock).toEqual({ now: T0 + DAY, highWater: T0 + DAY + 3 * 3_600_000, skewMs: 3 * 3_600_000 })
        expect(summary.caps.unattended.state).toBe("active")
        expect(ctx.events.filter((e) => e._tag === "CapStateChanged").length).toBe(changes)
      })
    ), 60_000)

  it.scoped("ahead by more than a day is not believed: the high-water mark stays", () =>
    withFaults("up", (ctx) =>
      Effect.gen(function* () {
        const { runtime, portal } = ctx
        yield* activateWithPortalUp(ctx)
        yield* moveTo(ctx, T0 + DAY)
        yield* portal.set({ skewMs: DAY + 60_000 })
        yield* pingNow(ctx)
        expect((yield* runtime.summary).clock).toEqual({ now: T0 + DAY, highWater: T0 + DAY, skewMs: 0 })
      })
    ), 60_000)
})

describe("a ping that ends without an answer", () => {
  /** A Portal double answering valid at the Hub's time, except that ping number `dieOn` dies. */
  const scripted = (state: { calls: number; dieOn: number }) =>
    Layer.succeed(
      PortalClient.PortalClient,
      PortalClient.PortalClient.of({
        validate: () =>
          Effect.suspend(() => {
            state.calls++
            // It dies after a moment on the wire, as a client failing mid-request would.
            return state.calls === state.dieOn
              ? Effect.zipRight(realWait(20), Effect.dieMessage("the Portal client broke"))
              : Effect.map(Clock.currentTimeMillis, (now) => ({ status: "valid" as const, serverTime: new Date(now) }))
          })
      })
    )

  /** The store, its validation record failing to save once when `failNext` is set (a database briefly busy). */
  const flakyStore = (state: { failNext: boolean }) =>
    Layer.effect(
      LicenseStore.LicenseStore,
      Effect.map(LicenseStore.LicenseStore, (store) => ({
        ...store,
        putValidation: (record: Parameters<typeof store.putValidation>[0]) =>
          Effect.suspend(() => {
            if (!state.failNext) return store.putValidation(record)
            state.failNext = false
            // SQLite gives up on a held lock only after its busy timeout.
            return Effect.zipRight(realWait(20), Effect.fail(new LicenseStore.StoreError({ code: "STORE_UNAVAILABLE", message: "database is locked" })))
          })
      }))
    ).pipe(Layer.provide(LicenseStore.layerMemory))

  const runtimeWith = (portal: Layer.Layer<PortalClient.PortalClient>, store: Layer.Layer<LicenseStore.LicenseStore, LicenseStore.StoreError>) =>
    LicenseRuntime.layer({ version: "9.9.9", portalUrl: "http://portal.invalid", heartbeatMs: YEAR }).pipe(
      Layer.provide(Layer.mergeAll(Verifier.layerNodeCrypto(Keyring.make([vendor.publicKey])), portal, Installation.layer)),
      Layer.provide(store)
    )

  // A ping that ends without an answer (a defect in the client, a store failure while recording its start) counts as
  // a failed ping: otherwise the machine would stay in `pinging` with no next attempt, and with validation required
  // no grace would ever start.
  for (const cause of ["a defect in the client", "a store failure recording the ping"] as const) {
    it.scoped(`after ${cause}, the next ping is still scheduled and the next good answer is recorded`, () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(T0)
        // The daily ping after a first good one ends badly.
        const portal = { calls: 0, dieOn: cause === "a defect in the client" ? 2 : 0 }
        const store = { failNext: false }
        yield* Effect.gen(function* () {
          const runtime = yield* LicenseRuntime.LicenseRuntime
          yield* runtime.activate({ license: license(true), email: EMAIL, password: PASSWORD })
          yield* TestClock.adjust(0)
          expect((yield* runtime.summary).validation).toMatchObject({ lastStatus: "valid", lastSuccessAt: T0 })
          store.failNext = cause === "a store failure recording the ping"
          yield* TestClock.adjust(Duration.days(1))
          // Let the failing ping end (in real time), and whatever follows it run.
          yield* realWait(200)
          yield* TestClock.adjust(0)
          expect((yield* runtime.summary).validation?.nextAttemptAt).not.toBeNull()
          yield* TestClock.adjust(Duration.days(1))
          expect((yield* runtime.summary).validation?.lastSuccessAt).toBeGreaterThan(T0 + DAY)
        }).pipe(Effect.provide(runtimeWith(scripted(portal), flakyStore(store))))
      }))
  }

  it.scoped("a Hub stopped while a ping hangs counts that ping as failed at its next start, and pings again", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const dir = yield* tempDir("exekra-ping-")
      const sqlite = () => LicenseStore.layerSqlite({ filename: join(dir, "hub.sqlite") })
      // The first ping is answered; the second never is; later ones are.
      const calls = { count: 0 }
      const hangsOnSecond = Layer.succeed(
        PortalClient.PortalClient,
        PortalClient.PortalClient.of({
          validate: () =>
            Effect.suspend(() =>
              ++calls.count === 2 ? Effect.never : Effect.map(Clock.currentTimeMillis, (now) => ({ status: "valid" as const, serverTime: new Date(now) }))
            )
        })
      )
      /** Wait (in real time: SQLite's I/O is real) until `done` holds. */
      const until = <E>(done: Effect.Effect<boolean, E>) =>
        Effect.gen(function* () {
          for (let i = 0; i < 400 && !(yield* done); i++) yield* realWait(5)
          expect(yield* done).toBe(true)
        })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const runtime = yield* LicenseRuntime.LicenseRuntime
          yield* runtime.activate({ license: license(true), email: EMAIL, password: PASSWORD })
          yield* TestClock.adjust(0)
          yield* until(Effect.map(runtime.summary, (s) => s.validation?.lastSuccessAt === T0))
          yield* TestClock.adjust(Duration.days(1))
          yield* until(Effect.sync(() => calls.count === 2))
          // In flight: no next attempt is scheduled while it hangs. Then the Hub stops (the ping is interrupted).
          expect((yield* runtime.summary).validation?.nextAttemptAt).toBeNull()
        }).pipe(Effect.provide(runtimeWith(hangsOnSecond, sqlite())))
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const runtime = yield* LicenseRuntime.LicenseRuntime
          const validation = (yield* runtime.summary).validation
          expect(validation).toMatchObject({ failingSince: T0 + DAY, nextAttemptAt: T0 + DAY + 60_000, lastSuccessAt: T0 })
          expect(validation?.lastError).toMatch(/^PING_INTERRUPTED: /)
          yield* TestClock.adjust(Duration.minutes(1))
          yield* until(Effect.map(runtime.summary, (s) => s.validation?.failingSince === null))
          expect(calls.count).toBe(3)
          expect((yield* runtime.summary).validation).toMatchObject({ lastSuccessAt: T0 + DAY + 60_000, lastStatus: "valid" })
        }).pipe(Effect.provide(runtimeWith(hangsOnSecond, sqlite())))
      )
    }), 30_000)

  // While a due ping waits for its first write (the high-water mark, or the machine lock), it is already in flight:
  // the timer loop must not fire again. It would spin at setTimeout(0) pace on the live clock for as long as the write
  // takes, and livelock a TestClock. Measured on the live clock by counting clock reads while one write is slow.
  it.scopedLive("a due ping waiting on a slow store write does not spin the validation timer", () =>
    Effect.gen(function* () {
      const live = Clock.make()
      const reads = { count: 0 }
      const counting: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => live.unsafeCurrentTimeMillis(),
        unsafeCurrentTimeNanos: () => live.unsafeCurrentTimeNanos(),
        currentTimeMillis: Effect.sync(() => {
          reads.count++
          return live.unsafeCurrentTimeMillis()
        }),
        currentTimeNanos: live.currentTimeNanos,
        sleep: (duration) => live.sleep(duration)
      }
      // While `slow.on`, each high-water write takes a second; the clock reads made meanwhile are counted.
      const slow = { on: false, readsDuring: 0 }
      const store = Layer.effect(
        LicenseStore.LicenseStore,
        Effect.map(LicenseStore.LicenseStore, (s) => ({
          ...s,
          raiseHighWater: (t: number) =>
            Effect.zipRight(
              slow.on
                ? Effect.promise(async () => {
                    const before = reads.count
                    await new Promise((resolve) => setTimeout(resolve, 1_000))
                    slow.readsDuring += reads.count - before
                  })
                : Effect.void,
              s.raiseHighWater(t)
            )
        }))
      ).pipe(Layer.provide(LicenseStore.layerMemory))
      const portal = { calls: 0, dieOn: 0 }
      yield* Effect.gen(function* () {
        const runtime = yield* LicenseRuntime.LicenseRuntime
        slow.on = true
        reads.count = 0
        const file = Signer.sign(
          { licenseId: "lic_spin", type: "production", issuedTo: { name: "Spin Corp", email: EMAIL }, issuedAt: "2020-01-01T00:00:00Z", caps: { unattended: { limit: 1, expiresAt: "2099-01-01T00:00:00Z" } }, validation: { required: false, intervalHours: 24 } },
          vendor
        )
        yield* runtime.activate({ license: file, email: EMAIL, password: PASSWORD })
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1_500)))
        expect(portal.calls).toBe(1)
        // Nothing needs the clock while the ping waits for its write; a spinning timer reads it every millisecond or so.
        expect(slow.readsDuring).toBeLessThan(10)
      }).pipe(Effect.provide(runtimeWith(scripted(portal), store)), Effect.withClock(counting))
    }), 30_000)
})
