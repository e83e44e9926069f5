// Bench: the runtime's hot paths — check decisions, acquisitions on SQLite, startup with 100,000
// principals, memory, and ten years of license life under a discrete-event TestClock.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { Admission, DiscreteClock, Installation, Keyring, Keys, LicenseStore, PortalClient, Signer, Verifier } from "@exekra/core"
import { LicenseRuntime } from "@exekra/server"
import { Effect, Either, Exit, Layer, Scope, TestClock, TestContext } from "effect"
import sqlite3 from "sqlite3"
import { opsPerSecond, rate } from "./measure.mjs"
import * as memory from "./memory.mjs"

const key = Keys.generate()
const DAY = 86_400_000
const license = (limit, years = 1) =>
  Signer.sign(
    {
      licenseId: "lic_bench",
      type: "production",
      issuedTo: { name: "Bench Corp", email: "admin@bench.example" },
      issuedAt: "2026-01-01T00:00:00Z",
      caps: {
        unattended: { limit, expiresAt: new Date(Date.UTC(2026 + years, 0, 1)).toISOString().replace(".000Z", "Z") },
        developer: { limit, expiresAt: new Date(Date.UTC(2026 + years, 6, 1)).toISOString().replace(".000Z", "Z") }
      },
      validation: { required: true, intervalHours: 24, portalUrl: "http://portal.invalid" },
      gracePeriodDays: 14
    },
    key
  )

const portalUp = Layer.succeed(
  PortalClient.PortalClient,
  PortalClient.PortalClient.of({
    validate: () => Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (t) => ({ status: "valid", serverTime: new Date(t) }))
  })
)

const runtimeLayer = (store) =>
  // The TestClock runs every heartbeat on the way (a few ms each): simulated years use a yearly one.
  LicenseRuntime.layer({ version: "bench", heartbeatMs: 365 * 86_400_000 }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(Verifier.layerNodeCrypto(Keyring.make([key.publicKey])), portalUp, Installation.layer).pipe(Layer.provideMerge(store))
    )
  )

