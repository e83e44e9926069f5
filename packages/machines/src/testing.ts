/** Model-based test kit (`@exekra/machines/testing`): each machine's edge-tour paths with sample data, and coverage, for any host to replay. */
import { getShortestPaths } from "@xstate/graph"
import { Admission, type Cap, License } from "@exekra/core"
import { Either } from "effect"
import { type AnyStateMachine, type EventFromLogic, initialTransition, type InputFrom, type SnapshotFrom, transition } from "xstate"
import { type ActivationEvent, type ActivationInput, activationMachine, type ActivationSnapshot, type LicenseSummary } from "./activationMachine.js"
import { type CapEvent, type CapInput, capMachine, type CapSnapshot, capView } from "./capMachine.js"
import { describeMachine } from "./diagram.js"
import { capTerms, nextDeadline, type Reason } from "./evaluate.js"
import { type LeaseAnswer, leaseDeadline, type LeaseEvent, type LeaseInput, leaseMachine, type LeaseSnapshot } from "./leaseMachine.js"
import { type ValidationEvent, type ValidationInput, validationMachine, type ValidationSnapshot } from "./validationMachine.js"

/** One event of a path and what the model says must hold after it. */
export interface ModelStep<TEvent, TExpected> {
  readonly event: TEvent
  /** A name for the sample event, e.g. `tick at expiry`. */
  readonly sample: string
  /** For a license event: the payload a host signs and uploads to produce it. */
  readonly payload?: License.LicensePayload
  /** The state the model is in before the event. */
  readonly before: string
  readonly expected: TExpected
}

/** A path of the edge tour: the shortest path to a model state, then one event of the event set (ignored or not). */
export interface ModelPath<TEvent, TExpected> {
  readonly description: string
  readonly steps: ReadonlyArray<ModelStep<TEvent, TExpected>>
}

/** A sample event with a name; license events also name the payload a host would upload. */
export interface Sample<TEvent> {
  readonly name: string
  readonly event: TEvent
  readonly payload?: License.LicensePayload
}

/** A machine's model: its input, sample events and how to abstract a snapshot into a model state. */
interface Model<TMachine extends AnyStateMachine, TExpected> {
  readonly machine: TMachine
  readonly input: InputFrom<TMachine>
  readonly samples: ReadonlyArray<Sample<EventFromLogic<TMachine>>>
  /** The model state of a snapshot: its state value plus whatever else changes what happens next. */
  readonly abstract: (snapshot: SnapshotFrom<TMachine>) => string
  readonly expect: (snapshot: SnapshotFrom<TMachine>) => TExpected
}

const stateName = (snapshot: { readonly value: unknown }): string =>
  typeof snapshot.value === "string" ? snapshot.value : JSON.stringify(snapshot.value)

/**
 * The edge tour of a model: for every reachable model state, the shortest path to it (found by `@xstate/graph`),
 * then every sample event from there, including those the state ignores. A model state abstracts away exact times,
 * which keeps the graph finite; so each path's events are replayed on the machine, and each step's expectation is
 * what the machine really does after exactly those events.
 */
const edgeTour = <TMachine extends AnyStateMachine, TExpected>(model: Model<TMachine, TExpected>): ReadonlyArray<ModelPath<EventFromLogic<TMachine>, TExpected>> => {
  type E = EventFromLogic<TMachine>
  type S = SnapshotFrom<TMachine>
  const events: ReadonlyArray<E> = model.samples.map((s) => s.event)
  const samples = new Map(model.samples.map((s) => [JSON.stringify(s.event), s]))
  const shortest = getShortestPaths(model.machine, {
    input: model.input,
    events: () => events,
    serializeState: (snapshot) => model.abstract(snapshot as S)
  })
  const replay = (path: ReadonlyArray<E>): ModelPath<E, TExpected> => {
    let [snapshot] = initialTransition(model.machine, model.input) as [S, unknown]
    const steps = path.map((event): ModelStep<E, TExpected> => {
      const before = stateName(snapshot)
      ;[snapshot] = transition(model.machine, snapshot, event) as [S, unknown]
      const sample = samples.get(JSON.stringify(event))
      const step = { event, sample: sample?.name ?? event.type, before, expected: model.expect(snapshot) }
      return sample?.payload === undefined ? step : { ...step, payload: sample.payload }
    })
    return { description: steps.map((s) => s.sample).join(" → "), steps }
  }
  // `getShortestPaths` starts each path with the initial snapshot under a synthetic `xstate.init` step.
  const prefixes = shortest.map((p) => p.steps.slice(1).map((step) => step.event as E))
  return prefixes.flatMap((prefix) => events.map((event) => replay([...prefix, event])))
}

