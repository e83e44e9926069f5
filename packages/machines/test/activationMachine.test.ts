// The activation machine: the happy path, each error outcome of DESIGN §7, ALREADY_ACTIVATED, and persistence.
import { describe, expect, it } from "@effect/vitest"
import { License } from "@exekra/core"
import { type ActivationEvent, activationMachine, type ActivationSnapshot, summarize } from "@exekra/machines"
import { Schema } from "effect"
import { createActor, initialTransition, transition } from "xstate"

const payload = Schema.decodeUnknownSync(License.LicensePayload)({
  licenseId: "lic-1",
  type: "trial",
  kid: "0123456789abcdef",
  issuedTo: { name: "Acme", email: "it@acme.test" },
  issuedAt: "2026-01-01T00:00:00Z",
  caps: { developer: { limit: 2, expiresAt: "2026-02-01T00:00:00Z" } },
  validation: { required: false, intervalHours: 24 }
})
const summary = summarize(payload, "inst-1")

const run = (events: ReadonlyArray<ActivationEvent>): ActivationSnapshot => {
  let [s] = initialTransition(activationMachine, { installationId: "inst-1" })
  for (const e of events) [s] = transition(activationMachine, s, e)
  return s
}

const happy: ReadonlyArray<ActivationEvent> = [
  { type: "LICENSE_ACCEPTED", summary },
  { type: "ADMIN_CREATED", email: "it@acme.test" },
  { type: "ACTIVATION_COMMITTED", now: 1_000 }
]

describe("activationMachine", () => {
  it("summarises a license and binds it to this installation when it names none", () => {
    expect(summary).toEqual({ licenseId: "lic-1", type: "trial", issuedTo: { name: "Acme", email: "it@acme.test" }, installationId: "inst-1" })
  })

  it("goes unactivated → licenseVerified → adminCreated → activated", () => {
    const states = happy.map((_, i) => run(happy.slice(0, i + 1)).value)
    expect(states).toEqual(["licenseVerified", "adminCreated", "activated"])
    expect(run(happy).context).toMatchObject({ activatedAt: 1_000, adminEmail: "it@acme.test", lastError: null, license: summary })
  })

  it("stays unactivated with the code of a refused license", () => {
    const s = run([{ type: "LICENSE_REJECTED", code: "LICENSE_NOT_YET_VALID" }])
    expect(s.value).toBe("unactivated")
    expect(s.context.lastError).toBe("LICENSE_NOT_YET_VALID")
  })

  it("drops the whole attempt when the admin is refused", () => {
    const s = run([{ type: "LICENSE_ACCEPTED", summary }, { type: "ADMIN_REJECTED", code: "ADMIN_EMAIL_MISMATCH" }])
    expect(s.value).toBe("unactivated")
    expect(s.context).toMatchObject({ lastError: "ADMIN_EMAIL_MISMATCH", license: null })
  })

  it("an aborted attempt returns to unactivated", () => {
    expect(run([...happy.slice(0, 2), { type: "ACTIVATION_ABORTED" }]).value).toBe("unactivated")
  })

  it("answers further attempts with ALREADY_ACTIVATED and stays activated", () => {
    const s = run([...happy, { type: "LICENSE_ACCEPTED", summary }])
    expect(s.value).toBe("activated")
    expect(s.context.lastError).toBe("ALREADY_ACTIVATED")
    expect(s.context.license).toEqual(summary)
  })

  it("round-trips a persisted snapshot through JSON", () => {
    const actor = createActor(activationMachine, { input: { installationId: "inst-1" } }).start()
    for (const e of happy) actor.send(e)
    const json = JSON.stringify(actor.getPersistedSnapshot())
    const restored = createActor(activationMachine, { snapshot: JSON.parse(json), input: { installationId: "other" } }).start()
    expect(restored.getSnapshot().value).toBe("activated")
    expect(restored.getSnapshot().context).toEqual(actor.getSnapshot().context)
  })
})
