/** Principal leases (DESIGN §12): the settings an admin gives a cap, their validation, and the typed error for bad values. */
import { Cap, LicenseStore } from "@exekra/core"
import { Either, Schema } from "effect"

/** The shortest lease: a Runner's heartbeat must not have to race the network. */
export const MIN_LEASE_SECONDS = LicenseStore.MIN_LEASE_SECONDS

/** The longest lease or revive window an admin may set: 30 days. */
export const MAX_LEASE_SECONDS = 30 * 86_400

/** Stable codes of a refused lease setting. */
export const LeaseErrorCode = Schema.Literal("LEASE_TOO_SHORT", "LEASE_TOO_LONG", "LEASE_INVALID")
export type LeaseErrorCode = typeof LeaseErrorCode.Type

/** A lease setting the Hub refuses; `message` says which value to change and to what. */
export class LeaseError extends Schema.TaggedError<LeaseError>("@exekra/server/LeaseError")("LeaseError", {
  code: LeaseErrorCode,
  cap: Cap.Cap,
  message: Schema.String
}) {}

/** What an admin sets for a cap: principals must heartbeat within `leaseSeconds`; a culled one may return within `reviveSeconds`. */
export interface LeaseInput {
  readonly leaseSeconds: number
  /** Default 0: a culled principal must register again. */
  readonly reviveSeconds?: number | undefined
}

/** A validated lease setting of one cap (from {@link validate}). */
export interface LeaseSetting {
  readonly cap: Cap.Cap
  readonly leaseSeconds: number
  readonly reviveSeconds: number
}

/** A cap's lease as the API and the License page show it. */
export interface CapLeaseStatus {
  readonly leaseSeconds: number
  readonly reviveSeconds: number
  /** When the setting was last changed. */
  readonly since: number
}

const wholeSeconds = (n: number): boolean => Number.isSafeInteger(n)

/**
 * Check a lease setting: whole seconds, `leaseSeconds` from {@link MIN_LEASE_SECONDS} to {@link MAX_LEASE_SECONDS},
 * `reviveSeconds` from 0 to {@link MAX_LEASE_SECONDS}.
 *
 * @example
 * import { Either } from "effect"
 * import * as Leases from "@exekra/server/Leases"
 *
 * const ok = Either.isRight(Leases.validate("unattended", { leaseSeconds: 600, reviveSeconds: 300 })) // true
 */
export const validate = (cap: Cap.Cap, input: LeaseInput): Either.Either<LeaseSetting, LeaseError> => {
  const revive = input.reviveSeconds ?? 0
  const fail = (code: LeaseErrorCode, message: string) => Either.left(new LeaseError({ code, cap, message }))
  const unit = Cap.unitNames[cap].many
  if (!wholeSeconds(input.leaseSeconds) || !wholeSeconds(revive) || revive < 0) {
    return fail("LEASE_INVALID", `leaseSeconds and reviveSeconds are whole numbers of seconds, reviveSeconds 0 or more (got ${input.leaseSeconds} and ${revive}).`)
  }
  if (input.leaseSeconds < MIN_LEASE_SECONDS) {
    return fail("LEASE_TOO_SHORT", `A lease of ${input.leaseSeconds} s is too short: ${unit} would be culled between heartbeats. Set leaseSeconds to ${MIN_LEASE_SECONDS} or more.`)
  }
  if (input.leaseSeconds > MAX_LEASE_SECONDS || revive > MAX_LEASE_SECONDS) {
    return fail("LEASE_TOO_LONG", `leaseSeconds and reviveSeconds are at most ${MAX_LEASE_SECONDS} (30 days); turn the lease off instead of setting it longer.`)
  }
  return Either.right({ cap, leaseSeconds: input.leaseSeconds, reviveSeconds: revive })
}