const DAY = License.days(1)
const HOUR = 3_600_000

/** The instant every sample scenario starts from: 2026-01-01T00:00:00Z. */
export const T0 = Date.UTC(2026, 0, 1)

const at = (days: number): number => T0 + days * DAY

const basePayload = {
  type: "production",
  kid: "00000000000000aa",
  issuedTo: { name: "Model Customer", email: "admin@model.test" },
  expiryWarningDays: 30,
  gracePeriodDays: 10,
  validation: { required: true, intervalHours: 24 }
} as const

/** The licenses of the cap scenario (DESIGN §2 payloads, ready to be signed by a host's test key). */
export const capScenario = {
  /** The cap every sample event addresses. */
  cap: "unattended" as Cap.Cap,
  /** Usage the host should have in place (admitted principals) before replaying; above the renewal's limit. */
  used: 3,
  /** First license: 5 + 20% overage, expires at day 120 with 14 days of grace, blocks all work once limited. */
  first: {
    ...basePayload,
    licenseId: "model-first",
    issuedAt: new Date(at(-1)),
    caps: { unattended: { limit: 5, expiresAt: new Date(at(120)), graceDays: 14, overagePercent: 20, onLimited: "block-all" } }
  } satisfies License.LicensePayload as License.LicensePayload,
  /** Renewal at day 86: limit lowered to 2 (below usage), expires at day 500. */
  renewal: {
    ...basePayload,
    licenseId: "model-renewal",
    issuedAt: new Date(at(85)),
    caps: { unattended: { limit: 2, expiresAt: new Date(at(500)) } }
  } satisfies License.LicensePayload as License.LicensePayload,
  /** A future-dated license, taking over at day 85. */
  next: {
    ...basePayload,
    licenseId: "model-next",
    issuedAt: new Date(at(4)),
    notBefore: new Date(at(85)),
    caps: { unattended: { limit: 8, expiresAt: new Date(at(400)) } }
  } satisfies License.LicensePayload as License.LicensePayload,
  /**
   * A second future-dated license, taking over on day 120 (the day the first license expires) with limit 6 until day
   * 460. Issued the day the zero-limit and cap-less ones were (day 59): a Hub stages it under any license but the
   * renewal, and no file a Hub installs after it is older. (A Hub keeps a staged file when an older one is installed;
   * a cap cannot tell, as its terms are null when a file does not grant it.)
   */
  successor: {
    ...basePayload,
    licenseId: "model-successor",
    issuedAt: new Date(at(59)),
    notBefore: new Date(at(120)),
    caps: { unattended: { limit: 6, expiresAt: new Date(at(460)) } }
  } satisfies License.LicensePayload as License.LicensePayload,
  /** A license that grants the cap nothing (limit 0). */
  zero: {
    ...basePayload,
    licenseId: "model-zero",
    issuedAt: new Date(at(59)),
    caps: { unattended: { limit: 0, expiresAt: new Date(at(500)) } }
  } satisfies License.LicensePayload as License.LicensePayload,
  /** A license that does not mention the cap at all. */
  without: {
    ...basePayload,
    licenseId: "model-without",
    issuedAt: new Date(at(59)),
    caps: { developer: { limit: 3, expiresAt: new Date(at(500)) } }
  } satisfies License.LicensePayload as License.LicensePayload,
  /** When the Portal becomes unreachable in the samples. */
  portalDownFrom: at(30)
} as const

