/** The Customer Portal's HTTP API as an `HttpApi`: sessions, customers and their users, licenses (issue, renew, bind, revoke, download), the trial, API tokens, audit, and the Hubs' validation endpoint; the OpenAPI document is generated from it. */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, HttpApiSecurity, OpenApi } from "@effect/platform"
import { Cap, License } from "@exekra/core"
import { Context, Schema } from "effect"
import { Instant, TokenName } from "../http/HubApi.js"
import { problemsOnly } from "../http/internal/openApiProblems.js"
import * as RequestAuth from "../http/internal/requestAuth.js"
import * as Problem from "../http/Problem.js"
import type { Caller } from "./PortalAuth.js"
import { codesWithStatus } from "./PortalError.js"

/** Name of the Portal's session cookie: not the Hub's, so a Hub and a Portal on one host keep their sessions apart. */
export const cookieName = "exekra_portal_session"

/** The session cookie as an OpenAPI security scheme. */
export const sessionCookie = HttpApiSecurity.apiKey({ in: "cookie", key: cookieName })

/** The caller of an authenticated route and the secret it presented (sign-out ends that session). */
export class CurrentCaller extends Context.Tag("@exekra/server/portal/CurrentCaller")<CurrentCaller, { readonly caller: Caller; readonly secret: string }>() {}

/** Security of every route but health, sign-in and validation: `Authorization: Bearer <session or API token>` or the session cookie. */
export class PortalAuthorization extends HttpApiMiddleware.Tag<PortalAuthorization>()("@exekra/server/portal/PortalAuthorization", {
  failure: RequestAuth.failure,
  provides: CurrentCaller,
  security: { bearer: HttpApiSecurity.bearer, cookie: sessionCookie }
}) {}

// ---- wire schemas ---------------------------------------------------------------------------------

const Email = Schema.String.pipe(Schema.maxLength(254))
const Password = Schema.String.pipe(Schema.maxLength(1024))
const Name = Schema.String.pipe(Schema.maxLength(200))
const Id = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128), Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, { message: () => "an id is letters, digits and . _ : -" }))
const Days = Schema.Int.pipe(Schema.between(0, 3650))
const DateText = Schema.String.pipe(Schema.maxLength(40)).annotations({ description: "YYYY-MM-DD (midnight UTC) or an ISO-8601 UTC timestamp" })

/** A signed-in account as the API shows it. */
export const Account = Schema.Struct({
  accountId: Schema.String,
  email: Schema.String,
  name: Schema.String,
  role: Schema.Literal("staff", "customer"),
  customerId: Schema.NullOr(Schema.String),
  mustChangePassword: Schema.Boolean,
  createdAt: Instant
}).annotations({ identifier: "Account" })

/** A customer. */
export const Customer = Schema.Struct({ customerId: Schema.String, name: Schema.String, createdAt: Instant, trialLicenseId: Schema.NullOr(Schema.String) }).annotations({
  identifier: "Customer"
})

/** One cap's terms in a request. */
export const CapTerms = Schema.Struct({
  limit: Schema.Int.pipe(Schema.between(0, 1_000_000_000)),
  expiresAt: DateText,
  graceDays: Schema.optional(Days),
  overagePercent: Schema.optional(Schema.Int.pipe(Schema.between(0, 1000))),
  onLimited: Schema.optional(License.OnLimited)
}).annotations({ identifier: "CapTerms" })

const ValidationTerms = Schema.Struct({
  required: Schema.Boolean,
  intervalHours: Schema.Int.pipe(Schema.between(1, 8760)),
  portalUrl: Schema.optional(Schema.String.pipe(Schema.maxLength(2048)))
})

/** The body of `POST /api/licenses`. */
export const IssueRequest = Schema.Struct({
  customerId: Id,
  type: Schema.optionalWith(Schema.Literal("production", "trial"), { default: () => "production" as const }),
  issuedTo: Schema.Struct({ name: Schema.optional(Name), email: Email }),
  caps: Schema.Struct({ unattended: Schema.optional(CapTerms), developer: Schema.optional(CapTerms), attended: Schema.optional(CapTerms) }),
  expiryWarningDays: Schema.optional(Days),
  gracePeriodDays: Schema.optional(Days),
  validation: Schema.optional(ValidationTerms),
  installationId: Schema.optional(Schema.String.pipe(Schema.maxLength(128)))
}).annotations({ identifier: "IssueRequest" })

