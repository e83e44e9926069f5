/** One principal's lease (DESIGN §12) as an XState machine: admitted, renewed by heartbeats, culled at the lease's end, revived within the window. */
import { assign, setup, type SnapshotFrom } from "xstate"

/** How the last request of the principal was answered: allowed, or the denial code. */
export type LeaseAnswer = "allowed" | "CAP_LIMIT_REACHED" | "PRINCIPAL_NOT_ADMITTED"

/** The principal's lease facts (epoch ms). */
export interface LeaseContext {
  /** The cap's lease, or null when its principals need no heartbeat. */
  readonly leaseMs: number | null
  readonly reviveMs: number
  /** When the cap's lease setting last changed: a lease runs at least until `since + leaseMs`. */
  readonly since: number
  /** The principal's last heartbeat, or its admission. */
  readonly heartbeatAt: number | null
  /** When the lease of an expired principal ended. */
  readonly culledAt: number | null
  readonly lastAnswer: LeaseAnswer | null
}

/**
 * What a lease machine is told; each event carries `now`. `slotFree` is what the store's count says at that moment
 * (another principal may hold the last slot), so the machine stays a pure function of its events.
 */
export type LeaseEvent =
  /** The admin sets the cap's lease. */
  | { readonly type: "LEASE_SET"; readonly now: number; readonly leaseSeconds: number; readonly reviveSeconds: number }
  /** The admin turns the cap's lease off. */
  | { readonly type: "LEASE_OFF"; readonly now: number }
  /** The principal registers (acquire). */
  | { readonly type: "ADMIT"; readonly now: number; readonly slotFree: boolean }
  | { readonly type: "HEARTBEAT"; readonly now: number; readonly slotFree: boolean }
  /** Time passes: the leader's cull runs. */
  | { readonly type: "TICK"; readonly now: number }
  /** The principal deregisters (release). */
  | { readonly type: "RELEASE"; readonly now: number }

/** The event types of a lease machine. */
export type LeaseEventType = LeaseEvent["type"]

/** How a lease machine starts: a principal not admitted yet, in a cap without a lease. */
export interface LeaseInput {
  readonly now: number
}

/** When an active principal's lease ends, or null when its cap has no lease. */
export const leaseEndOf = (c: Pick<LeaseContext, "leaseMs" | "since" | "heartbeatAt">): number | null =>
  c.leaseMs === null || c.heartbeatAt === null ? null : Math.max(c.heartbeatAt, c.since) + c.leaseMs

const ended = (c: LeaseContext, now: number): boolean => {
  const end = leaseEndOf(c)
  return end !== null && end <= now
}

/** Whether a culled principal may come back at `now` (inclusive of the window's last instant). */
const withinRevive = (c: LeaseContext, culledAt: number | null, now: number): boolean => c.leaseMs !== null && culledAt !== null && now <= culledAt + c.reviveMs

/** The lease machine: unadmitted → active ⇄ expired; no timers, no I/O (the runtime ticks it at `leaseDeadline`). */
export const leaseMachine = setup({
  types: {
    context: {} as LeaseContext,
    events: {} as LeaseEvent,
    input: {} as LeaseInput
  },
  guards: {
    slotFree: ({ event }) => (event.type === "ADMIT" || event.type === "HEARTBEAT") && event.slotFree,
    leaseEnded: ({ context, event }) => ended(context, event.now),
    /** A heartbeat after the lease's end that comes back at once: within the window, with a free slot. */
    endedButRevivable: ({ context, event }) =>
      event.type === "HEARTBEAT" && event.slotFree && ended(context, event.now) && withinRevive(context, leaseEndOf(context), event.now),
    revivable: ({ context, event }) => event.type === "HEARTBEAT" && event.slotFree && withinRevive(context, context.culledAt, event.now)
  },
  actions: {
    setLease: assign(({ event }) =>
      event.type === "LEASE_SET" ? { leaseMs: event.leaseSeconds * 1000, reviveMs: event.reviveSeconds * 1000, since: event.now } : {}
    ),
    clearLease: assign({ leaseMs: null, reviveMs: 0 }),
    admit: assign(({ event }) => ({ heartbeatAt: event.now, culledAt: null, lastAnswer: "allowed" as const })),
    renew: assign(({ event }) => ({ heartbeatAt: event.now, lastAnswer: "allowed" as const })),
    cull: assign(({ context, event }) => ({ culledAt: leaseEndOf(context) ?? event.now })),
    /** Culled by the heartbeat itself (no cull ran since the lease ended), and refused: full, or past the window. */
    cullAndRefuse: assign(({ context, event }) => {
      const culledAt = leaseEndOf(context) ?? event.now
      const lastAnswer: LeaseAnswer = withinRevive(context, culledAt, event.now) ? "CAP_LIMIT_REACHED" : "PRINCIPAL_NOT_ADMITTED"
      return { culledAt, lastAnswer }
    }),
    refuseExpired: assign(({ context, event }) => ({
      lastAnswer: withinRevive(context, context.culledAt, event.now) ? ("CAP_LIMIT_REACHED" as const) : ("PRINCIPAL_NOT_ADMITTED" as const)
    })),
    refuseFull: assign({ lastAnswer: "CAP_LIMIT_REACHED" as const }),
    refuseUnknown: assign({ lastAnswer: "PRINCIPAL_NOT_ADMITTED" as const }),
    forget: assign({ heartbeatAt: null, culledAt: null, lastAnswer: null })
  }
}).createMachine({
  id: "lease",
  context: ({ input }) => ({ leaseMs: null, reviveMs: 0, since: input.now, heartbeatAt: null, culledAt: null, lastAnswer: null }),
  initial: "unadmitted",
  on: {
    LEASE_SET: { actions: "setLease" },
    LEASE_OFF: { actions: "clearLease" }
  },
  states: {
    unadmitted: {
      on: {
        ADMIT: [{ guard: "slotFree", target: "active", actions: "admit" }, { actions: "refuseFull" }],
        HEARTBEAT: { actions: "refuseUnknown" }
      }
    },
    active: {
      on: {
        // A heartbeat after the lease's end is decided as if the cull had run at the end: revived, or refused.
        HEARTBEAT: [
          { guard: "endedButRevivable", actions: "admit" },
          { guard: "leaseEnded", target: "expired", actions: "cullAndRefuse" },
          { actions: "renew" }
        ],
        ADMIT: { actions: assign({ lastAnswer: "allowed" as const }) },
        TICK: { guard: "leaseEnded", target: "expired", actions: "cull" },
        RELEASE: { target: "unadmitted", actions: "forget" }
      }
    },
    expired: {
      on: {
        HEARTBEAT: [{ guard: "revivable", target: "active", actions: "admit" }, { actions: "refuseExpired" }],
        ADMIT: [{ guard: "slotFree", target: "active", actions: "admit" }, { actions: "refuseFull" }],
        RELEASE: { target: "unadmitted", actions: "forget" }
      }
    }
  }
})

/** A snapshot of a lease machine. */
export type LeaseSnapshot = SnapshotFrom<typeof leaseMachine>

/** When the runtime must tick a lease machine (its cull), or null: only an active principal of a leased cap has one. */
export const leaseDeadline = (snapshot: LeaseSnapshot): number | null => (snapshot.value === "active" ? leaseEndOf(snapshot.context) : null)
