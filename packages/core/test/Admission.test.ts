// The admission decision every adapter shares: each operation in each cap state, at, below and above the ceiling, with exact codes and messages.
import { describe, expect, it } from "@effect/vitest"
import { Admission, Cap } from "@exekra/core"
import { Either, ParseResult, Schema } from "effect"

const view = (overrides: Partial<Admission.CapView> = {}): Admission.CapView => ({
  cap: "unattended",
  state: "active",
  limit: 10,
  ceiling: 10,
  used: 3,
  onLimited: "refuse-new",
  ...overrides
})

/** A decision as a caller reads it: allowed, or the error's code, cap and message. */
const outcome = (decision: Admission.Decision) =>
  Either.match(decision, {
    onRight: () => "allowed" as const,
    onLeft: (e) => ({ tag: e._tag, code: e.code, cap: e.cap, message: e.message })
  })

const denied = (code: Admission.AdmissionErrorCode, cap: Cap.Cap, message: string) => ({ tag: "AdmissionError", code, cap, message })

// The states in which the license is in force: only `unactivated` and `limited` change the decision.
const inForce = ["active", "renewed", "expiring", "grace"] as const

describe("Admission.decide", () => {
  describe("release", () => {
    it.each(Cap.states)("is allowed in state %s, admitted or not, even over the ceiling and under block-all", (state) => {
      for (const admitted of [true, false]) {
        expect(outcome(Admission.decide(view({ state, used: 12, ceiling: 10, onLimited: "block-all" }), "release", admitted))).toBe("allowed")
      }
    })

    it("is allowed for a cap that is not granted at all", () => {
      expect(outcome(Admission.decide(view({ state: "unactivated", limit: 0, ceiling: 0, used: 0 }), "release", false))).toBe("allowed")
    })
  })

  describe("an unactivated cap", () => {
    it.each([
      ["unattended", "Unattended Runner capacity is not licensed on this Hub. Activate or renew with a license that includes it."],
      ["developer", "Developer seat capacity is not licensed on this Hub. Activate or renew with a license that includes it."],
      ["attended", "Attended user capacity is not licensed on this Hub. Activate or renew with a license that includes it."]
    ] as const)("refuses acquire and check of %s with CAP_UNACTIVATED, admitted or not", (cap, message) => {
      const v = view({ cap, state: "unactivated", limit: 0, ceiling: 0, used: 0 })
      for (const operation of ["acquire", "check"] as const) {
        for (const admitted of [true, false]) {
          expect(outcome(Admission.decide(v, operation, admitted))).toEqual(denied("CAP_UNACTIVATED", cap, message))
        }
      }
    })

    it("refuses even with room under a stale ceiling", () => {
      const v = view({ state: "unactivated", limit: 10, ceiling: 10, used: 0 })
      expect(outcome(Admission.decide(v, "acquire", false))).toMatchObject({ code: "CAP_UNACTIVATED" })
    })
  })

  describe("check", () => {
    it.each([...inForce, "limited"] as const)("allows an admitted principal in state %s under refuse-new", (state) => {
      expect(outcome(Admission.decide(view({ state, onLimited: "refuse-new" }), "check", true))).toBe("allowed")
    })

    it.each(inForce)("allows an admitted principal in state %s under block-all, even over the ceiling", (state) => {
      expect(outcome(Admission.decide(view({ state, onLimited: "block-all", used: 12, ceiling: 10 }), "check", true))).toBe("allowed")
    })

    it.each([
      ["unattended", "This Runner is not admitted. Register it first (Runners: 3 of 10 in use)."],
      ["developer", "This Developer seat is not admitted. Register it first (Developer seats: 3 of 10 in use)."],
      ["attended", "This Attended user is not admitted. Register it first (Attended users: 3 of 10 in use)."]
    ] as const)("refuses a %s principal that is not admitted with PRINCIPAL_NOT_ADMITTED", (cap, message) => {
      expect(outcome(Admission.decide(view({ cap }), "check", false))).toEqual(denied("PRINCIPAL_NOT_ADMITTED", cap, message))
    })

    it.each([...inForce, "limited"] as const)("refuses a principal that is not admitted in state %s, even with room", (state) => {
      for (const onLimited of ["refuse-new", "block-all"] as const) {
        const v = view({ state, onLimited, limit: 5, ceiling: 7, used: 1 })
        expect(outcome(Admission.decide(v, "check", false))).toEqual(
          denied("PRINCIPAL_NOT_ADMITTED", "unattended", "This Runner is not admitted. Register it first (Runners: 1 of 5 in use).")
        )
      }
    })

    it.each([
      ["unattended", "Unattended Runner"],
      ["developer", "Developer seat"],
      ["attended", "Attended user"]
    ] as const)("refuses an admitted %s principal with CAP_LIMITED when the limited cap blocks all work", (cap, title) => {
      expect(outcome(Admission.decide(view({ cap, state: "limited", onLimited: "block-all" }), "check", true))).toEqual(
        denied(
          "CAP_LIMITED",
          cap,
          `${title} capacity is limited because its grace period has ended, and this license blocks all work then. ` +
            "Upload a renewed license or restore validation with the Customer Portal."
        )
      )
    })
  })

  describe("acquire", () => {
    it.each([...inForce, "limited"] as const)("is idempotent for an admitted principal in state %s, even at or over the ceiling", (state) => {
      for (const onLimited of ["refuse-new", "block-all"] as const) {
        for (const used of [9, 10, 11]) {
          expect(outcome(Admission.decide(view({ state, onLimited, used, ceiling: 10 }), "acquire", true))).toBe("allowed")
        }
      }
    })

    it.each(inForce)("admits a new principal in state %s below the ceiling", (state) => {
      for (const used of [0, 9]) {
        expect(outcome(Admission.decide(view({ state, used, limit: 10, ceiling: 10 }), "acquire", false))).toBe("allowed")
      }
    })

    it.each(inForce)("refuses a new principal in state %s at or above the ceiling with CAP_LIMIT_REACHED", (state) => {
      expect(outcome(Admission.decide(view({ state, used: 10, limit: 10, ceiling: 10 }), "acquire", false))).toEqual(
        denied("CAP_LIMIT_REACHED", "unattended", "Unattended Runner limit reached (10 of 10). Deregister a Runner or renew with a higher limit.")
      )
      expect(outcome(Admission.decide(view({ state, used: 11, limit: 10, ceiling: 10 }), "acquire", false))).toEqual(
        denied("CAP_LIMIT_REACHED", "unattended", "Unattended Runner limit reached (11 of 10). Deregister a Runner or renew with a higher limit.")
      )
    })

    it("admits into the overage above the limit and refuses at the ceiling, reporting usage against the limit", () => {
      const withOverage = (used: number) => view({ cap: "developer", limit: 10, ceiling: 12, used })
      expect(outcome(Admission.decide(withOverage(10), "acquire", false))).toBe("allowed")
      expect(outcome(Admission.decide(withOverage(11), "acquire", false))).toBe("allowed")
      expect(outcome(Admission.decide(withOverage(12), "acquire", false))).toEqual(
        denied(
          "CAP_LIMIT_REACHED",
          "developer",
          "Developer seat limit reached (12 of 10). Remove or deactivate a Developer seat or renew with a higher limit."
        )
      )
    })

    it("refuses a new principal when the ceiling is zero", () => {
      expect(outcome(Admission.decide(view({ cap: "attended", limit: 0, ceiling: 0, used: 0 }), "acquire", false))).toEqual(
        denied(
          "CAP_LIMIT_REACHED",
          "attended",
          "Attended user limit reached (0 of 0). Remove or deactivate an Attended user or renew with a higher limit."
        )
      )
    })

    it.each([
      ["unattended", "Unattended Runner capacity is limited because its grace period has ended; no new Runners can be admitted."],
      ["developer", "Developer seat capacity is limited because its grace period has ended; no new Developer seats can be admitted."],
      ["attended", "Attended user capacity is limited because its grace period has ended; no new Attended users can be admitted."]
    ] as const)("refuses a new %s principal of a limited cap with CAP_LIMITED, even with room", (cap, sentence) => {
      for (const onLimited of ["refuse-new", "block-all"] as const) {
        expect(outcome(Admission.decide(view({ cap, state: "limited", onLimited, used: 0 }), "acquire", false))).toEqual(
          denied("CAP_LIMITED", cap, `${sentence} Upload a renewed license or restore validation with the Customer Portal.`)
        )
      }
    })
  })

  it("an AdmissionError is a tagged error that carries its code, cap and message", () => {
    const error = Either.flip(Admission.decide(view({ used: 10 }), "acquire", false))
    expect(Either.isRight(error)).toBe(true)
    if (Either.isRight(error)) {
      expect(error.right).toBeInstanceOf(Admission.AdmissionError)
      expect(error.right._tag).toBe("AdmissionError")
      expect(Schema.is(Admission.AdmissionError)(error.right)).toBe(true)
    }
  })
})

