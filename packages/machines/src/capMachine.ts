/** The lifecycle of one cap as an XState machine: events record facts, and the state always equals their evaluation. */
import type { Admission, Cap } from "@exekra/core"
import { assign, setup, type SnapshotFrom } from "xstate"
import {
  type CapFacts,
  type CapTerms,
  clockSkew,
  type ClockFacts,
  evaluateNow,
  evaluationInstant,
  install,
  type PendingLicense,
  type Reason,
  settle,
  stage
} from "./evaluate.js"

/** Everything a cap machine knows: recorded facts, the observed clock, and why it is in its state. */
export interface CapContext extends CapFacts, ClockFacts {
  readonly cap: Cap.Cap
  /** `highWater − now` when the clock has been set back, else 0 (the License page says "clock moved back"). */
  readonly skew: number
  readonly reason: Reason
  /** While in `grace`: when it becomes `limited`. */
  readonly graceEndsAt: number | null
  /** While `limited`: when the grace ran out. */
  readonly limitedSince: number | null
}

/** What a cap machine is told; every event carries the current time `now` (epoch ms), as machines never read a clock. */
export type CapEvent =
  /** Time has passed; sent at `nextDeadline` by the runtime. */
  | { readonly type: "TICK"; readonly now: number }
  /** A license was installed (activation or renewal); `license` is its terms for this cap, null when it has none. */
  | { readonly type: "LICENSE_INSTALLED"; readonly now: number; readonly license: CapTerms | null }
  /** A future-dated license was uploaded; it takes over at `notBefore`. */
  | { readonly type: "LICENSE_STAGED"; readonly now: number; readonly notBefore: number; readonly license: CapTerms | null }
  /** Validation is failing; `failingSince` is the first failure since the last success. */
  | { readonly type: "VALIDATION_FAILED"; readonly now: number; readonly failingSince: number }
  /** Validation succeeded again. */
  | { readonly type: "VALIDATION_SUCCEEDED"; readonly now: number }
  /** A trusted clock (the Portal's `serverTime`) was observed. */
  | { readonly type: "CLOCK_OBSERVED"; readonly now: number; readonly serverTime: number }

/** The event types of a cap machine. */
export type CapEventType = CapEvent["type"]

/** How a cap machine starts; with `license`, the runtime restores an installed license without replaying history. */
export interface CapInput {
  readonly cap: Cap.Cap
  readonly now: number
  /** The latest time observed before, when known (defaults to `now`). */
  readonly highWater?: number
  readonly license?: CapTerms | null
  /** When `license` took effect (defaults to `now`); validation grace never starts before it. */
  readonly installedAt?: number
}

const derive = (context: CapContext): CapContext => {
  const evaluation = evaluateNow(context)
  return {
    ...context,
    skew: clockSkew(context),
    reason: evaluation.reason,
    graceEndsAt: evaluation.graceEndsAt,
    limitedSince: evaluation.limitedSince
  }
}

const initialContext = (input: CapInput): CapContext => {
  const highWater = Math.max(input.now, input.highWater ?? input.now)
  const license = input.license ?? null
  return derive({
    cap: input.cap,
    license,
    installedAt: license === null ? null : (input.installedAt ?? input.now),
    renewedAt: null,
    pending: null,
    failingSince: null,
    now: input.now,
    highWater,
    skew: 0,
    reason: "not-licensed",
    graceEndsAt: null,
    limitedSince: null
  })
}

const stateOrder = ["unactivated", "active", "renewed", "expiring", "grace", "limited"] as const

// Each state leaves for any other state as soon as the evaluation says so; nothing else moves a cap.
const leaveFor = (from: Cap.CapState) =>
  stateOrder.filter((to) => to !== from).map((to) => ({ target: to, guard: { type: "evaluatesTo" as const, params: { state: to } } }))

