/** The cap state diagram for the License page: drawn by the machines package, made embeddable (ids per cap, states marked for the page script). */
import { Cap } from "@exekra/core"
import { capMachine, toSvg } from "@exekra/machines"
import { Effect } from "effect"
import { escape } from "../Html.js"

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
 * comments go, the fixed size gives way to a padded viewBox (the stylesheet sizes it), ids are
 * prefixed with the cap so they stay unique, nodes are painted last, and nodes and edges carry
 * `data-state` / `data-from` / `data-to` so the stylesheet and script can move the highlight without
 * knowing Graphviz's numbering.
 */
export const embed = (svg: string, cap: Cap.Cap, label: string): string => {
  const start = svg.indexOf("<svg")
  const body = padViewBox((start < 0 ? svg : svg.slice(start))
    .replace(/<!--[\s\S]*?-->\n?/g, "")
    .replace(/<svg width="[^"]*" height="[^"]*"/, `<svg role="img" aria-label="${escape(label)}" focusable="false"`)
    .replace(/ id="([^"]+)"/g, ` id="${cap}-$1"`))
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

/** The cap machine's SVG with `state` highlighted, memoised per state: the drawing is the same for every cap. */
export const makeDrawer: Effect.Effect<(state: Cap.CapState) => Effect.Effect<string>> = Effect.cachedFunction((state: Cap.CapState) =>
  toSvg(capMachine, { highlight: state })
)
