/** The License page as markup: the license, validation, the Hub's nodes, a card per cap, renewal, principals; pure functions of their data. */
import { Cap, type LicenseStore } from "@exekra/core"
import type { ClusterStatus } from "../../cluster/Cluster.js"
import type { CapStatus, LicenseSummary, ValidationPosture } from "../../LicenseRuntime.js"
import { type Html, html, trusted } from "../Html.js"
import type { CapDiagram } from "./diagram.js"
import * as F from "./format.js"
import { diagramFigure } from "./stateDiagram.js"
import {
  badge,
  bannerList,
  csrfField,
  dl,
  errorSummary,
  evaluationNow,
  expiryText,
  field,
  type Frame,
  graceText,
  layout,
  licensee,
  notice,
  trialNote,
  url,
  usage
} from "./views.js"

/** Notices of the License page after an action, by `?notice=`. */
export type LicenseNotice = "renewed" | "staged" | "unchanged" | "released" | "deactivated" | "not-found" | "lease-set" | "lease-off"

const licenseNoticeText = (key: LicenseNotice, cap: Cap.Cap | undefined, summary: LicenseSummary): string => {
  const one = cap === undefined ? "principal" : Cap.unitNames[cap].one
  switch (key) {
    case "renewed":
      return "The new license is installed and applies now. Every Runner, seat, user and audit record is kept."
    case "staged":
      return summary.pending === null
        ? "The license is stored and takes over at its start date."
        : `The license is stored and takes over on ${F.dateAndDays(summary.pending.notBefore, evaluationNow(summary))}.`
    case "unchanged":
      return "This license file is already installed; nothing changed."
    case "released":
      return `The ${one} was released: its record is deleted and its slot is free.`
    case "deactivated":
      return `The ${one} was deactivated: its record is kept and its slot is free.`
    case "not-found":
      return `That ${one} no longer exists; the list below is current.`
    case "lease-set": {
      const lease = cap === undefined ? null : summary.caps[cap].lease
      return lease === null
        ? "The lease is saved."
        : `The lease is saved: ${Cap.unitNames[cap!].many} that send no heartbeat for ${F.duration(lease.leaseSeconds * 1000)} are culled and their slots freed.`
    }
    case "lease-off":
      return `The lease is off: ${cap === undefined ? "principals" : Cap.unitNames[cap].many} keep their slots without heartbeats.`
  }
}

/** A refused lease setting, shown next to its field. */
export interface LeaseFormError {
  readonly cap: Cap.Cap
  readonly message: string
  /** The values as the admin entered them, so they can correct them. */
  readonly leaseSeconds: string
  readonly reviveSeconds: string
}

const leaseText = (status: CapStatus): string =>
  status.lease === null
    ? "Off: principals keep their slots without heartbeats."
    : `Heartbeat every ${F.duration(status.lease.leaseSeconds * 1000)} or be culled` +
      (status.lease.reviveSeconds === 0 ? "; a culled one must register again." : `; a culled one may come back within ${F.duration(status.lease.reviveSeconds * 1000)}.`)

/** The lease form of one cap: lease and revive window in seconds, saved or turned off. */
const leaseForm = (frame: Frame, status: CapStatus, csrf: string, error: LeaseFormError | undefined): Html => {
  const id = `lease-${status.cap}`
  const mine = error?.cap === status.cap ? error : undefined
  return html`<details class="lease-details"${status.lease !== null || mine !== undefined ? trusted(" open") : ""}>
<summary>Heartbeat lease</summary>
<form class="form" method="post" action="${url(frame, `/caps/${status.cap}/lease`)}" novalidate data-enhance>
${csrfField(csrf)}
${field({
  id: `${id}-seconds`,
  name: "leaseSeconds",
  label: "Lease (seconds)",
  type: "number",
  hint: "A principal that sends no heartbeat for this long is culled and its slot freed. At least 60.",
  error: mine?.message,
  value: mine?.leaseSeconds ?? (status.lease === null ? undefined : String(status.lease.leaseSeconds)),
  attributes: html`min="60" step="1" inputmode="numeric" required`
})}
${field({
  id: `${id}-revive`,
  name: "reviveSeconds",
  label: "Revive window (seconds)",
  type: "number",
  hint: "A culled principal whose heartbeat arrives within this long after its lease ended takes a free slot again. 0: it must register again.",
  value: mine?.reviveSeconds ?? String(status.lease?.reviveSeconds ?? 0),
  attributes: html`min="0" step="1" inputmode="numeric"`
})}
<div class="actions"><button type="submit" class="button primary">Save lease<span class="visually-hidden"> of ${F.capHeading(status.cap)}</span></button></div>
</form>
${status.lease === null
  ? ""
  : html`<form method="post" action="${url(frame, `/caps/${status.cap}/lease`)}" data-enhance>${csrfField(csrf)}<input type="hidden" name="off" value="1"><button type="submit" class="button secondary small">Turn the lease off<span class="visually-hidden"> of ${F.capHeading(status.cap)}</span></button></form>`}
</details>`
}


