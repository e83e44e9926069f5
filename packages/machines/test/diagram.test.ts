// Diagrams: every state and transition of each machine, always transitions included, in Mermaid, DOT and Graphviz SVG.
import { describe, expect, it } from "@effect/vitest"
import { activationMachine, capMachine, describeMachine, toDot, toMermaid, toSvg, validationMachine } from "@exekra/machines"
import { Effect } from "effect"
import { assign, createMachine } from "xstate"
import { doorMachine, escapeMachine, pairMachine } from "./diagramFixtures.js"

const capStates = ["unactivated", "active", "renewed", "expiring", "grace", "limited"]
const capEvents = ["TICK", "LICENSE_INSTALLED", "LICENSE_STAGED", "VALIDATION_FAILED", "VALIDATION_SUCCEEDED", "CLOCK_OBSERVED"]

describe("describeMachine", () => {
  it("finds the cap machine's 30 always transitions, which its serialised definition omits", () => {
    const model = describeMachine(capMachine)
    expect(model.states.map((s) => s.id)).toEqual(capStates)
    const pairs = capStates.flatMap((from) => capStates.filter((to) => to !== from).map((to) => `${from} → ${to} : always [evaluatesTo(${to})]`))
    expect(model.edges.map((e) => `${e.from} → ${e.to} : ${e.label}`).sort()).toEqual(pairs.sort())
    expect(model.edges.every((e) => e.eventless)).toBe(true)
    expect(model.internal).toEqual([{ state: null, labels: expect.arrayContaining(capEvents.map((e) => expect.stringMatching(new RegExp(`^${e} / observe`)))) }])
  })
})

describe("toMermaid", () => {
  it("shows all six cap states and every transition", () => {
    const mermaid = toMermaid(capMachine)
    expect(mermaid.startsWith("stateDiagram-v2\n")).toBe(true)
    expect(mermaid).toContain("[*] --> unactivated")
    for (const state of capStates) expect(mermaid).toContain(`state "${state}" as ${state}`)
    for (const from of capStates) {
      for (const to of capStates.filter((s) => s !== from)) expect(mermaid).toContain(`${from} --> ${to} : always [evaluatesTo(${to})]`)
    }
    for (const event of capEvents) expect(mermaid).toMatch(new RegExp(`\\n\\s+${event} / observe`))
  })

  it("draws activation and validation with their events", () => {
    const activation = toMermaid(activationMachine)
    expect(activation).toContain("unactivated --> licenseVerified : LICENSE_ACCEPTED")
    expect(activation).toContain("licenseVerified --> unactivated : ADMIN_REJECTED")
    expect(activation).toContain("adminCreated --> activated : ACTIVATION_COMMITTED")
    expect(activation).toContain("LICENSE_ACCEPTED / refuseAgain")
    const validation = toMermaid(validationMachine)
    expect(validation).toContain("pinging --> failing : PING_FAILED")
    expect(validation).toContain("failing --> pinging : PING_DUE")
  })

  it("marks the highlighted state", () => {
    expect(toMermaid(capMachine, { highlight: "grace" })).toContain("class grace current")
    expect(toMermaid(capMachine, { highlight: "nonsense" })).not.toContain("class ")
  })
})

describe("toDot", () => {
  it("has every state and every transition, always ones dashed", () => {
    const dot = toDot(capMachine, { highlight: "limited" })
    for (const state of capStates) expect(dot).toMatch(new RegExp(`"${state}" \\[label="${state}"`))
    expect(dot.match(/style=dashed/g)).toHaveLength(30)
    expect(dot).toContain('"grace" -> "limited" [label="always [evaluatesTo(limited)]", style=dashed]')
    expect(dot).toContain('"limited" [label="limited", class="current"')
  })
})

describe("toSvg", () => {
  it.effect("lays the cap machine out with Graphviz and keeps the highlight", () =>
    Effect.gen(function* () {
      const svg = yield* toSvg(capMachine, { highlight: "grace" })
      expect(svg).toContain("<svg")
      for (const state of capStates) expect(svg).toContain(`<title>${state}</title>`)
      expect(svg).toMatch(/<g id="[^"]+" class="node current">\s*<title>grace<\/title>/)
    })
  )

  it.effect("renders the other machines too", () =>
    Effect.gen(function* () {
      expect(yield* toSvg(activationMachine)).toContain("<title>licenseVerified</title>")
      expect(yield* toSvg(validationMachine, { highlight: "failing" })).toContain("class=\"node current\"")
    })
  )
})

// The exact renderings, reviewed once and kept: any change to a diagram shows up as a diff of these files.
describe("golden renderings", () => {
  const machines = { cap: capMachine, activation: activationMachine, validation: validationMachine } as const
  for (const [name, machine] of Object.entries(machines)) {
    it(`${name}: Mermaid and DOT, plain and highlighted`, async () => {
      const highlight = name === "cap" ? "grace" : name === "activation" ? "licenseVerified" : "failing"
      await expect(toMermaid(machine)).toMatchFileSnapshot(`__golden__/${name}.mmd`)
      await expect(toMermaid(machine, { highlight })).toMatchFileSnapshot(`__golden__/${name}.highlight.mmd`)
      await expect(toDot(machine)).toMatchFileSnapshot(`__golden__/${name}.dot`)
      await expect(toDot(machine, { highlight })).toMatchFileSnapshot(`__golden__/${name}.highlight.dot`)
    })
  }
})