const terms = (payload: License.LicensePayload) => capTerms(payload, capScenario.cap)

/** The sample events of the cap model, relative to the scenario's licenses; some are late or early on purpose (rollback, late delivery). */
export const capSamples: ReadonlyArray<Sample<CapEvent>> = [
  { name: "install first license", event: { type: "LICENSE_INSTALLED", now: T0, license: terms(capScenario.first) }, payload: capScenario.first },
  // Installed inside its warning window (or, when already installed, the same file again).
  { name: "install first license late", event: { type: "LICENSE_INSTALLED", now: at(100), license: terms(capScenario.first) }, payload: capScenario.first },
  { name: "renew with lower limit", event: { type: "LICENSE_INSTALLED", now: at(86), license: terms(capScenario.renewal) }, payload: capScenario.renewal },
  { name: "install zero-limit license", event: { type: "LICENSE_INSTALLED", now: at(60), license: terms(capScenario.zero) }, payload: capScenario.zero },
  { name: "install license without the cap", event: { type: "LICENSE_INSTALLED", now: at(60), license: terms(capScenario.without) }, payload: capScenario.without },
  {
    name: "stage future-dated license",
    event: { type: "LICENSE_STAGED", now: at(5), notBefore: at(85), license: terms(capScenario.next) },
    payload: capScenario.next
  },
  // The successor uploaded the day the future-dated license takes over (renewed by then if it was staged), and during
  // the first license's expiry warning; on a cap the zero-limit or cap-less license left unactivated, either one.
  {
    name: "stage successor license on takeover day",
    event: { type: "LICENSE_STAGED", now: at(85) + 12 * HOUR, notBefore: at(120), license: terms(capScenario.successor) },
    payload: capScenario.successor
  },
  {
    name: "stage successor license in expiry warning",
    event: { type: "LICENSE_STAGED", now: at(95), notBefore: at(120), license: terms(capScenario.successor) },
    payload: capScenario.successor
  },
  { name: "tick day 1", event: { type: "TICK", now: at(1) } },
  { name: "tick end of validation grace", event: { type: "TICK", now: at(40) } },
  { name: "tick a day after renewal", event: { type: "TICK", now: at(87) } },
  { name: "tick expiry warning", event: { type: "TICK", now: at(90) } },
  { name: "tick expiry", event: { type: "TICK", now: at(120) } },
  { name: "tick end of expiry grace", event: { type: "TICK", now: at(134) } },
  { name: "tick renewal expiry", event: { type: "TICK", now: at(500) } },
  { name: "tick after renewal grace", event: { type: "TICK", now: at(520) } },
  { name: "validation fails", event: { type: "VALIDATION_FAILED", now: capScenario.portalDownFrom, failingSince: capScenario.portalDownFrom } },
  { name: "validation succeeds", event: { type: "VALIDATION_SUCCEEDED", now: at(45) } },
  { name: "Portal clock ahead", event: { type: "CLOCK_OBSERVED", now: at(2), serverTime: at(2) + 3 * HOUR } }
]

/** An admission answer: allowed, or the denial code. */
export type AdmissionAnswer = "allowed" | Admission.AdmissionErrorCode

/** What must hold for a cap after each step. */
export interface CapExpectation {
  readonly state: Cap.CapState
  readonly reason: Reason
  readonly graceEndsAt: number | null
  readonly limitedSince: number | null
  readonly nextDeadline: number | null
  readonly skew: number
  readonly limit: number
  /** Acquiring a new principal with `capScenario.used` in use. */
  readonly acquire: AdmissionAnswer
  /** Checking an admitted principal. */
  readonly check: AdmissionAnswer
}

const answer = (decision: Admission.Decision): AdmissionAnswer => Either.match(decision, { onLeft: (e) => e.code, onRight: () => "allowed" })