const licenseFacts = (summary: LicenseSummary): Html => {
  const license = summary.license
  const now = evaluationNow(summary)
  if (license === null) return html`<p>No license is installed.</p>`
  return dl([
    ["License id", html`<code>${license.licenseId}</code>`],
    ["Type", license.type === "trial" ? html`<span class="badge badge-trial">Trial</span>` : "Production"],
    ["Licensee", html`<span data-licensee>${license.issuedTo.name}</span> (${license.issuedTo.email})`],
    [
      "Installation id",
      html`<code>${summary.installationId}</code> ${license.installationId === null ? html`<span class="hint-inline">(bound at activation)</span>` : html`<span class="hint-inline">(bound by the license)</span>`}`
    ],
    ["Issued", F.dateAndDays(license.issuedAt, now)],
    ["Fingerprint", html`<code title="SHA-256 of the installed file">${license.fingerprint.slice(0, 16)}</code>`],
    ...(summary.pending === null
      ? []
      : [["Next license", `${summary.pending.licenseId} takes over on ${F.dateAndDays(summary.pending.notBefore, now)}`] as const])
  ])
}

const validationFacts = (summary: LicenseSummary): Html => {
  const v = summary.validation
  const now = evaluationNow(summary)
  if (v === null) return html`<p>No license is installed, so nothing is validated.</p>`
  return dl([
    ["Validation", v.required ? "Required: if the Portal stays unreachable, grace and then limits follow." : "Optional: pings are informational only."],
    ["Customer Portal", v.portalUrl === null ? "None configured: no validation pings are sent." : html`<code>${v.portalUrl}</code>, every ${v.intervalHours} hours`],
    ["Last success", v.lastSuccessAt === null ? "Never" : F.dateTimeAndRelative(v.lastSuccessAt, now)],
    ["Last error", v.lastError === null ? "None" : html`${v.lastError}${v.failingSince === null ? "" : html` <span class="hint-inline">(failing since ${F.dateTimeAndRelative(v.failingSince, now)})</span>`}`],
    ["Next ping", v.nextAttemptAt === null ? "None scheduled" : F.dateTimeAndRelative(v.nextAttemptAt, now)],
    ["Portal answer", F.portalAnswer(v.lastStatus)]
  ])
}

const clockNote = (summary: LicenseSummary): Html =>
  // Seconds of drift between a read and the high-water mark are normal; a minute or more means the clock moved back.
  summary.clock.skewMs >= 60_000
    ? html`<div class="notice notice-info" role="status"><p>Clock moved back: the system clock is ${F.duration(summary.clock.skewMs)} behind the latest time this Hub has seen. Licenses are evaluated at the later time, so nothing lasts longer; check the server's time settings.</p></div>`
    : html``

const capCard = (
  frame: Frame,
  status: CapStatus,
  validation: ValidationPosture | null,
  now: number,
  diagram: CapDiagram,
  csrf: string,
  leaseError: LeaseFormError | undefined
): Html => html`<section class="card cap-card" id="cap-${status.cap}" aria-labelledby="cap-${status.cap}-title" data-live="cap-${status.cap}">
<header class="card-header"><h3 id="cap-${status.cap}-title">${F.capHeading(status.cap)}</h3>${badge(status.cap, status.state)}</header>
<p class="state-sentence">${F.stateSentence(status)}</p>
<div class="cap-body">
${usage(status)}
${dl([
  ["Expires", expiryText(status, now)],
  ["Grace", graceText(status, validation, now)],
  ...(status.limitedSince === null ? [] : [["Limited since", F.dateAndDays(status.limitedSince, now)] as const]),
  ["Next change", status.nextChangeAt === null ? "None due" : F.dateAndDays(status.nextChangeAt, now)],
  ["Lease", leaseText(status)]
])}
</div>
${leaseForm(frame, status, csrf, leaseError)}
${diagramFigure(diagram)}
</section>`