/** Build a runtime in a fresh scope; returns it with a close function. */
const open = async (store, extra = Layer.empty) => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(Layer.merge(runtimeLayer(store), extra), scope))
  const runtime = Effect.runSync(Effect.provide(LicenseRuntime.LicenseRuntime, context))
  return { runtime, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const activate = (runtime, limit) =>
  Effect.runPromise(runtime.activate({ license: license(limit, 5), email: "admin@bench.example", password: "a bench passphrase 1" }))

const timeAsync = async (fn) => {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

/** Seed `n` active principals straight into a Hub database (one transaction), as a big Hub would have. */
const seed = (filename, n) =>
  new Promise((resolve, reject) => {
    const db = new sqlite3.Database(filename)
    db.serialize(() => {
      db.run("BEGIN")
      const stmt = db.prepare("INSERT INTO principals (cap, id, name, status, admitted_at, updated_at, heartbeat_at) VALUES ('unattended', ?, NULL, 'active', 0, 0, 0)")
      for (let i = 0; i < n; i++) stmt.run(`seed-${i}`)
      stmt.finalize()
      db.run("COMMIT", (e) => db.close(() => (e ? reject(e) : resolve())))
    })
  })

/** Measure and return table rows. */
export const run = async () => {
  const rows = []
  const dir = mkdtempSync(join(tmpdir(), "exekra-bench-"))
  try {
    // ---- check: the hot path, against the bare decision it wraps ----
    const hub = await open(LicenseStore.layerMemory)
    await activate(hub.runtime, 100_000)
    await Effect.runPromise(hub.runtime.acquire("unattended", "worker"))
    const view = { cap: "unattended", state: "active", limit: 1000, ceiling: 1000, used: 1, onLimited: "refuse-new" }
    const bare = opsPerSecond(() => Admission.decide(view, "check", true))
    const checks = opsPerSecond(() => {
      if (Either.isLeft(hub.runtime.check("unattended", "worker"))) throw new Error("check refused")
    })
    rows.push({ figure: "check decisions/s (runtime, memoised verify)", value: rate(checks), baseline: `${rate(bare)} bare decide`, ratio: `${(checks / bare).toFixed(2)}×` })

    // ---- acquisitions: SQLite (synchronous=FULL, WAL) against the in-memory store ----
    const acquireN = async (runtime, n, concurrency) => {
      const ids = Array.from({ length: n }, (_, i) => `p-${concurrency}-${i}`)
      const ms = await timeAsync(() =>
        Effect.runPromise(Effect.forEach(ids, (id) => runtime.acquire("developer", id), { concurrency, discard: true }))
      )
      return (n * 1000) / ms
    }
    const memorySeq = await acquireN(hub.runtime, 2000, 1)
    await hub.close()
    const sqliteHub = await open(LicenseStore.layerSqlite({ filename: join(dir, "acq.sqlite") }))
    await activate(sqliteHub.runtime, 100_000)
    const sqliteSeq = await acquireN(sqliteHub.runtime, 1000, 1)
    const sqliteConc = await acquireN(sqliteHub.runtime, 1000, 100)
    await sqliteHub.close()
    rows.push({ figure: "acquisitions/s, SQLite, sequential", value: rate(sqliteSeq), baseline: `${rate(memorySeq)} in-memory`, ratio: `${(sqliteSeq / memorySeq).toFixed(2)}×` })
    rows.push({ figure: "acquisitions/s, SQLite, 100 concurrent", value: rate(sqliteConc), baseline: `${rate(sqliteSeq)} sequential`, ratio: `${(sqliteConc / sqliteSeq).toFixed(2)}×` })

    // ---- startup with 100,000 admitted principals, and its memory ----
    const big = join(dir, "big.sqlite")
    const first = await open(LicenseStore.layerSqlite({ filename: big }))
    await activate(first.runtime, 200_000)
    await first.close()
    const emptyMs = await timeAsync(async () => (await open(LicenseStore.layerSqlite({ filename: big }))).close())
    // Memory in fresh processes, after GC: the same Hub with none, then with 100,000 principals.
    const publicKeyPem = Keys.publicKeyToPem(key.publicKey)
    const none = await memory.measure(big, publicKeyPem)
    await seed(big, 100_000)
    const full = await memory.measure(big, publicKeyPem)
    if (full.used !== 100_000) throw new Error(`expected 100000 principals in the memory process, saw ${full.used}`)
    globalThis.gc?.()
    let loaded
    const bigMs = await timeAsync(async () => {
      loaded = await open(LicenseStore.layerSqlite({ filename: big }))
    })
    const summary = await Effect.runPromise(loaded.runtime.summary)
    if (summary.caps.unattended.used !== 100_000) throw new Error(`expected 100000 principals, saw ${summary.caps.unattended.used}`)
    await loaded.close()
    rows.push({ figure: "startup, 100,000 admitted principals", value: `${bigMs.toFixed(0)} ms`, baseline: `${emptyMs.toFixed(0)} ms with none`, ratio: `${(bigMs / emptyMs).toFixed(1)}×` })
    rows.push({ figure: "RSS after GC, 100,000 principals loaded (own process)", value: memory.mib(full.rss), baseline: `${memory.mib(none.rss)} with none`, ratio: memory.signedMib(full.rss - none.rss) })
    rows.push({ figure: "peak RSS, 100,000 principals loaded (own process)", value: memory.mib(full.maxRss), baseline: `${memory.mib(none.maxRss)} with none`, ratio: memory.signedMib(full.maxRss - none.maxRss) })

    // ---- ten years of license life: daily pings and every deadline, under a discrete-event TestClock ----
    // The DiscreteClock jumps from deadline to deadline; Effect's own TestClock spends ~3 ms of real time per wake-up
    // (it polls every fiber across setTimeout turns), so it is the baseline, over one year.
    const simulate = (years, clock) =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.UTC(2026, 0, 2))
        const runtime = yield* LicenseRuntime.LicenseRuntime
        yield* runtime.activate({ license: license(10, years), email: "admin@bench.example", password: "a bench passphrase 1" })
        yield* TestClock.adjust(years * 365 * DAY + 60 * DAY)
        const s = yield* runtime.summary
        if (s.caps.unattended.state !== "limited") throw new Error(`expected limited after ${years} years, saw ${s.caps.unattended.state}`)
        if (s.validation === null || s.validation.lastSuccessAt === null) throw new Error("expected daily pings to have succeeded")
      }).pipe(Effect.provide(runtimeLayer(LicenseStore.layerMemory)), Effect.scoped, Effect.provide(clock))
    const oneYearTestClock = await timeAsync(() => Effect.runPromise(simulate(1, TestContext.TestContext)))
    const tenYears = await timeAsync(() => Effect.runPromise(simulate(10, DiscreteClock.layer())))
    rows.push({ figure: "10 years of license life (DiscreteClock, daily pings)", value: `${tenYears.toFixed(0)} ms`, baseline: `${oneYearTestClock.toFixed(0)} ms for 1 year under Effect's TestClock`, ratio: `${(tenYears / oneYearTestClock).toFixed(2)}×` })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}
