// Model-based tests: the edge tour of every machine, replayed on fresh actors and checked step by step against independent oracles.
import { describe, expect, it } from "@effect/vitest"
import { activationMachine, capMachine, validationMachine } from "@exekra/machines"
import type { ActivationEvent, ValidationEvent } from "@exekra/machines"
import {
  activationInput,
  activationModelPaths,
  capExpectation,
  capModelInput,
  capModelPaths,
  capSamples,
  capScenario,
  coverageTracker,
  validationInput,
  validationModelPaths,
  type ActivationExpectation,
  type ValidationExpectation
} from "@exekra/machines/testing"
import { createActor } from "xstate"
import * as Oracle from "./capOracle.js"

describe("cap machine model", () => {
  const paths = capModelPaths()

  it("replays every edge-tour path: state, reason, deadline and admission match the oracle at every step", () => {
    const coverage = coverageTracker(capMachine)
    for (const path of paths) {
      const actor = createActor(capMachine, { input: capModelInput }).start()
      let world = Oracle.begin(capModelInput)
      for (const [i, step] of path.steps.entries()) {
        const before = actor.getSnapshot().value
        actor.send(step.event)
        world = Oracle.step(world, step.event)
        const snapshot = actor.getSnapshot()
        coverage.visit(before, step.event.type, snapshot.value)
        const actual = capExpectation(snapshot, capScenario.used)
        expect(actual, `${path.description} (step ${i + 1})`).toEqual(Oracle.expectation(world, capScenario.used))
        // What the kit hands to hosts is what a fresh actor does.
        expect(actual, `${path.description} (step ${i + 1})`).toEqual(step.expected)
      }
      actor.stop()
    }
    const report = coverage.report()
    console.log(`${report.summary}; ${paths.length} edge-tour paths over ${paths.length / capSamples.length} model states`)
    expect(report.states.missing).toEqual([])
    expect(report.transitions.missing).toEqual([])
    expect(report.pairs.missing).toEqual([])
  })

  it("exercises the rules the issue names", () => {
    const last = (p: (typeof paths)[number]) => p.steps[p.steps.length - 1]?.expected
    const reached = paths.map(last)
    // Limit lowered below usage: new principals refused with CAP_LIMIT_REACHED, admitted ones keep working.
    expect(reached).toContainEqual(expect.objectContaining({ state: "renewed", limit: 2, acquire: "CAP_LIMIT_REACHED", check: "allowed" }))
    // Limited with block-all stops admitted principals too.
    expect(reached).toContainEqual(expect.objectContaining({ state: "limited", acquire: "CAP_LIMITED", check: "CAP_LIMITED" }))
    expect(reached).toContainEqual(expect.objectContaining({ state: "grace", reason: "portal-unreachable" }))
    expect(reached).toContainEqual(expect.objectContaining({ state: "limited", reason: "portal-unreachable" }))
    expect(reached).toContainEqual(expect.objectContaining({ state: "grace", reason: "expired" }))
    // A clock set back is reported, and never extends the license.
    expect(reached.some((e) => e !== undefined && e.skew > 0)).toBe(true)
  })
})

// Activation, restated as a table: (state, event) → next state and what is recorded.
const activationOracle = (before: ActivationExpectation, event: ActivationEvent): ActivationExpectation => {
  const reset = { licenseId: null, adminEmail: null }
  switch (`${before.state}/${event.type}`) {
    case "unactivated/LICENSE_ACCEPTED":
      return { ...before, state: "licenseVerified", licenseId: event.type === "LICENSE_ACCEPTED" ? event.summary.licenseId : null, lastError: null }
    case "unactivated/LICENSE_REJECTED":
      return { ...before, ...reset, lastError: event.type === "LICENSE_REJECTED" ? event.code : null }
    case "licenseVerified/ADMIN_CREATED":
      return { ...before, state: "adminCreated", adminEmail: event.type === "ADMIN_CREATED" ? event.email : null }
    case "licenseVerified/ADMIN_REJECTED":
      return { ...before, ...reset, state: "unactivated", lastError: event.type === "ADMIN_REJECTED" ? event.code : null }
    case "licenseVerified/ACTIVATION_ABORTED":
    case "adminCreated/ACTIVATION_ABORTED":
      return { ...before, ...reset, state: "unactivated" }
    case "adminCreated/ACTIVATION_COMMITTED":
      return { ...before, state: "activated", activatedAt: event.type === "ACTIVATION_COMMITTED" ? event.now : null, lastError: null }
    case "activated/LICENSE_ACCEPTED":
    case "activated/LICENSE_REJECTED":
      return { ...before, lastError: "ALREADY_ACTIVATED" }
    default:
      return before
  }
}