const principalRow = (frame: Frame, principal: LicenseStore.LeasedPrincipal, csrf: string, now: number): Html => {
  const base = url(frame, `/caps/${principal.cap}/principals/${encodeURIComponent(principal.id)}`)
  const button = (action: "release" | "deactivate", label: string, style: string) =>
    html`<form method="post" action="${base}/${action}" data-enhance>${csrfField(csrf)}<button type="submit" class="button small ${style}">${label}<span class="visually-hidden"> ${principal.id}</span></button></form>`
  return html`<tr data-principal="${principal.id}">
<td><code>${principal.id}</code></td>
<td>${principal.name ?? html`<span class="muted">—</span>`}</td>
<td>${principal.status === "active"
  ? "Active"
  : principal.status === "expired"
    ? html`<span class="muted">Expired</span> <span class="hint-inline">(culled ${F.dateTimeAndRelative(principal.culledAt ?? principal.updatedAt, now)}: no heartbeat within its lease)</span>`
    : html`<span class="muted">Deactivated</span>`}</td>
<td>${F.dateAndDays(principal.admittedAt, now)}</td>
<td class="row-actions">${principal.status === "active" ? button("deactivate", "Deactivate", "secondary") : ""}${button("release", "Release", "danger")}</td>
</tr>`
}

const principalTable = (frame: Frame, status: CapStatus, principals: ReadonlyArray<LicenseStore.LeasedPrincipal>, csrf: string, now: number): Html => {
  const many = Cap.unitNames[status.cap].many
  return html`<section class="card principals" id="principals-${status.cap}" aria-labelledby="principals-${status.cap}-title" data-live="principals-${status.cap}">
<header class="card-header"><h3 id="principals-${status.cap}-title">${F.capHeading(status.cap)}</h3><span class="count">${status.used} of ${status.limit} in use</span></header>
${principals.length === 0
  ? html`<p class="muted">No ${many} yet.</p>`
  : html`<div class="table-scroll"><table>
<caption class="visually-hidden">${F.capHeading(status.cap)}</caption>
<thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Admitted</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${principals.map((p) => principalRow(frame, p, csrf, now))}</tbody>
</table></div>`}
</section>`
}

/** The nodes sharing this Hub's store: one line each, the leader and the node answering marked. */
const nodesCard = (cluster: ClusterStatus, now: number): Html => html`<section class="card" id="nodes" aria-labelledby="nodes-title" data-live="nodes">
<h2 id="nodes-title">Hub nodes</h2>
<p>${cluster.nodes.length <= 1 ? "This Hub runs as one node" : `This Hub runs as ${cluster.nodes.length} nodes`} on ${cluster.store === "postgres" ? "PostgreSQL" : cluster.store === "sqlite" ? "an embedded SQLite file" : "memory"}; every node answers the same. Change log at <code>${cluster.seq}</code>.</p>
${cluster.nodes.length === 0
  ? html``
  : html`<div class="table-scroll"><table>
<caption class="visually-hidden">Hub nodes</caption>
<thead><tr><th scope="col">Node</th><th scope="col">Role</th><th scope="col">Version</th><th scope="col">Started</th><th scope="col">Last seen</th><th scope="col">Applied changes</th></tr></thead>
<tbody>${cluster.nodes.map(
    (n) => html`<tr data-node="${n.id}">
<td><code>${n.id}</code>${n.self ? html` <span class="hint-inline">(this page)</span>` : ""}</td>
<td>${n.leader ? "Leader: pings the Customer Portal" : "Follower"}</td>
<td>${n.version}</td>
<td>${F.dateTimeAndRelative(n.startedAt, now)}</td>
<td>${F.relative(n.lastSeenAt, now)}</td>
<td><code>${n.appliedSeq}</code></td>
</tr>`
  )}</tbody>
