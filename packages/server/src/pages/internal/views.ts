/** The pages as markup: layout, dashboard and error pages, and the pieces every page shares; pure functions of their data. */
import { Cap } from "@exekra/core"
import type { CapStatus, LicenseSummary, ValidationPosture } from "../../LicenseRuntime.js"
import * as Csrf from "../Csrf.js"
import { type Html, html, type Interpolation, trusted } from "../Html.js"
import type { Asset } from "./assets.js"
import * as F from "./format.js"

// ---- shared pieces --------------------------------------------------------------------------------

/** What every page needs besides its content. */
export interface Frame {
  readonly assets: { readonly css: Asset; readonly js: Asset }
  /** The public path prefix the Hub is mounted at (`""` at the root, else `/license`…): every URL starts with it. */
  readonly base: string
  /** The signed-in admin's CSRF token; null on the pages shown before sign-in. */
  readonly session: { readonly csrf: string } | null
}

type PageName = "activate" | "sign-in" | "dashboard" | "license" | "timeline" | "error"

/** A URL of the Hub, under the page's base path. */
export const url = (frame: Pick<Frame, "base">, path: `/${string}`): string => `${frame.base}${path}`

const assetHref = (frame: Frame, asset: Asset): string => url(frame, `${asset.path}?v=${asset.version}`)

export const csrfField = (token: string): Html => html`<input type="hidden" name="${Csrf.fieldName}" value="${token}">`

const navItems: ReadonlyArray<{ readonly page: PageName; readonly href: `/${string}`; readonly label: string }> = [
  { page: "dashboard", href: "/", label: "Dashboard" },
  { page: "license", href: "/license", label: "License" },
  { page: "timeline", href: "/timeline", label: "Timeline" }
]

/** The document around a page's content. */
export const layout = (frame: Frame, page: PageName, title: string, main: Html, options: { readonly live?: boolean } = {}): Html => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Exekra Hub</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assetHref(frame, frame.assets.css)}">
<script src="${assetHref(frame, frame.assets.js)}" defer></script>
</head>
<body data-page="${page}" data-base="${frame.base}"${options.live === true ? trusted(" data-live-events") : ""} data-state-labels="${JSON.stringify(F.stateLabels)}">
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header">
<div class="wrap header-row">
<a class="brand" href="${url(frame, "/")}"><span class="brand-mark" aria-hidden="true"></span><span>Exekra Hub</span></a>
${frame.session === null
  ? ""
  : html`<nav class="site-nav" aria-label="Main">
<ul>${navItems.map((item) => html`<li><a href="${url(frame, item.href)}"${item.page === page ? trusted(' aria-current="page"') : ""}>${item.label}</a></li>`)}</ul>
</nav>
<form class="sign-out" method="post" action="${url(frame, "/sign-out")}">${csrfField(frame.session.csrf)}<button type="submit" class="button subtle">Sign out</button></form>
<p class="live-status" data-live-status hidden aria-live="polite"></p>`}
</div>
</header>
<main id="main" tabindex="-1">
<div class="wrap">
${main}
</div>
</main>
<footer class="site-footer"><div class="wrap">Licenses are verified on this Hub against the vendor's public key; no network connection is needed to use it.</div></footer>
</body>
</html>
`

/** A state badge: a word and a colour, never a colour alone. */
export const badge = (cap: Cap.Cap | null, state: Cap.CapState): Html =>
  html`<span class="badge" data-state="${state}"${cap === null ? "" : html` data-cap="${cap}" data-field="badge"`}>${F.stateLabels[state]}</span>`

/** A confirmation that something happened. */
export const notice = (text: Interpolation): Html => html`<div class="notice" role="status" tabindex="-1" data-notice><p>${text}</p></div>`

/** One field's error message, announced with the field. */
export const fieldError = (id: string, message: string | undefined): Html =>
  message === undefined ? html`` : html`<p class="field-error" id="${id}-error"><span class="visually-hidden">Error: </span>${message}</p>`

export const describedBy = (id: string, hint: boolean, error: string | undefined): Html => {
  const ids = [hint ? `${id}-hint` : null, error !== undefined ? `${id}-error` : null].filter((x) => x !== null)
  return html`${ids.length > 0 ? html` aria-describedby="${ids.join(" ")}"` : ""}${error !== undefined ? trusted(' aria-invalid="true"') : ""}`
}

interface FieldSpec {
  readonly id: string
  readonly name: string
  readonly label: string
  readonly type: "email" | "password" | "file" | "number"
  readonly hint?: Interpolation
  readonly error?: string | undefined
  readonly value?: string
  readonly attributes?: Html
}

export const field = (spec: FieldSpec): Html => html`<div class="field${spec.error !== undefined ? " has-error" : ""}">
<label for="${spec.id}">${spec.label}</label>
${spec.hint === undefined ? "" : html`<p class="hint" id="${spec.id}-hint">${spec.hint}</p>`}
${fieldError(spec.id, spec.error)}
<input id="${spec.id}" name="${spec.name}" type="${spec.type}"${spec.value === undefined ? "" : html` value="${spec.value}"`}${describedBy(spec.id, spec.hint !== undefined, spec.error)} ${spec.attributes ?? ""}>
</div>`

/** The list of a form's errors at its top, linking to each field; focused on load so it is read first. */
export const errorSummary = (title: string, errors: ReadonlyArray<{ readonly field: string | null; readonly message: string }>): Html =>
  errors.length === 0
    ? html``
    : html`<div class="error-summary" role="alert" tabindex="-1" autofocus data-error-summary>
