/** The Hub's web pages (activation, sign-in, dashboard, License page, timeline) as routes on the same server as the API, linking under the Hub's mount prefix. */
import { HttpApiBuilder, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cap, Envelope, License, LicenseError, LicenseStore } from "@exekra/core"
import { renderSvg, simulate } from "@exekra/machines"
import { Duration, Effect, Either, type Layer, Option, Schema } from "effect"
import { actorOf, AdminAuth, type Principal } from "../AdminAuth.js"
import { cookieName as sessionCookieName } from "../http/Authorization.js"
import { clientAddress, HubHttpOptions, type Settings } from "../http/HubHttpOptions.js"
import * as Cookies from "../http/internal/cookies.js"
import * as Uploads from "../http/internal/uploads.js"
import * as Problem from "../http/Problem.js"
import { LicenseRuntime, type LicenseSummary } from "../LicenseRuntime.js"
import { Cluster } from "../cluster/Cluster.js"
import * as Csrf from "./Csrf.js"
import * as Access from "./internal/accessPages.js"
import { loadAll } from "./internal/assets.js"
import * as BasePath from "./internal/basePath.js"
import { type CapDiagram, capDiagram, makeDrawer } from "./internal/diagram.js"
import * as LicensePage from "./internal/licensePage.js"
import * as PageRequest from "./internal/pageRequest.js"
import * as PageResponse from "./internal/pageResponse.js"
import * as TimelinePage from "./internal/timelinePage.js"
import * as Views from "./internal/views.js"

/** What the pages are built on: the same services as the API. */
export type Requirements = LicenseRuntime | AdminAuth | LicenseStore.LicenseStore

/**
 * The Content-Security-Policy of every page: only the Hub's own stylesheet and script, no inline
 * script or style (style attributes included), no framing, forms posting only to the Hub.
 */
export const contentSecurityPolicy = PageResponse.contentSecurityPolicy

const { field, searchParam } = PageRequest
const htmlResponse = PageResponse.html

/** A failure that ends a page request with an explanatory page; `next` is a page of the Hub without the base path (the error page adds it). */
type PageFailure = PageResponse.PageFailure<`/${string}`>
const PageFailure = PageResponse.PageFailure<`/${string}`>

/** What an admin page knows about the signed-in admin. */
interface Session {
  readonly secret: string
  readonly principal: Principal
  readonly csrf: string
}

const ActivationForm = Schema.Struct({
  license: Schema.optional(Uploads.LicenseInput),
  email: Schema.optional(Schema.String),
  password: Schema.optional(Schema.String),
  confirm: Schema.optional(Schema.String),
  [Csrf.fieldName]: Schema.optional(Schema.String)
})

const RenewalForm = Schema.Struct({
  license: Schema.optional(Uploads.LicenseInput),
  [Csrf.fieldName]: Schema.optional(Schema.String)
})

/** The uploaded file, or undefined when none was chosen (browsers send an empty file part then). */
const chosenFile = (license: string | Uint8Array | undefined): string | Uint8Array | undefined =>
  license === undefined || (typeof license === "string" ? license.trim().length === 0 : license.byteLength === 0) ? undefined : license

const chooseFile = "Choose the license file (.lic) you downloaded from the Customer Portal."

/** Where on the activation form an error code belongs. */
const activationField = (code: string): Access.ActivationField | null => {
  if (code.startsWith("LICENSE_") || code === "PAYLOAD_TOO_LARGE") return "license"
  if (code === "ADMIN_EMAIL_MISMATCH") return "email"
  if (code === "PASSWORD_TOO_WEAK") return "password"
  return null
}

const decodePayload = Schema.decodeUnknown(Schema.parseJson(License.LicensePayload))

/**
 * The installed license's payload for the timeline. The file was verified when it was installed and the
 * timeline is a forecast, not an authorisation, so it is decoded here without a key (as the CLI does).
 */
const installedPayload = (stored: LicenseStore.StoredLicense): Effect.Effect<License.LicensePayload, LicenseError> =>
  Effect.flatMap(Envelope.parseEffect(stored.text), (envelope) =>
    decodePayload(Buffer.from(envelope.payload).toString("utf8")).pipe(Effect.mapError(() => LicenseError.of("LICENSE_PAYLOAD_INVALID")))
  )

const DATE_INPUT = /^\d{4}-\d{2}-\d{2}$/

