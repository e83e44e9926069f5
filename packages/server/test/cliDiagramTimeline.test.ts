// `exekra-license diagram` and `timeline`, run in process through @effect/cli with the Node platform.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Envelope, License } from "@exekra/core"
import { Effect, Schema } from "effect"
import { vi } from "vitest"
import { diagram } from "../src/cli/diagram.js"
import { timeline } from "../src/cli/timeline.js"

const DAY = 86_400_000

// The two commands under a root, as main.ts wires its subcommands.
const cli = Command.run(Command.make("exekra-license").pipe(Command.withSubcommands([diagram, timeline])), { name: "exekra-license", version: "test" })

/** Run `exekra-license <args>` in process, returning what it printed and how it ended. */
const run = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const log = vi.spyOn(console, "log").mockImplementation((...parts: Array<unknown>) => {
      lines.push(parts.map(String).join(" "))
    })
    const result = yield* cli(["node", "exekra-license", ...args]).pipe(
      Effect.either,
      Effect.ensuring(Effect.sync(() => log.mockRestore()))
    )
    return { result, stdout: lines.join("\n") }
  }).pipe(Effect.provide(NodeContext.layer))

const dir = mkdtempSync(join(tmpdir(), "exekra-cli-machines-"))
const expiresAt = "2027-03-15T13:45:30Z"
const E = Date.parse(expiresAt)
const payload = Schema.decodeUnknownSync(License.LicensePayload)({
  licenseId: "lic_cli",
  type: "production",
  kid: "0123456789abcdef",
  issuedTo: { name: "Acme", email: "it@acme.test" },
  issuedAt: "2026-01-01T00:00:00Z",
  caps: { developer: { limit: 5, expiresAt, graceDays: 21 } },
  expiryWarningDays: 45,
  gracePeriodDays: 10,
  validation: { required: true, intervalHours: 24 }
})
// The timeline does not check signatures, so an unsigned envelope will do.
const licPath = join(dir, "acme.lic")
writeFileSync(
  licPath,
  Envelope.encode({
    kid: payload.kid,
    payload: new TextEncoder().encode(JSON.stringify(Schema.encodeSync(License.LicensePayload)(payload))),
    signature: new Uint8Array(64)
  })
)
const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z")

describe("diagram", () => {
  it.effect("draws the cap machine as Mermaid by default", () =>
    Effect.gen(function* () {
      const { result, stdout } = yield* run(["diagram"])
      expect(result._tag).toBe("Right")
      expect(stdout).toMatch(/^stateDiagram-v2\n/)
      for (const state of ["unactivated", "active", "renewed", "expiring", "grace", "limited"]) expect(stdout).toContain(`state "${state}"`)
      expect(stdout).toContain("expiring --> grace : always [evaluatesTo(grace)]")
    })
  )

  it.effect("draws activation as DOT and validation as SVG", () =>
    Effect.gen(function* () {
      expect((yield* run(["diagram", "activation", "--format", "dot"])).stdout).toMatch(/^digraph "activation" \{/)
      expect((yield* run(["diagram", "--format", "svg", "validation"])).stdout).toContain("<title>pinging</title>")
    })
  )

  it.effect("draws a principal's lease machine", () =>
    Effect.gen(function* () {
      const { result, stdout } = yield* run(["diagram", "lease"])
      expect(result._tag).toBe("Right")
      for (const state of ["active", "expired"]) expect(stdout).toContain(`state "${state}"`)
    })
  )
})

describe("timeline", () => {
  it.effect("prints expiring at E−W, grace at E and limited at E+G", () =>
    Effect.gen(function* () {
      const { result, stdout } = yield* run(["timeline", licPath])
      expect(result._tag).toBe("Right")
      expect(stdout.split("\n")).toEqual([
        "2026-01-01T00:00:00Z  developer   start → active  licensed",
        `${iso(E - 45 * DAY)}  developer   active → expiring  expiry-approaching`,
        `${iso(E)}  developer   expiring → grace  expired`,
        `${iso(E + 21 * DAY)}  developer   grace → limited  expired`
      ])
    })
  )

  it.effect("simulates the Portal down from a date, within --from and --to", () =>
    Effect.gen(function* () {
      const { stdout } = yield* run(["timeline", licPath, "--from", "2026-03-01", "--to", "2026-06-01", "--portal-down-from", "2026-04-01T12:00:00Z"])
      expect(stdout.split("\n")).toEqual([
        "2026-03-01T00:00:00Z  developer   start → active  licensed",
        "2026-04-01T12:00:00Z  developer   active → grace  portal-unreachable",
        "2026-04-11T12:00:00Z  developer   grace → limited  portal-unreachable"
      ])
    })
  )

  it.effect("writes a self-contained HTML page with --out", () =>
    Effect.gen(function* () {
      const out = join(dir, "timeline.html")
      const { stdout } = yield* run(["timeline", licPath, "--format", "html", "--out", out])
      expect(stdout).toBe(`timeline of lic_cli → ${out}`)
      const html = readFileSync(out, "utf8")
      expect(html).toMatch(/^<!doctype html>/)
      expect(html).toContain("<svg")
    })
  )

  it.effect("fails with the license error code for a file that is not a license", () =>
    Effect.gen(function* () {
      const bad = join(dir, "bad.lic")
      writeFileSync(bad, "hello")
      const { result } = yield* run(["timeline", bad])
      expect(result).toMatchObject({ _tag: "Left", left: { _tag: "LicenseError", code: "LICENSE_MALFORMED" } })
    })
  )

  it.effect("refuses a span that ends before it starts", () =>
    Effect.gen(function* () {
      const { result } = yield* run(["timeline", licPath, "--from", "2026-05-01", "--to", "2026-04-01"])
      expect(result).toMatchObject({ _tag: "Left", left: { _tag: "CliError", code: "INVALID_OPTION" } })
      const { result: badDate } = yield* run(["timeline", licPath, "--from", "May 1st"])
      expect(badDate).toMatchObject({ _tag: "Left", left: { _tag: "CliError", code: "INVALID_OPTION" } })
    })
  )
})