describe("activation machine model", () => {
  it("replays every edge-tour path against the activation table", () => {
    const paths = activationModelPaths()
    const coverage = coverageTracker(activationMachine)
    for (const path of paths) {
      const actor = createActor(activationMachine, { input: activationInput }).start()
      let expected: ActivationExpectation = { state: "unactivated", lastError: null, licenseId: null, adminEmail: null, activatedAt: null }
      for (const step of path.steps) {
        const before = actor.getSnapshot().value
        actor.send(step.event)
        expected = activationOracle(expected, step.event)
        const s = actor.getSnapshot()
        coverage.visit(before, step.event.type, s.value)
        const actual = { state: s.value, lastError: s.context.lastError, licenseId: s.context.license?.licenseId ?? null, adminEmail: s.context.adminEmail, activatedAt: s.context.activatedAt }
        expect(actual, path.description).toEqual(expected)
        expect(actual, path.description).toEqual(step.expected)
      }
    }
    const report = coverage.report()
    console.log(`${report.summary}; ${paths.length} edge-tour paths`)
    expect(report.states.missing).toEqual([])
    expect(report.transitions.missing).toEqual([])
    expect(report.pairs.missing).toEqual([])
  })
})

// Validation restated: the retry delays are listed, not computed, for an hourly interval.
const RETRY_MINUTES = [1, 2, 4, 8, 16, 32, 60]
const validationOracle = (before: ValidationExpectation, event: ValidationEvent): ValidationExpectation => {
  const inFlight = before.state === "pinging"
  if (event.type === "PING_DUE") return inFlight ? before : { ...before, state: "pinging", nextAttemptAt: null }
  if (!inFlight) return before
  if (event.type === "PING_SUCCEEDED") {
    return { ...before, state: "healthy", lastSuccessAt: event.now, failingSince: null, consecutiveFailures: 0, nextAttemptAt: event.now + 3_600_000, lastStatus: event.status }
  }
  const failures = before.consecutiveFailures + 1
  const minutes = RETRY_MINUTES[Math.min(failures, RETRY_MINUTES.length) - 1] ?? 60
  return {
    ...before,
    state: "failing",
    failingSince: before.failingSince ?? event.now,
    consecutiveFailures: failures,
    nextAttemptAt: event.now + minutes * 60_000,
    lastError: event.error
  }
}

describe("validation machine model", () => {
  it("replays every edge-tour path against the backoff table", () => {
    const paths = validationModelPaths()
    const coverage = coverageTracker(validationMachine)
    let longestBackoff = 0
    for (const path of paths) {
      const actor = createActor(validationMachine, { input: validationInput }).start()
      let expected: ValidationExpectation = {
        state: "idle",
        lastSuccessAt: null,
        failingSince: null,
        consecutiveFailures: 0,
        nextAttemptAt: validationInput.now,
        lastStatus: null,
        lastError: null
      }
      for (const step of path.steps) {
        const before = actor.getSnapshot().value
        actor.send(step.event)
        expected = validationOracle(expected, step.event)
        const s = actor.getSnapshot()
        coverage.visit(before, step.event.type, s.value)
        const { intervalHours: _, lastServerTime: __, ...rest } = s.context
        expect({ state: s.value, ...rest }, path.description).toEqual(expected)
        expect({ state: s.value, ...rest }, path.description).toEqual(step.expected)
        if (before === "pinging" && step.event.type === "PING_FAILED" && s.context.nextAttemptAt !== null) longestBackoff = Math.max(longestBackoff, s.context.nextAttemptAt - step.event.now)
      }
    }
    const report = coverage.report()
    console.log(`${report.summary}; ${paths.length} edge-tour paths`)
    expect(report.states.missing).toEqual([])
    expect(report.transitions.missing).toEqual([])
    expect(report.pairs.missing).toEqual([])
    // The tour follows the backoff all the way to its cap.
    expect(longestBackoff).toBe(3_600_000)
  })
})
