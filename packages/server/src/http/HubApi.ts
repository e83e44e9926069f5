/** The Hub HTTP API (DESIGN §7) as an `HttpApi`: every route with its bodies, statuses and error codes; the OpenAPI document is generated from it. */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, Multipart, OpenApi } from "@effect/platform"
import { Admission, Cap } from "@exekra/core"
import { Schema } from "effect"
import { Authorization } from "./Authorization.js"
import * as Problem from "./Problem.js"
import * as openApiProblems from "./internal/openApiProblems.js"

// ---- wire schemas ---------------------------------------------------------------------------------

/** An instant: epoch milliseconds inside the Hub, an ISO-8601 UTC string on the wire. */
export const Instant = Schema.transform(
  Schema.String.annotations({ jsonSchema: { type: "string", format: "date-time" } }),
  Schema.Number,
  { strict: true, decode: (s) => Date.parse(s), encode: (ms) => new Date(ms).toISOString() }
).annotations({ description: "ISO-8601 UTC timestamp" })

const Count = Schema.Int.pipe(Schema.nonNegative())

/** A cap's principal lease (DESIGN §12). */
export const CapLease = Schema.Struct({
  leaseSeconds: Count,
  reviveSeconds: Count,
  since: Instant
}).annotations({ identifier: "CapLease", description: "Principals must heartbeat within leaseSeconds; a culled one may come back within reviveSeconds." })

/** One cap on the License page: state, usage against the limit, expiry and grace. */
export const CapStatus = Schema.Struct({
  cap: Cap.Cap,
  state: Cap.CapState,
  reason: Schema.String,
  limit: Count,
  ceiling: Count,
  used: Count,
  overage: Count,
  overLimit: Schema.Boolean,
  expiresAt: Schema.NullOr(Instant),
  grace: Schema.NullOr(Schema.Struct({ reason: Schema.String, endsAt: Instant })),
  limitedSince: Schema.NullOr(Instant),
  nextChangeAt: Schema.NullOr(Instant),
  onLimited: Schema.Literal("refuse-new", "block-all"),
  lease: Schema.NullOr(CapLease)
}).annotations({ identifier: "CapStatus" })

/** Phone-home posture. */
export const ValidationPosture = Schema.Struct({
  required: Schema.Boolean,
  intervalHours: Count,
  portalUrl: Schema.NullOr(Schema.String),
  lastAttemptAt: Schema.NullOr(Instant),
  lastSuccessAt: Schema.NullOr(Instant),
  failingSince: Schema.NullOr(Instant),
  lastError: Schema.NullOr(Schema.String),
  lastStatus: Schema.NullOr(Schema.Literal("valid", "revoked", "unknown")),
  nextAttemptAt: Schema.NullOr(Instant)
}).annotations({ identifier: "ValidationPosture" })

/** The installed license and every cap (`GET /api/license`, and the answer to activation and renewal). */
export const LicenseSummary = Schema.Struct({
  activated: Schema.Boolean,
  installationId: Schema.String,
  license: Schema.NullOr(
    Schema.Struct({
      licenseId: Schema.String,
      type: Schema.Literal("production", "trial"),
      issuedTo: Schema.Struct({ name: Schema.String, email: Schema.String }),
      installationId: Schema.NullOr(Schema.String),
      issuedAt: Instant,
      notBefore: Schema.NullOr(Instant),
      fingerprint: Schema.String
    })
  ),
  pending: Schema.NullOr(Schema.Struct({ licenseId: Schema.String, notBefore: Instant })),
  validation: Schema.NullOr(ValidationPosture),
  clock: Schema.Struct({ now: Instant, highWater: Instant, skewMs: Schema.Number }),
  caps: Schema.Struct({ unattended: CapStatus, developer: CapStatus, attended: CapStatus })
}).annotations({ identifier: "LicenseSummary" })

/** One server-sent event: the snapshot a stream opens with, then every runtime event. */
export const HubEvent = Schema.Union(
  Schema.TaggedStruct("Snapshot", { summary: LicenseSummary }),
  Schema.TaggedStruct("CapStateChanged", { cap: Cap.Cap, from: Cap.CapState, to: Cap.CapState, status: CapStatus }),
  Schema.TaggedStruct("UsageChanged", { cap: Cap.Cap, used: Count, status: CapStatus }),
  Schema.TaggedStruct("LicenseChanged", { summary: LicenseSummary }),
  Schema.TaggedStruct("ValidationChanged", { validation: ValidationPosture }),
  Schema.TaggedStruct("PrincipalCulled", { cap: Cap.Cap, id: Schema.String, culledAt: Instant, status: CapStatus }),
  Schema.TaggedStruct("LeaseChanged", { cap: Cap.Cap, lease: Schema.NullOr(CapLease), status: CapStatus })
).annotations({ identifier: "HubEvent" })

