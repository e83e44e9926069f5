/** The pages shown before sign-in, as markup: the activation screen of a fresh Hub and the sign-in page; pure functions of their data. */
import { type Html, html, type Interpolation, trusted } from "../Html.js"
import { csrfField, errorSummary, field, type Frame, layout, notice, url } from "./views.js"

const installationPanel = (installationId: string, explanation: Interpolation): Html => html`<div class="installation">
<p class="installation-label" id="installation-label">Installation id</p>
<div class="installation-row">
<code id="installation-id" aria-labelledby="installation-label">${installationId}</code>
<button type="button" class="button subtle small" data-copy="installation-id" hidden>Copy</button>
<span class="copy-status" data-copy-status aria-live="polite"></span>
</div>
<p class="hint">${explanation}</p>
</div>`

// ---- activation -----------------------------------------------------------------------------------

/** The activation form's fields, for placing errors next to them. */
export type ActivationField = "license" | "email" | "password" | "confirm"

/** What the activation screen shows: the installation id, the form, and any errors per field. */
export interface ActivationView {
  readonly installationId: string
  readonly csrf: string
  readonly email: string
  readonly errors: Partial<Record<ActivationField, string>>
  /** Errors that belong to no field (e.g. the database is unavailable). */
  readonly formError: string | undefined
}

const activationIds: Readonly<Record<ActivationField, string>> = {
  license: "activate-license",
  email: "activate-email",
  password: "activate-password",
  confirm: "activate-confirm"
}

/** The activation screen of a fresh Hub. */
export const activation = (frame: Frame, view: ActivationView): Html => {
  const fields: ReadonlyArray<ActivationField> = ["license", "email", "password", "confirm"]
  const errors = [
    ...(view.formError === undefined ? [] : [{ field: null, message: view.formError }]),
    ...fields.flatMap((f) => (view.errors[f] === undefined ? [] : [{ field: activationIds[f], message: view.errors[f] }]))
  ]
  const hadErrors = errors.length > 0
  return layout(
    frame,
    "activate",
    hadErrors ? "Error: Activate this Hub" : "Activate this Hub",
    html`<div class="narrow">
<h1>Activate this Hub</h1>
<p class="lead">Upload the license file you downloaded from the Customer Portal and create the admin account. The Hub verifies the file itself: no network connection is needed.</p>
${errorSummary("The Hub could not be activated", errors)}
<section class="card" aria-labelledby="installation-label">
${installationPanel(
  view.installationId,
  "You need this id to request a license bound to this Hub, or an offline license, from the Customer Portal."
)}
</section>
<form class="card form" method="post" action="${url(frame, "/activate")}" enctype="multipart/form-data" novalidate>
${csrfField(view.csrf)}
<fieldset>
<legend>License</legend>
${field({
  id: activationIds.license,
  name: "license",
  label: "License file (.lic)",
  type: "file",
  hint: hadErrors
    ? "The .lic file from the Licenses page of the Customer Portal. For your security, choose the file again."
    : "The .lic file from the Licenses page of the Customer Portal.",
  error: view.errors.license,
  attributes: html`accept=".lic,text/plain" required`
})}
</fieldset>
<fieldset>
<legend>Admin account</legend>
${field({
  id: activationIds.email,
  name: "email",
  label: "Admin email",
  type: "email",
  hint: "The email the license was issued to.",
  error: view.errors.email,
  value: view.email,
  attributes: html`autocomplete="username" required maxlength="254" spellcheck="false"`
})}
${field({
  id: activationIds.password,
  name: "password",
  label: "Password",
  type: "password",
  hint: "At least 12 characters, not containing the email's user name.",
  error: view.errors.password,
  attributes: html`autocomplete="new-password" required minlength="12" maxlength="1024"`
})}
${field({
  id: activationIds.confirm,
  name: "confirm",
  label: "Confirm password",
  type: "password",
  error: view.errors.confirm,
  attributes: html`autocomplete="new-password" required maxlength="1024"`
})}
</fieldset>
<div class="actions"><button type="submit" class="button primary">Activate</button></div>
</form>
</div>`
  )
}

// ---- sign-in --------------------------------------------------------------------------------------

/** Notices shown after a redirect, by the key in `?notice=`: fixed sentences, so a link cannot make a page say anything else. */
export const signInNotices = {
  activated: "The Hub is activated. Sign in with the admin email and the password you just created.",
  "already-activated": "This Hub is already activated. Sign in to manage its license.",
  "signed-out": "You have signed out.",
  expired: "Your session has expired. Sign in again."
} as const

/** What the sign-in page shows. */
export interface SignInView {
  readonly csrf: string
  readonly email: string
  readonly notice: string | undefined
  readonly error: string | undefined
}

/** The sign-in page. */
export const signIn = (frame: Frame, view: SignInView): Html =>
  layout(
    frame,
    "sign-in",
    view.error === undefined ? "Sign in" : "Error: Sign in",
    html`<div class="narrow">
<h1>Sign in</h1>
${view.notice === undefined ? "" : notice(view.notice)}
${errorSummary("You could not be signed in", view.error === undefined ? [] : [{ field: "sign-in-email", message: view.error }])}
<form class="card form" method="post" action="${url(frame, "/sign-in")}" novalidate>
${csrfField(view.csrf)}
${field({
  id: "sign-in-email",
  name: "email",
  label: "Admin email",
  type: "email",
  value: view.email,
  attributes: html`autocomplete="username" required maxlength="254" spellcheck="false"${view.error === undefined ? "" : trusted(' aria-invalid="true"')}`
})}
${field({
  id: "sign-in-password",
  name: "password",
  label: "Password",
  type: "password",
  attributes: html`autocomplete="current-password" required maxlength="1024"`
})}
<div class="actions"><button type="submit" class="button primary">Sign in</button></div>
</form>
</div>`
  )
