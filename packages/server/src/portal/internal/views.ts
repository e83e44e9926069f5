/** The Portal's pages as markup: layout, sign-in, password, invite, customers, a customer, the Licenses page, a license, audit and errors; pure functions of their data, on the Hub's Html escaping and stylesheet. */
import { Cap } from "@exekra/core"
import * as Csrf from "../../pages/Csrf.js"
import { type Html, html, type Interpolation, trusted } from "../../pages/Html.js"
import type { Asset } from "../../pages/internal/assets.js"
import * as F from "../../pages/internal/format.js"
import type { CapState, CapView, LicenseView, TrialTemplate } from "../Licensing.js"
import type { Account, AuditRecord, Customer, LicenseRevision, Role } from "../PortalStore.js"

/** The product name every page title ends with. */
export const PRODUCT = "Exekra Customer Portal"

/** What every page needs besides its content. */
export interface Frame {
  readonly assets: { readonly css: Asset; readonly js: Asset; readonly portalCss: Asset }
  /** The signed-in person; null on the pages shown before sign-in. */
  readonly session: { readonly csrf: string; readonly role: Role; readonly email: string; readonly mustChangePassword: boolean } | null
}

type PageName = "sign-in" | "password" | "invite" | "customers" | "customer" | "licenses" | "license" | "audit" | "error"

const assetHref = (asset: Asset): string => `${asset.path}?v=${asset.version}`

/** The hidden CSRF field of a form. */
export const csrfField = (token: string): Html => html`<input type="hidden" name="${Csrf.fieldName}" value="${token}">`

const navFor = (role: Role): ReadonlyArray<{ readonly page: PageName; readonly href: string; readonly label: string }> =>
  role === "staff"
    ? [
        { page: "customers", href: "/customers", label: "Customers" },
        { page: "licenses", href: "/licenses", label: "Licenses" },
        { page: "audit", href: "/audit", label: "Audit log" }
      ]
    : [{ page: "licenses", href: "/licenses", label: "Licenses" }]

/** The document around a page's content: language, title, skip link, landmarks, navigation for the signed-in role. */
export const layout = (frame: Frame, page: PageName, title: string, main: Html): Html => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${PRODUCT}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assetHref(frame.assets.css)}">
<link rel="stylesheet" href="${assetHref(frame.assets.portalCss)}">
<script src="${assetHref(frame.assets.js)}" defer></script>
</head>
<body data-page="${page}">
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header">
<div class="wrap header-row">
<a class="brand" href="/"><span class="brand-mark" aria-hidden="true"></span><span>${PRODUCT}</span></a>
${frame.session === null
  ? ""
  : html`<nav class="site-nav" aria-label="Main">
<ul>${frame.session.mustChangePassword ? "" : navFor(frame.session.role).map((item) => html`<li><a href="${item.href}"${item.page === page ? trusted(' aria-current="page"') : ""}>${item.label}</a></li>`)}<li><a href="/account/password"${page === "password" ? trusted(' aria-current="page"') : ""}>Password</a></li></ul>
</nav>
<form class="sign-out" method="post" action="/sign-out">${csrfField(frame.session.csrf)}<button type="submit" class="button subtle">Sign out <span class="visually-hidden">${frame.session.email}</span></button></form>`}
</div>
</header>
<main id="main" tabindex="-1">
<div class="wrap">
${main}
</div>
</main>
<footer class="site-footer"><div class="wrap">License files are signed with the vendor's key. A Hub verifies them offline; this Portal is needed only to issue, renew and download them.</div></footer>
</body>
</html>
`

/** A confirmation that something happened. */
export const notice = (text: Interpolation): Html => html`<div class="notice" role="status" tabindex="-1" data-notice><p>${text}</p></div>`

/** The list of a form's errors at its top, linking to each field; focused on load so it is read first. */
export const errorSummary = (title: string, errors: ReadonlyArray<{ readonly field: string | null; readonly message: string }>): Html =>
  errors.length === 0
    ? html``
    : html`<div class="error-summary" role="alert" tabindex="-1" autofocus data-error-summary>
