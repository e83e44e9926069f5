/** The Customer Portal's web pages (sign-in, password, invite, customers, Licenses page, license, audit) as routes on the same server as its API. */
import { createHash } from "node:crypto"
import { HttpApiBuilder, HttpRouter, HttpServerRequest, HttpServerResponse, type UrlParams } from "@effect/platform"
import { Cap } from "@exekra/core"
import { Clock, Duration, Effect, Either, type Layer } from "effect"
import { clientAddress, HubHttpOptions, type Settings } from "../http/HubHttpOptions.js"
import * as Cookies from "../http/internal/cookies.js"
import type * as Problem from "../http/Problem.js"
import * as Csrf from "../pages/Csrf.js"
import { type Asset, loadAll } from "../pages/internal/assets.js"
import * as PageRequest from "../pages/internal/pageRequest.js"
import * as PageResponse from "../pages/internal/pageResponse.js"
import { PortalBaseUrl } from "./internal/handlers.js"
import { portalCss } from "./internal/portalCss.js"
import { answer } from "./internal/problems.js"
import * as Views from "./internal/views.js"
import { type CapTerms, Licensing, type LicenseTerms, type LicenseView, type Renewal } from "./Licensing.js"
import { cookieName as sessionCookieName } from "./PortalApi.js"
import { type Caller, checkEmail, PortalAuth } from "./PortalAuth.js"
import { PortalStore } from "./PortalStore.js"

/** What the pages are built on: the same services as the API. */
export type Requirements = PortalAuth | Licensing | PortalStore | PortalBaseUrl

/** Cookie of the double-submit token of the forms shown before sign-in (not the Hub's, which may share the host). */
export const csrfCookieName = "exekra_portal_csrf"

/** The Content-Security-Policy of every page, as on the Hub: only the Portal's own stylesheets and script. */
export const contentSecurityPolicy = PageResponse.contentSecurityPolicy

/** Headers of every page and asset. */
export const securityHeaders = PageResponse.securityHeaders

const { field, searchParam } = PageRequest
const { PageFailure, html: htmlResponse, redirect } = PageResponse
type PageFailure = PageResponse.PageFailure

const staffOnly = () => new PageFailure({ status: 403, title: "For vendor staff only", message: "This page belongs to the vendor's staff. Your licenses are on the Licenses page.", next: { href: "/licenses", label: "Open the Licenses page" } })

/** What a page knows about the signed-in person. */
interface Session {
  readonly secret: string
  readonly caller: Extract<Caller, { kind: "session" }>
  readonly csrf: string
}

const DAY = 86_400_000
const dateInput = (t: number): string => new Date(t).toISOString().slice(0, 10)
const capsRecord = (f: (cap: Cap.Cap) => string): Record<Cap.Cap, string> => ({ unattended: f("unattended"), developer: f("developer"), attended: f("attended") })

const portalCssAsset: Asset = {
  path: "/assets/portal.css",
  contentType: "text/css; charset=utf-8",
  body: portalCss,
  version: createHash("sha256").update(portalCss).digest("hex").slice(0, 12)
}

const WHOLE = /^\d{1,10}$/

