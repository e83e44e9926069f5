/** Hub activation (DESIGN §6, §7) as an XState machine: unactivated → license verified → admin created → activated. */
import type { License, LicenseErrorCode } from "@exekra/core"
import { assign, setup, type SnapshotFrom } from "xstate"

/** Why the admin account could not be created. */
export type AdminErrorCode = "ADMIN_EMAIL_MISMATCH" | "PASSWORD_TOO_WEAK"

/** Every code an activation attempt can end with (DESIGN §7). */
export type ActivationErrorCode = LicenseErrorCode | AdminErrorCode | "ALREADY_ACTIVATED"

/** What the activation screen and License page show about the activating license; plain JSON. */
export interface LicenseSummary {
  readonly licenseId: string
  readonly type: "production" | "trial"
  readonly issuedTo: { readonly name: string; readonly email: string }
  /** The installation the license is bound to (its own, or this Hub's when it binds at activation). */
  readonly installationId: string
}

/** Summarise a verified license for the installation it activates. */
export const summarize = (payload: License.LicensePayload, installationId: string): LicenseSummary => ({
  licenseId: payload.licenseId,
  type: payload.type,
  issuedTo: { name: payload.issuedTo.name, email: payload.issuedTo.email },
  installationId: payload.installationId ?? installationId
})

/** The activation record. */
export interface ActivationContext {
  readonly installationId: string
  /** The license of the attempt in progress, or of the activation. */
  readonly license: LicenseSummary | null
  readonly adminEmail: string | null
  /** The code the last attempt ended with; null after a success. */
  readonly lastError: ActivationErrorCode | null
  readonly activatedAt: number | null
}

/** Results the runtime computed for each step of an attempt. */
export type ActivationEvent =
  | { readonly type: "LICENSE_ACCEPTED"; readonly summary: LicenseSummary }
  | { readonly type: "LICENSE_REJECTED"; readonly code: LicenseErrorCode }
  | { readonly type: "ADMIN_CREATED"; readonly email: string }
  | { readonly type: "ADMIN_REJECTED"; readonly code: AdminErrorCode }
  /** The license and admin were stored together; `now` is epoch ms. */
  | { readonly type: "ACTIVATION_COMMITTED"; readonly now: number }
  /** The attempt was rolled back before it was stored (for example the store failed). */
  | { readonly type: "ACTIVATION_ABORTED" }

/** The event types of an activation machine. */
export type ActivationEventType = ActivationEvent["type"]

/** How an activation machine starts. */
export interface ActivationInput {
  readonly installationId: string
}

/** The activation machine: one attempt at a time; `activated` answers further attempts with `ALREADY_ACTIVATED`. */
export const activationMachine = setup({
  types: {
    context: {} as ActivationContext,
    events: {} as ActivationEvent,
    input: {} as ActivationInput
  },
  actions: {
    acceptLicense: assign((_, params: { readonly summary: LicenseSummary }) => ({ license: params.summary, lastError: null })),
    fail: assign((_, params: { readonly code: ActivationErrorCode }) => ({ license: null, adminEmail: null, lastError: params.code })),
    createAdmin: assign((_, params: { readonly email: string }) => ({ adminEmail: params.email })),
    abort: assign({ license: null, adminEmail: null }),
    commit: assign((_, params: { readonly now: number }) => ({ activatedAt: params.now, lastError: null })),
    refuseAgain: assign({ lastError: "ALREADY_ACTIVATED" as const })
  }
}).createMachine({
  id: "activation",
  context: ({ input }) => ({
    installationId: input.installationId,
    license: null,
    adminEmail: null,
    lastError: null,
    activatedAt: null
  }),
  initial: "unactivated",
  states: {
    unactivated: {
      on: {
        LICENSE_ACCEPTED: { target: "licenseVerified", actions: { type: "acceptLicense", params: ({ event }) => ({ summary: event.summary }) } },
        LICENSE_REJECTED: { actions: { type: "fail", params: ({ event }) => ({ code: event.code }) } }
      }
    },
    licenseVerified: {
      on: {
        ADMIN_CREATED: { target: "adminCreated", actions: { type: "createAdmin", params: ({ event }) => ({ email: event.email }) } },
        // An attempt is all or nothing: the next one uploads the license again.
        ADMIN_REJECTED: { target: "unactivated", actions: { type: "fail", params: ({ event }) => ({ code: event.code }) } },
        ACTIVATION_ABORTED: { target: "unactivated", actions: "abort" }
      }
    },
    adminCreated: {
      on: {
        ACTIVATION_COMMITTED: { target: "activated", actions: { type: "commit", params: ({ event }) => ({ now: event.now }) } },
        ACTIVATION_ABORTED: { target: "unactivated", actions: "abort" }
      }
    },
    // Not a final state: the Hub keeps answering attempts, and a final state would stop the actor.
    activated: {
      on: {
        LICENSE_ACCEPTED: { actions: "refuseAgain" },
        LICENSE_REJECTED: { actions: "refuseAgain" }
      }
    }
  }
})

/** A snapshot of an activation machine. */
export type ActivationSnapshot = SnapshotFrom<typeof activationMachine>