/** The cap model's expectation for a snapshot, with `used` principals admitted. */
export const capExpectation = (snapshot: CapSnapshot, used: number = capScenario.used): CapExpectation => {
  const view = capView(snapshot, used)
  return {
    state: snapshot.value,
    reason: snapshot.context.reason,
    graceEndsAt: snapshot.context.graceEndsAt,
    limitedSince: snapshot.context.limitedSince,
    nextDeadline: nextDeadline(snapshot.context),
    skew: snapshot.context.skew,
    limit: view.limit,
    acquire: answer(Admission.decide(view, "acquire", false)),
    check: answer(Admission.decide(view, "check", true))
  }
}

/** How the cap model's actor starts: no license, a day before the first install. */
export const capModelInput: CapInput = { cap: capScenario.cap, now: at(-1) }

/** The edge-tour paths of the cap machine. */
export const capModelPaths = (): ReadonlyArray<ModelPath<CapEvent, CapExpectation>> =>
  edgeTour({
    machine: capMachine,
    input: capModelInput,
    samples: capSamples,
    abstract: (s) =>
      JSON.stringify([
        s.value,
        s.context.reason,
        s.context.license?.licenseId ?? null,
        s.context.pending?.license?.licenseId ?? (s.context.pending === null ? null : "none"),
        s.context.failingSince !== null,
        s.context.renewedAt !== null,
        s.context.skew > 0
      ]),
    expect: (s) => capExpectation(s)
  })

/** The installation id of the activation samples. */
export const activationInput: ActivationInput = { installationId: "inst-model-0001" }

const summary: LicenseSummary = {
  licenseId: "model-first",
  type: "production",
  issuedTo: { name: "Model Customer", email: "admin@model.test" },
  installationId: activationInput.installationId
}

/** The sample events of the activation model. */
export const activationSamples: ReadonlyArray<Sample<ActivationEvent>> = [
  { name: "license accepted", event: { type: "LICENSE_ACCEPTED", summary } },
  { name: "license with a bad signature", event: { type: "LICENSE_REJECTED", code: "LICENSE_SIGNATURE_INVALID" } },
  { name: "license for another installation", event: { type: "LICENSE_REJECTED", code: "LICENSE_WRONG_INSTALLATION" } },
  { name: "admin created", event: { type: "ADMIN_CREATED", email: "admin@model.test" } },
  { name: "admin email mismatch", event: { type: "ADMIN_REJECTED", code: "ADMIN_EMAIL_MISMATCH" } },
  { name: "password too weak", event: { type: "ADMIN_REJECTED", code: "PASSWORD_TOO_WEAK" } },
  { name: "activation committed", event: { type: "ACTIVATION_COMMITTED", now: T0 } },
  { name: "activation aborted", event: { type: "ACTIVATION_ABORTED" } }
]

/** What must hold for activation after each step. */
export interface ActivationExpectation {
  readonly state: string
  readonly lastError: string | null
  readonly licenseId: string | null
  readonly adminEmail: string | null
  readonly activatedAt: number | null
}

const activationExpectation = (s: ActivationSnapshot): ActivationExpectation => ({
  state: s.value,
  lastError: s.context.lastError,
  licenseId: s.context.license?.licenseId ?? null,
  adminEmail: s.context.adminEmail,
  activatedAt: s.context.activatedAt
})

/** The edge-tour paths of the activation machine. */
export const activationModelPaths = (): ReadonlyArray<ModelPath<ActivationEvent, ActivationExpectation>> =>
  edgeTour({
    machine: activationMachine,
    input: activationInput,
    samples: activationSamples,
    abstract: (s) => JSON.stringify([s.value, s.context.lastError]),
    expect: activationExpectation
  })

/** How the validation model's actor starts: hourly pings, so the backoff reaches its cap within a few failures. */
export const validationInput: ValidationInput = { intervalHours: 1, now: T0 }