<h2>${title}</h2>
<ul>${errors.map((e) => html`<li>${e.field === null ? e.message : html`<a href="#${e.field}">${e.message}</a>`}</li>`)}</ul>
</div>`

/** The errors of a form, by field id (null: the form as a whole). */
export type FormErrors = ReadonlyArray<{ readonly field: string | null; readonly message: string }>

const errorFor = (errors: FormErrors, id: string): string | undefined => errors.find((e) => e.field === id)?.message

interface InputSpec {
  readonly id: string
  readonly name: string
  readonly label: Interpolation
  readonly type: "text" | "email" | "password" | "number" | "date"
  readonly value?: string | undefined
  readonly hint?: Interpolation
  readonly errors?: FormErrors
  readonly attributes?: Html
}

const describedBy = (id: string, hint: boolean, error: string | undefined): Html => {
  const ids = [hint ? `${id}-hint` : null, error !== undefined ? `${id}-error` : null].filter((x) => x !== null)
  return html`${ids.length > 0 ? html` aria-describedby="${ids.join(" ")}"` : ""}${error !== undefined ? trusted(' aria-invalid="true"') : ""}`
}

const fieldError = (id: string, message: string | undefined): Html =>
  message === undefined ? html`` : html`<p class="field-error" id="${id}-error"><span class="visually-hidden">Error: </span>${message}</p>`

/** A labelled input with its hint and error, wired with aria-describedby. */
export const input = (spec: InputSpec): Html => {
  const error = errorFor(spec.errors ?? [], spec.id)
  return html`<div class="field${error !== undefined ? " has-error" : ""}">
<label for="${spec.id}">${spec.label}</label>
${spec.hint === undefined ? "" : html`<p class="hint" id="${spec.id}-hint">${spec.hint}</p>`}
${fieldError(spec.id, error)}
<input id="${spec.id}" name="${spec.name}" type="${spec.type}"${spec.value === undefined ? "" : html` value="${spec.value}"`}${describedBy(spec.id, spec.hint !== undefined, error)} ${spec.attributes ?? ""}>
</div>`
}

/** A labelled select. */
export const select = (spec: {
  readonly id: string
  readonly name: string
  readonly label: string
  readonly options: ReadonlyArray<readonly [value: string, label: string]>
  readonly value: string
  readonly hint?: string
}): Html => html`<div class="field">
<label for="${spec.id}">${spec.label}</label>
${spec.hint === undefined ? "" : html`<p class="hint" id="${spec.id}-hint">${spec.hint}</p>`}
<select id="${spec.id}" name="${spec.name}"${spec.hint === undefined ? "" : html` aria-describedby="${spec.id}-hint"`}>${spec.options.map(
  ([value, label]) => html`<option value="${value}"${value === spec.value ? trusted(" selected") : ""}>${label}</option>`
)}</select>
</div>`

/** A labelled checkbox. */
export const checkbox = (spec: { readonly id: string; readonly name: string; readonly label: string; readonly checked: boolean; readonly hint?: string }): Html => html`<div class="field check">
<input id="${spec.id}" name="${spec.name}" type="checkbox" value="on"${spec.checked ? trusted(" checked") : ""}${spec.hint === undefined ? "" : html` aria-describedby="${spec.id}-hint"`}><label for="${spec.id}">${spec.label}</label>
${spec.hint === undefined ? "" : html`<p class="hint" id="${spec.id}-hint">${spec.hint}</p>`}
</div>`

/** A definition list of facts. */
export const dl = (rows: ReadonlyArray<readonly [string, Interpolation]>): Html =>
  html`<dl class="facts">${rows.map(([term, value]) => html`<div><dt>${term}</dt><dd>${value}</dd></div>`)}</dl>`

const capStateLabels: Readonly<Record<CapState, string>> = { active: "Active", expiring: "Expiring", grace: "In grace", expired: "Expired" }
const licenseStateLabels: Readonly<Record<LicenseView["state"], string>> = { active: "Active", revoked: "Revoked", expired: "Expired" }

const capBadge = (state: CapState): Html => html`<span class="badge" data-cap-state="${state}">${capStateLabels[state]}</span>`
const licenseBadge = (state: LicenseView["state"]): Html => html`<span class="badge" data-license-state="${state}">${licenseStateLabels[state]}</span>`
const typeBadge = (type: LicenseView["type"]): Html =>
  type === "trial" ? html`<span class="badge badge-trial">Trial</span>` : html`<span class="badge" data-state="active">Production</span>`

// ---- sign-in, password, invite --------------------------------------------------------------------

/** Notices after a redirect, by the key in `?notice=`: fixed sentences, so a link cannot make a page say anything else. */
export const notices = {
  "signed-out": "You have signed out.",
  expired: "Your session has expired. Sign in again.",
  "password-changed": "Your password is changed.",
  "customer-created": "The customer is created. Add its users and issue its license below.",
  issued: "The license is issued and signed. Its users can download it from their Licenses page now.",
  renewed: "The license is renewed: a new file with a later issue date. Its users can download it from their Licenses page now.",
  revoked: "The license is revoked: its Hubs' validation pings are answered revoked from now on.",
  restored: "The revocation is lifted: its Hubs' validation pings are answered valid again.",
  bound: "The license is bound to your Hub's installation. Download the bound file below and upload it on the Hub's activation screen.",
  trial: "Your trial license is ready. Download it below and upload it on your Hub's activation screen.",
  welcome: "Your password is set and you are signed in."
} as const

/** A notice key. */
export type NoticeKey = keyof typeof notices

/** What the sign-in page shows. */
export interface SignInView {
  readonly csrf: string
  readonly email: string
  readonly notice: string | undefined
  readonly error: string | undefined
}

/** The one sign-in page, for vendor staff and customer users alike. */
export const signIn = (frame: Frame, view: SignInView): Html =>
  layout(
    frame,
    "sign-in",
    view.error === undefined ? "Sign in" : "Error: Sign in",
    html`<div class="narrow">
