// Diagrams: every state and transition of each machine, always transitions included, in Mermaid, DOT and Graphviz SVG.
import { describe, expect, it } from "@effect/vitest"
import { activationMachine, capMachine, describeMachine, outgoingOf, toDot, toMermaid, toSvg, validationMachine } from "@exekra/machines"
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

// The compact rendering of the License page: one state and the transitions out of it, legible where the whole machine is not.
describe("outgoing scope", () => {
  it("outgoingOf keeps a cap state, exactly its five transitions out and the states they reach", () => {
    const model = describeMachine(capMachine)
    for (const state of capStates) {
      const part = outgoingOf(model, state)
      expect(part.edges).toEqual(model.edges.filter((e) => e.from === state))
      expect(part.edges.map((e) => e.to).sort()).toEqual(capStates.filter((s) => s !== state).sort())
      expect(part.states.map((s) => s.id)).toEqual(capStates)
      expect(part.initial).toBeNull()
      expect(part.internal).toEqual([])
    }
    expect(outgoingOf(model, "nonsense")).toBe(model)
  })

  it("draws only the current state's transitions, without the start marker or the notes", () => {
    const dot = toDot(capMachine, { highlight: "grace", scope: "outgoing" })
    expect(dot.match(/ -> /g)).toHaveLength(5)
    expect(dot.match(/^ {2}"grace" -> /gm)).toHaveLength(5)
    expect(dot).toContain('"grace" [label="grace", class="current"')
    expect(dot).not.toContain("__start")
    expect(dot).not.toContain("__note")
    const mermaid = toMermaid(capMachine, { highlight: "grace", scope: "outgoing" })
    expect(mermaid.match(/ --> /g)).toHaveLength(5)
    expect(mermaid).toContain("class grace current")
    // Without a state to start from, the scope draws the whole machine.
    expect(toDot(capMachine, { scope: "outgoing" })).toBe(toDot(capMachine))
    expect(toDot(capMachine, { highlight: "nonsense", scope: "outgoing" })).toBe(toDot(capMachine))
  })

  it("counts a parent's transitions as the state's own, drawn from the state, and keeps the clusters around what is drawn", () => {
    const model = outgoingOf(describeMachine(doorMachine), "closed.locked")
    expect(model.edges.map((e) => `${e.from} → ${e.to} : ${e.label}`).sort()).toEqual([
      "closed.locked → closed : RESET",
      "closed.locked → closed.unlocked : UNLOCK [codeAccepted(4, 3)]",
      "closed.locked → open : OPEN [isClear]"
    ])
    expect(model.states.map((s) => s.id)).toEqual(["closed", "closed.locked", "closed.unlocked", "open"])
    // A parallel region's state reaches a compound state: drawn as a cluster around the state it starts in.
    const siren = outgoingOf(describeMachine(doorMachine), "alarm.siren.on")
    expect(siren.states.map((s) => s.id)).toEqual(["closed", "closed.locked", "alarm", "alarm.siren", "alarm.siren.on"])
  })

  it.effect("lays the compact cap diagram out with Graphviz: six states, five edges", () =>
    Effect.gen(function* () {
      const svg = yield* toSvg(capMachine, { highlight: "active", scope: "outgoing" })
      expect(svg.match(/class="edge"/g)).toHaveLength(5)
      expect(svg.match(/class="node[^"]*"/g)).toHaveLength(6)
      expect(svg).toMatch(/<g id="[^"]+" class="node current">\s*<title>active<\/title>/)
    })
  )

  it("golden renderings: the cap's and a nested machine's outgoing views", async () => {
    await expect(toDot(capMachine, { highlight: "active", scope: "outgoing" })).toMatchFileSnapshot("__golden__/cap.outgoing.dot")
    await expect(toMermaid(capMachine, { highlight: "active", scope: "outgoing" })).toMatchFileSnapshot("__golden__/cap.outgoing.mmd")
    await expect(toDot(doorMachine, { highlight: "closed.locked", scope: "outgoing" })).toMatchFileSnapshot("__golden__/door.outgoing.dot")
    await expect(toMermaid(doorMachine, { highlight: "alarm.siren.on", scope: "outgoing" })).toMatchFileSnapshot("__golden__/door.outgoing.mmd")
  })
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