/** The body of a renewal: caps given are merged into the current ones, `null` removes one. */
export const RenewalRequest = Schema.Struct({
  caps: Schema.optional(
    Schema.Struct({
      unattended: Schema.optional(Schema.NullOr(Schema.partial(CapTerms))),
      developer: Schema.optional(Schema.NullOr(Schema.partial(CapTerms))),
      attended: Schema.optional(Schema.NullOr(Schema.partial(CapTerms)))
    })
  ),
  expiryWarningDays: Schema.optional(Days),
  gracePeriodDays: Schema.optional(Days),
  validation: Schema.optional(ValidationTerms)
}).annotations({ identifier: "RenewalRequest" })

/** A cap of a license as shown. */
export const CapView = Schema.Struct({
  cap: Cap.Cap,
  limit: Schema.Int,
  expiresAt: Instant,
  graceDays: Schema.Int,
  graceEndsAt: Instant,
  overagePercent: Schema.Int,
  onLimited: License.OnLimited,
  state: Schema.Literal("active", "expiring", "grace", "expired")
}).annotations({ identifier: "CapView" })

/** A license as the Portal shows it. */
export const LicenseView = Schema.Struct({
  licenseId: Schema.String,
  customerId: Schema.String,
  customerName: Schema.String,
  type: Schema.Literal("production", "trial"),
  state: Schema.Literal("active", "revoked", "expired"),
  issuedTo: Schema.Struct({ name: Schema.String, email: Schema.String }),
  installationId: Schema.NullOr(Schema.String),
  issuedAt: Instant,
  revision: Schema.Int,
  createdAt: Instant,
  revokedAt: Schema.NullOr(Instant),
  expiryWarningDays: Schema.Int,
  gracePeriodDays: Schema.Int,
  validation: Schema.Struct({ required: Schema.Boolean, intervalHours: Schema.Int, portalUrl: Schema.NullOr(Schema.String) }),
  caps: Schema.Array(CapView),
  posture: Schema.NullOr(
    Schema.Struct({ lastPingAt: Instant, installationId: Schema.String, version: Schema.String, status: Schema.Literal("valid", "revoked", "unknown") })
  )
}).annotations({ identifier: "LicenseView" })

/** A new account and how its person gets in: an invite link, or a temporary password they must change. */
export const Handover = Schema.Struct({
  account: Account,
  inviteUrl: Schema.NullOr(Schema.String),
  inviteExpiresAt: Schema.NullOr(Instant),
  temporaryPassword: Schema.NullOr(Schema.String)
}).annotations({ identifier: "Handover", description: "The invite link or temporary password is shown this once." })

const HandoverKind = Schema.Literal("invite", "temporary-password")

// ---- errors ---------------------------------------------------------------------------------------

const problems = (status: number, description: string, extra: ReadonlyArray<string> = []) =>
  Problem.schema(status, [...extra, ...codesWithStatus(status)], description)
const refused = problems(403, "The caller may not do this.", [])
const notFound = problems(404, "No such customer, license, account or token (or one the caller may not see).")
const conflict = problems(409, "The change conflicts with the current state.")
const unprocessable = problems(422, "The request's values are not acceptable.")

const PathCustomer = Schema.Struct({ customerId: Id })
const PathLicense = Schema.Struct({ licenseId: Id })

// ---- groups ---------------------------------------------------------------------------------------

/** `GET /api/health`. */
export const HealthGroup = HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("health", "/health").annotate(OpenApi.Summary, "Check that the Portal answers").addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
)