/** The pages' routes, given the services. */
const routes = Effect.gen(function* () {
  const auth = yield* PortalAuth
  const licensing = yield* Licensing
  const store = yield* PortalStore
  const settings: Settings = yield* HubHttpOptions
  const baseUrl = yield* PortalBaseUrl
  const hubAssets = yield* loadAll
  const assets = { ...hubAssets, portalCss: portalCssAsset }

  const frame = (session: Session | null): Views.Frame => ({
    assets,
    session:
      session === null
        ? null
        : { csrf: session.csrf, role: session.caller.role, email: session.caller.account.email, mustChangePassword: session.caller.account.mustChangePassword }
  })
  const signedFrame = (session: Session) => frame(session) as Views.Frame & { readonly session: NonNullable<Views.Frame["session"]> }

  const site: PageResponse.Site<string, never> = {
    name: "Portal",
    home: { href: "/", label: "Back to the Portal" },
    unexpected: "Try again; if it keeps happening, the Portal's log has the details.",
    errorPage: (title, message, next) => Effect.succeed(Views.errorPage(frame(null), title, message, next))
  }

  /** Run a page: refusals become an explanatory page, defects a logged 500 page; interruptions pass. */
  const page = PageResponse.runner(site)

  const forbidden = () => PageResponse.expiredForm(site)

  const currentSession = Effect.gen(function* () {
    const secret = yield* PageRequest.cookie(sessionCookieName)
    if (secret === null) return null
    const caller = yield* answer(auth.authenticate(secret)).pipe(Effect.catchIf((problem) => problem.code === "UNAUTHORIZED", () => Effect.succeed(null)))
    return caller === null || caller.kind !== "session" ? null : ({ secret, caller, csrf: Csrf.forSession(secret) } satisfies Session)
  })

  /** Run `render` for a signed-in person who has chosen their password; otherwise to sign-in or the password page. */
  const signedIn = <R>(render: (session: Session) => Effect.Effect<HttpServerResponse.HttpServerResponse, PageFailure | Problem.HttpProblem, R>, options: { readonly staff?: boolean } = {}) =>
    page(
      Effect.gen(function* () {
        const session = yield* currentSession
        if (session === null) {
          const request = yield* HttpServerRequest.HttpServerRequest
          return redirect(request.cookies[sessionCookieName] === undefined ? "/" : "/?notice=expired")
        }
        if (session.caller.account.mustChangePassword) return redirect("/account/password")
        if (options.staff === true && session.caller.role !== "staff") return yield* staffOnly()
        return yield* render(session)
      })
    )

  const { token: preSessionToken, withCookie: withPreSessionCookie } = PageRequest.preSessionTokens(csrfCookieName, settings)

  const sessionCookie = (response: HttpServerResponse.HttpServerResponse, session: { readonly token: string; readonly expiresAt: number }) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const now = yield* Clock.currentTimeMillis
      return yield* Effect.orDie(
        HttpServerResponse.setCookie(response, sessionCookieName, session.token, {
          ...(yield* Cookies.attributes(request, settings)),
          maxAge: Duration.millis(Math.max(0, session.expiresAt - now))
        })
      )
    })

  const form = PageRequest.form(settings, "Portal")
  const noticeParam = Effect.map(searchParam("notice"), (key) => (key !== undefined && Object.hasOwn(Views.notices, key) ? Views.notices[key as Views.NoticeKey] : undefined))
  const param = (name: string) => Effect.map(HttpRouter.params, (params) => params[name] ?? "")

  /** A session form's fields after its CSRF token checked out. */
  const sessionForm = (session: Session) =>
    Effect.flatMap(form, (params) => (Csrf.matches(session.csrf, field(params, Csrf.fieldName)) ? Effect.succeed(params) : Effect.fail(forbidden())))

  // ---- sign-in, sign-out, password, invite -----------------------------------------------------------

  const renderSignIn = (view: Omit<Views.SignInView, "csrf">, status: number, headers: Record<string, string> = {}) =>
    Effect.gen(function* () {
      const token = yield* preSessionToken
      return yield* withPreSessionCookie(htmlResponse(Views.signIn(frame(null), { ...view, csrf: token.token }), status).pipe(HttpServerResponse.setHeaders(headers)), token)
    })

  const landing = (session: Session) =>
    session.caller.account.mustChangePassword ? "/account/password" : session.caller.role === "staff" ? "/customers" : "/licenses"

  const getHome = page(
    Effect.gen(function* () {
      const session = yield* currentSession
      if (session !== null) return redirect(landing(session))
      return yield* renderSignIn({ email: "", notice: yield* noticeParam, error: undefined }, 200)
    })
  )

  const postSignIn = page(
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const params = yield* form
      if (!Csrf.matches(request.cookies[csrfCookieName], field(params, Csrf.fieldName))) return yield* forbidden()
      const email = field(params, "email")
      const result = yield* Effect.either(answer(auth.signIn(email, field(params, "password"), clientAddress(request, settings))))
      if (Either.isLeft(result)) {
        const problem = result.left
        const retry: Record<string, string> = problem.retryAfterSeconds === undefined ? {} : { "retry-after": String(problem.retryAfterSeconds) }
        return yield* renderSignIn({ email, notice: undefined, error: problem.message }, problem.status, retry)
      }
      const session = result.right
      const next = session.account.mustChangePassword ? "/account/password" : session.account.role === "staff" ? "/customers" : "/licenses"
      return yield* sessionCookie(redirect(next), session)
    })
  )

  const postSignOut = page(
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const session = yield* currentSession
      if (session === null) return redirect("/")
      yield* sessionForm(session)
      yield* answer(auth.signOut(session.secret))
      return HttpServerResponse.expireCookie(redirect("/?notice=signed-out"), sessionCookieName, yield* Cookies.attributes(request, settings))
    })
  )

  const withSession = <R>(render: (session: Session) => Effect.Effect<HttpServerResponse.HttpServerResponse, PageFailure | Problem.HttpProblem, R>) =>
    page(
      Effect.flatMap(currentSession, (session) => (session === null ? Effect.succeed(redirect("/")) : render(session)))
    )

  const getPassword = withSession((session) =>
    Effect.map(noticeParam, (notice) =>
      htmlResponse(Views.passwordPage(frame(session), { csrf: session.csrf, required: session.caller.account.mustChangePassword, errors: [], notice }))
    )
  )

  const passwordField = (code: string): string | null =>
    code === "PASSWORD_WRONG" ? "current-password" : code === "PASSWORD_TOO_WEAK" ? "new-password" : null

  const postPassword = withSession((session) =>
    Effect.gen(function* () {
      const params = yield* sessionForm(session)
      const next = field(params, "newPassword")
      const render = (errors: Views.FormErrors, status: number) =>
        htmlResponse(Views.passwordPage(frame(session), { csrf: session.csrf, required: session.caller.account.mustChangePassword, errors }), status)
      if (next !== field(params, "confirm")) return render([{ field: "confirm-password", message: "The two new passwords differ. Type the same password in both fields." }], 422)
      const changed = yield* Effect.either(answer(auth.changePassword(session.caller.account, field(params, "currentPassword"), next, session.secret)))
      if (Either.isLeft(changed)) return render([{ field: passwordField(changed.left.code), message: changed.left.message }], changed.left.status)
      const to = session.caller.role === "staff" ? "/customers" : "/licenses"
      return redirect(`${to}?notice=password-changed`)
    })
  )

  const inviteError = (code: string) => (code === "PASSWORD_TOO_WEAK" ? "invite-password" : null)

  const getInvite = page(
    Effect.gen(function* () {
      const token = yield* param("token")
      const account = yield* answer(auth.inviteAccount(token))
      const csrf = yield* preSessionToken
      return yield* withPreSessionCookie(htmlResponse(Views.invitePage(frame(null), { csrf: csrf.token, token, email: account.email, errors: [] })), csrf)
    })
  )

  const postInvite = page(
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const token = yield* param("token")
      const params = yield* form
      if (!Csrf.matches(request.cookies[csrfCookieName], field(params, Csrf.fieldName))) return yield* forbidden()
      const account = yield* answer(auth.inviteAccount(token))
      const password = field(params, "password")
      const render = (errors: Views.FormErrors, status: number) =>
        htmlResponse(Views.invitePage(frame(null), { csrf: field(params, Csrf.fieldName), token, email: account.email, errors }), status)
      if (password !== field(params, "confirm")) return render([{ field: "invite-confirm", message: "The two passwords differ. Type the same password in both fields." }], 422)
      const accepted = yield* Effect.either(answer(auth.acceptInvite(token, password, clientAddress(request, settings))))
      if (Either.isLeft(accepted)) return render([{ field: inviteError(accepted.left.code), message: accepted.left.message }], accepted.left.status)
      const session = accepted.right
      return yield* sessionCookie(redirect(`${session.account.role === "staff" ? "/customers" : "/licenses"}?notice=welcome`), session)
    })
  )

  // ---- staff: customers ------------------------------------------------------------------------------

  const customerRows = Effect.gen(function* () {
    const customers = yield* answer(licensing.listCustomers)
    const accounts = yield* answer(store.listAccounts({ role: "customer" }))
    const licenses = yield* answer(store.listLicenses({}))
    return customers.map((customer) => ({
      customer,
      users: accounts.filter((a) => a.customerId === customer.customerId).length,
      licenses: licenses.filter((l) => l.customerId === customer.customerId).length
    }))
  })

  const getCustomers = signedIn(
    (session) =>
      Effect.gen(function* () {
        const rows = yield* customerRows
        return htmlResponse(Views.customersPage(signedFrame(session), { rows, errors: [], name: "", notice: yield* noticeParam }))
      }),
    { staff: true }
  )

  const postCustomers = signedIn(
    (session) =>
      Effect.gen(function* () {
        const params = yield* sessionForm(session)
        const name = field(params, "name")
        const created = yield* Effect.either(answer(licensing.createCustomer(name, session.caller.actor)))
        if (Either.isLeft(created)) {
          return htmlResponse(Views.customersPage(signedFrame(session), { rows: yield* customerRows, errors: [{ field: "customer-name", message: created.left.message }], name }), created.left.status)
        }
        return redirect(`/customers/${created.right.customerId}?notice=customer-created`)
      }),
    { staff: true }
  )

  const defaultIssueForm = (now: number, email: string): Views.IssueForm => ({
    type: "production",
    email,
    name: "",
    limits: { unattended: "5", developer: "3", attended: "10" },
    expires: capsRecord(() => dateInput(now + 365 * DAY)),
    warningDays: "30",
    graceDays: "14",
    overagePercent: "0",
    onLimited: "refuse-new",
    validationRequired: false,
    intervalHours: "24",
    installationId: ""
  })

  const renderCustomer = (
    session: Session,
    customerId: string,
    over: Partial<Omit<Views.CustomerView, "customer" | "users" | "licenses">> & { readonly status?: number } = {}
  ) =>
    Effect.gen(function* () {
      const customer = yield* answer(licensing.getCustomer(customerId))
      const users = yield* answer(store.listAccounts({ customerId }))
      const licenses = yield* answer(licensing.list(session.caller, { customerId }))
      const now = yield* Clock.currentTimeMillis
      const view: Views.CustomerView = {
        customer,
        users,
        licenses,
        notice: yield* noticeParam,
        handover: null,
        userErrors: [],
        userEmail: "",
        issueErrors: [],
        issue: defaultIssueForm(now, users[0]?.email ?? ""),
        ...over
      }
      return htmlResponse(Views.customerPage(signedFrame(session), view), over.status ?? 200)
    })

  const getCustomer = signedIn((session) => Effect.flatMap(param("customerId"), (id) => renderCustomer(session, id)), { staff: true })

  const postUser = signedIn(
    (session) =>
      Effect.gen(function* () {
        const customerId = yield* param("customerId")
        const params = yield* sessionForm(session)
        const email = field(params, "email")
        const handover = field(params, "handover") === "temporary-password" ? "temporary-password" : "invite"
        const customer = yield* answer(licensing.getCustomer(customerId))
        const created = yield* Effect.either(answer(auth.createAccount({ email, name: "", role: "customer", customerId: customer.customerId }, handover, session.caller.actor)))
        if (Either.isLeft(created)) {
          return yield* renderCustomer(session, customerId, { userErrors: [{ field: "user-email", message: created.left.message }], userEmail: email, status: created.left.status })
        }
        const h = created.right
        return yield* renderCustomer(session, customerId, {
          notice: `${h.account.email} is added.`,
          handover: { email: h.account.email, inviteUrl: h.invite === null ? null : `${baseUrl}/invite/${h.invite.token}`, temporaryPassword: h.temporaryPassword },
          status: 201
        })
      }),
    { staff: true }
  )

  const postReset = signedIn(
    (session) =>
      Effect.gen(function* () {
        const customerId = yield* param("customerId")
        const accountId = yield* param("accountId")
        const params = yield* sessionForm(session)
        const account = yield* answer(store.getAccount(accountId))
        if (account === undefined || account.customerId !== customerId) {
          return yield* new PageFailure({ status: 404, title: "No such user", message: "This customer has no such user.", next: { href: `/customers/${customerId}`, label: "Back to the customer" } })
        }
        const h = yield* answer(auth.resetAccount(accountId, field(params, "handover") === "temporary-password" ? "temporary-password" : "invite", session.caller.actor))
        return yield* renderCustomer(session, customerId, {
          handover: { email: h.account.email, inviteUrl: h.invite === null ? null : `${baseUrl}/invite/${h.invite.token}`, temporaryPassword: h.temporaryPassword }
        })
      }),
    { staff: true }
  )

  /** The issue form as typed, and the terms it means, or the errors of its fields. */
  const readIssueForm = (params: UrlParams.UrlParams) =>
    Effect.gen(function* () {
      const f: Views.IssueForm = {
        type: field(params, "type") === "trial" ? "trial" : "production",
        email: field(params, "email").trim(),
        name: field(params, "name").trim(),
        limits: capsRecord((cap) => field(params, `${cap}Limit`).trim()),
        expires: capsRecord((cap) => field(params, `${cap}Expires`).trim()),
        warningDays: field(params, "warningDays").trim(),
        graceDays: field(params, "graceDays").trim(),
        overagePercent: field(params, "overagePercent").trim(),
        onLimited: field(params, "onLimited") === "block-all" ? "block-all" : "refuse-new",
        validationRequired: field(params, "validationRequired") === "on",
        intervalHours: field(params, "intervalHours").trim(),
        installationId: field(params, "installationId").trim()
      }
      const errors: Array<{ field: string; message: string }> = []
      const whole = (id: string, label: string, value: string, fallback: number) => {
        if (value === "") return fallback
        if (!WHOLE.test(value)) errors.push({ field: id, message: `${label}: enter a whole number.` })
        return Number(value)
      }
      const emailResult = yield* Effect.either(checkEmail(f.email))
      if (Either.isLeft(emailResult)) errors.push({ field: "issue-email", message: emailResult.left.message })
      const overage = whole("issue-overage", "Overage", f.overagePercent, 0)
      const caps: Partial<Record<Cap.Cap, CapTerms>> = {}
      for (const cap of Cap.all) {
        const ids = Views.capFieldIds("issue", cap)
        if (f.limits[cap] === "") {
          if (f.expires[cap] !== "") errors.push({ field: ids.limit, message: `${Cap.unitNames[cap].title} limit: enter a limit, or clear the expiry to grant none.` })
          continue
        }
        const limit = whole(ids.limit, `${Cap.unitNames[cap].title} limit`, f.limits[cap], 0)
        if (f.expires[cap] === "") errors.push({ field: ids.expires, message: `${Cap.unitNames[cap].title} expiry: choose the date this cap expires.` })
        caps[cap] = { limit, expiresAt: f.expires[cap], ...(overage > 0 ? { overagePercent: overage } : {}), ...(f.onLimited === "block-all" ? { onLimited: "block-all" as const } : {}) }
      }
      const terms: LicenseTerms = {
        type: f.type === "trial" ? "trial" : "production",
        issuedTo: { name: f.name === "" ? undefined : f.name, email: f.email },
        caps,
        expiryWarningDays: whole("issue-warning", "Warning days", f.warningDays, 30),
        gracePeriodDays: whole("issue-grace", "Grace days", f.graceDays, f.type === "trial" ? 0 : 14),
        validation: { required: f.validationRequired, intervalHours: whole("issue-interval", "Hours between pings", f.intervalHours, 24) },
        installationId: f.installationId === "" ? undefined : f.installationId
      }
      return { form: f, terms, errors }
    })

  const issueField = (problem: Problem.HttpProblem): string | null =>
    problem.code === "EMAIL_INVALID" ? "issue-email" : problem.code === "INSTALLATION_ID_INVALID" ? "issue-installation" : null

  const postIssue = signedIn(
    (session) =>
      Effect.gen(function* () {
        const customerId = yield* param("customerId")
        const params = yield* sessionForm(session)
        const { form: f, terms, errors } = yield* readIssueForm(params)
        if (errors.length > 0) return yield* renderCustomer(session, customerId, { issue: f, issueErrors: errors, status: 422 })
        const issued = yield* Effect.either(answer(licensing.issue(customerId, terms, session.caller.actor)))
        if (Either.isLeft(issued)) return yield* renderCustomer(session, customerId, { issue: f, issueErrors: [{ field: issueField(issued.left), message: issued.left.message }], status: issued.left.status })
        return redirect(`/licenses/${issued.right.licenseId}?notice=issued`)
      }),
    { staff: true }
  )

  // ---- licenses ---------------------------------------------------------------------------------------

  const renderLicenses = (session: Session, over: Partial<Pick<Views.LicensesView, "errors" | "bind" | "notice">> = {}, status = 200) =>
    Effect.gen(function* () {
      const licenses = yield* answer(licensing.list(session.caller))
      if (session.caller.role === "staff") return htmlResponse(Views.allLicensesPage(frame(session), licenses), status)
      const customer = yield* answer(licensing.getCustomer(session.caller.account.customerId ?? ""))
      const mayTakeTrial = customer.trialLicenseId === null && !licenses.some((l) => l.type === "production")
      const view: Views.LicensesView = {
        licenses,
        now: yield* Clock.currentTimeMillis,
        notice: yield* noticeParam,
        trial: mayTakeTrial ? licensing.trialTemplate : null,
        errors: [],
        bind: null,
        customerName: customer.name,
        ...over
      }
      return htmlResponse(Views.licensesPage(signedFrame(session), view), status)
    })

  const getLicenses = signedIn((session) => renderLicenses(session))

  const renewForm = (license: LicenseView) => {
    const grant = (cap: Cap.Cap) => license.caps.find((c) => c.cap === cap)
    return {
      limits: capsRecord((cap) => String(grant(cap)?.limit ?? "")),
      expires: capsRecord((cap) => {
        const g = grant(cap)
        return g === undefined ? "" : dateInput(g.expiresAt)
      })
    }
  }

  const renderLicense = (session: Session, licenseId: string, over: Partial<Pick<Views.LicenseDetailView, "errors" | "renew">> = {}, status = 200) =>
    Effect.gen(function* () {
      const license = yield* answer(licensing.get(session.caller, licenseId))
      const files = yield* answer(licensing.history(session.caller, licenseId))
      const pings = yield* answer(store.pings({ licenseId, limit: 20 }))
      const view: Views.LicenseDetailView = {
        license,
        files,
        pings,
        now: yield* Clock.currentTimeMillis,
        notice: yield* noticeParam,
        errors: [],
        renew: renewForm(license),
        ...over
      }
      return htmlResponse(Views.licenseDetailPage(signedFrame(session), view), status)
    })

  const getLicense = signedIn((session) =>
    Effect.flatMap(param("licenseId"), (licenseId) => (session.caller.role === "staff" ? renderLicense(session, licenseId) : Effect.succeed(redirect(`/licenses#license-${licenseId}`))))
  )

  const postRenew = signedIn(
    (session) =>
      Effect.gen(function* () {
        const licenseId = yield* param("licenseId")
        const params = yield* sessionForm(session)
        const current = yield* answer(licensing.get(session.caller, licenseId))
        const typed = { limits: capsRecord((cap) => field(params, `${cap}Limit`).trim()), expires: capsRecord((cap) => field(params, `${cap}Expires`).trim()) }
        const errors: Array<{ field: string; message: string }> = []
        const caps: Partial<Record<Cap.Cap, Partial<CapTerms>>> = {}
        for (const cap of Cap.all) {
          const ids = Views.capFieldIds("renew", cap)
          const before = current.caps.find((c) => c.cap === cap)
          const limit = typed.limits[cap]
          const expires = typed.expires[cap]
          if (limit !== "" && !WHOLE.test(limit)) errors.push({ field: ids.limit, message: `${Cap.unitNames[cap].title} limit: enter a whole number.` })
          if (before === undefined && (limit === "") !== (expires === "")) {
            errors.push({ field: limit === "" ? ids.limit : ids.expires, message: `${Cap.unitNames[cap].title}: to add this cap, give both its limit and its expiry.` })
          }
          const change: { limit?: number; expiresAt?: string } = {}
          if (limit !== "" && WHOLE.test(limit) && Number(limit) !== before?.limit) change.limit = Number(limit)
          if (expires !== "" && (before === undefined || expires !== dateInput(before.expiresAt))) change.expiresAt = expires
          if (Object.keys(change).length > 0) caps[cap] = change
        }
        if (errors.length > 0) return yield* renderLicense(session, licenseId, { errors, renew: typed }, 422)
        const renewal: Renewal = { caps }
        const renewed = yield* Effect.either(answer(licensing.renew(licenseId, renewal, session.caller.actor)))
        if (Either.isLeft(renewed)) return yield* renderLicense(session, licenseId, { errors: [{ field: null, message: renewed.left.message }], renew: typed }, renewed.left.status)
        return redirect(`/licenses/${licenseId}?notice=renewed`)
      }),
    { staff: true }
  )

  const revocation = (action: "revoke" | "restore") =>
    signedIn(
      (session) =>
        Effect.gen(function* () {
          const licenseId = yield* param("licenseId")
          yield* sessionForm(session)
          yield* answer(action === "revoke" ? licensing.revoke(licenseId, session.caller.actor) : licensing.restore(licenseId, session.caller.actor))
          return redirect(`/licenses/${licenseId}?notice=${action === "revoke" ? "revoked" : "restored"}`)
        }),
      { staff: true }
    )

  const postBind = signedIn((session) =>
    Effect.gen(function* () {
      const licenseId = yield* param("licenseId")
      const params = yield* sessionForm(session)
      const installationId = field(params, "installationId").trim()
      const bound = yield* Effect.either(answer(licensing.bind(session.caller, licenseId, installationId)))
      if (Either.isLeft(bound)) {
        const problem = bound.left
        if (problem.status >= 500) return yield* problem
        const bind = { licenseId, value: installationId, error: problem.message }
        return session.caller.role === "staff"
          ? yield* renderLicense(session, licenseId, { errors: [{ field: null, message: problem.message }] }, problem.status)
          : yield* renderLicenses(session, { errors: [{ field: `bind-${licenseId}`, message: problem.message }], bind }, problem.status)
      }
      return redirect(session.caller.role === "staff" ? `/licenses/${licenseId}?notice=bound` : `/licenses?notice=bound#license-${licenseId}`)
    })
  )

  const postTrial = signedIn((session) =>
    Effect.gen(function* () {
      yield* sessionForm(session)
      const taken = yield* Effect.either(answer(licensing.takeTrial(session.caller)))
      if (Either.isLeft(taken)) {
        if (taken.left.status >= 500) return yield* taken.left
        return yield* renderLicenses(session, { errors: [{ field: null, message: taken.left.message }] }, taken.left.status)
      }
      return redirect(`/licenses?notice=trial#license-${taken.right.licenseId}`)
    })
  )

  const getAudit = signedIn((session) => Effect.map(answer(store.listAudit({ limit: 200 })), (records) => htmlResponse(Views.auditPage(frame(session), records))), { staff: true })

  return [
    ["GET", "/", getHome],
    ["POST", "/sign-in", postSignIn],
    ["POST", "/sign-out", postSignOut],
    ["GET", "/account/password", getPassword],
    ["POST", "/account/password", postPassword],
    ["GET", "/invite/:token", getInvite],
    ["POST", "/invite/:token", postInvite],
    ["GET", "/customers", getCustomers],
    ["POST", "/customers", postCustomers],
    ["GET", "/customers/:customerId", getCustomer],
    ["POST", "/customers/:customerId/users", postUser],
    ["POST", "/customers/:customerId/users/:accountId/reset", postReset],
    ["POST", "/customers/:customerId/licenses", postIssue],
    ["GET", "/licenses", getLicenses],
    ["GET", "/licenses/:licenseId", getLicense],
    ["POST", "/licenses/:licenseId/renew", postRenew],
    ["POST", "/licenses/:licenseId/revoke", revocation("revoke")],
    ["POST", "/licenses/:licenseId/restore", revocation("restore")],
    ["POST", "/licenses/:licenseId/bind", postBind],
    ["POST", "/trial", postTrial],
    ["GET", "/audit", getAudit],
    ["GET", assets.css.path, PageResponse.asset(assets.css)],
    ["GET", assets.js.path, PageResponse.asset(assets.js)],
    ["GET", portalCssAsset.path, PageResponse.asset(portalCssAsset)]
  ] as const
})

/**
 * The pages as routes on the API's router (`HttpApiBuilder.Router`), so one server answers both and the API's
 * request middleware (body limit, timeout) applies to the form posts too.
 */
export const layer: Layer.Layer<never, never, Requirements> = HttpApiBuilder.Router.use((router) =>
  Effect.flatMap(routes, (all) => Effect.forEach(all, ([method, path, handler]) => (method === "GET" ? router.get(path, handler) : router.post(path, handler)), { discard: true }))
)