/** Id of a principal: a Runner id or a user id (emails allowed); safe in a URL path segment. */
export const PrincipalId = Admission.PrincipalId

/** A principal as the API shows it. */
export const Principal = Schema.Struct({
  cap: Cap.Cap,
  id: Schema.String,
  name: Schema.NullOr(Schema.String),
  status: Schema.Literal("active", "deactivated", "expired"),
  admittedAt: Instant
}).annotations({ identifier: "Principal" })

/** A principal as its cap's listing shows it: with its last heartbeat and, once expired, when its lease ended. */
export const ListedPrincipal = Schema.Struct({
  ...Principal.fields,
  heartbeatAt: Instant,
  culledAt: Schema.NullOr(Instant)
}).annotations({ identifier: "ListedPrincipal" })

/** The answer to a heartbeat. */
export const HeartbeatAnswer = Schema.Struct({
  principal: Principal,
  revived: Schema.Boolean,
  leaseEndsAt: Schema.NullOr(Instant),
  used: Count
}).annotations({ identifier: "Heartbeat" })

/** A lease setting as an admin sends it; `null` turns the lease off. */
export const LeaseBody = Schema.Struct({
  lease: Schema.NullOr(
    Schema.Struct({
      leaseSeconds: Schema.Number.annotations({ description: `Whole seconds, at least ${60}` }),
      reviveSeconds: Schema.optional(Schema.Number.annotations({ description: "Whole seconds, 0 (the default) or more" }))
    })
  )
}).annotations({ identifier: "LeaseSetting" })

/** Name of an API token. */
export const TokenName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    message: () => "a token name is 1 to 64 letters, digits or . _ - and starts with a letter or digit"
  })
)

const Email = Schema.String.pipe(Schema.maxLength(254))
const Password = Schema.String.pipe(Schema.maxLength(1024))
const LicenseText = Schema.String.annotations({ description: "The .lic file's text, unchanged" })

/** JSON activation body: the license file's text, the licensed email and the admin password. */
export const ActivationJson = Schema.Struct({ license: LicenseText, email: Email, password: Password })
/** Multipart activation form: the `.lic` file and the same two fields. */
export const ActivationForm = HttpApiSchema.Multipart(Schema.Struct({ license: Multipart.FileSchema, email: Email, password: Password }))
/** JSON renewal body. */
export const RenewalJson = Schema.Struct({ license: LicenseText })
/** Multipart renewal form. */
export const RenewalForm = HttpApiSchema.Multipart(Schema.Struct({ license: Multipart.FileSchema }))

// ---- errors ---------------------------------------------------------------------------------------

const licenseFileCodes = Problem.codesWithStatus(400).filter((code) => code.startsWith("LICENSE_"))
const tooLarge = Problem.schema(413, ["LICENSE_TOO_LARGE", "PAYLOAD_TOO_LARGE"], "The upload is too large to be a license file.")
const unsupportedMedia = Problem.schema(415, ["UNSUPPORTED_MEDIA_TYPE"], "Send application/json or multipart/form-data.")
const badLicense = Problem.schema(400, [...licenseFileCodes, "INVALID_REQUEST"], "The upload is not a readable, authentic license.")

// ---- groups ---------------------------------------------------------------------------------------

/** `GET /api/health`. */
export const HealthGroup = HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("health", "/health").annotate(OpenApi.Summary, "Check that the Hub answers").addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
)