/** Sign-in for staff and customer users, the caller's account, password change and sign-out. */
export const SessionGroup = HttpApiGroup.make("session")
  .add(
    HttpApiEndpoint.post("signIn", "/session")
      .annotate(OpenApi.Summary, "Sign in as vendor staff or a customer user")
      .setPayload(Schema.Struct({ email: Email, password: Password }))
      .addSuccess(Schema.Struct({ token: Schema.String, expiresAt: Instant, account: Account }))
      .addError(Problem.schema(401, ["INVALID_CREDENTIALS"], "Wrong email or password."))
      .addError(Problem.schema(429, ["TOO_MANY_ATTEMPTS"], "Too many sign-in attempts from this address; see Retry-After."))
  )
  .add(
    HttpApiEndpoint.get("whoami", "/session")
      .annotate(OpenApi.Summary, "Read the signed-in account")
      .addSuccess(Schema.Struct({ account: Schema.NullOr(Account), token: Schema.NullOr(Schema.String) }))
      .middleware(PortalAuthorization)
  )
  .add(
    HttpApiEndpoint.put("changePassword", "/session/password")
      .annotate(OpenApi.Summary, "Choose a new password (required after a one-time or temporary password)")
      .setPayload(Schema.Struct({ currentPassword: Password, newPassword: Password }))
      .addSuccess(Schema.Struct({ account: Account }))
      .addError(unprocessable)
      .middleware(PortalAuthorization)
  )
  .add(HttpApiEndpoint.del("signOut", "/session").annotate(OpenApi.Summary, "Sign out").middleware(PortalAuthorization))

/** Invite links: what account one is for, and accepting it with a password. */
export const InviteGroup = HttpApiGroup.make("invites")
  .add(
    HttpApiEndpoint.post("accept", "/invites/accept")
      .annotate(OpenApi.Summary, "Accept an invite: set your own password and sign in")
      .setPayload(Schema.Struct({ token: Schema.String.pipe(Schema.maxLength(256)), password: Password }))
      .addSuccess(Schema.Struct({ token: Schema.String, expiresAt: Instant, account: Account }))
      .addError(problems(410, "The invite was used or has expired."))
      .addError(unprocessable)
  )

/** The vendor's customers and their users (staff). */
export const CustomersGroup = HttpApiGroup.make("customers")
  .add(HttpApiEndpoint.get("list", "/customers").annotate(OpenApi.Summary, "List the customers").addSuccess(Schema.Struct({ customers: Schema.Array(Customer) })).addError(refused))
  .add(
    HttpApiEndpoint.post("create", "/customers")
      .annotate(OpenApi.Summary, "Create a customer")
      .setPayload(Schema.Struct({ name: Name }))
      .addSuccess(Customer, { status: 201 })
      .addError(refused)
      .addError(unprocessable)
  )
  .add(
    HttpApiEndpoint.get("get", "/customers/:customerId")
      .annotate(OpenApi.Summary, "Read a customer with its users and licenses")
      .setPath(PathCustomer)
      .addSuccess(Schema.Struct({ customer: Customer, users: Schema.Array(Account), licenses: Schema.Array(LicenseView) }))
      .addError(refused)
      .addError(notFound)
  )
  .add(
    HttpApiEndpoint.post("addUser", "/customers/:customerId/users")
      .annotate(OpenApi.Summary, "Add a user to a customer, with an invite link or a temporary password")
      .setPath(PathCustomer)
      .setPayload(Schema.Struct({ email: Email, name: Schema.optional(Name), handover: Schema.optional(HandoverKind) }))
      .addSuccess(Handover, { status: 201 })
      .addError(refused)
      .addError(notFound)
      .addError(conflict)
      .addError(unprocessable)
  )
  .add(
    HttpApiEndpoint.post("resetUser", "/customers/:customerId/users/:accountId/reset")
      .annotate(OpenApi.Summary, "Give a user a new invite link or temporary password")
      .setPath(Schema.Struct({ customerId: Id, accountId: Id }))
      .setPayload(Schema.Struct({ handover: Schema.optional(HandoverKind) }))
      .addSuccess(Handover)
      .addError(refused)
      .addError(notFound)
  )
  .middleware(PortalAuthorization)

