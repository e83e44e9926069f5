// The runtime under TestClock: activation, admission, renewal, pending licenses, time-driven states and phone-home.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { LicenseStore, type PortalClient, Signer } from "@exekra/core"
import { Effect, Exit, Fiber, Ref, Stream, TestClock } from "effect"
import { LicenseRuntime } from "@exekra/server"
import { at, days, licenseFile, password, payload, runtimeLayer, scriptedPortal, strangerKey } from "./fixtures.js"

const ISSUED = at("2027-01-01T00:00:00Z")
const EXPIRES = at("2027-07-01T00:00:00Z")
const PORTAL = "http://127.0.0.1:9/portal"

/** Run `body` against a fresh runtime on an in-memory store, the clock set to `start`. */
const withRuntime = <A, E>(
  body: (ctx: {
    readonly runtime: LicenseRuntime.LicenseRuntime.Service
    readonly portal: Ref.Ref<"up" | "down">
    readonly pings: Ref.Ref<ReadonlyArray<PortalClient.ValidationRequest>>
  }) => Effect.Effect<A, E>,
  start = ISSUED + days(1),
  portalUrl?: string
) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(start)
    const portal = yield* Ref.make<"up" | "down">("up")
    const pings = yield* Ref.make<ReadonlyArray<PortalClient.ValidationRequest>>([])
    const layer = runtimeLayer(LicenseStore.layerMemory, scriptedPortal(portal, pings), portalUrl)
    return yield* Effect.flatMap(LicenseRuntime.LicenseRuntime, (runtime) => body({ runtime, portal, pings })).pipe(Effect.provide(layer))
  })

const activate = (runtime: LicenseRuntime.LicenseRuntime.Service, file = licenseFile()) =>
  runtime.activate({ license: file, email: "Admin@Acme.example", password })

const stateOf = (runtime: LicenseRuntime.LicenseRuntime.Service, cap: "unattended" | "developer" | "attended") =>
  Effect.map(runtime.summary, (s) => s.caps[cap])

/** Move the test clock to an absolute instant, letting every timer due on the way fire. */
const moveTo = (t: number) => Effect.flatMap(TestClock.currentTimeMillis, (now) => TestClock.adjust(t - now))