/** The sample events of the validation model. */
export const validationSamples: ReadonlyArray<Sample<ValidationEvent>> = [
  { name: "ping due", event: { type: "PING_DUE", now: T0 + 1_000 } },
  { name: "ping valid", event: { type: "PING_SUCCEEDED", now: T0 + 2_000, status: "valid", serverTime: T0 + 2_500 } },
  { name: "ping revoked", event: { type: "PING_SUCCEEDED", now: T0 + 3_000, status: "revoked", serverTime: T0 + 3_000 } },
  { name: "ping failed", event: { type: "PING_FAILED", now: T0 + 4_000, error: "connect ECONNREFUSED" } }
]

/** What must hold for validation after each step. */
export interface ValidationExpectation {
  readonly state: string
  readonly lastSuccessAt: number | null
  readonly failingSince: number | null
  readonly consecutiveFailures: number
  readonly nextAttemptAt: number | null
  readonly lastStatus: string | null
  readonly lastError: string | null
}

const validationExpectation = (s: ValidationSnapshot): ValidationExpectation => ({
  state: s.value,
  lastSuccessAt: s.context.lastSuccessAt,
  failingSince: s.context.failingSince,
  consecutiveFailures: s.context.consecutiveFailures,
  nextAttemptAt: s.context.nextAttemptAt,
  lastStatus: s.context.lastStatus,
  lastError: s.context.lastError
})

/** The edge-tour paths of the validation machine; the backoff is followed until it reaches the interval. */
export const validationModelPaths = (): ReadonlyArray<ModelPath<ValidationEvent, ValidationExpectation>> =>
  edgeTour({
    machine: validationMachine,
    input: validationInput,
    samples: validationSamples,
    abstract: (s) => JSON.stringify([s.value, Math.min(s.context.consecutiveFailures, 8), s.context.lastStatus, s.context.lastSuccessAt !== null]),
    expect: validationExpectation
  })

/** How the lease model's actor starts: a principal not yet admitted to a cap without a lease, a second before T0. */
export const leaseInput: LeaseInput = { now: T0 - 1_000 }

const SECOND = 1_000

/**
 * The sample events of the lease model: a 60 s lease with a 30 s revive window, a principal admitted at 1 s (its lease
 * ends at 61 s), heartbeats before, after and well after the end, with a free slot or none; later, the lease changed
 * and turned off, and a new admission. Times only move forward on a Hub, so late samples reach what early ones cannot.
 */
export const leaseSamples: ReadonlyArray<Sample<LeaseEvent>> = [
  { name: "set lease 60 s, revive 30 s", event: { type: "LEASE_SET", now: T0, leaseSeconds: 60, reviveSeconds: 30 } },
  { name: "turn the lease off", event: { type: "LEASE_OFF", now: T0 + 2 * SECOND } },
  { name: "admit, a slot free", event: { type: "ADMIT", now: T0 + SECOND, slotFree: true } },
  { name: "admit, cap full", event: { type: "ADMIT", now: T0 + SECOND, slotFree: false } },
  { name: "heartbeat at 30 s", event: { type: "HEARTBEAT", now: T0 + 30 * SECOND, slotFree: true } },
  { name: "tick at 59 s", event: { type: "TICK", now: T0 + 59 * SECOND } },
  { name: "tick at 95 s", event: { type: "TICK", now: T0 + 95 * SECOND } },
  { name: "heartbeat at 71 s, a slot free", event: { type: "HEARTBEAT", now: T0 + 71 * SECOND, slotFree: true } },
  { name: "heartbeat at 71 s, cap full", event: { type: "HEARTBEAT", now: T0 + 71 * SECOND, slotFree: false } },
  { name: "change the lease at 100 s to 120 s, no revive", event: { type: "LEASE_SET", now: T0 + 100 * SECOND, leaseSeconds: 120, reviveSeconds: 0 } },
  { name: "turn the lease off at 110 s", event: { type: "LEASE_OFF", now: T0 + 110 * SECOND } },
  { name: "admit at 120 s, a slot free", event: { type: "ADMIT", now: T0 + 120 * SECOND, slotFree: true } },
  { name: "heartbeat at 150 s", event: { type: "HEARTBEAT", now: T0 + 150 * SECOND, slotFree: true } },
  { name: "release", event: { type: "RELEASE", now: T0 + 160 * SECOND } }
]