/** Licenses: staff issue, renew and revoke; customer users see theirs, download them and bind them to a Hub. */
export const LicensesGroup = HttpApiGroup.make("licenses")
  .add(
    HttpApiEndpoint.get("list", "/licenses")
      .annotate(OpenApi.Summary, "List the licenses the caller may see (staff: all, or one customer's)")
      .setUrlParams(Schema.Struct({ customerId: Schema.optional(Id) }))
      .addSuccess(Schema.Struct({ licenses: Schema.Array(LicenseView) }))
  )
  .add(
    HttpApiEndpoint.post("issue", "/licenses")
      .annotate(OpenApi.Summary, "Issue a license to a customer (signed with the vendor's key)")
      .setPayload(IssueRequest)
      .addSuccess(LicenseView, { status: 201 })
      .addError(refused)
      .addError(notFound)
      .addError(unprocessable)
  )
  .add(HttpApiEndpoint.get("get", "/licenses/:licenseId").annotate(OpenApi.Summary, "Read a license").setPath(PathLicense).addSuccess(LicenseView).addError(notFound))
  .add(
    HttpApiEndpoint.get("download", "/licenses/:licenseId/file")
      .annotate(OpenApi.Summary, "Download the license's current .lic file")
      .setPath(PathLicense)
      .addSuccess(HttpApiSchema.Text().annotations({ description: "The .lic file, as an attachment named <licenseId>.lic." }))
      .addError(notFound)
      .addError(conflict)
  )
  .add(
    HttpApiEndpoint.get("history", "/licenses/:licenseId/files")
      .annotate(OpenApi.Summary, "List every file signed for the license, newest first")
      .setPath(PathLicense)
      .addSuccess(
        Schema.Struct({
          files: Schema.Array(Schema.Struct({ revision: Schema.Int, issuedAt: Instant, issuedBy: Schema.String, reason: Schema.Literal("issued", "renewed", "bound") }))
        })
      )
      .addError(notFound)
  )
  .add(
    HttpApiEndpoint.post("renew", "/licenses/:licenseId/renewals")
      .annotate(OpenApi.Summary, "Renew a license: a new file with a later issuedAt and the changed caps")
      .setPath(PathLicense)
      .setPayload(RenewalRequest)
      .addSuccess(LicenseView, { status: 201 })
      .addError(refused)
      .addError(notFound)
      .addError(conflict)
      .addError(unprocessable)
  )
  .add(
    HttpApiEndpoint.put("bind", "/licenses/:licenseId/installation")
      .annotate(OpenApi.Summary, "Bind a license to a Hub installation (a new file for offline activation)")
      .setPath(PathLicense)
      .setPayload(Schema.Struct({ installationId: Schema.String.pipe(Schema.maxLength(128)) }))
      .addSuccess(LicenseView)
      .addError(notFound)
      .addError(conflict)
      .addError(unprocessable)
  )
  .add(
    HttpApiEndpoint.post("revoke", "/licenses/:licenseId/revocation")
      .annotate(OpenApi.Summary, "Revoke a license: its Hubs' validation pings answer revoked")
      .setPath(PathLicense)
      .addSuccess(LicenseView)
      .addError(refused)
      .addError(notFound)
  )
  .add(
    HttpApiEndpoint.del("restore", "/licenses/:licenseId/revocation")
      .annotate(OpenApi.Summary, "Lift a revocation")
      .setPath(PathLicense)
      .addSuccess(LicenseView)
      .addError(refused)
      .addError(notFound)
  )
  .add(
    HttpApiEndpoint.post("trial", "/trial")
      .annotate(OpenApi.Summary, "Take the customer's one trial license")
      .addSuccess(LicenseView, { status: 201 })
      .addError(refused)
      .addError(conflict)
  )
  .middleware(PortalAuthorization)

/** API tokens for the vendor's CRM (staff). */
export const TokensGroup = HttpApiGroup.make("tokens")
  .add(
    HttpApiEndpoint.post("create", "/tokens")
      .annotate(OpenApi.Summary, "Issue an API token (it acts as staff)")
      .setPayload(Schema.Struct({ name: TokenName }))
      .addSuccess(Schema.Struct({ token: Schema.String, name: Schema.String, createdAt: Instant }), { status: 201 })
      .addError(refused)
      .addError(conflict)
  )
  .add(
    HttpApiEndpoint.get("list", "/tokens")
      .annotate(OpenApi.Summary, "List the API tokens")
      .addSuccess(Schema.Struct({ tokens: Schema.Array(Schema.Struct({ name: Schema.String, createdAt: Instant })) }))
      .addError(refused)
  )
  .add(HttpApiEndpoint.del("revoke", "/tokens/:name").annotate(OpenApi.Summary, "Revoke an API token").setPath(Schema.Struct({ name: TokenName })).addError(refused).addError(notFound))
  .middleware(PortalAuthorization)

