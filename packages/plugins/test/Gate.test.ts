// The shared gate: option validation, frozen config, the synchronous check path, outcome mapping and the default problem.
import { Admission, LicenseStore } from "@exekra/core"
import { Gate, PluginOptionsError, PrincipalError } from "@exekra/plugins"
import { Problem } from "@exekra/server/http/index"
import { Effect, Either, Schema } from "effect"
import { describe, expect, it } from "vitest"

/** An Enforcer double: answers as told, counting calls. */
const fakeEnforcer = (answers: {
  readonly check?: () => Admission.Decision
  readonly acquire?: () => Effect.Effect<Admission.Acquired, Admission.AdmissionError | LicenseStore.StoreError>
}) => {
  const calls: Array<string> = []
  const enforcer: Admission.Enforcer = {
    check: (cap, id) => {
      calls.push(`check ${cap} ${id}`)
      return answers.check?.() ?? Either.void
    },
    acquire: (cap, id, options) => {
      calls.push(`acquire ${cap} ${id} ${options?.name ?? "-"} ${options?.actor ?? "-"}`)
      return (
        answers.acquire?.() ??
        Effect.succeed({ principal: { cap, id, name: options?.name ?? null, status: "active", admittedAt: 0 }, created: true, used: 1 } satisfies Admission.Acquired)
      )
    },
    release: (cap, id) => {
      calls.push(`release ${cap} ${id}`)
      return Effect.succeed(true)
    },
    deactivate: () => Effect.succeed(true)
  }
  return { enforcer, calls }
}

const limitReached = new Admission.AdmissionError({ code: "CAP_LIMIT_REACHED", cap: "unattended", message: "Unattended Runner limit reached (2 of 2). Deregister a Runner or renew with a higher limit." })

describe("Gate.make", () => {
  it("lists every problem with the options in one typed error", () => {
    const result = Gate.make("test", { enforcer: {} as Admission.Enforcer, cap: "seats" as "developer", operation: "grant" as "acquire", principal: "x-user" as never, onDenied: 3, actor: "", stray: true } as never)
    expect(Either.isLeft(result)).toBe(true)
    const error = Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
    expect(error).toBeInstanceOf(PluginOptionsError)
    expect(error.code).toBe("PLUGIN_OPTIONS_INVALID")
    for (const part of ['unknown option "stray"', "enforcer must implement", 'cap must be one of unattended, developer, attended, got "seats"', 'operation must be one of acquire, release, check, heartbeat, got "grant"', "principal must be a function", "onDenied must be a function", "actor must be a non-empty string"]) {
      expect(error.message).toContain(part)
    }
  })

  it("refuses a heartbeat gate over an enforcer that has no heartbeat (no leases), when the gate is made", () => {
    const { enforcer } = fakeEnforcer({})
    expect(() => Gate.unsafeMake("test", { enforcer, cap: "unattended", operation: "heartbeat", principal: () => "r1" })).toThrow(
      /operation heartbeat needs an enforcer with heartbeat/
    )
  })

  it("takes a hub in place of an enforcer and runs on the hub's Enforcer; exactly one of the two", async () => {
    const { enforcer, calls } = fakeEnforcer({})
    const gate = Gate.unsafeMake("test", { hub: { enforcer }, cap: "unattended", operation: "acquire", principal: () => "r1" })
    expect(gate.config.enforcer).toBe(enforcer)
    expect(await gate.run(undefined)).toMatchObject({ _tag: "Allowed", admitted: { operation: "acquire", principal: "r1" } })
    expect(calls).toEqual(["acquire unattended r1 - plugin:test"])
    const both = { enforcer, hub: { enforcer }, cap: "unattended", operation: "check", principal: () => "r1" } as const
    // @ts-expect-error: the options type admits enforcer or hub, not both.
    expect(() => Gate.unsafeMake("test", both)).toThrow(/give either enforcer or hub, not both/)
    // @ts-expect-error: and not neither.
    expect(() => Gate.unsafeMake("test", { cap: "unattended", operation: "check", principal: () => "r1" })).toThrow(/enforcer must implement .* or pass hub/)
    expect(() => Gate.unsafeMake("test", { hub: {} as Gate.Hub, cap: "unattended", operation: "check", principal: () => "r1" })).toThrow(/hub must be the hub from createHub/)
  })

  it("freezes a copy of the options: the caller's object is neither frozen nor able to change the gate", () => {
    const { enforcer } = fakeEnforcer({})
    const options = { enforcer, cap: "developer" as "developer" | "attended", operation: "check" as const, principal: () => "u1" }
    const gate = Gate.unsafeMake("test", options)
    options.cap = "attended"
    expect(Object.isFrozen(options)).toBe(false)
    expect(Object.isFrozen(gate.config)).toBe(true)
    expect(gate.config.cap).toBe("developer")
    expect(gate.config.actor).toBe("plugin:test")
  })
})

