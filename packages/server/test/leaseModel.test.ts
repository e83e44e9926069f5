// Model-based tests on the real runtime: the lease machine's edge-tour paths (@exekra/machines/testing) replayed on a LicenseRuntime under TestClock, with the runtime's own cull timer doing what the model's TICK does.
import { describe, expect, it } from "@effect/vitest"
import { Installation, LicenseStore, type PortalClient, Verifier } from "@exekra/core"
import { type LeaseEvent, leaseMachine } from "@exekra/machines"
import { coverageTracker, type LeaseExpectation, leaseInput, leaseModelPaths, type ModelPath } from "@exekra/machines/testing"
import { LicenseRuntime } from "@exekra/server"
import { Clock, Context, Effect, Either, Exit, Layer, Ref, Scope, TestClock, TestContext } from "effect"
import { createActor } from "xstate"
import { vi } from "vitest"
import { keyring, licenseFile, password, scriptedPortal, SIMULATION_HEARTBEAT_MS } from "./fixtures.js"

// Every path activates a Hub: the same password is hashed once for real and that hash handed out again.
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

type Path = ModelPath<LeaseEvent, LeaseExpectation>
type Runtime = LicenseRuntime.LicenseRuntime.Service

const cap = "unattended" as const
/** The principal the model follows. */
const P = "model-runner"
/** Other principals, admitted to fill the cap when the model says no slot is free. */
const fillers = ["filler-1", "filler-2", "filler-3"]
/** The fixture license grants 3 Runners, no overage. */
const CEILING = 3

type Stop = { readonly _tag: "NotAHubEvent"; readonly why: string } | { readonly _tag: "Diverged"; readonly detail: string }

const startRuntime = Effect.gen(function* () {
  const scope = yield* Scope.make()
  const portal = scriptedPortal(yield* Ref.make<"up" | "down">("up"), yield* Ref.make<ReadonlyArray<PortalClient.ValidationRequest>>([]))
  const base = Layer.mergeAll(Verifier.layerNodeCrypto(keyring), portal, Layer.provideMerge(Installation.layer, LicenseStore.layerMemory))
  const layer = LicenseRuntime.layer({ version: "test", heartbeatMs: SIMULATION_HEARTBEAT_MS }).pipe(Layer.provideMerge(base))
  const context = yield* Layer.buildWithScope(layer, scope)
  const runtime = Context.get(context, LicenseRuntime.LicenseRuntime)
  yield* runtime.activate({ license: licenseFile({ issuedAt: "2025-12-01T00:00:00Z" }), email: "admin@acme.example", password })
  return { runtime, stop: Scope.close(scope, Exit.void) }
})

const codeOf = <A>(effect: Effect.Effect<A, { readonly code: string }>) =>
  Effect.map(Effect.either(effect), (r): LeaseExpectation["lastAnswer"] => (Either.isRight(r) ? "allowed" : (r.left.code as LeaseExpectation["lastAnswer"])))

/** Fill the cap with other principals, or empty it of them, as the model's `slotFree` says. */
const arrange = (runtime: Runtime, slotFree: boolean) =>
  Effect.gen(function* () {
    const holds = Either.isRight(runtime.check(cap, P))
    const wanted = slotFree ? 0 : CEILING - (holds ? 1 : 0)
    for (const [i, id] of fillers.entries()) {
      if (i < wanted) yield* Effect.either(runtime.acquire(cap, id))
      else yield* runtime.release(cap, id)
    }
  })

/** What the runtime says of the principal, in the model's terms. */
const observe = (runtime: Runtime, lastAnswer: LeaseExpectation["lastAnswer"]) =>
  Effect.gen(function* () {
    const p = (yield* runtime.principals(cap)).find((x) => x.id === P)
    const lease = (yield* runtime.summary).caps[cap].lease
    const state: LeaseExpectation["state"] = p === undefined || p.status === "deactivated" ? "unadmitted" : p.status
    const observed: LeaseExpectation = {
      state,
      lastAnswer,
      culledAt: state === "expired" ? (p?.culledAt ?? null) : null,
      deadline: state === "active" && lease !== null && p !== undefined ? LicenseStore.leaseEnd(lease, p.heartbeatAt) : null
    }
    // `check` answers from memory: it must agree with the store.
    if (Either.isRight(runtime.check(cap, P)) !== (state === "active")) return yield* Effect.dieMessage(`check disagrees with the store: ${state}`)
    return observed
  })