/** What must hold for the principal after each step. */
export interface LeaseExpectation {
  readonly state: "unadmitted" | "active" | "expired"
  readonly lastAnswer: LeaseAnswer | null
  readonly culledAt: number | null
  /** When the principal will be culled unless it heartbeats; null when it holds no running lease. */
  readonly deadline: number | null
}

/** The lease model's expectation for a snapshot. */
export const leaseExpectation = (s: LeaseSnapshot): LeaseExpectation => ({
  state: s.value,
  lastAnswer: s.context.lastAnswer,
  culledAt: s.value === "expired" ? s.context.culledAt : null,
  deadline: leaseDeadline(s)
})

/** The edge-tour paths of the lease machine. */
export const leaseModelPaths = (): ReadonlyArray<ModelPath<LeaseEvent, LeaseExpectation>> =>
  edgeTour({
    machine: leaseMachine,
    input: leaseInput,
    samples: leaseSamples,
    abstract: (s) => JSON.stringify([s.value, s.context.leaseMs !== null, s.context.lastAnswer]),
    expect: leaseExpectation
  })

/** Covered and total counts, and what is missing. */
export interface CoverageCount {
  readonly covered: number
  readonly total: number
  readonly missing: ReadonlyArray<string>
}

/** Coverage of a machine by replayed steps: its states, its transitions, and its (state, event) pairs over every event it knows. */
export interface Coverage {
  readonly machine: string
  readonly states: CoverageCount
  /** State changes drawn in the machine's diagram (including `always` ones), as `from → to`. */
  readonly transitions: CoverageCount
  readonly pairs: CoverageCount
  /** e.g. `cap: states 6/6, transitions 30/30, (state, event) pairs 42/42`. */
  readonly summary: string
}

/** Tracks which states, transitions and (state, event) pairs a replay has exercised. */
export interface CoverageTracker {
  /** Record one step: the state before, the event sent, the state after. */
  readonly visit: (before: string, eventType: string, after: string) => void
  readonly report: () => Coverage
}

/** A coverage tracker for a machine's top-level states, its diagram's transitions and every event type it accepts anywhere. */
export const coverageTracker = (machine: AnyStateMachine): CoverageTracker => {
  const states = Object.keys(machine.root.states)
  const eventTypes = machine.root.events.filter((e) => !e.startsWith("xstate."))
  const pairKey = (state: string, event: string): string => `${state} × ${event}`
  const transitionKey = (from: string, to: string): string => `${from} → ${to}`
  const allPairs = states.flatMap((s) => eventTypes.map((e) => pairKey(s, e)))
  const diagram = describeMachine(machine)
  const allTransitions = [...new Set(diagram.edges.filter((e) => e.from !== e.to).map((e) => transitionKey(e.from, e.to)))]
  const seenStates = new Set<string>(diagram.initial === null ? [] : [diagram.initial])
  const seenTransitions = new Set<string>()
  const seenPairs = new Set<string>()
  const count = (all: ReadonlyArray<string>, seen: ReadonlySet<string>): CoverageCount => ({
    covered: all.filter((x) => seen.has(x)).length,
    total: all.length,
    missing: all.filter((x) => !seen.has(x))
  })
  return {
    visit: (before, eventType, after) => {
      seenStates.add(before)
      seenStates.add(after)
      seenPairs.add(pairKey(before, eventType))
      if (before !== after) seenTransitions.add(transitionKey(before, after))
    },
    report: () => {
      const s = count(states, seenStates)
      const t = count(allTransitions, seenTransitions)
      const p = count(allPairs, seenPairs)
      return {
        machine: machine.id,
        states: s,
        transitions: t,
        pairs: p,
        summary: `${machine.id}: states ${s.covered}/${s.total}, transitions ${t.covered}/${t.total}, (state, event) pairs ${p.covered}/${p.total}`
      }
    }
  }
}