<h1>Sign in to the Customer Portal</h1>
<p class="lead">Download your license files, bind them to your Hub and see what your Hubs reported. Vendor staff sign in here too.</p>
${view.notice === undefined ? "" : notice(view.notice)}
${errorSummary("You could not be signed in", view.error === undefined ? [] : [{ field: "sign-in-email", message: view.error }])}
<form class="card form" method="post" action="/sign-in" novalidate>
${csrfField(view.csrf)}
${input({
  id: "sign-in-email",
  name: "email",
  label: "Email",
  type: "email",
  value: view.email,
  attributes: html`autocomplete="username" required maxlength="254" spellcheck="false"${view.error === undefined ? "" : trusted(' aria-invalid="true"')}`
})}
${input({ id: "sign-in-password", name: "password", label: "Password", type: "password", attributes: html`autocomplete="current-password" required maxlength="1024"` })}
<div class="actions"><button type="submit" class="button primary">Sign in</button></div>
</form>
<p class="hint">New here? Open the invite link the vendor sent you to choose your password.</p>
</div>`
  )

/** The password page: required after a one-time or temporary password. */
export const passwordPage = (frame: Frame, view: { readonly csrf: string; readonly required: boolean; readonly errors: FormErrors; readonly notice?: string | undefined }): Html =>
  layout(
    frame,
    "password",
    view.errors.length > 0 ? "Error: Choose your password" : "Choose your password",
    html`<div class="narrow">
<h1>Choose your password</h1>
${view.notice === undefined ? "" : notice(view.notice)}
${view.required ? html`<p class="lead">You signed in with a password someone else set. Choose your own before you go on.</p>` : ""}
${errorSummary("Your password was not changed", view.errors)}
<form class="card form" method="post" action="/account/password" novalidate>
${csrfField(view.csrf)}
${input({
  id: "current-password",
  name: "currentPassword",
  label: view.required ? "One-time password" : "Current password",
  type: "password",
  errors: view.errors,
  attributes: html`autocomplete="current-password" required maxlength="1024"`
})}
${input({
  id: "new-password",
  name: "newPassword",
  label: "New password",
  type: "password",
  hint: "At least 12 characters, not containing your email's user name.",
  errors: view.errors,
  attributes: html`autocomplete="new-password" required minlength="12" maxlength="1024"`
})}
${input({ id: "confirm-password", name: "confirm", label: "Confirm new password", type: "password", errors: view.errors, attributes: html`autocomplete="new-password" required maxlength="1024"` })}
<div class="actions"><button type="submit" class="button primary">Save password</button></div>
</form>
</div>`
  )

/** The invite page: choose a password for the account the link was made for. */
export const invitePage = (frame: Frame, view: { readonly csrf: string; readonly token: string; readonly email: string; readonly errors: FormErrors }): Html =>
  layout(
    frame,
    "invite",
    view.errors.length > 0 ? "Error: Welcome" : "Welcome",
    html`<div class="narrow">
<h1>Welcome to the Customer Portal</h1>
<p class="lead">Choose the password for <strong>${view.email}</strong>. You will use it to sign in from now on.</p>
${errorSummary("Your password was not set", view.errors)}
<form class="card form" method="post" action="/invite/${view.token}" novalidate>
${csrfField(view.csrf)}
<input type="hidden" name="username" value="${view.email}" autocomplete="username">
${input({
  id: "invite-password",
  name: "password",
  label: "Password",
  type: "password",
  hint: "At least 12 characters, not containing your email's user name.",
  errors: view.errors,
  attributes: html`autocomplete="new-password" required minlength="12" maxlength="1024"`
})}
${input({ id: "invite-confirm", name: "confirm", label: "Confirm password", type: "password", errors: view.errors, attributes: html`autocomplete="new-password" required maxlength="1024"` })}
<div class="actions"><button type="submit" class="button primary">Set password and sign in</button></div>
</form>
</div>`
  )

// ---- staff: customers -----------------------------------------------------------------------------

/** A customer with counts, for the list. */
export interface CustomerRow {
  readonly customer: Customer
  readonly users: number
  readonly licenses: number
}

/** The customers page: the list and the form to add one. */
export const customersPage = (frame: Frame & { readonly session: NonNullable<Frame["session"]> }, view: { readonly rows: ReadonlyArray<CustomerRow>; readonly errors: FormErrors; readonly name: string; readonly notice?: string | undefined }): Html =>
  layout(
    frame,
    "customers",
    view.errors.length > 0 ? "Error: Customers" : "Customers",
    html`<div class="page-header"><h1>Customers</h1></div>