/** The pages' routes, given the services. */
const routes = Effect.gen(function* () {
  const runtime = yield* LicenseRuntime
  const cluster = yield* Effect.serviceOption(Cluster)
  const auth = yield* AdminAuth
  const store = yield* LicenseStore.LicenseStore
  const settings: Settings = yield* HubHttpOptions
  const assets = yield* loadAll
  const draw = yield* makeDrawer
  const trustPrefix = yield* BasePath.TrustForwardedPrefix

  /** The request's public path prefix ("" at the root): every URL a page emits starts with it. */
  const basePath = Effect.map(HttpServerRequest.HttpServerRequest, (request) => BasePath.fromRequest(request, trustPrefix))

  /** A 303 to one of the Hub's pages, under the request's prefix. */
  const redirect = (location: `/${string}`) => Effect.map(basePath, (base) => PageResponse.redirect(`${base}${location}`))

  const frame = (session: Session | null): Effect.Effect<Views.Frame, never, HttpServerRequest.HttpServerRequest> =>
    Effect.map(basePath, (base) => ({ assets, base, session: session === null ? null : { csrf: session.csrf } }))

  const site: PageResponse.Site<`/${string}`, HttpServerRequest.HttpServerRequest> = {
    name: "Hub",
    home: { href: "/", label: "Back to the Hub" },
    unexpected: Problem.internalError().message,
    errorPage: (title, message, next) => Effect.map(frame(null), (shell) => Views.errorPage(shell, title, message, next))
  }

  /** Run a page: store failures and refusals become an explanatory page, defects a logged 500 page; interruptions pass. */
  const page = PageResponse.runner(site)

  /** A post without this Hub's form token for the caller: forged, or from a page older than the session. */
  const forbidden = () => PageResponse.expiredForm(site)

  /** The signed-in admin, or null (no cookie, or a session that ended). */
  const currentSession = Effect.gen(function* () {
    const secret = yield* PageRequest.cookie(sessionCookieName)
    if (secret === null) return null
    const principal = yield* Problem.answer(auth.authenticate(secret)).pipe(
      Effect.catchIf((problem) => problem.code === "UNAUTHORIZED", () => Effect.succeed(null))
    )
    return principal === null ? null : ({ secret, principal, csrf: Csrf.forSession(secret) } satisfies Session)
  })

  /** Run `render` for the signed-in admin of an activated Hub; otherwise redirect to activation or sign-in. */
  const adminPage = <R>(
    render: (session: Session) => Effect.Effect<HttpServerResponse.HttpServerResponse, PageFailure | Problem.HttpProblem, R>
  ) =>
    page(
      Effect.gen(function* () {
        if (!(yield* Problem.answer(runtime.isActivated))) return yield* redirect("/activate")
        const session = yield* currentSession
        if (session === null) {
          const request = yield* HttpServerRequest.HttpServerRequest
          return yield* redirect(request.cookies[sessionCookieName] === undefined ? "/sign-in" : "/sign-in?notice=expired")
        }
        return yield* render(session)
      })
    )

  /** The double-submit token of the forms shown before sign-in: the request's cookie, or a new one. */
  const { token: preSessionToken, withCookie: withPreSessionCookie } = PageRequest.preSessionTokens(Csrf.cookieName, settings)

  const urlEncodedForm = PageRequest.form(settings)

  // ---- activation ---------------------------------------------------------------------------------

  const renderActivation = (view: Omit<Access.ActivationView, "installationId" | "csrf">, status: number) =>
    Effect.gen(function* () {
      const token = yield* preSessionToken
      const response = htmlResponse(Access.activation(yield* frame(null), { ...view, installationId: runtime.installationId, csrf: token.token }), status)
      return yield* withPreSessionCookie(response, token)
    })

  const getActivate = page(
    Effect.gen(function* () {
      if (yield* Problem.answer(runtime.isActivated)) return yield* redirect("/")
      return yield* renderActivation({ email: "", errors: {}, formError: undefined }, 200)
    })
  )

  const postActivate = page(
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const read = yield* Effect.either(Uploads.read(request, ActivationForm, settings.maxBodyBytes))
      if (Either.isLeft(read)) {
        const field = activationField(read.left.code)
        const errors = field === null ? {} : { [field]: read.left.message }
        return yield* renderActivation({ email: "", errors, formError: field === null ? read.left.message : undefined }, read.left.status)
      }
      const form = read.right
      if (!Csrf.matches(request.cookies[Csrf.cookieName], form[Csrf.fieldName])) return yield* forbidden()
      if (yield* Problem.answer(runtime.isActivated)) return yield* redirect("/sign-in?notice=already-activated")
      const email = form.email ?? ""
      const password = form.password ?? ""
      // Only what the runtime cannot judge is checked here: a chosen file and a repeated password.
      // A mistyped confirmation stops before activation, which would otherwise create the admin.
      const license = chosenFile(form.license)
      const local: Partial<Record<Access.ActivationField, string>> = {
        ...(license === undefined ? { license: chooseFile } : {}),
        ...(password !== (form.confirm ?? "") ? { confirm: "The two passwords differ. Type the same password in both fields." } : {})
      }
      if (license === undefined || Object.keys(local).length > 0) {
        return yield* renderActivation({ email, errors: local, formError: undefined }, 422)
      }
      const activated = yield* Effect.either(Problem.answer(runtime.activate({ license, email, password, actor: clientAddress(request, settings) })))
      if (Either.isRight(activated)) return yield* redirect("/sign-in?notice=activated")
      const problem = activated.left
      if (problem.code === "ALREADY_ACTIVATED") return yield* redirect("/sign-in?notice=already-activated")
      const field = activationField(problem.code)
      return yield* renderActivation(
        { email, errors: field === null ? {} : { [field]: problem.message }, formError: field === null ? problem.message : undefined },
        problem.status
      )
    })
  )

  // ---- sign-in and sign-out -----------------------------------------------------------------------

  const renderSignIn = (view: Omit<Access.SignInView, "csrf">, status: number, headers: Record<string, string> = {}) =>
    Effect.gen(function* () {
      const token = yield* preSessionToken
      const response = htmlResponse(Access.signIn(yield* frame(null), { ...view, csrf: token.token }), status).pipe(HttpServerResponse.setHeaders(headers))
      return yield* withPreSessionCookie(response, token)
    })

  const isSignInNotice = (key: string | undefined): key is keyof typeof Access.signInNotices => key !== undefined && Object.hasOwn(Access.signInNotices, key)

  const getSignIn = page(
    Effect.gen(function* () {
      if (!(yield* Problem.answer(runtime.isActivated))) return yield* redirect("/activate")
      if ((yield* currentSession) !== null) return yield* redirect("/")
      const key = yield* searchParam("notice")
      return yield* renderSignIn({ email: "", notice: isSignInNotice(key) ? Access.signInNotices[key] : undefined, error: undefined }, 200)
    })
  )

  const postSignIn = page(
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const form = yield* urlEncodedForm
      if (!Csrf.matches(request.cookies[Csrf.cookieName], field(form, Csrf.fieldName))) return yield* forbidden()
      if (!(yield* Problem.answer(runtime.isActivated))) return yield* redirect("/activate")
      const email = field(form, "email")
      const result = yield* Effect.either(Problem.answer(auth.signIn(email, field(form, "password"), clientAddress(request, settings))))
      if (Either.isLeft(result)) {
        const problem = result.left
        const retry: Record<string, string> = problem.retryAfterSeconds === undefined ? {} : { "retry-after": String(problem.retryAfterSeconds) }
        return yield* renderSignIn({ email, notice: undefined, error: problem.message }, problem.status, retry)
      }
      const session = result.right
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      // The same cookie as the API's sign-in sets, so the page script can call /api/… and /api/events.
      return yield* Effect.orDie(
        HttpServerResponse.setCookie(yield* redirect("/"), sessionCookieName, session.token, {
          ...(yield* Cookies.attributes(request, settings)),
          maxAge: Duration.millis(Math.max(0, session.expiresAt - now))
        })
      )
    })
  )

  const postSignOut = page(
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const session = yield* currentSession
      if (session === null) return yield* redirect("/sign-in")
      const form = yield* urlEncodedForm
      if (!Csrf.matches(session.csrf, field(form, Csrf.fieldName))) return yield* forbidden()
      yield* Problem.answer(auth.signOut(session.secret))
      return HttpServerResponse.expireCookie(yield* redirect("/sign-in?notice=signed-out"), sessionCookieName, yield* Cookies.attributes(request, settings))
    })
  )

  // ---- dashboard and License page -----------------------------------------------------------------

  const getDashboard = adminPage((session) =>
    Effect.gen(function* () {
      const summary = yield* Problem.answer(runtime.summary)
      return htmlResponse(Views.dashboard(yield* frame(session), summary))
    })
  )

  const diagramsOf = (summary: LicenseSummary) =>
    Effect.map(
      Effect.forEach(Cap.all, (cap) => Effect.map(draw(summary.caps[cap].state), (drawings) => [cap, capDiagram(cap, summary.caps[cap].state, drawings)] as const)),
      (entries) => Object.fromEntries(entries) as Record<Cap.Cap, CapDiagram>
    )

  const principalsOf = Effect.map(
    Effect.forEach(Cap.all, (cap) => Effect.map(Problem.answer(runtime.principals(cap)), (list) => [cap, list] as const)),
    (entries) => Object.fromEntries(entries) as Record<Cap.Cap, ReadonlyArray<LicenseStore.LeasedPrincipal>>
  )

  const licenseNotices: ReadonlyArray<LicensePage.LicenseNotice> = ["renewed", "staged", "unchanged", "released", "deactivated", "not-found", "lease-set", "lease-off"]

  const renderLicense = (session: Session, renewalError: string | undefined, status: number, leaseError?: LicensePage.LeaseFormError) =>
    Effect.gen(function* () {
      const summary = yield* Problem.answer(runtime.summary)
      const key = yield* searchParam("notice")
      const cap = yield* searchParam("cap")
      const notice = licenseNotices.find((n) => n === key)
      const view: LicensePage.LicenseView = {
        summary,
        principals: yield* principalsOf,
        diagrams: yield* diagramsOf(summary),
        notice: notice === undefined || renewalError !== undefined ? undefined : { key: notice, cap: Cap.isCap(cap) ? cap : undefined },
        renewalError,
        cluster: Option.isNone(cluster) ? null : yield* Problem.answer(cluster.value.status),
        leaseError
      }
      return htmlResponse(LicensePage.licensePage(yield* frame(session), view), status)
    })

  const getLicense = adminPage((session) => renderLicense(session, undefined, 200))

  const postLicense = adminPage((session) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const read = yield* Effect.either(Uploads.read(request, RenewalForm, settings.maxBodyBytes))
      if (Either.isLeft(read)) return yield* renderLicense(session, read.left.message, read.left.status)
      const form = read.right
      if (!Csrf.matches(session.csrf, form[Csrf.fieldName])) return yield* forbidden()
      const license = chosenFile(form.license)
      if (license === undefined) return yield* renderLicense(session, chooseFile, 422)
      const before = yield* Problem.answer(runtime.summary)
      const installed = yield* Effect.either(Problem.answer(runtime.install(license, { actor: actorOf(session.principal) })))
      if (Either.isLeft(installed)) return yield* renderLicense(session, installed.left.message, installed.left.status)
      const after = installed.right
      const outcome =
        after.license?.fingerprint !== before.license?.fingerprint
          ? "renewed"
          : after.pending !== null && (before.pending === null || after.pending.notBefore !== before.pending.notBefore || after.pending.licenseId !== before.pending.licenseId)
            ? "staged"
            : "unchanged"
      return yield* redirect(`/license?notice=${outcome}`)
    })
  )

  const principalAction = (action: "release" | "deactivate") =>
    adminPage((session) =>
      Effect.gen(function* () {
        const params = yield* HttpRouter.params
        const cap = params["cap"]
        const id = params["id"] ?? ""
        if (!Cap.isCap(cap)) {
          return yield* new PageFailure({
            status: 404,
            title: "No such cap",
            message: `A cap is one of ${Cap.all.join(", ")}.`,
            next: { href: "/license", label: "Back to the License page" }
          })
        }
        const form = yield* urlEncodedForm
        if (!Csrf.matches(session.csrf, field(form, Csrf.fieldName))) return yield* forbidden()
        const options = { actor: actorOf(session.principal) }
        const found = yield* Problem.answer(action === "release" ? runtime.release(cap, id, options) : runtime.deactivate(cap, id, options))
        const notice = found ? (action === "release" ? "released" : "deactivated") : "not-found"
        return yield* redirect(`/license?notice=${notice}&cap=${cap}#principals-${cap}`)
      })
    )

  /** The lease form of a cap: save `leaseSeconds` and `reviveSeconds`, or turn the lease off (`off`). */
  const postLease = adminPage((session) =>
    Effect.gen(function* () {
      const cap = (yield* HttpRouter.params)["cap"]
      if (!Cap.isCap(cap)) {
        return yield* new PageFailure({ status: 404, title: "No such cap", message: `A cap is one of ${Cap.all.join(", ")}.`, next: { href: "/license", label: "Back to the License page" } })
      }
      const form = yield* urlEncodedForm
      if (!Csrf.matches(session.csrf, field(form, Csrf.fieldName))) return yield* forbidden()
      const options = { actor: actorOf(session.principal) }
      if (field(form, "off") === "1") {
        yield* Problem.answer(runtime.setLease(cap, null, options))
        return yield* redirect(`/license?notice=lease-off&cap=${cap}#cap-${cap}`)
      }
      const leaseSeconds = field(form, "leaseSeconds").trim()
      const reviveSeconds = field(form, "reviveSeconds").trim()
      // An empty or non-numeric entry is a bad value like any other: NaN fails the lease's own check with its sentence.
      const number = (text: string) => (/^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN)
      const saved = yield* Effect.either(
        Problem.answer(runtime.setLease(cap, { leaseSeconds: number(leaseSeconds), reviveSeconds: reviveSeconds === "" ? 0 : number(reviveSeconds) }, options))
      )
      if (Either.isLeft(saved)) return yield* renderLicense(session, undefined, saved.left.status, { cap, message: saved.left.message, leaseSeconds, reviveSeconds })
      return yield* redirect(`/license?notice=lease-set&cap=${cap}#cap-${cap}`)
    })
  )

  // ---- timeline -----------------------------------------------------------------------------------

  const getTimeline = adminPage((session) =>
    Effect.gen(function* () {
      const input = ((yield* searchParam("portalDownFrom")) ?? "").trim()
      const portalDownFrom = input === "" ? undefined : DATE_INPUT.test(input) ? Date.parse(`${input}T00:00:00Z`) : Number.NaN
      const portalDownError = portalDownFrom !== undefined && Number.isNaN(portalDownFrom) ? "Enter the date as YYYY-MM-DD, for example 2027-03-12." : undefined
      const stored = yield* Problem.answer(store.getLicense)
      if (Option.isNone(stored)) {
        return htmlResponse(TimelinePage.timelinePage(yield* frame(session), { timeline: null, svg: null, portalDownFrom: input, portalDownError, validationRequired: false }))
      }
      const payload = yield* Problem.answer(installedPayload(stored.value))
      const timeline = simulate(payload, {
        from: payload.issuedAt,
        to: License.lastUsefulInstant(payload) + License.days(30),
        portalDownFrom: portalDownError === undefined ? portalDownFrom : undefined
      })
      const view: TimelinePage.TimelineView = {
        timeline,
        svg: renderSvg(timeline),
        portalDownFrom: input,
        portalDownError,
        validationRequired: payload.validation.required
      }
      return htmlResponse(TimelinePage.timelinePage(yield* frame(session), view), portalDownError === undefined ? 200 : 400)
    })
  )

  return [
    // `/`: the activation screen on a fresh Hub, sign-in when signed out, else the dashboard.
    ["GET", "/", getDashboard],
    ["GET", "/activate", getActivate],
    ["POST", "/activate", postActivate],
    ["GET", "/sign-in", getSignIn],
    ["POST", "/sign-in", postSignIn],
    ["POST", "/sign-out", postSignOut],
    ["GET", "/license", getLicense],
    ["POST", "/license", postLicense],
    ["POST", "/caps/:cap/principals/:id/release", principalAction("release")],
    ["POST", "/caps/:cap/principals/:id/deactivate", principalAction("deactivate")],
    ["POST", "/caps/:cap/lease", postLease],
    ["GET", "/timeline", getTimeline],
    ["GET", assets.css.path, PageResponse.asset(assets.css)],
    ["GET", assets.js.path, PageResponse.asset(assets.js)]
  ] as const
})

/**
 * The pages as routes on the API's router (`HttpApiBuilder.Router`), so one server answers both and the
 * API's request middleware (body limit) applies to the pages' form posts too. Provide it to
 * `HttpApiBuilder.serve()` next to the API layer.
 */
export const layer: Layer.Layer<never, never, Requirements> = HttpApiBuilder.Router.use((router) =>
  Effect.flatMap(routes, (all) =>
    Effect.forEach(all, ([method, path, handler]) => (method === "GET" ? router.get(path, handler) : router.post(path, handler)), { discard: true })
  )
)