describe("LicenseRuntime", () => {
  it.scoped("starts unactivated: every cap refuses with CAP_UNACTIVATED", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        expect(yield* runtime.isActivated).toBe(false)
        const summary = yield* runtime.summary
        expect(summary.license).toBeNull()
        expect(summary.caps.unattended.state).toBe("unactivated")
        const denied = yield* Effect.flip(runtime.acquire("unattended", "r1"))
        expect(denied).toMatchObject({ code: "CAP_UNACTIVATED" })
        expect(runtime.check("developer", "u1")).toMatchObject({ left: { code: "CAP_UNACTIVATED" } })
      })
    ))

  it.scoped("activates, admits up to the limit, refuses beyond it, and frees slots by release and deactivation", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        const summary = yield* activate(runtime)
        expect(summary.activated).toBe(true)
        expect(summary.caps.unattended).toMatchObject({ state: "active", limit: 3, used: 0 })
        for (const id of ["r1", "r2", "r3"]) expect((yield* runtime.acquire("unattended", id)).created).toBe(true)
        // Idempotent: a second acquisition of an admitted principal admits nothing new.
        expect(yield* runtime.acquire("unattended", "r1")).toMatchObject({ created: false, used: 3 })
        const full = yield* Effect.flip(runtime.acquire("unattended", "r4"))
        expect(full).toMatchObject({ code: "CAP_LIMIT_REACHED" })
        expect(full.message).toBe("Unattended Runner limit reached (3 of 3). Deregister a Runner or renew with a higher limit.")
        expect(yield* runtime.release("unattended", "r1")).toBe(true)
        expect((yield* runtime.acquire("unattended", "r4")).created).toBe(true)
        expect(yield* runtime.deactivate("unattended", "r2")).toBe(true)
        expect(runtime.check("unattended", "r2")).toMatchObject({ left: { code: "PRINCIPAL_NOT_ADMITTED" } })
        expect((yield* runtime.acquire("unattended", "r5")).created).toBe(true)
        const principals = yield* runtime.principals("unattended")
        expect(principals.find((p) => p.id === "r2")?.status).toBe("deactivated")
        // Caps are independent of each other.
        expect((yield* runtime.acquire("developer", "dev1")).created).toBe(true)
        expect((yield* runtime.acquire("attended", "dev1")).created).toBe(true)
        expect(runtime.check("unattended", "r3")._tag).toBe("Right")
        expect(runtime.check("unattended", "never")).toMatchObject({ left: { code: "PRINCIPAL_NOT_ADMITTED" } })
      })
    ))

  it.scoped("refuses each bad activation with its code and activates nothing", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        const attempt = (license: string, email = "admin@acme.example", pw = password) =>
          Effect.flip(runtime.activate({ license, email, password: pw }))
        expect((yield* attempt("garbage")).code).toBe("LICENSE_MALFORMED")
        expect((yield* attempt(Signer.sign(payload({ licenseId: "lic_stranger" }), strangerKey))).code).toBe("LICENSE_UNKNOWN_KEY")
        expect((yield* attempt(licenseFile({ installationId: "inst_someoneelse" }))).code).toBe("LICENSE_WRONG_INSTALLATION")
        expect((yield* attempt(licenseFile({ notBefore: "2027-03-01T00:00:00Z" }))).code).toBe("LICENSE_NOT_YET_VALID")
        expect(
          (yield* attempt(licenseFile({ caps: { unattended: { limit: 1, expiresAt: "2027-01-01T12:00:00Z" } } }))).code
        ).toBe("LICENSE_EXPIRED")
        expect((yield* attempt(licenseFile(), "someone@else.example")).code).toBe("ADMIN_EMAIL_MISMATCH")
        expect((yield* attempt(licenseFile(), "admin@acme.example", "short")).code).toBe("PASSWORD_TOO_WEAK")
        expect(yield* runtime.isActivated).toBe(false)
        yield* activate(runtime)
        expect((yield* attempt(licenseFile())).code).toBe("ALREADY_ACTIVATED")
      })
    ))

  it.scoped("expiring at E−W, grace at E and limited at E+G, to the millisecond, with timers on the Effect clock", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime)
        yield* runtime.acquire("unattended", "r1")
        const warnAt = EXPIRES - days(30)
        yield* moveTo(warnAt - 1)
        expect((yield* stateOf(runtime, "unattended")).state).toBe("active")
        yield* moveTo(warnAt)
        expect((yield* stateOf(runtime, "unattended")).state).toBe("expiring")
        yield* moveTo(EXPIRES - 1)
        expect((yield* stateOf(runtime, "unattended")).state).toBe("expiring")
        yield* moveTo(EXPIRES)
        const grace = yield* stateOf(runtime, "unattended")
        expect(grace).toMatchObject({ state: "grace", reason: "expired", grace: { reason: "expired", endsAt: EXPIRES + days(14) } })
        expect((yield* runtime.acquire("unattended", "r2")).created).toBe(true)
        yield* moveTo(EXPIRES + days(14) - 1)
        expect((yield* stateOf(runtime, "unattended")).state).toBe("grace")
        yield* moveTo(EXPIRES + days(14))
        const limited = yield* stateOf(runtime, "unattended")
        expect(limited).toMatchObject({ state: "limited", reason: "expired", limitedSince: EXPIRES + days(14) })
        expect(yield* Effect.flip(runtime.acquire("unattended", "r3"))).toMatchObject({ code: "CAP_LIMITED" })
        // refuse-new: admitted principals keep working; nothing is deleted.
        expect(runtime.check("unattended", "r1")._tag).toBe("Right")
        expect((yield* stateOf(runtime, "unattended")).used).toBe(2)
        // The attended cap has its own, later expiry (2027-09-01: its warning starts on 2027-08-02).
        expect((yield* stateOf(runtime, "attended")).state).toBe("active")
      })
    ))

  it.scoped("block-all refuses admitted principals' work once limited", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime, licenseFile({ caps: { developer: { limit: 2, expiresAt: "2027-07-01T00:00:00Z", graceDays: 0, onLimited: "block-all" } } }))
        yield* runtime.acquire("developer", "d1")
        yield* moveTo(EXPIRES)
        expect((yield* stateOf(runtime, "developer")).state).toBe("limited")
        expect(runtime.check("developer", "d1")).toMatchObject({ left: { code: "CAP_LIMITED" } })
        expect(runtime.check("unattended", "x")).toMatchObject({ left: { code: "CAP_UNACTIVATED" } })
      })
    ))

  it.scoped("a renewal raises the limit and extends expiry at once, keeps every record, and shows renewed", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime)
        for (const id of ["r1", "r2", "r3"]) yield* runtime.acquire("unattended", id)
        yield* moveTo(EXPIRES + days(20))
        expect((yield* stateOf(runtime, "unattended")).state).toBe("limited")
        const renewal = licenseFile({
          issuedAt: "2027-07-20T00:00:00Z",
          caps: { unattended: { limit: 5, expiresAt: "2028-07-01T00:00:00Z" }, developer: { limit: 2, expiresAt: "2028-07-01T00:00:00Z" } }
        })
        const summary = yield* runtime.install(renewal)
        expect(summary.caps.unattended).toMatchObject({ state: "renewed", limit: 5, used: 3, expiresAt: at("2028-07-01T00:00:00Z") })
        expect((yield* runtime.acquire("unattended", "r4")).created).toBe(true)
        // Renewed shows for 24 h, then active.
        yield* TestClock.adjust(days(1))
        expect((yield* stateOf(runtime, "unattended")).state).toBe("active")
        // The renewal dropped the attended cap: it grants nothing now.
        expect((yield* stateOf(runtime, "attended")).state).toBe("unactivated")
        expect((yield* runtime.principals("unattended")).length).toBe(4)
      })
    ))

  it.scoped("refuses an older file with LICENSE_ROLLBACK and a file for another installation, changing nothing", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime, licenseFile({ issuedAt: "2027-01-01T00:00:00Z" }))
        const before = yield* runtime.summary
        expect((yield* Effect.flip(runtime.install(licenseFile({ issuedAt: "2026-12-01T00:00:00Z" })))).code).toBe("LICENSE_ROLLBACK")
        expect((yield* Effect.flip(runtime.install(licenseFile({ issuedAt: "2027-02-01T00:00:00Z", installationId: "inst_other" })))).code).toBe("LICENSE_WRONG_INSTALLATION")
        expect((yield* Effect.flip(runtime.install("-----BEGIN EXEKRA LICENSE-----\nxx\n-----END EXEKRA LICENSE-----"))).code).toBe("LICENSE_MALFORMED")
        expect((yield* runtime.summary).license?.fingerprint).toBe(before.license?.fingerprint)
      })
    ))

  it.scoped("a renewal that lowers the limit below usage deletes nothing and admits no one new until usage falls", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime)
        for (const id of ["r1", "r2", "r3"]) yield* runtime.acquire("unattended", id)
        const lower = licenseFile({ issuedAt: "2027-02-01T00:00:00Z", caps: { unattended: { limit: 1, expiresAt: "2027-07-01T00:00:00Z" } } })
        const summary = yield* runtime.install(lower)
        expect(summary.caps.unattended).toMatchObject({ used: 3, limit: 1, overage: 2, overLimit: true })
        expect(yield* Effect.flip(runtime.acquire("unattended", "r4"))).toMatchObject({ code: "CAP_LIMIT_REACHED" })
        expect(runtime.check("unattended", "r2")._tag).toBe("Right")
        yield* runtime.release("unattended", "r1")
        yield* runtime.release("unattended", "r2")
        expect(yield* Effect.flip(runtime.acquire("unattended", "r4"))).toMatchObject({ code: "CAP_LIMIT_REACHED" })
        yield* runtime.release("unattended", "r3")
        expect((yield* runtime.acquire("unattended", "r4")).created).toBe(true)
      })
    ))

  it.scoped("overage admits up to floor(limit × (1 + overage/100)) and reports the overage", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime, licenseFile({ caps: { unattended: { limit: 10, expiresAt: "2027-07-01T00:00:00Z", overagePercent: 25 } } }))
        for (let i = 0; i < 12; i++) yield* runtime.acquire("unattended", `r${i}`)
        expect(yield* Effect.flip(runtime.acquire("unattended", "r12"))).toMatchObject({ code: "CAP_LIMIT_REACHED" })
        expect(yield* stateOf(runtime, "unattended")).toMatchObject({ used: 12, limit: 10, ceiling: 12, overage: 2, overLimit: false })
      })
    ))

  it.scoped("a future-dated file is kept pending and takes over at its notBefore", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime)
        const notBefore = at("2027-03-01T00:00:00Z")
        const future = licenseFile({
          issuedAt: "2027-02-01T00:00:00Z",
          notBefore: "2027-03-01T00:00:00Z",
          caps: { unattended: { limit: 9, expiresAt: "2028-07-01T00:00:00Z" } }
        })
        const staged = yield* runtime.install(future)
        expect(staged.pending).toMatchObject({ notBefore })
        expect(staged.caps.unattended.limit).toBe(3)
        yield* moveTo(notBefore - 1)
        expect((yield* stateOf(runtime, "unattended")).limit).toBe(3)
        yield* moveTo(notBefore)
        const after = yield* runtime.summary
        expect(after.pending).toBeNull()
        expect(after.license?.issuedAt).toBe(at("2027-02-01T00:00:00Z"))
        expect(after.caps.unattended).toMatchObject({ state: "renewed", limit: 9 })
      })
    ))

  // Regression: installing a file issued between the installed and the waiting one kept the waiting file in the
  // runtime but dropped it from the caps, so it took over only at the caps' next deadline, months late.
  it.scoped("a newer future-dated file still takes over on time after an older renewal is installed meanwhile", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime)
        const notBefore = at("2027-03-01T00:00:00Z")
        yield* runtime.install(licenseFile({ issuedAt: "2027-02-01T00:00:00Z", notBefore: "2027-03-01T00:00:00Z", caps: { unattended: { limit: 9, expiresAt: "2028-07-01T00:00:00Z" } } }))
        const between = yield* runtime.install(licenseFile({ issuedAt: "2027-01-15T00:00:00Z", caps: { unattended: { limit: 4, expiresAt: "2027-07-01T00:00:00Z" } } }))
        expect(between.pending).toMatchObject({ notBefore })
        expect(between.caps.unattended.limit).toBe(4)
        yield* moveTo(notBefore)
        const after = yield* runtime.summary
        expect(after.pending).toBeNull()
        expect(after.caps.unattended).toMatchObject({ state: "renewed", limit: 9 })
      })
    ))

  it.scoped("Portal unreachable with validation required: grace, then limited; one good ping restores the caps", () =>
    withRuntime(({ runtime, portal, pings }) =>
      Effect.gen(function* () {
        yield* activate(runtime, licenseFile({ validation: { required: true, intervalHours: 24 } }))
        const activatedAt = ISSUED + days(1)
        // The first ping happens at once and succeeds.
        yield* TestClock.adjust(0)
        expect((yield* Ref.get(pings)).length).toBe(1)
        expect(Object.keys((yield* Ref.get(pings))[0]!).sort()).toEqual(["installationId", "licenseId", "version"])
        yield* Ref.set(portal, "down")
        yield* moveTo(activatedAt + days(1))
        const failingSince = activatedAt + days(1)
        const grace = yield* stateOf(runtime, "unattended")
        expect(grace).toMatchObject({ state: "grace", reason: "portal-unreachable", grace: { endsAt: failingSince + days(14) } })
        expect((yield* runtime.summary).validation).toMatchObject({ failingSince, required: true })
        yield* moveTo(failingSince + days(14))
        expect(yield* stateOf(runtime, "unattended")).toMatchObject({ state: "limited", reason: "portal-unreachable" })
        expect(yield* Effect.flip(runtime.acquire("unattended", "r1"))).toMatchObject({ code: "CAP_LIMITED" })
        yield* Ref.set(portal, "up")
        yield* runtime.validateNow
        yield* TestClock.adjust(0)
        expect((yield* stateOf(runtime, "unattended")).state).toBe("active")
        expect((yield* runtime.acquire("unattended", "r1")).created).toBe(true)
      }),
    ISSUED + days(1),
    PORTAL
    ))

  it.scoped("Portal unreachable with validation optional changes nothing", () =>
    withRuntime(({ runtime, portal }) =>
      Effect.gen(function* () {
        yield* activate(runtime)
        yield* Ref.set(portal, "down")
        yield* moveTo(ISSUED + days(60))
        expect((yield* stateOf(runtime, "unattended")).state).toBe("active")
        expect((yield* runtime.summary).validation?.failingSince).not.toBeNull()
      }),
    ISSUED + days(1),
    PORTAL
    ))

  it.scoped("setting the clock back never extends a license", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime)
        yield* moveTo(EXPIRES + days(15))
        expect((yield* stateOf(runtime, "unattended")).state).toBe("limited")
        yield* TestClock.setTime(EXPIRES - days(100))
        yield* runtime.validateNow
        yield* TestClock.adjust(0)
        const summary = yield* runtime.summary
        expect(summary.caps.unattended.state).toBe("limited")
        expect(summary.clock.skewMs).toBe(days(115))
        expect(yield* Effect.flip(runtime.acquire("unattended", "r1"))).toMatchObject({ code: "CAP_LIMITED" })
      })
    ))

  it.scoped("publishes state and usage changes as a stream", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        const collected = yield* Effect.fork(Stream.runCollect(Stream.takeUntil(runtime.events, (e) => e._tag === "UsageChanged")))
        yield* TestClock.adjust(0)
        yield* activate(runtime)
        yield* runtime.acquire("unattended", "r1")
        const events = Array.from(yield* Fiber.join(collected))
        expect(events.map((e) => e._tag)).toContain("CapStateChanged")
        expect(events.map((e) => e._tag)).toContain("UsageChanged")
      })
    ))

  it.scoped("survives a restart on SQLite: license, caps, principals and time-driven state", () =>
    Effect.gen(function* () {
      const filename = join(mkdtempSync(join(tmpdir(), "exekra-runtime-")), "hub.sqlite")
      yield* TestClock.setTime(ISSUED + days(1))
      const portal = yield* Ref.make<"up" | "down">("up")
      const pings = yield* Ref.make<ReadonlyArray<PortalClient.ValidationRequest>>([])
      const layer = () => runtimeLayer(LicenseStore.layerSqlite({ filename }), scriptedPortal(portal, pings))
      const first = yield* Effect.flatMap(LicenseRuntime.LicenseRuntime, (runtime) =>
        Effect.gen(function* () {
          yield* activate(runtime)
          for (const id of ["r1", "r2"]) yield* runtime.acquire("unattended", id)
          yield* runtime.deactivate("unattended", "r2")
          return (yield* runtime.summary).installationId
        })
      ).pipe(Effect.provide(layer()), Effect.scoped)
      yield* moveTo(EXPIRES + days(1))
      const summary = yield* Effect.flatMap(LicenseRuntime.LicenseRuntime, (runtime) =>
        Effect.gen(function* () {
          expect(runtime.check("unattended", "r1")._tag).toBe("Right")
          expect(runtime.check("unattended", "r2")).toMatchObject({ left: { code: "PRINCIPAL_NOT_ADMITTED" } })
          return yield* runtime.summary
        })
      ).pipe(Effect.provide(layer()), Effect.scoped)
      expect(summary.installationId).toBe(first)
      expect(summary.activated).toBe(true)
      expect(summary.caps.unattended).toMatchObject({ state: "grace", used: 1 })
    }))

  it.scoped("under concurrency never admits above the limit", () =>
    withRuntime(({ runtime }) =>
      Effect.gen(function* () {
        yield* activate(runtime)
        const results = yield* Effect.all(
          Array.from({ length: 100 }, (_, i) => Effect.exit(runtime.acquire("unattended", `r${i}`))),
          { concurrency: "unbounded" }
        )
        expect(results.filter(Exit.isSuccess).length).toBe(3)
        expect((yield* stateOf(runtime, "unattended")).used).toBe(3)
      })
    ))
})