${view.notice === undefined ? "" : notice(view.notice)}
${errorSummary("The customer was not created", view.errors)}
<section class="card" aria-labelledby="customers-title">
<h2 id="customers-title">Your customers</h2>
${view.rows.length === 0
  ? html`<p>No customers yet. Add the first one below.</p>`
  : html`<div class="table-scroll"><table>
<thead><tr><th scope="col">Customer</th><th scope="col">Users</th><th scope="col">Licenses</th><th scope="col">Trial</th><th scope="col">Since</th></tr></thead>
<tbody>${view.rows.map(
      (r) => html`<tr><td><a href="/customers/${r.customer.customerId}">${r.customer.name}</a></td><td>${r.users}</td><td>${r.licenses}</td><td>${r.customer.trialLicenseId === null ? "Not taken" : "Taken"}</td><td>${F.date(r.customer.createdAt)}</td></tr>`
    )}</tbody>
</table></div>`}
</section>
<form class="card form" method="post" action="/customers" novalidate>
${csrfField(frame.session.csrf)}
<h2>Add a customer</h2>
${input({ id: "customer-name", name: "name", label: "Customer name", type: "text", value: view.name, errors: view.errors, attributes: html`required maxlength="200" autocomplete="organization"` })}
<div class="actions"><button type="submit" class="button primary">Add customer</button></div>
</form>`
  )

/** The values of the issue form, as typed. */
export interface IssueForm {
  readonly type: string
  readonly email: string
  readonly name: string
  readonly limits: Readonly<Record<Cap.Cap, string>>
  readonly expires: Readonly<Record<Cap.Cap, string>>
  readonly warningDays: string
  readonly graceDays: string
  readonly overagePercent: string
  readonly onLimited: string
  readonly validationRequired: boolean
  readonly intervalHours: string
  readonly installationId: string
}

/** What a customer page shows. */
export interface CustomerView {
  readonly customer: Customer
  readonly users: ReadonlyArray<Account>
  readonly licenses: ReadonlyArray<LicenseView>
  readonly notice: string | undefined
  /** A new user's invite link or temporary password, shown this once. */
  readonly handover: { readonly email: string; readonly inviteUrl: string | null; readonly temporaryPassword: string | null } | null
  readonly userErrors: FormErrors
  readonly userEmail: string
  readonly issueErrors: FormErrors
  readonly issue: IssueForm
}

/** How a cap's fields are named on the issue and renewal forms. */
export const capFieldIds = (prefix: string, cap: Cap.Cap) => ({ limit: `${prefix}-${cap}-limit`, expires: `${prefix}-${cap}-expires` })

const capFieldsets = (prefix: string, limits: Readonly<Record<Cap.Cap, string>>, expires: Readonly<Record<Cap.Cap, string>>, errors: FormErrors): Html =>
  html`<div class="cap-grid">${Cap.all.map((cap) => {
    const ids = capFieldIds(prefix, cap)
    return html`<fieldset>
<legend>${F.capHeading(cap)}</legend>
${input({ id: ids.limit, name: `${cap}Limit`, label: "Limit", type: "number", value: limits[cap], errors, hint: "Empty: not granted.", attributes: html`min="0" step="1" inputmode="numeric"` })}
${input({ id: ids.expires, name: `${cap}Expires`, label: "Expires on", type: "date", value: expires[cap], errors })}
</fieldset>`
  })}</div>`

const handoverPanel = (handover: NonNullable<CustomerView["handover"]>): Html => html`<section class="card handover" aria-labelledby="handover-title" data-handover>
<h2 id="handover-title">Send this to ${handover.email}</h2>
${handover.inviteUrl === null
  ? ""
  : html`<p>The invite link lets them choose their password. It works once, for 7 days; it is shown only now.</p>
<div class="installation-row"><code class="secret" id="invite-url">${handover.inviteUrl}</code><button type="button" class="button subtle small" data-copy="invite-url" hidden>Copy</button><span class="copy-status" data-copy-status aria-live="polite"></span></div>`}
${handover.temporaryPassword === null
  ? ""
  : html`<p>Their temporary password; they must choose their own at the first sign-in. It is shown only now.</p>
<div class="installation-row"><code class="secret" id="temporary-password">${handover.temporaryPassword}</code><button type="button" class="button subtle small" data-copy="temporary-password" hidden>Copy</button><span class="copy-status" data-copy-status aria-live="polite"></span></div>`}
</section>`

/** A customer: its users (and the form to add one) and its licenses (and the form to issue one). */
export const customerPage = (frame: Frame & { readonly session: NonNullable<Frame["session"]> }, view: CustomerView): Html => {
  const errors = [...view.userErrors, ...view.issueErrors]
  const f = view.issue
  return layout(
    frame,
    "customer",
    errors.length > 0 ? `Error: ${view.customer.name}` : view.customer.name,
    html`<div class="page-header"><p><a href="/customers">Customers</a></p><h1>${view.customer.name}</h1>
