/** The Timeline page as markup: how each cap of the installed license moves through its states, with a "what if the Portal were unreachable" control. */
import { Cap } from "@exekra/core"
import { stateMeanings, type Timeline, transitions } from "@exekra/machines"
import { type Html, html, trusted } from "../Html.js"
import * as F from "./format.js"
import { badge, describedBy, errorSummary, fieldError, type Frame, layout, url } from "./views.js"

/** What the timeline page shows. */
export interface TimelineView {
  readonly timeline: Timeline | null
  /** The chart from the machines package. */
  readonly svg: string | null
  readonly portalDownFrom: string
  readonly portalDownError: string | undefined
  readonly validationRequired: boolean
}

/** The timeline of the installed license, with a "what if the Portal were unreachable" control. */
export const timelinePage = (frame: Frame, view: TimelineView): Html => {
  const timeline = view.timeline
  return layout(
    frame,
    "timeline",
    view.portalDownError === undefined ? "Timeline" : "Error: Timeline",
    html`<div class="page-header">
<h1>Timeline</h1>
<p class="lead">How each cap of the installed license moves through its states over time, computed by the same cap machine the Hub runs.</p>
</div>
${errorSummary("The date could not be used", view.portalDownError === undefined ? [] : [{ field: "portal-down-from", message: view.portalDownError }])}
<form class="card form inline-form" method="get" action="${url(frame, "/timeline")}">
<div class="field${view.portalDownError === undefined ? "" : " has-error"}">
<label for="portal-down-from">What if the Customer Portal were unreachable from…</label>
<p class="hint" id="portal-down-from-hint">${view.validationRequired
  ? "This license requires validation: an unreachable Portal leads to grace and then to limits."
  : "This license does not require validation, so an unreachable Portal changes nothing; the chart shows that too."}</p>
${fieldError("portal-down-from", view.portalDownError)}
<div class="inline-row">
<input id="portal-down-from" name="portalDownFrom" type="date" value="${view.portalDownFrom}"${describedBy("portal-down-from", true, view.portalDownError)}>
<button type="submit" class="button primary">Show</button>
${view.portalDownFrom === "" ? "" : html`<a class="button subtle" href="${url(frame, "/timeline")}">Portal always reachable</a>`}
</div>
</div>
</form>
${timeline === null || view.svg === null
  ? html`<p>No license is installed.</p>`
  : html`<section class="card" aria-labelledby="chart-title">
<h2 id="chart-title">From ${F.date(timeline.from)} to ${F.date(timeline.to)}${timeline.portalDownFrom === null ? "" : `, Portal unreachable from ${F.date(timeline.portalDownFrom)}`}</h2>
<div class="timeline-chart">${trusted(view.svg)}</div>
<ul class="legend">${Cap.states.map((s) => html`<li>${badge(null, s)} ${stateMeanings[s]}</li>`)}</ul>
</section>
<section class="card" aria-labelledby="changes-title">
<h2 id="changes-title">Changes</h2>
<div class="table-scroll"><table>
<thead><tr><th scope="col">Date</th><th scope="col">Cap</th><th scope="col">Change</th><th scope="col">Why</th></tr></thead>
<tbody>${transitions(timeline).map(
  (t) => html`<tr><td>${F.date(t.at)}</td><td>${F.capHeading(t.cap)}</td><td>${t.previous === null ? "starts" : badge(null, t.previous)} → ${badge(null, t.state)}</td><td>${t.reason.replaceAll("-", " ")}</td></tr>`
)}</tbody>
</table></div>
</section>`}`
  )
}