/** The audit log (staff). */
export const AuditGroup = HttpApiGroup.make("audit")
  .add(
    HttpApiEndpoint.get("list", "/audit")
      .annotate(OpenApi.Summary, "Read the audit log, newest first")
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))) }))
      .addSuccess(
        Schema.Struct({
          records: Schema.Array(
            Schema.Struct({
              at: Instant,
              actor: Schema.String,
              action: Schema.String,
              outcome: Schema.Literal("ok", "denied", "failed"),
              subject: Schema.NullOr(Schema.String),
              detail: Schema.NullOr(Schema.String)
            })
          )
        })
      )
      .addError(refused)
  )
  .middleware(PortalAuthorization)

/** The Hubs' phone-home (DESIGN §5), and the pings recorded (staff). */
export const ValidationGroup = HttpApiGroup.make("validation")
  .add(
    HttpApiEndpoint.post("validate", "/v1/validations")
      .annotate(OpenApi.Summary, "Answer a Hub's validation ping from the Portal's records")
      .setPayload(Schema.Struct({ licenseId: Schema.String, installationId: Schema.String, version: Schema.String }))
      .addSuccess(Schema.Struct({ status: Schema.Literal("valid", "revoked", "unknown"), serverTime: Instant }))
      .addError(Problem.schema(400, ["VALIDATION_REQUEST_MALFORMED", "VALIDATION_REQUEST_INVALID"], "The body is not exactly { licenseId, installationId, version }."))
      .addError(Problem.schema(413, ["REQUEST_TOO_LARGE"], "A validation request is at most 16 KiB."))
  )
  .add(
    HttpApiEndpoint.get("pings", "/v1/pings")
      .annotate(OpenApi.Summary, "List the validation pings received, newest first")
      .setUrlParams(Schema.Struct({ licenseId: Schema.optional(Schema.String), limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100_000))) }))
      .addSuccess(
        Schema.Array(
          Schema.Struct({
            licenseId: Schema.String,
            installationId: Schema.String,
            version: Schema.String,
            receivedAt: Schema.String,
            clientAddress: Schema.NullOr(Schema.String),
            bodyKeys: Schema.Array(Schema.String),
            status: Schema.Literal("valid", "revoked", "unknown")
          })
        )
      )
      .addError(refused)
      .middleware(PortalAuthorization)
  )

/** The whole Portal API under `/api`. */
export class Api extends HttpApi.make("exekra-portal")
  .add(HealthGroup)
  .add(SessionGroup)
  .add(InviteGroup)
  .add(CustomersGroup)
  .add(LicensesGroup)
  .add(TokensGroup)
  .add(AuditGroup)
  .add(ValidationGroup)
  .addError(Problem.schema(400, ["INVALID_REQUEST"], "The request is malformed: its path, query or body does not match the API."))
  .addError(Problem.schema(403, ["PASSWORD_CHANGE_REQUIRED", "STAFF_ONLY", "CUSTOMER_ONLY"], "The caller may not do this yet, or at all."))
  .addError(Problem.schema(404, ["NOT_FOUND"], "No such route."))
  .addError(Problem.schema(408, ["REQUEST_TIMEOUT"], "The request was not complete within the request timeout."))
  .addError(Problem.schema(413, ["PAYLOAD_TOO_LARGE"], "The request body is larger than the Portal accepts."))
  .addError(Problem.schema(500, ["INTERNAL_ERROR"], "An unexpected error; the Portal's log has the details."))
  .addError(Problem.schema(503, ["STORE_UNAVAILABLE"], "The Portal's database is busy or unavailable; retry."))
  .prefix("/api")
  .annotateContext(
    OpenApi.annotations({
      title: "Exekra Customer Portal API",
      version: "1",
      description:
        "The vendor's Customer Portal: customers, licenses (signed .lic files), trials and the Hubs' validation pings. Authenticate with a session (cookie or bearer) or an API token. Errors are application/problem+json with a stable `code`.",
      transform: problemsOnly("The request is malformed (INVALID_REQUEST).")
    })
  ) {}

/** Path of the generated OpenAPI document. */
export const openApiPath = "/api/openapi.json"
