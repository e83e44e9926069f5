/** A cap's state diagram on the License page as markup: its state and the ways out of it, legible at page width, with the whole machine one click away. */
import { stateMeanings } from "@exekra/machines"
import { type Html, html, trusted } from "../Html.js"
import type { CapDiagram } from "./diagram.js"
import * as F from "./format.js"
import { badge } from "./views.js"

/**
 * The compact drawing beside the same facts as text (the current state, and each state it can move to with what that
 * state means), and the full drawing in a disclosure. `data-drawn-for` names the state the compact part shows: the page
 * script marks it stale when a live update moves the cap, until the card is fetched again.
 */
export const diagramFigure = (diagram: CapDiagram): Html => {
  const { cap, state } = diagram
  const heading = F.capHeading(cap)
  return html`<figure class="diagram" data-cap="${cap}" data-field="diagram" data-state="${state}">
<h4 class="diagram-title">State diagram<span class="visually-hidden"> of ${heading}</span></h4>
<div class="diagram-now" data-drawn-for="${state}">
<div class="diagram-compact">${trusted(diagram.compact)}</div>
<div class="diagram-next">
<p class="diagram-current">Now ${badge(null, state)} <span class="muted">${stateMeanings[state]}</span></p>
<p id="diagram-${cap}-next">The cap machine moves on its own, as soon as the license's evaluation gives another state. From ${F.stateLabels[state]} it can go to:</p>
<ul class="next-states" aria-labelledby="diagram-${cap}-next">${diagram.next.map((s) => html`<li>${badge(null, s)} <span class="muted">${stateMeanings[s]}</span></li>`)}</ul>
</div>
</div>
<figcaption id="diagram-${cap}-caption">State diagram of ${heading}, drawn from the cap machine this Hub runs: the current state, <strong data-cap="${cap}" data-field="state-label">${F.stateLabels[state]}</strong>, and only the transitions out of it.</figcaption>
<details class="diagram-full">
<summary>Full state diagram<span class="visually-hidden"> of ${heading}</span>: every state and transition</summary>
<div class="diagram-full-body">${trusted(diagram.full)}</div>
</details>
</figure>`
}