/** The cap lifecycle machine (DESIGN §3): no timers, no clock; drive it with events carrying `now`. */
export const capMachine = setup({
  types: {
    context: {} as CapContext,
    events: {} as CapEvent,
    input: {} as CapInput
  },
  actions: {
    /** Record the observed time and let a due pending license take over. */
    observe: assign(({ context }, params: { readonly now: number; readonly serverTime?: number }) => {
      const highWater = Math.max(context.highWater, params.now, params.serverTime ?? params.now)
      return settle({ ...context, now: params.now, highWater }, evaluationInstant({ now: params.now, highWater }))
    }),
    install: assign(({ context }, params: { readonly license: CapTerms | null }) =>
      install(context, params.license, evaluationInstant(context))
    ),
    stage: assign(({ context }, params: PendingLicense) => stage(context, params, evaluationInstant(context))),
    // The earliest failure wins: only a success starts the count again.
    recordFailure: assign(({ context }, params: { readonly failingSince: number }) => ({
      failingSince: Math.min(context.failingSince ?? params.failingSince, params.failingSince)
    })),
    recordSuccess: assign({ failingSince: null }),
    /** Refresh the reason, grace end and skew from the facts. */
    refresh: assign(({ context }) => derive(context))
  },
  guards: {
    evaluatesTo: ({ context }, params: { readonly state: Cap.CapState }) => evaluateNow(context).state === params.state
  }
}).createMachine({
  id: "cap",
  context: ({ input }) => initialContext(input),
  initial: "unactivated",
  on: {
    TICK: { actions: [{ type: "observe", params: ({ event }) => ({ now: event.now }) }, "refresh"] },
    LICENSE_INSTALLED: {
      actions: [
        { type: "observe", params: ({ event }) => ({ now: event.now }) },
        { type: "install", params: ({ event }) => ({ license: event.license }) },
        "refresh"
      ]
    },
    LICENSE_STAGED: {
      actions: [
        { type: "observe", params: ({ event }) => ({ now: event.now }) },
        { type: "stage", params: ({ event }) => ({ notBefore: event.notBefore, license: event.license }) },
        "refresh"
      ]
    },
    VALIDATION_FAILED: {
      actions: [
        { type: "observe", params: ({ event }) => ({ now: event.now }) },
        { type: "recordFailure", params: ({ event }) => ({ failingSince: event.failingSince }) },
        "refresh"
      ]
    },
    VALIDATION_SUCCEEDED: { actions: [{ type: "observe", params: ({ event }) => ({ now: event.now }) }, "recordSuccess", "refresh"] },
    CLOCK_OBSERVED: {
      actions: [{ type: "observe", params: ({ event }) => ({ now: event.now, serverTime: event.serverTime }) }, "refresh"]
    }
  },
  states: {
    unactivated: { always: leaveFor("unactivated") },
    active: { always: leaveFor("active") },
    renewed: { always: leaveFor("renewed") },
    expiring: { always: leaveFor("expiring") },
    grace: { always: leaveFor("grace") },
    limited: { always: leaveFor("limited") }
  }
})

/** A snapshot of a cap machine. */
export type CapSnapshot = SnapshotFrom<typeof capMachine>

/**
 * Whether a `VALIDATION_SUCCEEDED` would tell the cap more than the time: only while it counts a validation failure.
 * Otherwise the success is a `CLOCK_OBSERVED` of its `now`, and a cap hears the time at its own deadlines anyway, so
 * a Hub may spare it the daily ping (and the snapshot write that follows).
 */
export const heedsValidationSuccess = (context: CapContext): boolean => context.failingSince !== null

/** What `Admission.decide` needs from a cap snapshot, given the cap's current usage. */
export const capView = (snapshot: CapSnapshot, used: number): Admission.CapView => {
  const license = snapshot.context.license
  return {
    cap: snapshot.context.cap,
    state: snapshot.value,
    limit: license?.limit ?? 0,
    ceiling: license?.ceiling ?? 0,
    used,
    onLimited: license?.onLimited ?? "refuse-new"
  }
}