/** Replay one path on a fresh Hub; the visits of the steps it replayed. */
const replay = (path: Path) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(leaseInput.now)
    const { runtime, stop } = yield* startRuntime
    const model = createActor(leaseMachine, { input: leaseInput }).start()
    const visits: Array<readonly [string, string, string]> = []
    let lastAnswer: LeaseExpectation["lastAnswer"] = null
    let result: Stop | null = null
    for (const [i, step] of path.steps.entries()) {
      const e = step.event
      const before = model.getSnapshot()
      const deadline = before.value === "active" && before.context.leaseMs !== null && before.context.heartbeatAt !== null ? Math.max(before.context.heartbeatAt, before.context.since) + before.context.leaseMs : null
      if (e.now < (yield* Clock.currentTimeMillis)) {
        result = { _tag: "NotAHubEvent", why: "time moved back" }
        break
      }
      if (deadline !== null && deadline <= e.now && e.type !== "TICK" && e.type !== "HEARTBEAT" && e.type !== "RELEASE") {
        result = { _tag: "NotAHubEvent", why: "a Hub culls at the lease's end, and the model met no TICK before this event" }
        break
      }
      yield* TestClock.setTime(e.now)
      switch (e.type) {
        case "LEASE_SET":
          yield* runtime.setLease(cap, { leaseSeconds: e.leaseSeconds, reviveSeconds: e.reviveSeconds })
          break
        case "LEASE_OFF":
          yield* runtime.setLease(cap, null)
          break
        case "ADMIT":
          yield* arrange(runtime, e.slotFree)
          lastAnswer = yield* codeOf(runtime.acquire(cap, P))
          break
        case "HEARTBEAT":
          yield* arrange(runtime, e.slotFree)
          lastAnswer = yield* codeOf(runtime.heartbeat(cap, P))
          break
        case "TICK":
          break
        case "RELEASE":
          // Releasing a principal that holds no record changes nothing, its last answer included.
          if (yield* runtime.release(cap, P)) lastAnswer = null
          break
      }
      model.send(e)
      const actual = yield* observe(runtime, lastAnswer)
      if (JSON.stringify(actual) !== JSON.stringify(step.expected)) {
        result = { _tag: "Diverged", detail: `step ${i + 1} (${step.sample}): model ${JSON.stringify(step.expected)}, runtime ${JSON.stringify(actual)}` }
        break
      }
      visits.push([before.value, e.type, actual.state])
    }
    yield* stop
    return { result, visits }
  })

describe("lease model on the real runtime", () => {
  it.effect(
    "replays every edge-tour path on a fresh Hub: the principal's state, answers, cull time and deadline match the model at every step",
    () =>
      Effect.gen(function* () {
        const paths = leaseModelPaths()
        const coverage = coverageTracker(leaseMachine)
        const stops = new Map<string, number>()
        const diverged: Array<string> = []
        for (const path of paths) {
          const { result, visits } = yield* replay(path).pipe(Effect.provide(TestContext.TestContext))
          for (const [from, event, to] of visits) coverage.visit(from, event, to)
          if (result?._tag === "Diverged") diverged.push(`${path.description}: ${result.detail}`)
          const label = result === null ? "replayed in full" : result._tag === "NotAHubEvent" ? `stopped: ${result.why}` : "diverged"
          stops.set(label, (stops.get(label) ?? 0) + 1)
        }
        const report = coverage.report()
        console.log([`runtime ${report.summary}`, ...[...stops].map(([label, n]) => `  ${String(n).padStart(4)} paths ${label}`)].join("\n"))
        console.log(`missing pairs: ${report.pairs.missing.join(", ")}`)
        expect(diverged).toEqual([])
        expect(report.states.missing).toEqual([])
        expect(report.transitions.missing).toEqual([])
        expect(report.pairs.missing).toEqual([])
      }),
    120_000
  )
})