</table></div>`}
</section>`

/** What the License page shows beyond the summary. */
export interface LicenseView {
  readonly summary: LicenseSummary
  readonly principals: Readonly<Record<Cap.Cap, ReadonlyArray<LicenseStore.LeasedPrincipal>>>
  /** Each cap's diagrams for its current state. */
  readonly diagrams: Readonly<Record<Cap.Cap, CapDiagram>>
  readonly notice: { readonly key: LicenseNotice; readonly cap: Cap.Cap | undefined } | undefined
  /** The renewal upload's error, shown next to its file input. */
  readonly renewalError: string | undefined
  /** The Hub's nodes, when it runs with the Cluster service. */
  readonly cluster: ClusterStatus | null
  /** A refused lease setting, shown in its cap's lease form. */
  readonly leaseError?: LeaseFormError | undefined
}

/** The License page: the license, its validation posture, a card per cap, renewal, principals and usage export. */
export const licensePage = (frame: Frame, view: LicenseView): Html => {
  const { summary } = view
  const now = evaluationNow(summary)
  const csrf = frame.session?.csrf ?? ""
  return layout(
    frame,
    "license",
    view.renewalError === undefined && view.leaseError === undefined ? "License" : "Error: License",
    html`<div class="page-header">
<h1>License</h1>
${licensee(summary)}
</div>
${view.notice === undefined ? "" : notice(licenseNoticeText(view.notice.key, view.notice.cap, summary))}
${errorSummary("The license file was not installed", view.renewalError === undefined ? [] : [{ field: "renewal-license", message: view.renewalError }])}
${view.leaseError === undefined ? "" : errorSummary("The lease was not saved", [{ field: `lease-${view.leaseError.cap}-seconds`, message: view.leaseError.message }])}
${trialNote(summary)}
${bannerList(frame, summary, "license")}
${clockNote(summary)}
<div class="two-columns">
<section class="card" aria-labelledby="license-facts-title" data-live="license-facts">
<h2 id="license-facts-title">This license</h2>
${licenseFacts(summary)}
</section>
<section class="card" aria-labelledby="validation-title" data-live="validation">
<h2 id="validation-title">Validation</h2>
${validationFacts(summary)}
</section>
</div>
${view.cluster === null ? "" : nodesCard(view.cluster, summary.clock.now)}
<h2 class="section-title">Capacity</h2>
${Cap.all.map((cap) => capCard(frame, summary.caps[cap], summary.validation, now, view.diagrams[cap], csrf, view.leaseError))}
<section class="card" id="renew" aria-labelledby="renew-title">
<h2 id="renew-title">Renew or replace the license</h2>
<p>Upload the new license file from the Customer Portal. It applies at once, without a restart, and every Runner, seat, user and audit record is kept. A file that is valid only from a later date is stored and takes over then.</p>
<form class="form" method="post" action="${url(frame, "/license")}" enctype="multipart/form-data" novalidate data-enhance>
${csrfField(csrf)}
${field({
  id: "renewal-license",
  name: "license",
  label: "License file (.lic)",
  type: "file",
  hint: "The newest .lic file from the Licenses page of the Customer Portal.",
  error: view.renewalError,
  attributes: html`accept=".lic,text/plain" required`
})}
<div class="actions"><button type="submit" class="button primary">Upload and apply</button></div>
</form>
</section>
<h2 class="section-title" id="principals">Runners, seats and users</h2>
<p class="section-lead">Release deletes a record and frees its slot. Deactivate keeps the record and frees the slot; the same id can be admitted again later. Expired principals missed their lease's heartbeat and were culled; their slots are free.</p>
<div class="principal-grid">${Cap.all.map((cap) => principalTable(frame, summary.caps[cap], view.principals[cap], csrf, now))}</div>
<section class="card" aria-labelledby="usage-title">
<h2 id="usage-title">Usage history</h2>
<p>Each cap's daily peak usage, for a true-up with your account manager.</p>
<p><a class="button secondary" href="${url(frame, "/api/usage?format=csv")}" download>Download usage history (CSV)</a> <a class="button subtle" href="${url(frame, "/timeline")}">See how the license plays out over time</a></p>
</section>`,
    { live: true }
  )
}

