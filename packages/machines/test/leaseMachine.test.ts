// The lease machine: pure transitions, an actor driven by explicit times, a persisted-snapshot round trip, its diagram, and the edge tour from @xstate/graph covering every state, transition and (state, event) pair.
import { describe, expect, it } from "@effect/vitest"
import { describeMachine, leaseDeadline, type LeaseEvent, leaseMachine, type LeaseSnapshot, toDot, toMermaid } from "@exekra/machines"
import { coverageTracker, type LeaseExpectation, leaseInput, leaseModelPaths, leaseSamples } from "@exekra/machines/testing"
import { createActor, initialTransition, transition } from "xstate"

const T0 = Date.UTC(2026, 0, 1)
const S = 1_000

const run = (events: ReadonlyArray<LeaseEvent>): LeaseSnapshot => {
  let [s] = initialTransition(leaseMachine, { now: T0 })
  for (const e of events) [s] = transition(leaseMachine, s, e)
  return s
}
const leased: LeaseEvent = { type: "LEASE_SET", now: T0, leaseSeconds: 60, reviveSeconds: 30 }
const admitted: LeaseEvent = { type: "ADMIT", now: T0, slotFree: true }

describe("leaseMachine", () => {
  it("admits only with a free slot; without a lease there is no deadline", () => {
    expect(run([{ type: "ADMIT", now: T0, slotFree: false }])).toMatchObject({ value: "unadmitted", context: { lastAnswer: "CAP_LIMIT_REACHED" } })
    const s = run([admitted])
    expect(s.value).toBe("active")
    expect(leaseDeadline(s)).toBeNull()
    expect(run([admitted, { type: "TICK", now: T0 + 1e12 }]).value).toBe("active")
  })

  it("culls at the lease's end to the millisecond, as of the end, and a heartbeat moves the end", () => {
    const s = run([leased, admitted])
    expect(leaseDeadline(s)).toBe(T0 + 60 * S)
    expect(run([leased, admitted, { type: "TICK", now: T0 + 60 * S - 1 }]).value).toBe("active")
    expect(run([leased, admitted, { type: "TICK", now: T0 + 90 * S }])).toMatchObject({ value: "expired", context: { culledAt: T0 + 60 * S } })
    const renewed = run([leased, admitted, { type: "HEARTBEAT", now: T0 + 50 * S, slotFree: true }])
    expect(leaseDeadline(renewed)).toBe(T0 + 110 * S)
  })

  it("revives within the window when a slot is free; refuses with CAP_LIMIT_REACHED when full, PRINCIPAL_NOT_ADMITTED after", () => {
    const culled = [leased, admitted, { type: "TICK", now: T0 + 60 * S }] as const
    expect(run([...culled, { type: "HEARTBEAT", now: T0 + 90 * S, slotFree: true }])).toMatchObject({ value: "active", context: { lastAnswer: "allowed", heartbeatAt: T0 + 90 * S } })
    expect(run([...culled, { type: "HEARTBEAT", now: T0 + 70 * S, slotFree: false }])).toMatchObject({ value: "expired", context: { lastAnswer: "CAP_LIMIT_REACHED" } })
    expect(run([...culled, { type: "HEARTBEAT", now: T0 + 90 * S + 1, slotFree: true }])).toMatchObject({ value: "expired", context: { lastAnswer: "PRINCIPAL_NOT_ADMITTED" } })
    // A heartbeat after the end that no cull has met yet is decided as if the cull had run at the end.
    expect(run([leased, admitted, { type: "HEARTBEAT", now: T0 + 70 * S, slotFree: true }])).toMatchObject({ value: "active", context: { lastAnswer: "allowed" } })
    expect(run([leased, admitted, { type: "HEARTBEAT", now: T0 + 95 * S, slotFree: true }])).toMatchObject({ value: "expired", context: { culledAt: T0 + 60 * S, lastAnswer: "PRINCIPAL_NOT_ADMITTED" } })
  })

  it("a changed lease runs from the change; turning it off ends culling and every revive window", () => {
    const later = run([admitted, { type: "LEASE_SET", now: T0 + 1_000 * S, leaseSeconds: 60, reviveSeconds: 0 }])
    expect(leaseDeadline(later)).toBe(T0 + 1_060 * S)
    const off = run([leased, admitted, { type: "TICK", now: T0 + 60 * S }, { type: "LEASE_OFF", now: T0 + 61 * S }, { type: "HEARTBEAT", now: T0 + 62 * S, slotFree: true }])
    expect(off).toMatchObject({ value: "expired", context: { lastAnswer: "PRINCIPAL_NOT_ADMITTED" } })
  })

  it("round-trips a persisted snapshot through JSON", () => {
    const actor = createActor(leaseMachine, { input: { now: T0 } }).start()
    actor.send(leased)
    actor.send(admitted)
    actor.send({ type: "TICK", now: T0 + 60 * S })
    const restored = createActor(leaseMachine, { snapshot: JSON.parse(JSON.stringify(actor.getPersistedSnapshot())), input: { now: T0 } }).start()
    expect(restored.getSnapshot().value).toBe("expired")
    expect(restored.getSnapshot().context).toEqual(actor.getSnapshot().context)
    restored.send({ type: "HEARTBEAT", now: T0 + 70 * S, slotFree: true })
    expect(restored.getSnapshot().value).toBe("active")
  })

  it("draws its diagram from the definition: every state and transition", () => {
    const model = describeMachine(leaseMachine)
    expect(model.states.map((s) => s.id)).toEqual(["unadmitted", "active", "expired"])
    const mermaid = toMermaid(leaseMachine, { highlight: "expired" })
    expect(mermaid).toContain("stateDiagram-v2")
    for (const edge of model.edges) expect(mermaid).toContain(edge.label.split(" ")[0]!)
    expect(toDot(leaseMachine)).toContain("digraph")
  })
})

