// The license payload schema: UTC timestamps that name real instants, its refusals, and the grace/ceiling/expiry arithmetic.
import { describe, expect, it } from "@effect/vitest"
import { License } from "@exekra/core"
import { Either, ParseResult, Schema } from "effect"

const encoded = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  licenseId: "lic_0001",
  type: "production",
  kid: "0123456789abcdef",
  issuedTo: { name: "Acme Corp", email: "admin@acme.example" },
  issuedAt: "2026-01-01T00:00:00Z",
  caps: {
    unattended: { limit: 10, expiresAt: "2027-01-01T00:00:00Z" },
    developer: { limit: 5, expiresAt: "2027-06-01T00:00:00Z", graceDays: 7, overagePercent: 10 }
  },
  validation: { required: true, intervalHours: 24, portalUrl: "https://portal.example/api" },
  ...over
})
const decode = Schema.decodeUnknownEither(License.LicensePayload, { onExcessProperty: "error" })
const payload = (over: Record<string, unknown> = {}) => Either.getOrThrow(decode(encoded(over)))
/** The reason a payload is refused, as the schema words it. */
const refusal = (over: Record<string, unknown>): string => {
  const result = decode(encoded(over))
  if (Either.isRight(result)) throw new Error("expected the payload to be refused")
  return ParseResult.TreeFormatter.formatErrorSync(result.left)
}
const DAY = 86_400_000

describe("License.isUtcTimestamp", () => {
  it("accepts UTC timestamps of real instants, with or without milliseconds", () => {
    for (const s of [
      "1970-01-01T00:00:00Z",
      "2026-01-01T00:00:00Z",
      "2024-02-29T23:59:59Z",
      "2027-01-31T00:00:00.5Z",
      "2027-12-31T23:59:59.999Z",
      "9999-12-31T23:59:59Z"
    ]) {
      expect(License.isUtcTimestamp(s), s).toBe(true)
    }
  })

  it("refuses dates and times that do not exist", () => {
    for (const s of [
      "2027-02-30T00:00:00Z",
      "2026-02-29T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2026-01-00T00:00:00Z",
      "2026-00-10T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-01-01T24:00:00Z",
      "2026-01-01T00:60:00Z",
      "2026-01-01T00:00:60Z",
      "2026-12-31T23:59:60Z"
    ]) {
      expect(License.isUtcTimestamp(s), s).toBe(false)
    }
  })

  it("refuses years outside 1970–9999", () => {
    for (const s of ["1969-12-31T23:59:59Z", "1900-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "10000-01-01T00:00:00Z"]) {
      expect(License.isUtcTimestamp(s), s).toBe(false)
    }
  })

  it("refuses anything but the UTC form with a Z", () => {
    for (const s of [
      "2026-01-01T00:00:00+00:00",
      "2026-01-01T02:00:00+02:00",
      "2026-01-01T00:00:00",
      "2026-01-01",
      "2026-01-01 00:00:00Z",
      "2026-01-01T00:00Z",
      "2026-01-01T00:00:00.1234Z",
      "2026-1-01T00:00:00Z",
      " 2026-01-01T00:00:00Z",
      "2026-01-01T00:00:00z"
    ]) {
      expect(License.isUtcTimestamp(s), s).toBe(false)
    }
  })
})

describe("License.UtcDate", () => {
  it("decodes to the instant and encodes without zero milliseconds", () => {
    const date = Schema.decodeUnknownSync(License.UtcDate)("2027-01-31T12:30:00Z")
    expect(date.getTime()).toBe(Date.UTC(2027, 0, 31, 12, 30, 0))
    expect(Schema.encodeSync(License.UtcDate)(date)).toBe("2027-01-31T12:30:00Z")
    expect(Schema.encodeSync(License.UtcDate)(new Date(Date.UTC(2027, 0, 31, 12, 30, 0, 250)))).toBe("2027-01-31T12:30:00.250Z")
  })

  it("names the expected form when a timestamp is refused", () => {
    const result = Schema.decodeUnknownEither(License.UtcDate)("2027-02-30T00:00:00Z")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(ParseResult.TreeFormatter.formatErrorSync(result.left)).toContain(
        "expected an ISO-8601 UTC timestamp such as 2027-01-31T00:00:00Z"
      )
    }
  })
})

