/** LicenseRuntime service: the Hub's live license — caps, admission, activation, renewal and events. */
import type { Admission, Cap, Installation, LicenseError, LicenseStore, PortalClient, Verifier } from "@exekra/core"
import { Context, Layer, type Effect, type Stream } from "effect"
import type { ActivationError } from "./ActivationError.js"
import { make, type RuntimeOptions } from "./internal/runtime.js"
import type { CapLeaseStatus, LeaseError, LeaseInput } from "./Leases.js"

export { ActivationError, ActivationErrorCode } from "./ActivationError.js"
export type { RuntimeOptions } from "./internal/runtime.js"
export { HEARTBEAT_MS, MAX_PORTAL_LEAD_MS } from "./internal/runtime.js"

/** One cap as the License page and API show it. */
export interface CapStatus {
  readonly cap: Cap.Cap
  readonly state: Cap.CapState
  /** Why the cap is in its state, e.g. `expired`, `portal-unreachable`. */
  readonly reason: string
  readonly limit: number
  /** Most principals admitted: limit plus overage. */
  readonly ceiling: number
  readonly used: number
  /** `used − limit` when positive: shown as overage, or "over limit" above the ceiling. */
  readonly overage: number
  readonly overLimit: boolean
  readonly expiresAt: number | null
  readonly grace: { readonly reason: string; readonly endsAt: number } | null
  readonly limitedSince: number | null
  /** When the next time-driven change is due, if any. */
  readonly nextChangeAt: number | null
  readonly onLimited: "refuse-new" | "block-all"
  /** The cap's principal lease, or null when its principals need no heartbeat (the default). */
  readonly lease: CapLeaseStatus | null
}

/** Phone-home posture, informational unless validation is required. */
export interface ValidationPosture {
  readonly required: boolean
  readonly intervalHours: number
  readonly portalUrl: string | null
  readonly lastAttemptAt: number | null
  readonly lastSuccessAt: number | null
  readonly failingSince: number | null
  readonly lastError: string | null
  readonly lastStatus: "valid" | "revoked" | "unknown" | null
  readonly nextAttemptAt: number | null
}

/** The installed license and every cap, as `GET /api/license` returns it. */
export interface LicenseSummary {
  readonly activated: boolean
  readonly installationId: string
  readonly license: {
    readonly licenseId: string
    readonly type: "production" | "trial"
    readonly issuedTo: { readonly name: string; readonly email: string }
    readonly installationId: string | null
    readonly issuedAt: number
    readonly notBefore: number | null
    readonly fingerprint: string
  } | null
  readonly pending: { readonly licenseId: string; readonly notBefore: number } | null
  readonly validation: ValidationPosture | null
  /** Evaluation time and how far the system clock is behind the highest time seen. */
  readonly clock: { readonly now: number; readonly highWater: number; readonly skewMs: number }
  readonly caps: Readonly<Record<Cap.Cap, CapStatus>>
}

/** What the runtime publishes: every cap state change and usage change. */
export type RuntimeEvent =
  | { readonly _tag: "CapStateChanged"; readonly cap: Cap.Cap; readonly from: Cap.CapState; readonly to: Cap.CapState; readonly status: CapStatus }
  | { readonly _tag: "UsageChanged"; readonly cap: Cap.Cap; readonly used: number; readonly status: CapStatus }
  | { readonly _tag: "LicenseChanged"; readonly summary: LicenseSummary }
  | { readonly _tag: "ValidationChanged"; readonly validation: ValidationPosture }
  /** A principal missed its lease: its slot is free and it is `expired` as of `culledAt` (its lease's end). */
  | { readonly _tag: "PrincipalCulled"; readonly cap: Cap.Cap; readonly id: string; readonly culledAt: number; readonly status: CapStatus }
  /** An admin set, changed or turned off a cap's lease. */
  | { readonly _tag: "LeaseChanged"; readonly cap: Cap.Cap; readonly lease: CapLeaseStatus | null; readonly status: CapStatus }

/** Who asked, for the audit log. */
export interface Actor {
  readonly actor?: string | undefined
}

/** The live license of one Hub. */
export class LicenseRuntime extends Context.Tag("@exekra/server/LicenseRuntime")<LicenseRuntime, LicenseRuntime.Service>() {}

export declare namespace LicenseRuntime {
  /** The runtime's interface; admission comes from `Admission.Enforcer`. */
  export interface Service extends Admission.Enforcer {
    readonly installationId: string
    readonly isActivated: Effect.Effect<boolean, LicenseStore.StoreError>
    readonly summary: Effect.Effect<LicenseSummary, LicenseStore.StoreError>
    /** First activation: verify the file, bind it, create the admin; all or nothing. */
    readonly activate: (input: {
      readonly license: string | Uint8Array
      readonly email: string
      readonly password: string
    } & Actor) => Effect.Effect<LicenseSummary, LicenseError | ActivationError | LicenseStore.StoreError>
    /** Renewal: install a newer file at once (or stage a future-dated one); keeps every record. */
    readonly install: (license: string | Uint8Array, actor?: Actor) => Effect.Effect<LicenseSummary, LicenseError | ActivationError | LicenseStore.StoreError>
    /** Every principal of a cap (active, deactivated or expired) with its last heartbeat and, once expired, its cull time. */
    readonly principals: (cap: Cap.Cap) => Effect.Effect<ReadonlyArray<LicenseStore.LeasedPrincipal>, LicenseStore.StoreError>
    /**
     * A principal's heartbeat (DESIGN §12): renews its lease; within the cap's revive window after it was culled it is
     * admitted again if a slot is free (else `CAP_LIMIT_REACHED`); otherwise `PRINCIPAL_NOT_ADMITTED`.
     */
    readonly heartbeat: (cap: Cap.Cap, id: string, options?: Actor) => Effect.Effect<Admission.Heartbeat, Admission.AdmissionError | LicenseStore.StoreError>
    /** Set a cap's lease, or turn it off with null; bad values fail with a `LeaseError`. */
    readonly setLease: (cap: Cap.Cap, lease: LeaseInput | null, options?: Actor) => Effect.Effect<CapLeaseStatus | null, LeaseError | LicenseStore.StoreError>
    /** Every state and usage change from now on. */
    readonly events: Stream.Stream<RuntimeEvent>
    /** Ping the Portal now instead of at the next interval. */
    readonly validateNow: Effect.Effect<void>
    /** Apply a page of the store's change log: what other nodes sharing the store wrote (see `ChangeFeed`). */
    readonly sync: (page: LicenseStore.ChangePage) => Effect.Effect<void, LicenseStore.StoreError>
  }
}

/** The runtime as a scoped layer: its timers and actors stop when the scope closes. */
export const layer = (
  options: RuntimeOptions
): Layer.Layer<LicenseRuntime, LicenseStore.StoreError, LicenseStore.LicenseStore | Verifier.Verifier | Installation.Installation | PortalClient.PortalClient> =>
  Layer.scoped(LicenseRuntime, make(options))
