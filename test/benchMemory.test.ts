// The bench's memory rows (bench/memory.mjs): measured in a fresh process after GC, the delta printed with its sign.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Keys } from "@exekra/core"
import { Hub, LicenseRuntime } from "@exekra/server"
import { Effect, ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { email, issue, password, vendor } from "./support/licenses.js"

interface Memory {
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
  readonly maxRss: number
  readonly used: number
}
interface MemoryBench {
  readonly measure: (filename: string, publicKeyPem: string) => Promise<Memory>
  readonly mib: (bytes: number) => string
  readonly signedMib: (bytes: number) => string
}
// A plain .mjs script with no types: imported by a computed specifier and typed here.
const benchModule = "../bench/memory.mjs"
const memory = (await import(benchModule)) as MemoryBench

const dir = mkdtempSync(join(tmpdir(), "exekra-bench-memory-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("bench memory figures", () => {
  // Regression (issue 16): the RSS row printed "+-108 MiB": an RSS read in the bench's own process after GC fell below
  // the one read before loading, and the sign was written as a literal "+" in front of a negative number.
  it("prints a difference with its own sign, never '+-'", () => {
    expect(memory.signedMib(-108 * 2 ** 20)).toBe("−108 MiB")
    expect(memory.signedMib(80 * 2 ** 20)).toBe("+80 MiB")
    expect(memory.signedMib(0)).toBe("+0 MiB")
    expect(memory.mib(239 * 2 ** 20)).toBe("239 MiB")
  })

  it("measures a Hub database in a process of its own, after GC, with the principals it loaded", async () => {
    const dataDir = join(dir, "hub")
    mkdirSync(dataDir)
    const services = ManagedRuntime.make(Hub.services({ dataDir, publicKeys: [vendor.publicKey], version: "test" }))
    await services.runPromise(Effect.flatMap(LicenseRuntime.LicenseRuntime, (r) => r.activate({ license: issue({ unattended: { limit: 5 } }).text, email, password })))
    await services.runPromise(Effect.flatMap(LicenseRuntime.LicenseRuntime, (r) => r.acquire("unattended", "runner-1")))
    await services.dispose()
    const measured = await memory.measure(join(dataDir, Hub.DATABASE_FILE), Keys.publicKeyToPem(vendor.publicKey))
    expect(measured.used).toBe(1)
    expect(measured.heapUsed).toBeGreaterThan(0)
    expect(measured.rss).toBeGreaterThan(measured.heapUsed)
    expect(measured.maxRss).toBeGreaterThanOrEqual(measured.rss)
    // Its own process: not this test process, whose pid and memory are different.
    expect(measured.rss).not.toBe(process.memoryUsage().rss)
  }, 60_000)
})