describe("License.LicensePayload", () => {
  it("decodes a payload, defaulting the warning and grace periods", () => {
    const p = payload()
    expect(p.caps.unattended?.expiresAt).toStrictEqual(new Date("2027-01-01T00:00:00Z"))
    expect(p.expiryWarningDays).toBe(License.DEFAULT_WARNING_DAYS)
    expect(p.gracePeriodDays).toBe(License.DEFAULT_GRACE_DAYS)
    expect(License.DEFAULT_WARNING_DAYS).toBe(30)
    expect(License.DEFAULT_GRACE_DAYS).toBe(14)
  })

  it("refuses a payload without caps, saying a license grants at least one", () => {
    expect(refusal({ caps: {} })).toContain("a license grants at least one cap")
  })

  it("accepts an http(s) portal URL and refuses one that does not parse as a URL", () => {
    expect(payload({ validation: { required: false, intervalHours: 1, portalUrl: "http://127.0.0.1:8080/x" } }).validation.portalUrl).toBe(
      "http://127.0.0.1:8080/x"
    )
    expect(payload({ validation: { required: false, intervalHours: 1 } }).validation.portalUrl).toBeUndefined()
    // Each matches the http(s) pattern yet is no URL.
    for (const portalUrl of ["https://portal.example:99999/", "http://[::1/", "https://exa%mple/"]) {
      expect(Either.isLeft(decode(encoded({ validation: { required: true, intervalHours: 24, portalUrl } }))), portalUrl).toBe(true)
    }
    expect(Either.isLeft(decode(encoded({ validation: { required: true, intervalHours: 24, portalUrl: "ftp://portal.example/" } })))).toBe(true)
  })
})

describe("License arithmetic", () => {
  it("capGraceDays: the cap's own grace, else the license's, and an explicit 0 stays 0", () => {
    const p = payload({ gracePeriodDays: 20 })
    expect(License.capGraceDays(p, p.caps.developer!)).toBe(7)
    expect(License.capGraceDays(p, p.caps.unattended!)).toBe(20)
    const none = payload({ caps: { unattended: { limit: 1, expiresAt: "2027-01-01T00:00:00Z", graceDays: 0 } } })
    expect(License.capGraceDays(none, none.caps.unattended!)).toBe(0)
  })

  it("admissionCeiling: floor(limit × (1 + overagePercent/100)), the limit itself without overage", () => {
    const grant = (limit: number, overagePercent?: number): License.CapGrant => ({
      limit,
      expiresAt: new Date(0),
      ...(overagePercent === undefined ? {} : { overagePercent })
    })
    expect(License.admissionCeiling(grant(10))).toBe(10)
    expect(License.admissionCeiling(grant(10, 0))).toBe(10)
    expect(License.admissionCeiling(grant(10, 10))).toBe(11)
    expect(License.admissionCeiling(grant(7, 15))).toBe(8)
    expect(License.admissionCeiling(grant(3, 50))).toBe(4)
    expect(License.admissionCeiling(grant(4, 1000))).toBe(44)
    expect(License.admissionCeiling(grant(0, 100))).toBe(0)
  })

  it("lastUsefulInstant: the latest expiry plus that cap's grace", () => {
    // developer: 2027-06-01 + 7 days; unattended: 2027-01-01 + 14 days.
    expect(License.lastUsefulInstant(payload())).toBe(Date.UTC(2027, 5, 8))
    // A long grace on the earlier cap can make it the last useful one.
    const p = payload({
      caps: {
        unattended: { limit: 1, expiresAt: "2027-01-01T00:00:00Z", graceDays: 365 },
        attended: { limit: 1, expiresAt: "2027-06-01T00:00:00Z", graceDays: 0 }
      }
    })
    expect(License.lastUsefulInstant(p)).toBe(Date.UTC(2027, 0, 1) + 365 * DAY)
    const single = payload({ caps: { attended: { limit: 1, expiresAt: "2027-03-01T00:00:00Z" } }, gracePeriodDays: 2 })
    expect(License.lastUsefulInstant(single)).toBe(Date.UTC(2027, 2, 3))
  })

  it("days: whole days as milliseconds", () => {
    expect(License.days(0)).toBe(0)
    expect(License.days(1)).toBe(86_400_000)
    expect(License.days(14)).toBe(14 * 86_400_000)
  })
})