<p class="licensee">Customer id <code>${view.customer.customerId}</code> · trial ${view.customer.trialLicenseId === null ? "not taken" : html`taken (<code>${view.customer.trialLicenseId}</code>)`}</p></div>
${view.notice === undefined ? "" : notice(view.notice)}
${errorSummary(view.userErrors.length > 0 ? "The user was not added" : "The license was not issued", errors)}
${view.handover === null ? "" : handoverPanel(view.handover)}
<section class="card" aria-labelledby="licenses-title">
<h2 id="licenses-title">Licenses</h2>
${licenseTable(view.licenses, false)}
</section>
<section class="card" aria-labelledby="users-title">
<h2 id="users-title">Users</h2>
${view.users.length === 0
  ? html`<p>No users yet: add the person who will download the license and activate the Hub.</p>`
  : html`<div class="table-scroll"><table>
<thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Password</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${view.users.map(
      (u) => html`<tr><td>${u.email}</td><td>${u.name}</td><td>${u.passwordHash === null ? "Invited, not set yet" : u.mustChangePassword ? "Temporary" : "Set"}</td><td><div class="row-actions">
<form method="post" action="/customers/${view.customer.customerId}/users/${u.accountId}/reset">${csrfField(frame.session.csrf)}<input type="hidden" name="handover" value="invite"><button type="submit" class="button subtle small">New invite link <span class="visually-hidden">for ${u.email}</span></button></form>
<form method="post" action="/customers/${view.customer.customerId}/users/${u.accountId}/reset">${csrfField(frame.session.csrf)}<input type="hidden" name="handover" value="temporary-password"><button type="submit" class="button subtle small">Temporary password <span class="visually-hidden">for ${u.email}</span></button></form>
</div></td></tr>`
    )}</tbody>
</table></div>`}
<form class="form" method="post" action="/customers/${view.customer.customerId}/users" novalidate>
${csrfField(frame.session.csrf)}
<h3>Add a user</h3>
${input({ id: "user-email", name: "email", label: "Email", type: "email", value: view.userEmail, errors: view.userErrors, attributes: html`required maxlength="254" spellcheck="false" autocomplete="off"` })}
${select({
  id: "user-handover",
  name: "handover",
  label: "How they get in",
  value: "invite",
  options: [
    ["invite", "An invite link: they choose their password"],
    ["temporary-password", "A temporary password: they change it at the first sign-in"]
  ]
})}
<div class="actions"><button type="submit" class="button secondary">Add user</button></div>
</form>
</section>
<form class="card form" method="post" action="/customers/${view.customer.customerId}/licenses" novalidate id="issue">
${csrfField(frame.session.csrf)}
<h2>Issue a license</h2>
${select({ id: "issue-type", name: "type", label: "Type", value: f.type, options: [["production", "Production"], ["trial", "Trial"]] })}
<fieldset>
<legend>Licensed to</legend>
${input({
  id: "issue-email",
  name: "email",
  label: "Licensed email",
  type: "email",
  value: f.email,
  errors: view.issueErrors,
  hint: "The Hub's admin must activate with this email.",
  attributes: html`required maxlength="254" spellcheck="false" autocomplete="off"`
})}
${input({ id: "issue-name", name: "name", label: "Licensee name", type: "text", value: f.name, hint: `Default: ${view.customer.name}.`, attributes: html`maxlength="200"` })}
</fieldset>
<fieldset>
<legend>Capacity: a limit and an expiry per cap</legend>
${capFieldsets("issue", f.limits, f.expires, view.issueErrors)}
</fieldset>
<fieldset>
<legend>Terms</legend>
${input({ id: "issue-warning", name: "warningDays", label: "Warning days", type: "number", value: f.warningDays, errors: view.issueErrors, hint: "Days before a cap's expiry in which the Hub shows it as expiring.", attributes: html`min="0" max="3650"` })}
${input({ id: "issue-grace", name: "graceDays", label: "Grace days", type: "number", value: f.graceDays, errors: view.issueErrors, hint: "After expiry, and after the Portal becomes unreachable when validation is required.", attributes: html`min="0" max="3650"` })}
${input({ id: "issue-overage", name: "overagePercent", label: "Overage (%)", type: "number", value: f.overagePercent, errors: view.issueErrors, hint: "Percentage above each limit still admitted; 0 for none.", attributes: html`min="0" max="1000"` })}
${select({
  id: "issue-on-limited",
  name: "onLimited",
  label: "When a cap is limited",
  value: f.onLimited,
  options: [
    ["refuse-new", "Refuse new admissions only"],
    ["block-all", "Also block admitted principals"]
  ]
})}
${checkbox({ id: "issue-validation", name: "validationRequired", label: "Validation required", checked: f.validationRequired, hint: "When required, a Hub that cannot reach the Portal enters grace and then limits." })}
${input({ id: "issue-interval", name: "intervalHours", label: "Hours between validation pings", type: "number", value: f.intervalHours, errors: view.issueErrors, attributes: html`min="1" max="8760"` })}
${input({
  id: "issue-installation",
  name: "installationId",
  label: "Bind to installation (optional)",
  type: "text",
  value: f.installationId,
  errors: view.issueErrors,
  hint: "For offline activation: the id on the Hub's activation screen (inst_…). Empty: the Hub binds the license at activation.",
  attributes: html`maxlength="64" spellcheck="false" autocomplete="off"`
})}
</fieldset>
<div class="actions"><button type="submit" class="button primary">Issue and sign</button></div>
</form>`
  )
}

// ---- licenses -------------------------------------------------------------------------------------

const capTable = (license: LicenseView, now: number): Html => html`<div class="table-scroll"><table>
<caption class="visually-hidden">Caps of ${license.licenseId}</caption>
<thead><tr><th scope="col">Cap</th><th scope="col">Limit</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col">Grace</th></tr></thead>
<tbody>${license.caps.map(
  (c: CapView) =>
    html`<tr data-cap="${c.cap}"><th scope="row">${F.capHeading(c.cap)}</th><td data-field="limit">${c.limit}${c.overagePercent > 0 ? ` (+${c.overagePercent}% overage)` : ""}</td><td data-field="expires">${F.dateAndDays(c.expiresAt, now)}</td><td>${capBadge(c.state)}</td><td>${c.graceDays === 0 ? "None" : `${c.graceDays} days, until ${F.date(c.graceEndsAt)}`}</td></tr>`
)}</tbody>
</table></div>`

const postureText = (license: LicenseView, now: number): Interpolation =>
  license.posture === null
    ? "No validation ping received yet."
    : html`Last validation ping ${F.dateTimeAndRelative(license.posture.lastPingAt, now)} from installation <code>${license.posture.installationId}</code>, Hub version <strong>${license.posture.version}</strong>; answered ${license.posture.status}.`

/** A short table of licenses linking to each (staff). */
export const licenseTable = (licenses: ReadonlyArray<LicenseView>, withCustomer: boolean): Html =>
  licenses.length === 0
    ? html`<p>No licenses yet.</p>`
    : html`<div class="table-scroll"><table>
