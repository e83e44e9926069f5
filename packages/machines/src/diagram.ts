/** Diagrams drawn from the machine definitions themselves (Mermaid, DOT, SVG via Graphviz), so they cannot disagree with the code. */
import { Effect } from "effect"
import type { AnyStateMachine, AnyTransitionDefinition } from "xstate"

/** Options for every diagram format. */
export interface DiagramOptions {
  /** A state key (or dotted path) to mark as the current state. */
  readonly highlight?: string
  /**
   * What to draw: `"all"` (default) every state and transition; `"outgoing"` only the highlighted state, the
   * transitions out of it and the states they reach (see `outgoingOf`), the legible part of a dense machine.
   * Without a highlight that names a state, everything is drawn.
   */
  readonly scope?: "all" | "outgoing"
}

/** One drawable transition. */
export interface DiagramEdge {
  readonly from: string
  readonly to: string
  /** `EVENT [guard]`, or `always [guard]` for an eventless transition. */
  readonly label: string
  readonly eventless: boolean
}

/** A machine reduced to what a diagram draws; ids are dotted state paths. */
export interface DiagramModel {
  readonly id: string
  readonly states: ReadonlyArray<{ readonly id: string; readonly key: string; readonly parent: string | null; readonly initial: string | null }>
  readonly initial: string | null
  readonly edges: ReadonlyArray<DiagramEdge>
  /** Transitions that change no state (context updates), per state; `null` is the machine itself, i.e. every state. */
  readonly internal: ReadonlyArray<{ readonly state: string | null; readonly labels: ReadonlyArray<string> }>
}

type AnyNode = AnyStateMachine["root"]

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

// A function written in place as `guard: (…) => …` or `actions: (…) => …` takes the property's name: it has none of its own.
const inferredNames: ReadonlySet<string> = new Set(["", "guard", "actions"])

// Named guards and actions are referenced by name or by `{ type, params }`; inline functions by their name.
const referenceName = (ref: unknown): string => {
  if (typeof ref === "string") return ref
  if (typeof ref === "function") {
    const type: unknown = (ref as { type?: unknown }).type
    return typeof type === "string" && !type.startsWith("xstate.") ? type : inferredNames.has(ref.name) ? "inline" : ref.name
  }
  if (isRecord(ref) && typeof ref.type === "string") {
    const params = isRecord(ref.params) ? Object.values(ref.params).filter((v) => typeof v !== "object") : []
    return params.length === 0 ? ref.type : `${ref.type}(${params.map(String).join(", ")})`
  }
  return "inline"
}

const nodeId = (node: AnyNode): string => node.path.join(".")

const transitionLabel = (event: string, guard: unknown): string => (guard === undefined ? event : `${event} [${referenceName(guard)}]`)

const childNodes = (node: AnyNode): ReadonlyArray<AnyNode> => Object.values(node.states) as ReadonlyArray<AnyNode>

/** Reduce a machine to its states and transitions, including the `always` ones its serialised definition omits. */
export const describeMachine = (machine: AnyStateMachine): DiagramModel => {
  const states: Array<DiagramModel["states"][number]> = []
  const edges: Array<DiagramEdge> = []
  const internal: Array<DiagramModel["internal"][number]> = []
  const initialOf = (node: AnyNode): string | null => {
    const target = node.type === "compound" ? node.initial.target[0] : undefined
    return target === undefined ? null : nodeId(target)
  }
  const visit = (node: AnyNode, isRoot: boolean): void => {
    const id = nodeId(node)
    if (!isRoot) states.push({ id, key: node.key, parent: node.parent && node.parent.parent ? nodeId(node.parent) : null, initial: initialOf(node) })
    const labels: Array<string> = []
    // A transition on the machine itself applies in every top-level state.
    const sources = isRoot ? childNodes(node).map(nodeId) : [id]
    const add = (eventType: string, t: AnyTransitionDefinition, eventless: boolean): void => {
      const label = transitionLabel(eventType, t.guard)
      if (t.target === undefined || t.target.length === 0) {
        const actions = t.actions.map(referenceName)
        labels.push(actions.length === 0 ? label : `${label} / ${actions.join(", ")}`)
      } else {
        for (const source of sources) for (const target of t.target) edges.push({ from: source, to: nodeId(target), label, eventless })
      }
    }
    for (const [eventType, transitions] of node.transitions) for (const t of transitions) add(eventType, t, false)
    // An eventless transition without a target only updates the context, like a targetless event.
    for (const t of node.always ?? []) add("always", t, true)
    if (labels.length > 0) internal.push({ state: isRoot ? null : id, labels })
    for (const child of childNodes(node)) visit(child, false)
  }
  visit(machine.root, true)
  return { id: machine.id, states, initial: initialOf(machine.root), edges, internal }
}

