// Ten years of one license's life on the real runtime, under the DiscreteClock: a ping every day, every cap through
// expiring, grace and limited. The runtime's state changes must be the ones the pure timeline (the cap machines driven
// from deadline to deadline) predicts, at the same instants; and the Hub must ping exactly once a day throughout.
import { describe, expect, it } from "@effect/vitest"
import { DiscreteClock, LicenseStore, PortalClient, Verifier } from "@exekra/core"
import { simulate, transitions } from "@exekra/machines"
import { Clock, Effect, Either, Layer, Stream, TestClock } from "effect"
import { LicenseRuntime } from "@exekra/server"
import { at, days, keyring, licenseFile, password, payload, runtimeLayer } from "./fixtures.js"

const START = at("2027-01-02T00:00:00Z")
const END = at("2037-09-01T00:00:00Z")
const PORTAL = "http://127.0.0.1:9/portal"

const terms = payload({
  caps: {
    unattended: { limit: 3, expiresAt: "2036-01-01T00:00:00Z" },
    developer: { limit: 2, expiresAt: "2036-07-01T00:00:00Z" },
    attended: { limit: 2, expiresAt: "2035-03-15T12:00:00Z" }
  },
  validation: { required: true, intervalHours: 24, portalUrl: PORTAL }
})

describe("ten years of license life", () => {
  it.live("the runtime changes state exactly as the timeline predicts, and pings the Portal once a day for ten years", () =>
    Effect.gen(function* () {
      const pings: Array<number> = []
      const portal = Layer.succeed(
        PortalClient.PortalClient,
        PortalClient.PortalClient.of({
          validate: () =>
            Effect.map(Clock.currentTimeMillis, (t) => {
              pings.push(t)
              return { status: "valid" as const, serverTime: new Date(t) }
            })
        })
      )
      const seen: Array<{ readonly at: number; readonly cap: string; readonly from: string; readonly to: string }> = []
      yield* Effect.gen(function* () {
        const runtime = yield* LicenseRuntime.LicenseRuntime
        yield* Effect.forkScoped(
          Stream.runForEach(runtime.events, (event) =>
            event._tag === "CapStateChanged"
              ? Effect.map(Clock.currentTimeMillis, (t) => void seen.push({ at: t, cap: event.cap, from: event.from, to: event.to }))
              : Effect.void
          )
        )
        // A forked fiber starts on the next turn; an adjustment by nothing lets the stream reach its subscription.
        yield* TestClock.adjust(0)
        yield* runtime.activate({ license: licenseFile(terms), email: "admin@acme.example", password })
        yield* TestClock.adjust(END - START)
        const summary = yield* runtime.summary
        expect(summary.caps.unattended.state).toBe("limited")
        expect(summary.caps.attended.state).toBe("limited")
      }).pipe(Effect.provide(runtimeLayer(LicenseStore.layerMemory, portal, PORTAL)), Effect.scoped, Effect.provide(DiscreteClock.layer(START)))

      const verified = Verifier.make(keyring, Verifier.tweetnaclPrimitive).verifySync(licenseFile(terms))
      if (Either.isLeft(verified)) throw verified.left
      const expected = transitions(simulate(verified.right.payload, { from: START, to: END }))
        .filter((t) => t.previous !== null && t.previous !== t.state)
        .map((t) => ({ at: t.at, cap: t.cap, from: t.previous, to: t.state }))
      const changes = seen.filter((s) => s.from !== "unactivated")
      expect(expected.length).toBeGreaterThanOrEqual(9)
      expect(changes).toEqual(expected)

      // One ping a day from activation to the end, each exactly a day after the one before.
      expect(pings.length).toBe(Math.floor((END - START) / days(1)) + 1)
      expect(pings[0]).toBe(START)
      expect(pings.every((t, i) => i === 0 || t - pings[i - 1]! === days(1))).toBe(true)
    }))
})