describe("Admission.limitReachedMessage", () => {
  it.each([
    ["unattended", "Unattended Runner limit reached (10 of 10). Deregister a Runner or renew with a higher limit."],
    ["developer", "Developer seat limit reached (10 of 10). Remove or deactivate a Developer seat or renew with a higher limit."],
    ["attended", "Attended user limit reached (10 of 10). Remove or deactivate an Attended user or renew with a higher limit."]
  ] as const)("names the %s unit and how to free one", (cap, message) => {
    expect(Admission.limitReachedMessage({ cap, used: 10, limit: 10 })).toBe(message)
  })
})

describe("Admission.PrincipalId", () => {
  const decode = Schema.decodeUnknownEither(Admission.PrincipalId)
  const messages = (u: unknown) =>
    Either.match(decode(u), {
      onRight: () => [],
      onLeft: (e) => ParseResult.ArrayFormatter.formatErrorSync(e).map((issue) => issue.message)
    })

  it.each([
    "a",
    "x".repeat(256),
    "runner-01",
    "alice@acme.example",
    "ABC.def_ghi:jkl@mno+pqr-stu",
    "0123456789"
  ])("accepts %s", (id) => {
    expect(decode(id)).toEqual(Either.right(id))
    expect(Admission.principalIdPattern.test(id)).toBe(true)
  })

  it.each([
    ["empty", ""],
    ["257 characters", "x".repeat(257)],
    ["a slash", "runner/1"],
    ["a space", "runner 1"],
    ["a question mark", "runner?"],
    ["a percent sign", "runner%20"],
    ["a non-ASCII letter", "rünner"],
    ["a trailing newline", "runner\n"]
  ])("refuses an id with %s, saying what an id may contain", (_, id) => {
    expect(Admission.principalIdPattern.test(id)).toBe(false)
    expect(messages(id)).toEqual(["a principal id is 1 to 256 letters, digits or . _ : @ + -"])
  })
})