<thead><tr><th scope="col">License</th>${withCustomer ? html`<th scope="col">Customer</th>` : ""}<th scope="col">Type</th><th scope="col">State</th><th scope="col">Licensed to</th><th scope="col">Issued</th><th scope="col">Last ping</th></tr></thead>
<tbody>${licenses.map(
        (l) =>
          html`<tr><td><a href="/licenses/${l.licenseId}"><code>${l.licenseId}</code></a></td>${withCustomer ? html`<td><a href="/customers/${l.customerId}">${l.customerName}</a></td>` : ""}<td>${typeBadge(l.type)}</td><td>${licenseBadge(l.state)}</td><td>${l.issuedTo.email}</td><td>${F.date(l.issuedAt)}</td><td>${l.posture === null ? "None yet" : html`${F.date(l.posture.lastPingAt)}, version ${l.posture.version}`}</td></tr>`
      )}</tbody>
</table></div>`

/** One license on the customer's Licenses page: caps, download, bind, posture. */
const licenseCard = (frame: Frame & { readonly session: NonNullable<Frame["session"]> }, license: LicenseView, now: number, bind: { readonly value: string; readonly error: string | undefined }): Html => {
  const bindId = `bind-${license.licenseId}`
  return html`<section class="card license-card" id="license-${license.licenseId}" aria-labelledby="title-${license.licenseId}" data-license="${license.licenseId}">
