// Diagrams: every state and transition of each machine, always transitions included, in Mermaid, DOT and Graphviz SVG.
import { describe, expect, it } from "@effect/vitest"
import { activationMachine, capMachine, describeMachine, toDot, toMermaid, toSvg, validationMachine } from "@exekra/machines"
import { Effect } from "effect"

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