<h2>${title}</h2>
<ul>${errors.map((e) => html`<li>${e.field === null ? e.message : html`<a href="#${e.field}">${e.message}</a>`}</li>`)}</ul>
</div>`

// ---- dashboard and License page -------------------------------------------------------------------

/** The evaluation instant: the later of the clock and the highest time seen, as the caps are evaluated. */
export const evaluationNow = (summary: LicenseSummary): number => Math.max(summary.clock.now, summary.clock.highWater)

const bannerOrder: ReadonlyArray<Cap.CapState> = ["limited", "grace", "expiring"]

/** A banner per cap that is expiring, in grace or limited; the most pressing first. */
export const bannerList = (frame: Frame, summary: LicenseSummary, page: "dashboard" | "license"): Html => {
  const now = evaluationNow(summary)
  const banners = Cap.all
    .flatMap((cap) => {
      const b = F.banner(summary.caps[cap], summary.validation, now)
      return b === undefined ? [] : [b]
    })
    .sort((a, b) => bannerOrder.indexOf(summary.caps[a.cap].state) - bannerOrder.indexOf(summary.caps[b.cap].state))
  return html`<div class="banners" data-live="banners">${banners.map(
    (b) => html`<div class="banner banner-${b.tone}" role="${b.tone === "danger" ? "alert" : "status"}" data-banner="${b.cap}">
<p class="banner-title">${badge(null, summary.caps[b.cap].state)} ${b.title}</p>
<p>${b.detail} <a href="${url(frame, `/license#cap-${b.cap}`)}">${page === "dashboard" ? "Open the License page" : `See ${F.capHeading(b.cap)} below`}</a></p>
</div>`
  )}</div>`
}

export const trialNote = (summary: LicenseSummary): Html =>
  summary.license?.type === "trial"
    ? html`<div class="trial-note" data-trial>
<p><span class="badge badge-trial">Trial</span> This Hub runs on a trial license. A trial license is not intended for high-risk or business-critical production use: switch to a production license before relying on Exekra in production.</p>
</div>`
    : html``

/** The usage bar, scaled to the most that may be used (or is used, when over the limit). */
const usageBar = (status: CapStatus): Html => {
  const scale = Math.max(status.ceiling, status.used, status.limit, 1)
  const pct = (n: number) => ((Math.max(0, n) / scale) * 100).toFixed(2)
  return html`<svg class="usage-bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false" data-cap="${status.cap}" data-field="bar" data-limit="${status.limit}" data-ceiling="${status.ceiling}">
<rect class="bar-track" x="0" y="0" width="100" height="10"/>
<rect class="bar-fill" x="0" y="0" width="${pct(Math.min(status.used, status.limit))}" height="10"/>
<rect class="bar-overage" x="${pct(status.limit)}" y="0" width="${pct(Math.min(status.used, status.ceiling) - status.limit)}" height="10"/>
<rect class="bar-over" x="${pct(status.ceiling)}" y="0" width="${pct(status.used - status.ceiling)}" height="10"/>
${status.ceiling > status.limit ? html`<line class="bar-limit" x1="${pct(status.limit)}" x2="${pct(status.limit)}" y1="0" y2="10"/>` : ""}
</svg>`
}

export const usage = (status: CapStatus): Html => html`<div class="usage">
${usageBar(status)}
<p class="usage-text"><span class="usage-numbers"><strong data-cap="${status.cap}" data-field="used">${status.used}</strong> of <span data-cap="${status.cap}" data-field="limit">${status.limit}</span></span> ${Cap.unitNames[status.cap].many} in use<span class="over-limit" data-cap="${status.cap}" data-field="over"${status.overLimit ? "" : trusted(" hidden")}>, over limit</span></p>
${status.overage > 0 && !status.overLimit
  ? html`<p class="hint">${status.overage} above the limit, in the overage the license allows (up to ${status.ceiling}).</p>`
  : status.overLimit
    ? html`<p class="hint">No new ${Cap.unitNames[status.cap].many} can be added until usage falls below ${status.limit}. ${Cap.releaseVerb[status.cap]}, or renew with a higher limit.</p>`
    : status.ceiling > status.limit
      ? html`<p class="hint">The license allows overage up to ${status.ceiling}.</p>`
      : ""}
</div>`

export const expiryText = (status: CapStatus, now: number): string => {
  if (status.expiresAt === null) return "Not included in this license"
  return status.expiresAt <= now ? `Expired on ${F.dateAndDays(status.expiresAt, now)}` : F.dateAndDays(status.expiresAt, now)
}

export const graceText = (status: CapStatus, validation: ValidationPosture | null, now: number): string => {
  if (status.state === "limited") return `Ended: ${F.graceCause(status, validation, now)}.`
  if (status.grace === null) return "Not in grace"
  return `Ends ${F.dateAndDays(status.grace.endsAt, now)}, because ${F.graceCause(status, validation, now)}.`
}

/** One cap on the dashboard: state, usage and expiry, linking to its card on the License page. */
const capTile = (frame: Frame, status: CapStatus, now: number): Html => html`<section class="card cap-tile" aria-labelledby="tile-${status.cap}-title" data-live="tile-${status.cap}">
<header class="card-header"><h3 id="tile-${status.cap}-title">${F.capHeading(status.cap)}</h3>${badge(status.cap, status.state)}</header>
${usage(status)}
<p class="tile-expiry">${status.expiresAt === null ? "Not included in this license." : html`Expires ${F.dateAndDays(status.expiresAt, now)}.`}</p>
<p><a href="${url(frame, `/license#cap-${status.cap}`)}">Details on the License page</a></p>
</section>`

export const licensee = (summary: LicenseSummary): Html =>
  summary.license === null
    ? html``
    : html`<p class="licensee">Licensed to <strong data-licensee>${summary.license.issuedTo.name}</strong> (${summary.license.issuedTo.email}) · license <code>${summary.license.licenseId}</code></p>`

/** The dashboard: banners, the trial note, and a tile per cap. */
export const dashboard = (frame: Frame, summary: LicenseSummary): Html => {
  const now = evaluationNow(summary)
  return layout(
    frame,
    "dashboard",
    "Dashboard",
    html`<div class="page-header">
<h1>Dashboard</h1>
${licensee(summary)}
</div>
${trialNote(summary)}
${bannerList(frame, summary, "dashboard")}
<h2 class="section-title">Capacity</h2>
<div class="tiles">${Cap.all.map((cap) => capTile(frame, summary.caps[cap], now))}</div>
<p class="more-links"><a class="button secondary" href="${url(frame, "/license")}">Open the License page</a> <a class="button subtle" href="${url(frame, "/timeline")}">See how the license plays out over time</a></p>`,
    { live: true }
  )
}

/** A definition list of facts. */
export const dl = (rows: ReadonlyArray<readonly [string, Interpolation]>): Html =>
  html`<dl class="facts">${rows.map(([term, value]) => html`<div><dt>${term}</dt><dd>${value}</dd></div>`)}</dl>`

// ---- errors ---------------------------------------------------------------------------------------

/** A page that explains a refusal or failure and offers a way on. */
export const errorPage = (frame: Frame, title: string, message: string, next: { readonly href: `/${string}`; readonly label: string }): Html =>
  layout(
    frame,
    "error",
    title,
    html`<div class="narrow">
<h1>${title}</h1>
<div class="error-summary" role="alert" tabindex="-1" autofocus><p>${message}</p></div>
<p><a class="button primary" href="${url(frame, next.href)}">${next.label}</a></p>
</div>`
  )