const resolveHighlight = (model: DiagramModel, highlight: string | undefined): string | undefined =>
  highlight === undefined ? undefined : model.states.find((s) => s.id === highlight || s.key === highlight)?.id

const isWithin = (id: string, ancestor: string): boolean => id === ancestor || id.startsWith(`${ancestor}.`)

/**
 * The part of a model around one state (its dotted id): that state, the transitions that leave it (its ancestors'
 * included, since they leave it too, and drawn from the state itself) and the states they reach, with the compound
 * states around them. No start marker, no notes. A model without that state is returned unchanged.
 *
 * @example
 * import { capMachine, describeMachine, outgoingOf } from "@exekra/machines"
 *
 * // The five states an active cap can move to.
 * export const next = outgoingOf(describeMachine(capMachine), "active").edges.map((edge) => edge.to)
 */
export const outgoingOf = (model: DiagramModel, state: string): DiagramModel => {
  if (!model.states.some((s) => s.id === state)) return model
  const edges = model.edges.filter((e) => isWithin(state, e.from)).map((e) => ({ ...e, from: state }))
  const byId = new Map(model.states.map((s) => [s.id, s]))
  const kept = new Set<string>()
  const keep = (id: string): void => {
    if (kept.has(id)) return
    kept.add(id)
    const found = byId.get(id)
    if (found === undefined) return
    // A state is drawn inside its parents; an edge into a compound state ends at the state it starts in.
    if (found.parent !== null) keep(found.parent)
    const inner = found.initial ?? model.states.find((s) => s.parent === id)?.id
    if (inner !== undefined) keep(inner)
  }
  keep(state)
  for (const edge of edges) keep(edge.to)
  return { ...model, states: model.states.filter((s) => kept.has(s.id)), initial: null, edges, internal: [] }
}

const scoped = (model: DiagramModel, options: DiagramOptions): DiagramModel => {
  const current = resolveHighlight(model, options.highlight)
  return options.scope === "outgoing" && current !== undefined ? outgoingOf(model, current) : model
}