/** First start: is the Hub activated, and activation itself. */
export const ActivationGroup = HttpApiGroup.make("activation")
  .add(
    HttpApiEndpoint.get("status", "/activation").annotate(OpenApi.Summary, "Read whether the Hub is activated, and its installation id").addSuccess(
      Schema.Struct({ activated: Schema.Boolean, installationId: Schema.String })
    )
  )
  .add(
    HttpApiEndpoint.post("activate", "/activation").annotate(OpenApi.Summary, "Activate the Hub with a license file and an admin account")
      .setPayload(Schema.Union(ActivationJson, ActivationForm))
      .addSuccess(LicenseSummary, { status: 201 })
      .addError(badLicense)
      .addError(Problem.schema(409, ["ALREADY_ACTIVATED"], "The Hub is already activated."))
      .addError(tooLarge)
      .addError(unsupportedMedia)
      .addError(
        Problem.schema(
          422,
          ["LICENSE_PAYLOAD_INVALID", "LICENSE_WRONG_INSTALLATION", "LICENSE_NOT_YET_VALID", "LICENSE_EXPIRED", "ADMIN_EMAIL_MISMATCH", "PASSWORD_TOO_WEAK"],
          "The license or the admin account cannot be accepted."
        )
      )
  )

/** Sign-in (public) and sign-out. */
export const SessionGroup = HttpApiGroup.make("session")
  .add(
    HttpApiEndpoint.post("signIn", "/session").annotate(OpenApi.Summary, "Sign in as the admin")
      .setPayload(Schema.Struct({ email: Email, password: Password }))
      .addSuccess(Schema.Struct({ token: Schema.String, expiresAt: Instant }))
      .addError(Problem.schema(401, ["INVALID_CREDENTIALS"], "Wrong email or password."))
      .addError(Problem.schema(429, ["TOO_MANY_ATTEMPTS"], "Too many sign-in attempts from this address; see Retry-After."))
  )
  .add(HttpApiEndpoint.del("signOut", "/session").annotate(OpenApi.Summary, "Sign out").middleware(Authorization))

/** The License page: summary and renewal upload. */
export const LicenseGroup = HttpApiGroup.make("license")
  .add(HttpApiEndpoint.get("summary", "/license").annotate(OpenApi.Summary, "Read the license summary and every cap").addSuccess(LicenseSummary))
  .add(
    HttpApiEndpoint.put("renew", "/license").annotate(OpenApi.Summary, "Upload a renewed license")
      .setPayload(Schema.Union(RenewalJson, RenewalForm))
      .addSuccess(LicenseSummary)
      .addError(badLicense)
      .addError(Problem.schema(409, ["LICENSE_ROLLBACK", "NOT_ACTIVATED"], "The file is older than the installed one, or the Hub is not activated."))
      .addError(tooLarge)
      .addError(unsupportedMedia)
      .addError(Problem.schema(422, ["LICENSE_PAYLOAD_INVALID", "LICENSE_WRONG_INSTALLATION"], "The license cannot be accepted by this Hub."))
  )
  .middleware(Authorization)

// `override`: without it the formatter reports the first literal of the union ("Expected \"unattended\"").
const CapParam = Cap.Cap.annotations({ message: () => ({ message: `a cap is one of ${Cap.all.map((c) => `"${c}"`).join(", ")}`, override: true }) })
const CapPath = Schema.Struct({ cap: CapParam })
const PrincipalPath = Schema.Struct({ cap: CapParam, id: PrincipalId })
const principalNotFound = Problem.schema(404, ["PRINCIPAL_NOT_FOUND"], "The cap has no such principal.")

