// Bench: a Hub of several nodes — acquisitions from one and from three nodes on PostgreSQL and SQLite, exact at
// the limit, and how long a write on one node takes to show in another node's `check` (staleness p50/p99).
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { Keys, Signer } from "@exekra/core"
import { Hub, LicenseRuntime } from "@exekra/server"
import { Either, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import pg from "pg"
import { rate } from "./measure.mjs"

const PG_URL = process.env.EXEKRA_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const HOTROW = new URL("../../shared/tools/pg-hotrow.sh", import.meta.url).pathname
const key = Keys.generate()
const LIMIT = 1_000_000
const license = Signer.sign(
  {
    licenseId: "lic_bench_cluster",
    type: "production",
    issuedTo: { name: "Bench Corp", email: "admin@bench.example" },
    issuedAt: "2026-01-01T00:00:00Z",
    caps: { unattended: { limit: LIMIT, expiresAt: "2036-01-01T00:00:00Z" }, developer: { limit: 10, expiresAt: "2036-01-01T00:00:00Z" } },
    validation: { required: false, intervalHours: 24 }
  },
  key
)

/** A fresh PostgreSQL database for one measurement, dropped by `drop`. */
const freshDatabase = async () => {
  const name = `exekra_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    }
  }
}

/** `n` nodes of one Hub in this process, each with its own store connection(s), change feed and lease. */
const nodes = async (n, store, dataDir) => {
  const all = []
  for (let i = 0; i < n; i++) {
    const services = Hub.services({ dataDir, store, publicKeys: [key.publicKey], version: "bench", nodeId: `bench-${i}` })
    const rt = ManagedRuntime.make(Layer.merge(services, Logger.minimumLogLevel(LogLevel.Warning)))
    all.push({ rt, runtime: await rt.runPromise(LicenseRuntime.LicenseRuntime) })
  }
  await all[0].rt.runPromise(all[0].runtime.activate({ license, email: "admin@bench.example", password: "a bench passphrase 1" }))
  // Every node has the license before the clock starts.
  for (const node of all) while (!(await node.rt.runPromise(node.runtime.isActivated))) await new Promise((r) => setTimeout(r, 10))
  return { all, close: () => Promise.all(all.map((node) => node.rt.dispose())) }
}

/** Acquisitions per second: `total` new principals, `concurrency` in flight, spread round-robin over the nodes. */
const acquireRate = async (hub, total, concurrency, prefix) => {
  let next = 0
  const start = performance.now()
  const worker = async () => {
    while (next < total) {
      const i = next++
      const node = hub.all[i % hub.all.length]
      await node.rt.runPromise(node.runtime.acquire("unattended", `${prefix}-${i}`))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const perSecond = (total * 1000) / (performance.now() - start)
  // Exact: every node comes to the store's count (through the change feed, within a second), none lost or extra.
  for (const node of hub.all) {
    const deadline = performance.now() + 5000
    let used = 0
    while ((used = (await node.rt.runPromise(node.runtime.summary)).caps.unattended.used) !== total) {
      if (performance.now() > deadline) throw new Error(`expected ${total} principals on every node, saw ${used}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  return perSecond
}

/** Milliseconds from an acknowledged acquisition on node 0 to node 1's `check` admitting it, `samples` times. */
const staleness = async (hub, samples) => {
  const [writer, reader] = hub.all
  const times = []
  for (let i = 0; i < samples; i++) {
    const id = `stale-${i}`
    await writer.rt.runPromise(writer.runtime.acquire("developer", id))
    const acked = performance.now()
    while (Either.isLeft(reader.runtime.check("developer", id))) {
      if (performance.now() - acked > 5000) throw new Error("a write was not seen by the other node within 5 s")
      await new Promise((r) => setImmediate(r))
    }
    times.push(performance.now() - acked)
    await writer.rt.runPromise(writer.runtime.release("developer", id))
  }
  times.sort((a, b) => a - b)
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))]
  return { p50: at(0.5), p99: at(0.99) }
}

/** The raw PostgreSQL limit for one cap's acquisition, by the shared pgbench script, when it and pgbench exist. */
const hotRow = () => {
  if (!existsSync(HOTROW)) return null
  try {
    const out = execFileSync("bash", [HOTROW, PG_URL.replace(/\/[^/]*$/, "/postgres")], { encoding: "utf8", timeout: 60_000 })
    const tps = [...out.matchAll(/clients (\d+): ([\d.]+) tps/g)].map((m) => [Number(m[1]), Number(m[2])])
    return tps.length === 0 ? null : Math.max(...tps.map(([, t]) => t))
  } catch {
    return null
  }
}

/** Measure and return table rows. */
export const run = async () => {
  const rows = []
  const dir = mkdtempSync(join(tmpdir(), "exekra-bench-cluster-"))
  writeFileSync(join(dir, "public.key"), Keys.publicKeyToPem(key.publicKey))
  const total = Number(process.env.EXEKRA_BENCH_ACQUISITIONS ?? 3000)
  try {
    const figures = {}
    for (const engine of ["sqlite", "postgres"]) {
      for (const n of [1, 3]) {
        const db = engine === "postgres" ? await freshDatabase() : { url: join(dir, `hub-${n}.sqlite`), drop: async () => {} }
        const hub = await nodes(n, db.url, dir)
        try {
          figures[`${engine}-${n}`] = await acquireRate(hub, total, 100, `${engine}-${n}`)
          if (n === 3) figures[`${engine}-stale`] = await staleness(hub, 100)
        } finally {
          await hub.close()
          await db.drop()
        }
      }
    }
    const raw = hotRow()
    const ms = (x) => `${x.toFixed(1)} ms`
    rows.push({ figure: "acquisitions/s, PostgreSQL, 1 node, 100 concurrent", value: rate(figures["postgres-1"]), baseline: `${rate(figures["sqlite-1"])} SQLite, 1 node`, ratio: `${(figures["postgres-1"] / figures["sqlite-1"]).toFixed(2)}×` })
    rows.push({ figure: "acquisitions/s, PostgreSQL, 3 nodes, 100 concurrent", value: rate(figures["postgres-3"]), baseline: `${rate(figures["sqlite-3"])} SQLite, 3 nodes`, ratio: `${(figures["postgres-3"] / figures["sqlite-3"]).toFixed(2)}×` })
    if (raw !== null) {
      rows.push({ figure: "acquisitions/s, PostgreSQL, 3 nodes, vs raw hot row", value: rate(figures["postgres-3"]), baseline: `${rate(raw)} tps pgbench (pg-hotrow.sh)`, ratio: `${(figures["postgres-3"] / raw).toFixed(2)}×` })
    }
    rows.push({ figure: "cross-node staleness p50, PostgreSQL (write → other node's check)", value: ms(figures["postgres-stale"].p50), baseline: `${ms(figures["sqlite-stale"].p50)} SQLite`, ratio: `${(figures["postgres-stale"].p50 / figures["sqlite-stale"].p50).toFixed(2)}×` })
    rows.push({ figure: "cross-node staleness p99, PostgreSQL", value: ms(figures["postgres-stale"].p99), baseline: `${ms(figures["sqlite-stale"].p99)} SQLite`, ratio: `${(figures["postgres-stale"].p99 / figures["sqlite-stale"].p99).toFixed(2)}×` })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

// `node bench/cluster.mjs` runs these rows alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { table } = await import("./measure.mjs")
  table("Exekra license runtime — cluster benchmarks", await run())
  process.exit(0)
}