// Mermaid ids may not contain dots; labels may not contain its separators.
const mermaidId = (id: string): string => id.replace(/[^A-Za-z0-9_]/g, "_")
const mermaidText = (s: string): string => s.replace(/[:;#\n]/g, " ")

/** The machine as a Mermaid `stateDiagram-v2`. */
export const toMermaid = (machine: AnyStateMachine, options: DiagramOptions = {}): string => {
  const model = scoped(describeMachine(machine), options)
  const lines: Array<string> = ["stateDiagram-v2"]
  const renderStates = (parent: string | null, indent: string): void => {
    const parentState = model.states.find((s) => s.id === parent)
    const initial = parent === null ? model.initial : (parentState?.initial ?? null)
    if (initial !== null) lines.push(`${indent}[*] --> ${mermaidId(initial)}`)
    for (const state of model.states.filter((s) => s.parent === parent)) {
      const hasChildren = model.states.some((s) => s.parent === state.id)
      if (hasChildren) {
        lines.push(`${indent}state "${mermaidText(state.key)}" as ${mermaidId(state.id)} {`)
        renderStates(state.id, `${indent}  `)
        lines.push(`${indent}}`)
      } else {
        lines.push(`${indent}state "${mermaidText(state.key)}" as ${mermaidId(state.id)}`)
      }
    }
  }
  renderStates(null, "  ")
  for (const edge of model.edges) lines.push(`  ${mermaidId(edge.from)} --> ${mermaidId(edge.to)} : ${mermaidText(edge.label)}`)
  for (const note of model.internal) {
    // Mermaid needs a state to pin a note to; a machine of parallel regions has no initial state, so its first state.
    const anchor = note.state ?? model.initial ?? model.states[0]?.id ?? null
    if (anchor === null) continue
    lines.push(`  note left of ${mermaidId(anchor)}`)
    lines.push(note.state === null ? "    In every state" : "    Without leaving this state")
    for (const label of note.labels) lines.push(`    ${mermaidText(label)}`)
    lines.push("  end note")
  }
  const current = resolveHighlight(model, options.highlight)
  if (current !== undefined) {
    lines.push("  classDef current fill:#fde68a,stroke:#b45309,stroke-width:3px")
    lines.push(`  class ${mermaidId(current)} current`)
  }
  return `${lines.join("\n")}\n`
}

const dotString = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`

/** The machine as a Graphviz DOT digraph; eventless (`always`) transitions are dashed. */
export const toDot = (machine: AnyStateMachine, options: DiagramOptions = {}): string => {
  const model = scoped(describeMachine(machine), options)
  const current = resolveHighlight(model, options.highlight)
  const lines: Array<string> = [
    `digraph ${dotString(model.id)} {`,
    "  rankdir=LR",
    // Lets edges of compound states end at their cluster's border (`lhead`, `ltail`).
    ...(model.states.some((s) => s.parent !== null) ? ["  compound=true"] : []),
    '  graph [fontname="Helvetica", fontsize=12, nodesep=0.4, ranksep=0.9]',
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=12]',
    '  edge [fontname="Helvetica", fontsize=9, color="#475569", fontcolor="#334155"]'
  ]
  // A compound state is a cluster, not a node: its edges attach to the leaf it starts in and are clipped at the cluster.
  const leafOf = (id: string): string => {
    const inner = model.states.find((s) => s.id === id)?.initial ?? model.states.find((s) => s.parent === id)?.id
    return inner === undefined ? id : leafOf(inner)
  }
  const edgeLine = (from: string, to: string, attributes: ReadonlyArray<string>): string => {
    const [tail, head] = [leafOf(from), leafOf(to)]
    // A loop on a cluster is drawn as a loop on its leaf: clipping both ends at the same cluster leaves nothing to draw.
    // Nor is an end clipped at a cluster that holds the other end (a state leaving for a compound state around it).
    const clip =
      from === to
        ? []
        : [
            ...(tail === from || isWithin(head, from) ? [] : [`ltail=${dotString(`cluster_${from}`)}`]),
            ...(head === to || isWithin(tail, to) ? [] : [`lhead=${dotString(`cluster_${to}`)}`])
          ]
    const list = [...clip, ...attributes]
    return `${dotString(tail)} -> ${dotString(head)}${list.length === 0 ? "" : ` [${list.join(", ")}]`}`
  }
  const renderStates = (parent: string | null, indent: string): void => {
    const parentState = model.states.find((s) => s.id === parent)
    const initial = parent === null ? model.initial : (parentState?.initial ?? null)
    if (initial !== null) {
      const start = `__start:${parent ?? ""}`
      lines.push(`${indent}${dotString(start)} [shape=point, width=0.15, label=""]`, `${indent}${edgeLine(start, initial, [])}`)
    }
    for (const state of model.states.filter((s) => s.parent === parent)) {
      if (model.states.some((s) => s.parent === state.id)) {
        lines.push(`${indent}subgraph ${dotString(`cluster_${state.id}`)} {`, `${indent}  label=${dotString(state.key)}`)
        renderStates(state.id, `${indent}  `)
        lines.push(`${indent}}`)
      } else {
        const marked = state.id === current ? ', class="current", fillcolor="#fde68a", color="#b45309", penwidth=3' : ""
        lines.push(`${indent}${dotString(state.id)} [label=${dotString(state.key)}${marked}]`)
      }
    }
  }
  renderStates(null, "  ")
  for (const edge of model.edges) {
    lines.push(`  ${edgeLine(edge.from, edge.to, [`label=${dotString(edge.label)}`, ...(edge.eventless ? ["style=dashed"] : [])])}`)
  }
  model.internal.forEach((note, i) => {
    const title = note.state === null ? "In every state" : `In ${note.state}`
    const text = [title, ...note.labels].map((l) => `${l.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}\\l`).join("")
    lines.push(`  ${dotString(`__note:${i}`)} [shape=note, style=filled, fillcolor="#f8fafc", fontsize=9, label="${text}"]`)
    if (note.state !== null) lines.push(`  ${edgeLine(`__note:${i}`, note.state, ["style=dotted", "arrowhead=none"])}`)
  })
  lines.push("}")
  return `${lines.join("\n")}\n`
}

// Loaded on first use: most users of this package never draw an SVG, and the WebAssembly bundle is large.
const graphviz = Effect.promise(() => import("@hpcc-js/wasm-graphviz").then((m) => m.Graphviz.load()))

/** The machine as SVG, laid out by Graphviz (its WebAssembly build from npm). */
export const toSvg = (machine: AnyStateMachine, options: DiagramOptions = {}): Effect.Effect<string> =>
  Effect.map(graphviz, (g) => g.dot(toDot(machine, options), "svg"))