// Machines that nest, run regions in parallel, use inline and parameterised guards and actions, and have names that need escaping.
describe("other machines", () => {
  it("describeMachine gives nested states their dotted ids, parents and initial states", () => {
    const model = describeMachine(doorMachine)
    expect(model.initial).toBe("closed")
    expect(model.states).toEqual([
      { id: "closed", key: "closed", parent: null, initial: "closed.locked" },
      { id: "closed.locked", key: "locked", parent: "closed", initial: null },
      { id: "closed.unlocked", key: "unlocked", parent: "closed", initial: null },
      { id: "open", key: "open", parent: null, initial: null },
      { id: "alarm", key: "alarm", parent: null, initial: null },
      { id: "alarm.siren", key: "siren", parent: "alarm", initial: "alarm.siren.on" },
      { id: "alarm.siren.on", key: "on", parent: "alarm.siren", initial: null },
      { id: "alarm.siren.off", key: "off", parent: "alarm.siren", initial: null },
      { id: "alarm.light", key: "light", parent: "alarm", initial: "alarm.light.flashing" },
      { id: "alarm.light.flashing", key: "flashing", parent: "alarm.light", initial: null }
    ])
  })

  it("describeMachine names guards and actions: by name, with their plain parameters, or inline", () => {
    const model = describeMachine(doorMachine)
    // Object parameters are left out; an xstate action creator shows as its name, an anonymous function as inline.
    expect(model.edges).toContainEqual({ from: "closed.locked", to: "closed.unlocked", label: "UNLOCK [codeAccepted(4, 3)]", eventless: false })
    expect(model.edges).toContainEqual({ from: "open", to: "closed", label: "always [windy]", eventless: true })
    // A transition on the machine leaves every top-level state; one without a target (and without actions) stays put.
    expect(model.edges.filter((e) => e.label === "RESET").map((e) => e.from)).toEqual(["closed", "open", "alarm"])
    expect(model.internal).toEqual([
      { state: null, labels: ["WAIT"] },
      { state: "closed.locked", labels: ["KNOCK / assign, ring, inline"] },
      // Regression: an eventless transition without a target was left out of the model (and of every diagram).
      { state: "open", labels: ["always [inline] / log, assign"] }
    ])
  })

  it("a user function carrying its own type is named by it; xstate's built-in actions by their creator", () => {
    const notify = Object.assign(() => {}, { type: "notify" })
    const machine = createMachine({ id: "m", initial: "a", states: { a: { on: { GO: { actions: [notify, assign({})] } } } } })
    expect(describeMachine(machine).internal).toEqual([{ state: "a", labels: ["GO / notify, assign"] }])
  })

  it("highlights a nested state by its dotted path or by its key", () => {
    const byPath = toMermaid(doorMachine, { highlight: "closed.locked" })
    expect(byPath).toContain("  class closed_locked current\n")
    expect(toMermaid(doorMachine, { highlight: "locked" })).toBe(byPath)
    const dot = toDot(doorMachine, { highlight: "closed.locked" })
    expect(dot).toContain('    "closed.locked" [label="locked", class="current", fillcolor="#fde68a", color="#b45309", penwidth=3]\n')
    expect(toDot(doorMachine, { highlight: "locked" })).toBe(dot)
    expect(toDot(doorMachine, { highlight: "unknown" })).toBe(toDot(doorMachine))
  })

  it.effect("lays a nested machine out with one box per leaf state, compound states as clusters", () =>
    Effect.gen(function* () {
      const svg = yield* toSvg(doorMachine, { highlight: "locked" })
      const nodes = [...svg.matchAll(/<g id="[^"]+" class="node[^"]*">\s*<title>([^<]+)<\/title>/g)].map((m) => m[1])
      expect(nodes.filter((n) => !n?.startsWith("__")).sort()).toEqual(
        ["alarm.light.flashing", "alarm.siren.off", "alarm.siren.on", "closed.locked", "closed.unlocked", "open"]
      )
      expect(svg).toMatch(/<g id="[^"]+" class="node current">\s*<title>closed\.locked<\/title>/)
      for (const cluster of ["closed", "alarm", "alarm.siren", "alarm.light"]) expect(svg).toContain(`<title>cluster_${cluster}</title>`)
    })
  )

  it.effect("escapes names so that Graphviz reads them back unchanged", () =>
    Effect.gen(function* () {
      const svg = yield* toSvg(escapeMachine)
      expect(svg).toContain("<title>the &quot;door&quot;</title>")
      expect(svg).toContain(">knock:knock; #1 \\ 2</text>")
      expect(svg).toContain(">say &quot;hi&quot; \\ bye / back\\slash, quote&quot;d</text>")
      expect(svg).toMatch(/>two<\/text>\s*<text[^>]*>lines<\/text>/)
    })
  )

  it("a machine of parallel regions pins its notes to its first state; a machine without states draws none", () => {
    expect(toMermaid(pairMachine)).toContain("  note left of left\n    In every state\n    PING / log\n  end note\n")
    const empty = createMachine({ id: "empty", on: { PING: { actions: () => {} } } })
    expect(toMermaid(empty)).toBe("stateDiagram-v2\n")
    expect(describeMachine(empty)).toEqual({ id: "empty", states: [], initial: null, edges: [], internal: [{ state: null, labels: ["PING / inline"] }] })
  })

  it("golden renderings: nested, parallel and escaped", async () => {
    await expect(toMermaid(doorMachine)).toMatchFileSnapshot("__golden__/door.mmd")
    await expect(toDot(doorMachine)).toMatchFileSnapshot("__golden__/door.dot")
    await expect(toMermaid(pairMachine)).toMatchFileSnapshot("__golden__/pair.mmd")
    await expect(toDot(pairMachine)).toMatchFileSnapshot("__golden__/pair.dot")
    await expect(toMermaid(escapeMachine)).toMatchFileSnapshot("__golden__/escape.mmd")
    await expect(toDot(escapeMachine)).toMatchFileSnapshot("__golden__/escape.dot")
  })
})