<header class="card-header"><h2 id="title-${license.licenseId}">License <code>${license.licenseId}</code></h2><span>${typeBadge(license.type)} ${licenseBadge(license.state)}</span></header>
${license.type === "trial" ? html`<p class="hint">A trial license is not intended for high-risk or business-critical production use: switch to a production license before relying on Exekra in production.</p>` : ""}
${dl([
  ["Licensed to", `${license.issuedTo.name} (${license.issuedTo.email})`],
  ["Issued", html`<span data-field="issued-at">${F.dateTime(license.issuedAt)}</span>`],
  ["Installation", license.installationId === null ? "Not bound: your Hub binds it at activation." : html`Bound to <code data-field="installation">${license.installationId}</code>`],
  ["Validation", `${license.validation.required ? "Required" : "Optional"}, every ${license.validation.intervalHours} hours`],
  ["Posture", html`<span data-field="posture">${postureText(license, now)}</span>`]
])}
${capTable(license, now)}
${license.state === "revoked"
  ? html`<p class="field-error">This license was revoked${license.revokedAt === null ? "" : ` on ${F.date(license.revokedAt)}`}. Contact the vendor.</p>`
  : html`<div class="license-actions">
<a class="button primary" href="/api/licenses/${license.licenseId}/file" download="${license.licenseId}.lic" data-download="${license.licenseId}">Download .lic <span class="visually-hidden">of ${license.licenseId}</span></a>
${license.installationId === null
  ? html`<form class="form inline-form" method="post" action="/licenses/${license.licenseId}/bind" novalidate>
${csrfField(frame.session.csrf)}
<div class="field${bind.error === undefined ? "" : " has-error"}">
<label for="${bindId}">Bind to my Hub</label>
<p class="hint" id="${bindId}-hint">For offline activation: paste the installation id from your Hub's activation screen (inst_…).</p>
${fieldError(bindId, bind.error)}
<div class="inline-row"><input id="${bindId}" name="installationId" type="text" value="${bind.value}" maxlength="64" spellcheck="false" autocomplete="off"${describedBy(bindId, true, bind.error)}><button type="submit" class="button secondary">Bind</button></div>
</div>
</form>`
  : ""}
</div>`}
</section>`
}

/** What the Licenses page shows. */
export interface LicensesView {
  readonly licenses: ReadonlyArray<LicenseView>
  readonly now: number
  readonly notice: string | undefined
  /** Shown when the customer may take its trial. */
  readonly trial: TrialTemplate | null
  readonly errors: FormErrors
  /** The license whose bind form is re-shown with an error, and what was typed. */
  readonly bind: { readonly licenseId: string; readonly value: string; readonly error: string } | null
  readonly customerName: string
}

/** The customer's Licenses page. */
export const licensesPage = (frame: Frame & { readonly session: NonNullable<Frame["session"]> }, view: LicensesView): Html =>
  layout(
    frame,
    "licenses",
    view.errors.length > 0 ? "Error: Licenses" : "Licenses",
    html`<div class="page-header"><h1>Licenses</h1><p class="licensee">${view.customerName}</p></div>
${view.notice === undefined ? "" : notice(view.notice)}
${errorSummary("That did not work", view.errors)}
${view.trial === null
  ? ""
  : html`<section class="card" aria-labelledby="trial-title">
<h2 id="trial-title">Try Exekra</h2>
<p>Take a ${view.trial.days}-day trial license (grace ${view.trial.graceDays} days): ${Cap.all.filter((c) => view.trial!.limits[c] > 0).map((c) => `${view.trial!.limits[c]} ${F.capHeading(c)}`).join(", ")}. One trial per customer.</p>
<form method="post" action="/trial">${csrfField(frame.session.csrf)}<button type="submit" class="button primary">Start my trial</button></form>
</section>`}
${view.licenses.length === 0 && view.trial === null ? html`<p>You have no licenses yet. Contact the vendor's sales team.</p>` : ""}
${view.licenses.map((l) =>
  licenseCard(frame, l, view.now, view.bind !== null && view.bind.licenseId === l.licenseId ? { value: view.bind.value, error: view.bind.error } : { value: "", error: undefined })
)}`
  )

/** The staff's list of every license. */
export const allLicensesPage = (frame: Frame, licenses: ReadonlyArray<LicenseView>): Html =>
  layout(
    frame,
    "licenses",
    "Licenses",
    html`<div class="page-header"><h1>Licenses</h1></div>
<section class="card" aria-labelledby="all-title"><h2 id="all-title">Every license</h2>${licenseTable(licenses, true)}</section>`
  )

/** What a license page (staff) shows. */
export interface LicenseDetailView {
  readonly license: LicenseView
  readonly files: ReadonlyArray<Omit<LicenseRevision, "text">>
  readonly pings: ReadonlyArray<{ readonly receivedAt: number; readonly installationId: string; readonly version: string; readonly status: string }>
  readonly now: number
  readonly notice: string | undefined
  readonly errors: FormErrors
  readonly renew: { readonly limits: Readonly<Record<Cap.Cap, string>>; readonly expires: Readonly<Record<Cap.Cap, string>> }
}

/** A license for the vendor: terms, renewal, revocation, files and pings. */
export const licenseDetailPage = (frame: Frame & { readonly session: NonNullable<Frame["session"]> }, view: LicenseDetailView): Html => {
  const l = view.license
  return layout(
    frame,
    "license",
    view.errors.length > 0 ? `Error: License ${l.licenseId}` : `License ${l.licenseId}`,
    html`<div class="page-header"><p><a href="/customers/${l.customerId}">${l.customerName}</a></p><h1>License <code>${l.licenseId}</code> ${typeBadge(l.type)} ${licenseBadge(l.state)}</h1></div>