/** Admission over HTTP (DESIGN §4). */
export const CapsGroup = HttpApiGroup.make("caps")
  .add(
    HttpApiEndpoint.get("principals", "/caps/:cap/principals").annotate(OpenApi.Summary, "List the principals of a cap")
      .setPath(CapPath)
      .addSuccess(Schema.Struct({ cap: Cap.Cap, principals: Schema.Array(ListedPrincipal) }))
  )
  .add(
    HttpApiEndpoint.post("acquire", "/caps/:cap/principals").annotate(OpenApi.Summary, "Admit a principal to a cap")
      .setPath(CapPath)
      .setPayload(Schema.Struct({ id: PrincipalId, name: Schema.optional(Schema.String.pipe(Schema.maxLength(200))) }))
      // The literal `created` tells the encoder which status applies: 201 for a new slot, 200 when already admitted.
      .addSuccess(Schema.Struct({ principal: Principal, created: Schema.Literal(true), used: Count }), { status: 201 })
      .addSuccess(Schema.Struct({ principal: Principal, created: Schema.Literal(false), used: Count }), { status: 200 })
      .addError(Problem.schema(403, ["CAP_LIMIT_REACHED", "CAP_LIMITED", "CAP_UNACTIVATED"], "The cap refuses to admit the principal."))
  )
  .add(HttpApiEndpoint.del("release", "/caps/:cap/principals/:id").annotate(OpenApi.Summary, "Release a principal").setPath(PrincipalPath).addError(principalNotFound))
  .add(HttpApiEndpoint.post("deactivate", "/caps/:cap/principals/:id/deactivate").annotate(OpenApi.Summary, "Deactivate a principal, keeping its record").setPath(PrincipalPath).addError(principalNotFound))
  .add(
    HttpApiEndpoint.get("check", "/caps/:cap/principals/:id/check").annotate(OpenApi.Summary, "Check whether an admitted principal may work now")
      .setPath(PrincipalPath)
      .addSuccess(Schema.Struct({ allowed: Schema.Literal(true) }))
      .addError(Problem.schema(403, ["PRINCIPAL_NOT_ADMITTED", "CAP_LIMITED", "CAP_UNACTIVATED"], "The principal may not work now."))
  )
  .add(
    HttpApiEndpoint.post("heartbeat", "/caps/:cap/principals/:id/heartbeat").annotate(OpenApi.Summary, "Renew a principal's lease, or revive it after a cull")
      .setPath(PrincipalPath)
      .addSuccess(HeartbeatAnswer)
      .addError(
        Problem.schema(
          403,
          ["PRINCIPAL_NOT_ADMITTED", "CAP_LIMIT_REACHED", "CAP_LIMITED", "CAP_UNACTIVATED"],
          "The principal holds no slot and cannot take one back now."
        )
      )
  )
  .add(
    HttpApiEndpoint.get("lease", "/caps/:cap/lease").annotate(OpenApi.Summary, "Read a cap's principal lease")
      .setPath(CapPath)
      .addSuccess(Schema.Struct({ cap: Cap.Cap, lease: Schema.NullOr(CapLease) }))
  )
  .add(
    HttpApiEndpoint.put("setLease", "/caps/:cap/lease").annotate(OpenApi.Summary, "Set or turn off a cap's principal lease")
      .setPath(CapPath)
      .setPayload(LeaseBody)
      .addSuccess(Schema.Struct({ cap: Cap.Cap, lease: Schema.NullOr(CapLease) }))
      .addError(Problem.schema(422, ["LEASE_TOO_SHORT", "LEASE_TOO_LONG", "LEASE_INVALID"], "The lease setting is out of range."))
  )
  .middleware(Authorization)

/** The live state stream. */
export const EventsGroup = HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("stream", "/events").annotate(OpenApi.Summary, "Follow state and usage changes (server-sent events)").addSuccess(
      HttpApiSchema.Text({ contentType: "text/event-stream" }).annotations({
        description: "Server-sent events: one `data:` line of JSON (HubEvent) per event, a Snapshot first, `: keep-alive` comments in between."
      })
    )
  )
  .middleware(Authorization)

/** Admin-issued API tokens for runners and automation. */
export const TokensGroup = HttpApiGroup.make("tokens")
  .add(
    HttpApiEndpoint.post("create", "/tokens").annotate(OpenApi.Summary, "Issue an API token")
      .setPayload(Schema.Struct({ name: TokenName }))
      .addSuccess(
        Schema.Struct({ token: Schema.String, name: Schema.String, createdAt: Instant }).annotations({
          description: "The secret is shown this once; the Hub keeps only its hash."
        }),
        { status: 201 }
      )
      .addError(Problem.schema(409, ["TOKEN_EXISTS"], "A token of that name exists."))
  )
  .add(
    HttpApiEndpoint.get("list", "/tokens").annotate(OpenApi.Summary, "List the API tokens").addSuccess(
      Schema.Struct({ tokens: Schema.Array(Schema.Struct({ name: Schema.String, createdAt: Instant })) })
    )
  )
  .add(
    HttpApiEndpoint.del("revoke", "/tokens/:name").annotate(OpenApi.Summary, "Revoke an API token")
      .setPath(Schema.Struct({ name: TokenName }))
      .addError(Problem.schema(404, ["TOKEN_NOT_FOUND"], "No token of that name."))
  )
  .middleware(Authorization)

/** One day's peak usage of a cap. */
export const UsagePoint = Schema.Struct({ cap: Cap.Cap, day: Schema.String, peak: Count }).annotations({ identifier: "UsagePoint" })

