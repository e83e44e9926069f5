/** The admission decision (DESIGN §4): one pure function every adapter and the runtime share. */
import { type Effect, Either, Schema } from "effect"
import { Cap, type CapState, releaseVerb, unitNames } from "./Cap.js"
import type { OnLimited } from "./License.js"
import type { StoreError } from "./LicenseStore.js"

/** Stable codes for every admission denial. */
export const AdmissionErrorCode = Schema.Literal("CAP_LIMIT_REACHED", "CAP_LIMITED", "CAP_UNACTIVATED", "PRINCIPAL_NOT_ADMITTED")
export type AdmissionErrorCode = typeof AdmissionErrorCode.Type

/** A principal was refused by a cap; `message` tells the admin what to do. */
export class AdmissionError extends Schema.TaggedError<AdmissionError>("@exekra/core/AdmissionError")("AdmissionError", {
  code: AdmissionErrorCode,
  cap: Cap,
  message: Schema.String
}) {}

/** Shape of a principal id (a Runner id or a user id, emails allowed): safe in a URL path segment. */
export const principalIdPattern = /^[A-Za-z0-9._:@+-]{1,256}$/

/** A principal id, as every entry point (API, adapters) accepts it, so an admin can always address it later. */
export const PrincipalId = Schema.String.pipe(
  Schema.pattern(principalIdPattern, { message: () => "a principal id is 1 to 256 letters, digits or . _ : @ + -" })
)

/** What a caller asks of a cap. */
export type Operation = "acquire" | "release" | "check"

/** Everything the decision depends on, all known in memory. */
export interface CapView {
  readonly cap: Cap
  readonly state: CapState
  /** Licensed limit; 0 when the cap is not granted. */
  readonly limit: number
  /** Most principals the cap admits, limit plus overage. */
  readonly ceiling: number
  /** Active principals now. */
  readonly used: number
  readonly onLimited: OnLimited
}

/** Why a decision allows or refuses. */
export type Decision = Either.Either<void, AdmissionError>

const deny = (view: CapView, code: AdmissionErrorCode, message: string): Decision =>
  Either.left(new AdmissionError({ code, cap: view.cap, message }))

const allow: Decision = Either.void

/**
 * Decide an operation on a cap.
 * - `acquire` of a principal already admitted is allowed in every state but `unactivated`
 *   (acquire is idempotent; nothing new is admitted).
 * - `release` is always allowed: freeing a slot never needs a license.
 * - `check` is allowed for admitted principals unless the cap is unactivated or limited with `block-all`.
 */
export const decide = (view: CapView, operation: Operation, admitted: boolean): Decision => {
  const unit = unitNames[view.cap]
  if (operation === "release") return allow
  if (view.state === "unactivated") {
    return deny(view, "CAP_UNACTIVATED", `${unit.title} capacity is not licensed on this Hub. Activate or renew with a license that includes it.`)
  }
  if (operation === "check") {
    if (!admitted) {
      return deny(view, "PRINCIPAL_NOT_ADMITTED", `This ${unit.one} is not admitted. Register it first (${unit.many}: ${view.used} of ${view.limit} in use).`)
    }
    if (view.state === "limited" && view.onLimited === "block-all") {
      return deny(view, "CAP_LIMITED", `${unit.title} capacity is limited because its grace period has ended, and this license blocks all work then. Upload a renewed license or restore validation with the Customer Portal.`)
    }
    return allow
  }
  if (admitted) return allow
  if (view.state === "limited") {
    return deny(view, "CAP_LIMITED", `${unit.title} capacity is limited because its grace period has ended; no new ${unit.many} can be admitted. Upload a renewed license or restore validation with the Customer Portal.`)
  }
  if (view.used >= view.ceiling) return deny(view, "CAP_LIMIT_REACHED", limitReachedMessage(view))
  return allow
}

/** "Unattended Runner limit reached (10 of 10). Deregister a Runner or renew with a higher limit." */
export const limitReachedMessage = (view: Pick<CapView, "cap" | "used" | "limit">): string =>
  `${unitNames[view.cap].title} limit reached (${view.used} of ${view.limit}). ${releaseVerb[view.cap]} or renew with a higher limit.`

/** A principal as an admission answer reports it. */
export interface AdmittedPrincipal {
  readonly cap: Cap
  readonly id: string
  readonly name: string | null
  readonly status: "active" | "deactivated"
  readonly admittedAt: number
}

/** Result of an acquisition: `created` is false when the principal already held a slot. */
export interface Acquired {
  readonly principal: AdmittedPrincipal
  readonly created: boolean
  readonly used: number
}

/** Answer to a heartbeat (DESIGN §12): the principal holds its slot, and until when its lease runs. */
export interface Heartbeat {
  readonly principal: AdmittedPrincipal
  /** True when this heartbeat re-admitted a principal its lease had ended for (within the cap's revive window). */
  readonly revived: boolean
  /** When the principal's lease now ends; null when its cap has no lease. */
  readonly leaseEndsAt: number | null
  readonly used: number
}

/**
 * What a host needs to gate its API: the contract adapters program against and the runtime
 * implements. `check` is synchronous and in memory, the hot path.
 */
export interface Enforcer {
  readonly acquire: (cap: Cap, id: string, options?: { readonly name?: string | undefined; readonly actor?: string | undefined }) => Effect.Effect<Acquired, AdmissionError | StoreError>
  readonly release: (cap: Cap, id: string, options?: { readonly actor?: string | undefined }) => Effect.Effect<boolean, StoreError>
  readonly deactivate: (cap: Cap, id: string, options?: { readonly actor?: string | undefined }) => Effect.Effect<boolean, StoreError>
  readonly check: (cap: Cap, id: string) => Decision
  /**
   * A principal's heartbeat on a cap with a lease (DESIGN §12): renews its lease, or re-admits it within the revive
   * window. Optional: an Enforcer without leases leaves it out, and gates for `heartbeat` refuse it at creation.
   */
  readonly heartbeat?: (cap: Cap, id: string, options?: { readonly actor?: string | undefined }) => Effect.Effect<Heartbeat, AdmissionError | StoreError>
}