// The lease rules restated as a table over the model's facts: what a principal's next state and answer must be.
const oracle = (before: LeaseExpectation & { readonly lease: { readonly ms: number; readonly revive: number; readonly since: number } | null; readonly heartbeatAt: number | null }, e: LeaseEvent) => {
  const end = before.lease === null || before.heartbeatAt === null ? null : Math.max(before.heartbeatAt, before.lease.since) + before.lease.ms
  const next = { ...before }
  const admit = (now: number) => ({ ...next, state: "active" as const, heartbeatAt: now, culledAt: null, lastAnswer: "allowed" as const })
  switch (e.type) {
    case "LEASE_SET":
      return { ...next, lease: { ms: e.leaseSeconds * 1000, revive: e.reviveSeconds * 1000, since: e.now } }
    case "LEASE_OFF":
      return { ...next, lease: null }
    case "RELEASE":
      return before.state === "unadmitted" ? next : { ...next, state: "unadmitted" as const, heartbeatAt: null, culledAt: null, lastAnswer: null }
    case "TICK":
      return before.state === "active" && end !== null && end <= e.now ? { ...next, state: "expired" as const, culledAt: end } : next
    case "ADMIT":
      if (before.state === "active") return { ...next, lastAnswer: "allowed" as const }
      return e.slotFree ? admit(e.now) : { ...next, lastAnswer: "CAP_LIMIT_REACHED" as const }
    case "HEARTBEAT": {
      if (before.state === "unadmitted") return { ...next, lastAnswer: "PRINCIPAL_NOT_ADMITTED" as const }
      const culledAt = before.state === "expired" ? before.culledAt : end !== null && end <= e.now ? end : null
      if (before.state === "active" && culledAt === null) return { ...next, heartbeatAt: e.now, lastAnswer: "allowed" as const }
      const within = before.lease !== null && culledAt !== null && e.now <= culledAt + before.lease.revive
      if (within && e.slotFree) return admit(e.now)
      return { ...next, state: "expired" as const, culledAt, lastAnswer: within ? ("CAP_LIMIT_REACHED" as const) : ("PRINCIPAL_NOT_ADMITTED" as const) }
    }
  }
}

describe("lease machine model", () => {
  it("replays every edge-tour path against the lease table, covering every state, transition and (state, event) pair", () => {
    const paths = leaseModelPaths()
    const coverage = coverageTracker(leaseMachine)
    for (const path of paths) {
      const actor = createActor(leaseMachine, { input: leaseInput }).start()
      let world: Parameters<typeof oracle>[0] = { state: "unadmitted", lastAnswer: null, culledAt: null, deadline: null, lease: null, heartbeatAt: null }
      for (const step of path.steps) {
        const before = actor.getSnapshot().value
        actor.send(step.event)
        world = oracle(world, step.event)
        const s = actor.getSnapshot()
        coverage.visit(before, step.event.type, s.value)
        const deadline = world.state === "active" && world.lease !== null && world.heartbeatAt !== null ? Math.max(world.heartbeatAt, world.lease.since) + world.lease.ms : null
        const expected: LeaseExpectation = { state: world.state, lastAnswer: world.lastAnswer, culledAt: world.state === "expired" ? world.culledAt : null, deadline }
        expect(step.expected, path.description).toEqual(expected)
        expect({ state: s.value, lastAnswer: s.context.lastAnswer, culledAt: s.value === "expired" ? s.context.culledAt : null, deadline: leaseDeadline(s) }, path.description).toEqual(expected)
      }
    }
    const report = coverage.report()
    console.log(`${report.summary}; ${paths.length} edge-tour paths over ${paths.length / leaseSamples.length} model states`)
    expect(report.states.missing).toEqual([])
    expect(report.transitions.missing).toEqual([])
    expect(report.pairs.missing).toEqual([])
  })
})