${view.notice === undefined ? "" : notice(view.notice)}
${errorSummary("The license was not renewed", view.errors)}
<section class="card" aria-labelledby="terms-title">
<h2 id="terms-title">Current file (revision ${l.revision})</h2>
${dl([
  ["Licensed to", `${l.issuedTo.name} (${l.issuedTo.email})`],
  ["Issued", F.dateTime(l.issuedAt)],
  ["Installation", l.installationId === null ? "Not bound" : html`<code>${l.installationId}</code>`],
  ["Warning and grace", `${l.expiryWarningDays} days warning, ${l.gracePeriodDays} days grace`],
  ["Validation", `${l.validation.required ? "Required" : "Optional"}, every ${l.validation.intervalHours} hours${l.validation.portalUrl === null ? "" : `, to ${l.validation.portalUrl}`}`],
  ["Posture", postureText(l, view.now)]
])}
${capTable(l, view.now)}
${l.state === "revoked" ? "" : html`<p><a class="button secondary" href="/api/licenses/${l.licenseId}/file" download="${l.licenseId}.lic">Download .lic</a></p>`}
</section>
${l.state === "revoked"
  ? html`<form class="card form" method="post" action="/licenses/${l.licenseId}/restore">${csrfField(frame.session.csrf)}<h2>Revoked</h2><p>Revoked ${l.revokedAt === null ? "" : `on ${F.dateTime(l.revokedAt)}`}. Hubs pinging for it are told it is revoked.</p><button type="submit" class="button secondary">Lift the revocation</button></form>`
  : html`<form class="card form" method="post" action="/licenses/${l.licenseId}/renew" novalidate id="renew">
${csrfField(frame.session.csrf)}
<h2>Renew</h2>
<p class="hint">A renewal signs a new file with a later issue date; change the caps that are renewed (each cap keeps its own expiry). The customer downloads it from the Licenses page.</p>
${capFieldsets("renew", view.renew.limits, view.renew.expires, view.errors)}
<div class="actions"><button type="submit" class="button primary">Renew and sign</button></div>
</form>
<form class="card form" method="post" action="/licenses/${l.licenseId}/revoke">${csrfField(frame.session.csrf)}<h2>Revoke</h2><p>The Hub keeps working offline; its validation pings are answered revoked.</p><button type="submit" class="button danger">Revoke ${l.licenseId}</button></form>`}
<section class="card" aria-labelledby="files-title">
<h2 id="files-title">Files</h2>
<div class="table-scroll"><table>
<thead><tr><th scope="col">Revision</th><th scope="col">Issued</th><th scope="col">Why</th><th scope="col">By</th></tr></thead>
<tbody>${view.files.map((f) => html`<tr><td>${f.revision}</td><td>${F.dateTime(f.issuedAt)}</td><td>${f.reason}</td><td>${f.issuedBy}</td></tr>`)}</tbody>
</table></div>
</section>
<section class="card" aria-labelledby="pings-title">
<h2 id="pings-title">Validation pings</h2>
${view.pings.length === 0
  ? html`<p>None yet.</p>`
  : html`<div class="table-scroll"><table>
<thead><tr><th scope="col">Received</th><th scope="col">Installation</th><th scope="col">Hub version</th><th scope="col">Answer</th></tr></thead>
<tbody>${view.pings.map((p) => html`<tr><td>${F.dateTime(p.receivedAt)}</td><td><code>${p.installationId}</code></td><td>${p.version}</td><td>${p.status}</td></tr>`)}</tbody>
</table></div>`}
</section>`
  )
}

/** The audit log (staff). */
export const auditPage = (frame: Frame, records: ReadonlyArray<AuditRecord>): Html =>
  layout(
    frame,
    "audit",
    "Audit log",
    html`<div class="page-header"><h1>Audit log</h1><p class="lead">The latest ${records.length} entries, newest first.</p></div>
<section class="card" aria-labelledby="audit-title"><h2 id="audit-title" class="visually-hidden">Entries</h2>
<div class="table-scroll"><table>
<thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Outcome</th><th scope="col">Subject</th><th scope="col">Detail</th></tr></thead>
<tbody>${records.map((r) => html`<tr><td class="nowrap">${F.dateTime(r.at)}</td><td>${r.actor}</td><td>${r.action}</td><td>${r.outcome}</td><td>${r.subject ?? ""}</td><td>${r.detail ?? ""}</td></tr>`)}</tbody>
</table></div></section>`
  )

/** A page that explains a refusal or failure and offers a way on. */
export const errorPage = (frame: Frame, title: string, message: string, next: { readonly href: string; readonly label: string }): Html =>
  layout(
    frame,
    "error",
    title,
    html`<div class="narrow">
<h1>${title}</h1>
<div class="error-summary" role="alert" tabindex="-1" autofocus><p>${message}</p></div>
<p><a class="button primary" href="${next.href}">${next.label}</a></p>
</div>`
  )