describe("Gate.run", () => {
  it("answers check synchronously (no promise on the hot path), allowed or denied", () => {
    let decision: Admission.Decision = Either.void
    const { enforcer, calls } = fakeEnforcer({ check: () => decision })
    const gate = Gate.unsafeMake("test", { enforcer, cap: "unattended", operation: "check", principal: (r: { readonly id: string }) => r.id })
    const allowed = gate.run({ id: "r1" })
    expect(allowed).not.toBeInstanceOf(Promise)
    expect(allowed).toEqual({ _tag: "Allowed", admitted: { operation: "check", cap: "unattended", principal: "r1" } })
    decision = Either.left(limitReached)
    expect(gate.run({ id: "r2" })).toEqual({ _tag: "Denied", error: limitReached })
    expect(calls).toEqual(["check unattended r1", "check unattended r2"])
  })

  it("runs acquire against the Enforcer with the principal's name and the audit actor", async () => {
    const { enforcer, calls } = fakeEnforcer({})
    const gate = Gate.unsafeMake("test", { enforcer, cap: "developer", operation: "acquire", actor: "studio", principal: () => ({ id: "dev@acme.example", name: "Dev One" }) })
    const outcome = gate.run(null)
    expect(outcome).toBeInstanceOf(Promise)
    expect(await outcome).toEqual({ _tag: "Allowed", admitted: { operation: "acquire", cap: "developer", principal: "dev@acme.example", created: true, used: 1 } })
    expect(calls).toEqual(["acquire developer dev@acme.example Dev One studio"])
  })

  it("maps denials, store failures, defects, throws and bad principals to outcomes, never rejecting", async () => {
    const storeDown = new LicenseStore.StoreError({ code: "STORE_UNAVAILABLE", message: "database is locked" })
    const cases: ReadonlyArray<readonly [Gate.Options<unknown, never>, (o: Gate.Outcome) => void]> = [
      [
        { enforcer: fakeEnforcer({ acquire: () => Effect.fail(limitReached) }).enforcer, cap: "unattended", operation: "acquire", principal: () => "r1" },
        (o) => expect(o).toEqual({ _tag: "Denied", error: limitReached })
      ],
      [
        { enforcer: fakeEnforcer({ acquire: () => Effect.fail(storeDown) }).enforcer, cap: "unattended", operation: "acquire", principal: () => "r1" },
        (o) => expect(o).toEqual({ _tag: "Failed", error: storeDown })
      ],
      [
        { enforcer: fakeEnforcer({ acquire: () => Effect.die(new Error("bug")) }).enforcer, cap: "unattended", operation: "acquire", principal: () => "r1" },
        (o) => expect(o).toMatchObject({ _tag: "Failed", error: { message: "bug" } })
      ],
      [
        {
          enforcer: fakeEnforcer({
            check: () => {
              throw new Error("check bug")
            }
          }).enforcer,
          cap: "unattended",
          operation: "check",
          principal: () => "r1"
        },
        (o) => expect(o).toMatchObject({ _tag: "Failed", error: { message: "check bug" } })
      ],
      [
        {
          enforcer: fakeEnforcer({}).enforcer,
          cap: "unattended",
          operation: "check",
          principal: () => {
            throw "a string"
          }
        },
        (o) => expect(o).toMatchObject({ _tag: "Failed", error: { message: "License gate failed: a string", cause: "a string" } })
      ],
      [{ enforcer: fakeEnforcer({}).enforcer, cap: "unattended", operation: "check", principal: () => Promise.reject(new Error("async")) }, (o) => expect(o).toMatchObject({ _tag: "Failed", error: { message: "async" } })],
      [{ enforcer: fakeEnforcer({}).enforcer, cap: "unattended", operation: "check", principal: () => undefined }, (o) => expect(o).toMatchObject({ _tag: "Failed", error: { code: "PRINCIPAL_MISSING" } })],
      [{ enforcer: fakeEnforcer({}).enforcer, cap: "unattended", operation: "check", principal: () => "a b" }, (o) => expect(o).toMatchObject({ _tag: "Failed", error: { code: "PRINCIPAL_INVALID" } })],
      [{ enforcer: fakeEnforcer({}).enforcer, cap: "unattended", operation: "check", principal: () => "x".repeat(257) }, (o) => expect(o).toMatchObject({ _tag: "Failed", error: { code: "PRINCIPAL_INVALID" } })]
    ]
    for (const [options, expectation] of cases) expectation(await Gate.unsafeMake("test", options).run(undefined))
  })

  it("PrincipalError carries statusCode 400 for the hosts' error handlers", () => {
    const error = Either.getLeft(Gate.principalOf(null)).pipe((o) => (o._tag === "Some" ? o.value : undefined))
    expect(error).toBeInstanceOf(PrincipalError)
    expect(error).toMatchObject({ code: "PRINCIPAL_MISSING", statusCode: 400 })
    expect(error).toBeInstanceOf(Error)
  })
})

describe("Gate.checkNow", () => {
  it("is the decision operate makes for check, without an Effect: admitted or the Enforcer's denial", async () => {
    let answer: Admission.Decision = Either.void
    const { enforcer, calls } = fakeEnforcer({ check: () => answer })
    const config = Either.getOrThrow(Gate.validate("test", { enforcer, cap: "unattended", operation: "check", principal: () => "r1" }))
    const principal = { id: "r1", name: undefined }
    expect(Gate.checkNow(config, principal)).toEqual(Either.right({ operation: "check", cap: "unattended", principal: "r1" }))
    expect(Either.right(await Effect.runPromise(Gate.operate(config, principal)))).toEqual(Gate.checkNow(config, principal))
    answer = Either.left(limitReached)
    expect(Gate.checkNow(config, principal)).toEqual(Either.left(limitReached))
    expect(await Effect.runPromise(Effect.either(Gate.operate(config, principal)))).toEqual(Either.left(limitReached))
    // Every answer came from the Enforcer's check: no decision of the gate's own.
    expect(calls).toEqual(Array.from({ length: 5 }, () => "check unattended r1"))
  })
})

describe("Gate.problem", () => {
  it("is the problem the Hub API answers for the same denial (type, title, status, code, detail)", () => {
    for (const code of Admission.AdmissionErrorCode.literals) {
      const error = new Admission.AdmissionError({ code, cap: "attended", message: `Sentence for ${code}.` })
      const hub = Schema.encodeSync(Problem.schema(403, [code], "denial"))(Problem.make(403, code, error.message))
      expect(Gate.problem(error)).toEqual(hub)
    }
  })
})
