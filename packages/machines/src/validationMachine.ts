/** Portal validation (phone-home, DESIGN §5) as an XState machine: pings, their outcomes and the backoff between them. */
import { assign, setup, type SnapshotFrom } from "xstate"

/** The Portal's answer about the license; informational only. */
export type PortalStatus = "valid" | "revoked" | "unknown"

/** First retry delay after a failed ping; each further failure doubles it, up to the regular interval. */
export const FIRST_RETRY_MS = 60_000

const HOUR_MS = 3_600_000

/** Delay before the next ping after `consecutiveFailures` failures in a row (1 min, 2 min, 4 min, … capped at the interval). */
export const retryDelay = (consecutiveFailures: number, intervalHours: number): number =>
  Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, consecutiveFailures - 1), intervalHours * HOUR_MS)

/** The validation record: last success, first failure since it, last error, and when to ping next (epoch ms). */
export interface ValidationContext {
  readonly intervalHours: number
  readonly lastSuccessAt: number | null
  /** First failure since the last success; null while healthy. */
  readonly failingSince: number | null
  readonly lastError: string | null
  readonly lastStatus: PortalStatus | null
  /** The Portal's clock at the last success, a trusted observation for the caps' high-water mark. */
  readonly lastServerTime: number | null
  readonly consecutiveFailures: number
  /** When the next ping is due; null while one is in flight. */
  readonly nextAttemptAt: number | null
}

/** What a validation machine is told; each event carries `now` (epoch ms). */
export type ValidationEvent =
  /** The runtime starts a ping (at `nextAttemptAt`, or on demand). */
  | { readonly type: "PING_DUE"; readonly now: number }
  | { readonly type: "PING_SUCCEEDED"; readonly now: number; readonly status: PortalStatus; readonly serverTime: number }
  | { readonly type: "PING_FAILED"; readonly now: number; readonly error: string }

/** The event types of a validation machine. */
export type ValidationEventType = ValidationEvent["type"]

/** How a validation machine starts: the first ping is due at `now`. */
export interface ValidationInput {
  readonly intervalHours: number
  readonly now: number
}

/** The validation machine: idle → pinging → healthy or failing, with backoff; no timers, no I/O. */
export const validationMachine = setup({
  types: {
    context: {} as ValidationContext,
    events: {} as ValidationEvent,
    input: {} as ValidationInput
  },
  actions: {
    startPing: assign({ nextAttemptAt: null }),
    recordSuccess: assign(
      ({ context }, params: { readonly now: number; readonly status: PortalStatus; readonly serverTime: number }) => ({
        lastSuccessAt: params.now,
        failingSince: null,
        lastStatus: params.status,
        lastServerTime: params.serverTime,
        consecutiveFailures: 0,
        nextAttemptAt: params.now + context.intervalHours * HOUR_MS
      })
    ),
    recordFailure: assign(({ context }, params: { readonly now: number; readonly error: string }) => {
      const consecutiveFailures = context.consecutiveFailures + 1
      return {
        failingSince: context.failingSince ?? params.now,
        lastError: params.error,
        consecutiveFailures,
        nextAttemptAt: params.now + retryDelay(consecutiveFailures, context.intervalHours)
      }
    })
  }
}).createMachine({
  id: "validation",
  context: ({ input }) => ({
    intervalHours: input.intervalHours,
    lastSuccessAt: null,
    failingSince: null,
    lastError: null,
    lastStatus: null,
    lastServerTime: null,
    consecutiveFailures: 0,
    nextAttemptAt: input.now
  }),
  initial: "idle",
  states: {
    idle: { on: { PING_DUE: { target: "pinging", actions: "startPing" } } },
    // One ping at a time: a due ping while one is in flight is ignored, and so are results nobody asked for.
    pinging: {
      on: {
        PING_SUCCEEDED: {
          target: "healthy",
          actions: {
            type: "recordSuccess",
            params: ({ event }) => ({ now: event.now, status: event.status, serverTime: event.serverTime })
          }
        },
        PING_FAILED: {
          target: "failing",
          actions: { type: "recordFailure", params: ({ event }) => ({ now: event.now, error: event.error }) }
        }
      }
    },
    healthy: { on: { PING_DUE: { target: "pinging", actions: "startPing" } } },
    failing: { on: { PING_DUE: { target: "pinging", actions: "startPing" } } }
  }
})

/** A snapshot of a validation machine. */
export type ValidationSnapshot = SnapshotFrom<typeof validationMachine>

/** When the runtime should send the next `PING_DUE`, or null while a ping is in flight. */
export const nextValidationDeadline = (context: ValidationContext): number | null => context.nextAttemptAt