/** Usage history for true-up, and the audit log. */
export const ReportsGroup = HttpApiGroup.make("reports")
  .add(
    HttpApiEndpoint.get("usage", "/usage").annotate(OpenApi.Summary, "Export the daily peak usage per cap")
      .setUrlParams(Schema.Struct({ format: Schema.optional(Schema.Literal("json", "csv")) }))
      .addSuccess(Schema.Struct({ days: Schema.Array(UsagePoint) }))
      .annotateContext(
        OpenApi.annotations({
          description: "Daily peak usage per cap, oldest first; `?format=csv` answers text/csv (`day,cap,peak`) for a true-up.",
          transform: (operation) => ({
            ...operation,
            responses: {
              ...operation["responses"],
              200: { ...operation["responses"]?.[200], content: { ...operation["responses"]?.[200]?.content, "text/csv": { schema: { type: "string" } } } }
            }
          })
        })
      )
  )
  .add(
    HttpApiEndpoint.get("audit", "/audit").annotate(OpenApi.Summary, "Read the audit log")
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))) }))
      .addSuccess(
        Schema.Struct({
          records: Schema.Array(
            Schema.Struct({
              at: Instant,
              actor: Schema.String,
              action: Schema.String,
              outcome: Schema.Literal("ok", "denied", "failed"),
              cap: Schema.NullOr(Cap.Cap),
              principal: Schema.NullOr(Schema.String),
              code: Schema.NullOr(Schema.String),
              detail: Schema.NullOr(Schema.String)
            })
          )
        })
      )
  )
  .middleware(Authorization)

/** One node of the Hub as `GET /api/cluster` lists it. */
export const ClusterNode = Schema.Struct({
  id: Schema.String,
  version: Schema.String,
  startedAt: Instant,
  lastSeenAt: Instant,
  leader: Schema.Boolean,
  /** The node answering this request. */
  self: Schema.Boolean,
  appliedSeq: Count
}).annotations({ identifier: "ClusterNode" })

/** The nodes sharing this Hub's store. */
export const ClusterGroup = HttpApiGroup.make("cluster")
  .add(
    HttpApiEndpoint.get("status", "/cluster")
      .addSuccess(
        Schema.Struct({
          node: Schema.String,
          store: Schema.Literal("memory", "sqlite", "postgres"),
          seq: Count,
          nodes: Schema.Array(ClusterNode)
        }).annotations({ identifier: "ClusterStatus" })
      )
      .annotateContext(
        OpenApi.annotations({
          summary: "List the Hub's nodes and the leader",
          description: "Every node that reported itself within three lease periods, the leader marked, and the store's latest change sequence."
        })
      )
  )
  .middleware(Authorization)

// ---- OpenAPI ----------------------------------------------------------------------------------------

const problemsOnly = openApiProblems.problemsOnly("The request is malformed (INVALID_REQUEST) or, for an upload, not a readable license.")

/** The whole Hub API under `/api`; errors any route can answer with are declared once here. */
export class Api extends HttpApi.make("exekra-hub")
  .add(HealthGroup)
  .add(ActivationGroup)
  .add(SessionGroup)
  .add(LicenseGroup)
  .add(CapsGroup)
  .add(EventsGroup)
  .add(TokensGroup)
  .add(ReportsGroup)
  .add(ClusterGroup)
  .addError(Problem.schema(400, ["INVALID_REQUEST"], "The request is malformed: its path, query or body does not match the API."))
  .addError(Problem.schema(404, ["NOT_FOUND"], "No such route."))
  .addError(Problem.schema(408, ["REQUEST_TIMEOUT"], "The request was not complete within the request timeout (30 s by default)."))
  .addError(Problem.schema(413, ["PAYLOAD_TOO_LARGE"], "The request body is larger than the Hub accepts."))
  .addError(Problem.schema(500, ["INTERNAL_ERROR"], "An unexpected error; the Hub's log has the details."))
  .addError(Problem.schema(503, ["STORE_UNAVAILABLE"], "The Hub's database is busy or unavailable; retry."))
  .prefix("/api")
  .annotateContext(
    OpenApi.annotations({
      title: "Exekra Hub API",
      version: "1",
      description: "License runtime of an on-prem Hub. Errors are application/problem+json with a stable `code`.",
      transform: problemsOnly
    })
  ) {}

/** Path of the generated OpenAPI document. */
export const openApiPath = "/api/openapi.json"
