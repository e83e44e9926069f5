/** The license payload (DESIGN §2): what a signed `.lic` grants, as an Effect Schema. */
import * as Schema from "effect/Schema"

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$/

/** True for an ISO-8601 UTC timestamp (`Z` suffix) naming a real instant (no 30 February). */
export const isUtcTimestamp = (s: string): boolean => {
  const m = ISO_UTC.exec(s)
  if (m === null) return false
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  // A field out of range (30 February, hour 24, second 60) rolls over into the next field, so the
  // instant no longer reads back as written. The pattern already bounds the year to four digits.
  return y >= 1970 && new Date(Date.UTC(y, mo - 1, d, h, mi, se)).toISOString().slice(0, 19) === s.slice(0, 19)
}

/** An ISO-8601 UTC timestamp string, decoded to a `Date`. */
export const UtcDate = Schema.transform(
  Schema.String.pipe(
    Schema.filter(isUtcTimestamp, { message: () => "expected an ISO-8601 UTC timestamp such as 2027-01-31T00:00:00Z" })
  ),
  Schema.DateFromSelf,
  { strict: true, decode: (s) => new Date(s), encode: (d) => d.toISOString().replace(".000Z", "Z") }
).annotations({ identifier: "UtcDate" })

const NonNegativeInt = (max: number) => Schema.Int.pipe(Schema.between(0, max))

/** What happens to admitted principals once a cap is `limited`. */
export const OnLimited = Schema.Literal("refuse-new", "block-all")
export type OnLimited = typeof OnLimited.Type

/** One cap's grant: its limit, its own expiry and optional grace, overage and limited behaviour. */
export const CapGrant = Schema.Struct({
  limit: NonNegativeInt(1_000_000_000),
  expiresAt: UtcDate,
  graceDays: Schema.optional(NonNegativeInt(3650)),
  overagePercent: Schema.optional(NonNegativeInt(1000)),
  onLimited: Schema.optional(OnLimited)
})
export type CapGrant = typeof CapGrant.Type

/** The caps a license grants: at most the three known ones, each at most once. */
export const CapGrants = Schema.Struct({
  unattended: Schema.optional(CapGrant),
  developer: Schema.optional(CapGrant),
  attended: Schema.optional(CapGrant)
}).pipe(Schema.filter((c) => Object.keys(c).length > 0 || "a license grants at least one cap"))
export type CapGrants = typeof CapGrants.Type

/** Phone-home policy: when `required` is false, pings are informational only. */
export const ValidationPolicy = Schema.Struct({
  required: Schema.Boolean,
  intervalHours: Schema.Int.pipe(Schema.between(1, 8760)),
  portalUrl: Schema.optional(
    Schema.String.pipe(Schema.maxLength(2048), Schema.pattern(/^https?:\/\/[^\s]+$/), Schema.filter(canParseUrl, { message: () => "expected a URL that parses, such as https://portal.example.com" }))
  )
})
export type ValidationPolicy = typeof ValidationPolicy.Type

function canParseUrl(s: string): boolean {
  try {
    new URL(s)
    return true
  } catch {
    return false
  }
}

/** The licensee: the admin email at activation must match `email`, case-insensitively. */
export const IssuedTo = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  email: Schema.String.pipe(Schema.maxLength(254), Schema.pattern(/^[^\s@]+@[^\s@]+$/))
})
export type IssuedTo = typeof IssuedTo.Type

const Id = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128), Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/))

/** Default window before expiry in which a cap is `expiring`. */
export const DEFAULT_WARNING_DAYS = 30
/** Default grace after expiry and after the Portal becomes unreachable. */
export const DEFAULT_GRACE_DAYS = 14

/** The signed license payload, version 1. */
export const LicensePayload = Schema.Struct({
  licenseId: Id,
  type: Schema.Literal("production", "trial"),
  kid: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{16}$/)),
  issuedTo: IssuedTo,
  installationId: Schema.optional(Id),
  issuedAt: UtcDate,
  notBefore: Schema.optional(UtcDate),
  caps: CapGrants,
  expiryWarningDays: Schema.optionalWith(NonNegativeInt(3650), { default: () => DEFAULT_WARNING_DAYS }),
  gracePeriodDays: Schema.optionalWith(NonNegativeInt(3650), { default: () => DEFAULT_GRACE_DAYS }),
  validation: ValidationPolicy
}).annotations({ identifier: "LicensePayload" })
export type LicensePayload = typeof LicensePayload.Type
export type LicensePayloadEncoded = typeof LicensePayload.Encoded

const DAY = 86_400_000

/** Grace, in days, that applies to a cap once it has expired (its own, else the license's). */
export const capGraceDays = (payload: LicensePayload, grant: CapGrant): number => grant.graceDays ?? payload.gracePeriodDays

/** Highest usage a cap admits: `floor(limit × (1 + overagePercent/100))`. */
export const admissionCeiling = (grant: CapGrant): number =>
  Math.floor((grant.limit * (100 + (grant.overagePercent ?? 0))) / 100)

/** The instant every grant of the license has expired, including grace. */
export const lastUsefulInstant = (payload: LicensePayload): number =>
  Math.max(
    ...Object.values(payload.caps).map((g) => g.expiresAt.getTime() + capGraceDays(payload, g) * DAY)
  )

/** Days as milliseconds. */
export const days = (n: number): number => n * DAY
