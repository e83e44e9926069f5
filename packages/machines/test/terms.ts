// Shared test data: one cap's terms at fixed instants, so tests read as dates relative to T0 and E.
import type { CapTerms } from "@exekra/machines"

export const DAY = 86_400_000
/** 2026-01-01T00:00:00Z. */
export const T0 = Date.UTC(2026, 0, 1)
/** The sample expiry: day 100. */
export const E = T0 + 100 * DAY

/** Terms of a 10-seat cap expiring at E with 30 warning days, 14 grace days and required validation. */
export const terms = (overrides: Partial<CapTerms> = {}): CapTerms => ({
  licenseId: "lic-a",
  issuedAt: T0,
  limit: 10,
  ceiling: 10,
  onLimited: "refuse-new",
  expiresAt: E,
  warningDays: 30,
  graceDays: 14,
  validationGraceDays: 7,
  validationRequired: true,
  ...overrides
})
