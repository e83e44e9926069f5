/** The three licensed capacities ("caps") and the lifecycle states each one can be in. */
import * as Schema from "effect/Schema"

/** A licensed capacity: Unattended Runners, Developer (Studio) seats, Attended users. */
export const Cap = Schema.Literal("unattended", "developer", "attended")
export type Cap = typeof Cap.Type

/** Every cap, in display order. */
export const all: ReadonlyArray<Cap> = Cap.literals

/** Lifecycle state of one cap (DESIGN §3). */
export const CapState = Schema.Literal("unactivated", "active", "expiring", "grace", "limited", "renewed")
export type CapState = typeof CapState.Type

/** Every cap state, in lifecycle order. */
export const states: ReadonlyArray<CapState> = CapState.literals

/** What an admin calls one unit of each cap, singular and plural. */
export const unitNames: Readonly<Record<Cap, { readonly one: string; readonly many: string; readonly title: string }>> = {
  unattended: { one: "Runner", many: "Runners", title: "Unattended Runner" },
  developer: { one: "Developer seat", many: "Developer seats", title: "Developer seat" },
  attended: { one: "Attended user", many: "Attended users", title: "Attended user" }
}

/** How a principal is released from each cap, phrased for an admin. */
export const releaseVerb: Readonly<Record<Cap, string>> = {
  unattended: "Deregister a Runner",
  developer: "Remove or deactivate a Developer seat",
  attended: "Remove or deactivate an Attended user"
}

/** True when `u` names a cap. */
export const isCap: (u: unknown) => u is Cap = Schema.is(Cap)
