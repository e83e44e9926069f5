/** The cap state diagrams of the License page: drawn by the machines package, made embeddable (ids per cap, states marked for the page script). */
import { Cap } from "@exekra/core"
import { capMachine, describeMachine, outgoingOf, toSvg } from "@exekra/machines"
import { Effect } from "effect"
import { escape } from "../Html.js"
import * as F from "./format.js"

const isState = (s: string): s is Cap.CapState => (Cap.states as ReadonlyArray<string>).includes(s)

// Graphviz escapes "-" in titles, so an edge's title `a->b` reads `a&#45;&gt;b`.
const EDGE_TITLE = /^(.*)&#45;&gt;(.*)$/

// Room around the drawing for state boxes the stylesheet enlarges (in the SVG's units, points).
const PAD_X = 70
const PAD_Y = 24

const padViewBox = (svg: string): string =>
  svg.replace(/viewBox="([\d.-]+) ([\d.-]+) ([\d.-]+) ([\d.-]+)"/, (whole, x: string, y: string, w: string, h: string) => {
    const [nx, ny, nw, nh] = [x, y, w, h].map(Number) as [number, number, number, number]
    return [nx, ny, nw, nh].every(Number.isFinite) ? `viewBox="${nx - PAD_X} ${ny - PAD_Y} ${nw + 2 * PAD_X} ${nh + 2 * PAD_Y}"` : whole
  })

// Node groups hold no nested groups (the machine's states carry no links), so a lazy match finds each one whole.
const NODE_GROUP = /<g id="[^"]+" class="node[^"]*"[^>]*>[\s\S]*?<\/g>\n?/g
const CLOSE = /<\/g>\s*<\/svg>\s*$/

/** Paint the nodes after every edge, so that enlarged state boxes cover the arrows instead of lying under them. */
const nodesOnTop = (svg: string): string => {
  if (!CLOSE.test(svg)) return svg
  const nodes = svg.match(NODE_GROUP) ?? []
  return svg.replace(NODE_GROUP, "").replace(CLOSE, `${nodes.join("")}</g>\n</svg>\n`)
}

/**
 * Graphviz output made fit for inline use in a page that shows three of them: the XML prolog and
 * comments go, the fixed size gives way to a viewBox (padded unless `pad: false`; the stylesheet sizes it), ids are
 * prefixed (with the cap and the view) so they stay unique, nodes are painted last, and nodes and edges carry
 * `data-state` / `data-from` / `data-to` so the stylesheet and script can move the highlight without
 * knowing Graphviz's numbering.
 */
export const embed = (svg: string, idPrefix: string, label: string, options: { readonly pad?: boolean } = {}): string => {
  const start = svg.indexOf("<svg")
  const cleaned = (start < 0 ? svg : svg.slice(start))
    .replace(/<!--[\s\S]*?-->\n?/g, "")
    .replace(/<svg width="[^"]*" height="[^"]*"/, `<svg role="img" aria-label="${escape(label)}" focusable="false"`)
    .replace(/ id="([^"]+)"/g, ` id="${idPrefix}-$1"`)
  const body = options.pad === false ? cleaned : padViewBox(cleaned)
  return nodesOnTop(body
    .replace(/<g id="([^"]+)" class="node( current)?">\s*<title>([^<]*)<\/title>/g, (whole, id: string, current: string | undefined, title: string) =>
      isState(title) ? `<g id="${id}" class="node${current ?? ""}" data-state="${title}">\n<title>${title}</title>` : whole
    )
    .replace(/<g id="([^"]+)" class="edge">\s*<title>([^<]*)<\/title>/g, (whole, id: string, title: string) => {
      const match = EDGE_TITLE.exec(title)
      const [from, to] = [match?.[1] ?? "", match?.[2] ?? ""]
      return isState(from) && isState(to) ? `<g id="${id}" class="edge" data-from="${from}" data-to="${to}">\n<title>${title}</title>` : whole
    }))
}

/** The two drawings of the cap machine in one state, as Graphviz makes them. */
export interface Drawings {
  /** The state and the transitions out of it, with the states they reach: legible at page width. */
  readonly compact: string
  /** Every state and transition, the state highlighted. */
  readonly full: string
}

/** The cap machine's drawings with `state` highlighted, memoised per state: they are the same for every cap. */
export const makeDrawer: Effect.Effect<(state: Cap.CapState) => Effect.Effect<Drawings>> = Effect.cachedFunction((state: Cap.CapState) =>
  Effect.all({ compact: toSvg(capMachine, { highlight: state, scope: "outgoing" }), full: toSvg(capMachine, { highlight: state }) })
)

const capModel = describeMachine(capMachine)

/** The states the cap machine can move to from `state`, in the machine's order: the targets of the transitions the compact drawing shows. */
export const nextStates = (state: Cap.CapState): ReadonlyArray<Cap.CapState> => [
  ...new Set(outgoingOf(capModel, state).edges.flatMap((edge) => (isState(edge.to) && edge.to !== state ? [edge.to] : [])))
]

/** The machine's size, for the full drawing's text alternative. */
export const capMachineSize = { states: capModel.states.length, transitions: capModel.edges.length } as const

/** One cap's diagrams, embeddable, and what they show: the License page's figure is built from this. */
export interface CapDiagram {
  readonly cap: Cap.Cap
  readonly state: Cap.CapState
  /** Embeddable SVG: the state and the transitions out of it. */
  readonly compact: string
  /** Embeddable SVG: the whole machine, the state highlighted. */
  readonly full: string
  /** Where the cap can move from `state`, as the compact drawing shows. */
  readonly next: ReadonlyArray<Cap.CapState>
}

/** "a", "a and b", "a, b and c". */
const listOf = (items: ReadonlyArray<string>): string => (items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`)

/** A cap's drawings made embeddable, each with a text alternative naming the current state (and, compact, where it can go). */
export const capDiagram = (cap: Cap.Cap, state: Cap.CapState, drawings: Drawings): CapDiagram => {
  const next = nextStates(state)
  const heading = F.capHeading(cap)
  const compactLabel = `State diagram of ${heading}: the current state, ${F.stateLabels[state]}, and the transitions out of it, to ${listOf(next.map((s) => F.stateLabels[s]))}.`
  // The page script rewrites the end of this label when the state changes: keep "the current state is …" last.
  const fullLabel = `Full state diagram of ${heading}: all ${capMachineSize.states} states and ${capMachineSize.transitions} transitions of the cap machine; the current state is ${F.stateLabels[state]}.`
  return {
    cap,
    state,
    compact: embed(drawings.compact, `${cap}-now`, compactLabel, { pad: false }),
    full: embed(drawings.full, `${cap}-all`, fullLabel),
    next
  }
}
