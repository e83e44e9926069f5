// One LicenseStore contract run against the memory, SQLite and PostgreSQL layers, plus what only SQLite or PostgreSQL promises: durability, WAL, cross-connection and cross-node atomicity, migrations, failures.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { type AddressInfo, createServer, type Server, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { LicenseStore } from "@exekra/core"
import { Cause, Context, Effect, Exit, Fiber, Layer, Option, Queue, Stream } from "effect"
import sqlite3 from "sqlite3"
import { holdWriteLock } from "./support/holdWriteLock.js"
import { client, databaseUrl, displayUrl, freshDatabase, serverUrl, sqlAt } from "./support/postgres.js"

const Store = LicenseStore.LicenseStore
type Service = LicenseStore.Store

const dir = mkdtempSync(join(tmpdir(), "exekra-store-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = (): string => join(dir, `store-${++files}.db`)

const license = (n: number): LicenseStore.StoredLicense => ({
  text: `-----BEGIN EXEKRA LICENSE-----\n${n}\n-----END EXEKRA LICENSE-----\n`,
  fingerprint: `fp-${n}`,
  licenseId: "lic_0001",
  issuedAt: 1_700_000_000_000 + n,
  storedAt: 1_800_000_000_000 + n
})
const admin = (email: string): LicenseStore.AdminAccount => ({ email, passwordHash: "scrypt$16384$8$1$c2FsdA$aGFzaA", createdAt: 42 })
const credential = (tokenHash: string, kind: "session" | "api", createdAt: number): LicenseStore.Credential => ({
  tokenHash,
  kind,
  name: kind === "api" ? "ci" : null,
  createdAt,
  expiresAt: kind === "session" ? createdAt + 3_600_000 : null
})
const audit = (n: number): LicenseStore.AuditRecord => ({
  at: 1000 + n,
  actor: "admin",
  action: "acquire",
  outcome: n % 2 === 0 ? "ok" : "denied",
  cap: "unattended",
  principal: `runner-${n}`,
  code: n % 2 === 0 ? null : "CAP_LIMIT_REACHED",
  detail: null
})
const healthy: LicenseStore.ValidationRecord = {
  lastAttemptAt: 5,
  lastSuccessAt: 5,
  failingSince: null,
  lastError: null,
  lastStatus: "valid",
  consecutiveFailures: 0,
  nextAttemptAt: 9
}
/** Every table of the SQLite store's schema. */
const tables = ["meta", "licenses", "pending_license", "admin", "credentials", "principals", "validation", "snapshots", "audit", "usage", "cap_leases"]
const tags = (outcomes: ReadonlyArray<LicenseStore.AdmitOutcome>) => outcomes.map((o) => o._tag)
/** What a change says, without its sequence number. */
const gist = (c: LicenseStore.Change) => ({ topic: c.topic, cap: c.cap, key: c.key, node: c.node })
const node = (id: string, startedAt: number, lastSeenAt: number, appliedSeq = 0): LicenseStore.NodeRecord => ({
  id,
  version: "1.4.0",
  startedAt,
  lastSeenAt,
  appliedSeq
})

/** Run `body` against a fresh store built by `layer`. */
const withStore = <A, E>(layer: Layer.Layer<LicenseStore.LicenseStore, LicenseStore.StoreError>, body: (store: Service) => Effect.Effect<A, E>) =>
  Effect.provide(Effect.flatMap(Store, body), layer)

/** Open a plain sqlite3 connection, run one statement, close: what another tool on the host would see. */
const raw = (filename: string, sql: string) =>
  Effect.promise(
    () =>
      new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
        const db = new sqlite3.Database(filename, (openError) => {
          if (openError) return reject(openError)
          db.all<Record<string, unknown>>(sql, (error, rows) => db.close(() => (error ? reject(error) : resolve(rows))))
        })
      })
  )

const contract = (
  name: string,
  makeLayer: () => Layer.Layer<LicenseStore.LicenseStore, LicenseStore.StoreError>,
  /** Whether the engine implements `LicenseStore.Leasing` itself (the PostgreSQL engine does not yet). */
  options: { readonly leasing: boolean } = { leasing: true }
) =>
  describe(`LicenseStore contract: ${name}`, () => {
    const test = <A>(title: string, body: (store: Service) => Effect.Effect<A, LicenseStore.StoreError>) =>
      it.effect(title, () => withStore(makeLayer(), body))
    const leasing = options.leasing ? test : <A>(title: string, _body: (store: Service) => Effect.Effect<A, LicenseStore.StoreError>) => it.todo(title)

    test("creates the installation id once", (s) =>
      Effect.gen(function* () {
        expect(yield* s.ensureInstallationId("inst_a")).toBe("inst_a")
        expect(yield* s.ensureInstallationId("inst_b")).toBe("inst_a")
      }))

    test("replaceLicense is a compare-and-set by fingerprint and appends to the history", (s) =>
      Effect.gen(function* () {
        expect(yield* s.getLicense).toEqual(Option.none())
        expect(yield* s.replaceLicense("fp-0", license(1))).toBe(false)
        expect(yield* s.replaceLicense(null, license(1))).toBe(true)
        expect(yield* s.replaceLicense(null, license(2))).toBe(false)
        expect(yield* s.getLicense).toEqual(Option.some(license(1)))
        expect(yield* s.replaceLicense("fp-1", license(2))).toBe(true)
        expect(yield* s.replaceLicense("fp-1", license(3))).toBe(false)
        expect(yield* s.getLicense).toEqual(Option.some(license(2)))
        expect(yield* s.replaceLicense("fp-2", license(3))).toBe(true)
        expect(yield* s.licenseHistory).toEqual([license(1), license(2), license(3)])
      }))

    test("the license history a caller holds is a copy that later installs leave alone", (s) =>
      Effect.gen(function* () {
        yield* s.replaceLicense(null, license(1))
        const before = yield* s.licenseHistory
        yield* s.replaceLicense("fp-1", license(2))
        expect(before).toEqual([license(1)])
        expect(yield* s.licenseHistory).toEqual([license(1), license(2)])
      }))

    test("sets and clears the pending license", (s) =>
      Effect.gen(function* () {
        expect(yield* s.getPending).toEqual(Option.none())
        yield* s.setPending(license(1))
        yield* s.setPending(license(2))
        expect(yield* s.getPending).toEqual(Option.some(license(2)))
        yield* s.setPending(null)
        expect(yield* s.getPending).toEqual(Option.none())
        expect(yield* s.getLicense).toEqual(Option.none())
      }))

    test("activates once", (s) =>
      Effect.gen(function* () {
        expect(yield* s.getAdmin).toEqual(Option.none())
        expect(yield* s.activate(license(1), admin("admin@acme.example"))).toBe(true)
        expect(yield* s.activate(license(2), admin("other@acme.example"))).toBe(false)
        expect(yield* s.getAdmin).toEqual(Option.some(admin("admin@acme.example")))
        expect(yield* s.getLicense).toEqual(Option.some(license(1)))
        expect(yield* s.licenseHistory).toEqual([license(1)])
        expect(yield* s.replaceLicense("fp-1", license(2))).toBe(true)
      }))

    test("raises the high-water mark monotonically", (s) =>
      Effect.gen(function* () {
        expect(yield* s.getHighWater).toBe(0)
        expect(yield* s.raiseHighWater(1_000)).toBe(1_000)
        expect(yield* s.raiseHighWater(500)).toBe(1_000)
        expect(yield* s.getHighWater).toBe(1_000)
        expect(yield* s.raiseHighWater(2_000)).toBe(2_000)
      }))

    test("round-trips the validation record", (s) =>
      Effect.gen(function* () {
        expect(yield* s.getValidation).toEqual(Option.none())
        const failing: LicenseStore.ValidationRecord = {
          lastAttemptAt: 30,
          lastSuccessAt: 10,
          failingSince: 20,
          lastError: "ECONNREFUSED",
          lastStatus: "valid",
          consecutiveFailures: 2,
          nextAttemptAt: 40
        }
        yield* s.putValidation(failing)
        expect(yield* s.getValidation).toEqual(Option.some(failing))
        const empty: LicenseStore.ValidationRecord = {
          lastAttemptAt: null,
          lastSuccessAt: null,
          failingSince: null,
          lastError: null,
          lastStatus: null,
          consecutiveFailures: 0,
          nextAttemptAt: null
        }
        yield* s.putValidation(empty)
        expect(yield* s.getValidation).toEqual(Option.some(empty))
      }))

    test("puts, finds, deletes and lists credentials by kind", (s) =>
      Effect.gen(function* () {
        yield* s.putCredential(credential("h2", "session", 20))
        yield* s.putCredential(credential("h1", "session", 10))
        yield* s.putCredential(credential("h3", "api", 30))
        expect(yield* s.findCredential("h1")).toEqual(Option.some(credential("h1", "session", 10)))
        expect(yield* s.findCredential("nope")).toEqual(Option.none())
        expect(yield* s.listCredentials("session")).toEqual([credential("h1", "session", 10), credential("h2", "session", 20)])
        expect(yield* s.listCredentials("api")).toEqual([credential("h3", "api", 30)])
        yield* s.deleteCredential("h1")
        yield* s.deleteCredential("h1")
        expect(yield* s.findCredential("h1")).toEqual(Option.none())
        const renamed = { ...credential("h3", "api", 30), name: "deploy" }
        yield* s.putCredential(renamed)
        expect(yield* s.listCredentials("api")).toEqual([renamed])
        expect(yield* s.listCredentials("session")).toEqual([credential("h2", "session", 20)])
      }))

    test("admits up to the ceiling: Admitted, AlreadyAdmitted, Full", (s) =>
      Effect.gen(function* () {
        const a = yield* s.admit("unattended", "runner-a", "Runner A", 2, 100)
        expect(a).toEqual({
          _tag: "Admitted",
          used: 1,
          principal: { cap: "unattended", id: "runner-a", name: "Runner A", status: "active", admittedAt: 100, updatedAt: 100 }
        })
        const again = yield* s.admit("unattended", "runner-a", "renamed", 2, 110)
        expect(again).toEqual({ _tag: "AlreadyAdmitted", used: 1, principal: a._tag === "Admitted" ? a.principal : null })
        expect(yield* s.admit("unattended", "runner-b", null, 2, 120)).toMatchObject({ _tag: "Admitted", used: 2 })
        expect(yield* s.admit("unattended", "runner-c", null, 2, 130)).toEqual({ _tag: "Full", used: 2 })
        // An admitted principal stays admitted even when the ceiling later drops below usage.
        expect(yield* s.admit("unattended", "runner-b", null, 1, 140)).toMatchObject({ _tag: "AlreadyAdmitted", used: 2 })
        expect((yield* s.listPrincipals("unattended")).map((p) => p.id)).toEqual(["runner-a", "runner-b"])
      }))

    test("deactivate frees the slot and keeps the record", (s) =>
      Effect.gen(function* () {
        yield* s.admit("developer", "alice", "Alice", 1, 100)
        expect(yield* s.deactivate("developer", "alice", 150)).toBe(true)
        expect(yield* s.deactivate("developer", "alice", 160)).toBe(true)
        expect(yield* s.deactivate("developer", "nobody", 160)).toBe(false)
        expect(yield* s.listPrincipals("developer")).toEqual([
          { cap: "developer", id: "alice", name: "Alice", status: "deactivated", admittedAt: 100, updatedAt: 150 }
        ])
        expect((yield* s.countActive).developer).toBe(0)
        expect(yield* s.admit("developer", "bob", null, 1, 170)).toMatchObject({ _tag: "Admitted", used: 1 })
      }))

    test("re-admitting a deactivated principal reactivates it within the ceiling", (s) =>
      Effect.gen(function* () {
        yield* s.admit("attended", "alice", "Alice", 1, 100)
        yield* s.deactivate("attended", "alice", 110)
        yield* s.admit("attended", "bob", "Bob", 1, 120)
        expect(yield* s.admit("attended", "alice", null, 1, 130)).toEqual({ _tag: "Full", used: 1 })
        yield* s.release("attended", "bob")
        expect(yield* s.admit("attended", "alice", null, 1, 140)).toEqual({
          _tag: "Admitted",
          used: 1,
          principal: { cap: "attended", id: "alice", name: "Alice", status: "active", admittedAt: 140, updatedAt: 140 }
        })
        expect(yield* s.listPrincipals("attended")).toHaveLength(1)
      }))

    test("release deletes the record", (s) =>
      Effect.gen(function* () {
        yield* s.admit("unattended", "runner-a", null, 5, 100)
        expect(yield* s.release("unattended", "runner-a")).toBe(true)
        expect(yield* s.release("unattended", "runner-a")).toBe(false)
        expect(yield* s.listPrincipals("unattended")).toEqual([])
      }))

    test("counts active principals per cap; caps are independent", (s) =>
      Effect.gen(function* () {
        expect(yield* s.countActive).toEqual({ unattended: 0, developer: 0, attended: 0 })
        yield* s.admit("unattended", "p1", null, 2, 100)
        yield* s.admit("unattended", "p2", null, 2, 101)
        expect(yield* s.admit("unattended", "p3", null, 2, 102)).toMatchObject({ _tag: "Full" })
        expect(yield* s.admit("developer", "p1", null, 2, 103)).toMatchObject({ _tag: "Admitted", used: 1 })
        yield* s.admit("attended", "p9", null, 2, 104)
        yield* s.deactivate("attended", "p9", 105)
        expect(yield* s.countActive).toEqual({ unattended: 2, developer: 1, attended: 0 })
        yield* s.release("developer", "p1")
        expect((yield* s.listPrincipals("unattended")).map((p) => p.id)).toEqual(["p1", "p2"])
      }))

    test("lists principals in admission order", (s) =>
      Effect.gen(function* () {
        yield* s.admit("unattended", "late", null, 5, 300)
        yield* s.admit("unattended", "early", null, 5, 100)
        yield* s.admit("unattended", "tie", null, 5, 100)
        expect((yield* s.listPrincipals("unattended")).map((p) => p.id)).toEqual(["early", "tie", "late"])
      }))

    test("stores snapshots by key", (s) =>
      Effect.gen(function* () {
        expect((yield* s.getSnapshots).size).toBe(0)
        yield* s.putSnapshot("cap:unattended", `{"value":"active"}`)
        yield* s.putSnapshot("validation", `{"value":"idle"}`)
        yield* s.putSnapshot("cap:unattended", `{"value":"grace"}`)
        expect(yield* s.getSnapshots).toEqual(
          new Map([
            ["cap:unattended", `{"value":"grace"}`],
            ["validation", `{"value":"idle"}`]
          ])
        )
      }))

    test("lists the audit log newest first, up to a limit", (s) =>
      Effect.gen(function* () {
        expect(yield* s.listAudit({ limit: 10 })).toEqual([])
        for (let n = 1; n <= 5; n++) yield* s.appendAudit(audit(n))
        expect(yield* s.listAudit({ limit: 3 })).toEqual([audit(5), audit(4), audit(3)])
        expect(yield* s.listAudit({ limit: 10 })).toHaveLength(5)
        expect(yield* s.listAudit({ limit: 0 })).toEqual([])
      }))

    test("keeps the daily usage peak, which only rises per (cap, day)", (s) =>
      Effect.gen(function* () {
        yield* s.recordUsage("unattended", "2026-03-02", 3)
        yield* s.recordUsage("unattended", "2026-03-02", 2)
        yield* s.recordUsage("developer", "2026-03-02", 1)
        yield* s.recordUsage("unattended", "2026-03-01", 4)
        yield* s.recordUsage("unattended", "2026-03-02", 5)
        expect(yield* s.usageHistory).toEqual([
          { cap: "unattended", day: "2026-03-01", peak: 4 },
          { cap: "developer", day: "2026-03-02", peak: 1 },
          { cap: "unattended", day: "2026-03-02", peak: 5 }
        ])
      }))

    test("lists usage by day, then by cap, whatever order it was recorded in", (s) =>
      Effect.gen(function* () {
        yield* s.recordUsage("unattended", "2026-03-01", 1)
        yield* s.recordUsage("developer", "2026-03-03", 2)
        yield* s.recordUsage("attended", "2026-03-02", 3)
        yield* s.recordUsage("developer", "2026-03-02", 4)
        yield* s.recordUsage("attended", "2026-03-01", 5)
        yield* s.recordUsage("unattended", "2026-03-02", 6)
        expect(yield* s.usageHistory).toEqual([
          { cap: "attended", day: "2026-03-01", peak: 5 },
          { cap: "unattended", day: "2026-03-01", peak: 1 },
          { cap: "attended", day: "2026-03-02", peak: 3 },
          { cap: "developer", day: "2026-03-02", peak: 4 },
          { cap: "unattended", day: "2026-03-02", peak: 6 },
          { cap: "developer", day: "2026-03-03", peak: 2 }
        ])
      }))

    test("reports its engine and a node id", (s) =>
      Effect.sync(() => {
        expect(s.engine).toBe(name)
        expect(s.nodeId).toMatch(/\S/)
      }))

    test("admitMany decides in order, each against the count the earlier ones left", (s) =>
      Effect.gen(function* () {
        expect(yield* s.admitMany("unattended", [], 3, 100)).toEqual([])
        yield* s.admit("unattended", "old", "Old", 3, 50)
        yield* s.deactivate("unattended", "old", 60)
        const outcomes = yield* s.admitMany(
          "unattended",
          [
            { id: "a", name: "A" },
            { id: "b", name: null },
            { id: "a", name: "again" },
            { id: "old", name: null },
            { id: "c", name: null },
            { id: "b", name: null }
          ],
          3,
          100
        )
        const principal = (id: string, name: string | null): LicenseStore.Principal => ({
          cap: "unattended",
          id,
          name,
          status: "active",
          admittedAt: 100,
          updatedAt: 100
        })
        expect(outcomes).toEqual([
          { _tag: "Admitted", principal: principal("a", "A"), used: 1 },
          { _tag: "Admitted", principal: principal("b", null), used: 2 },
          // A duplicate in one batch finds the first one's admission.
          { _tag: "AlreadyAdmitted", principal: principal("a", "A"), used: 2 },
          // A deactivated record is reactivated and keeps its name.
          { _tag: "Admitted", principal: principal("old", "Old"), used: 3 },
          { _tag: "Full", used: 3 },
          { _tag: "AlreadyAdmitted", principal: principal("b", null), used: 3 }
        ])
        expect((yield* s.countActive).unattended).toBe(3)
        // Ties of admission time keep insertion order: the reactivated record keeps its place.
        expect((yield* s.listPrincipals("unattended")).map((p) => p.id)).toEqual(["old", "a", "b"])
        expect(yield* s.admitMany("developer", [{ id: "a", name: null }], 1, 110)).toMatchObject([{ _tag: "Admitted", used: 1 }])
      }))

    test("admitMany at a full cap admits none, and a released slot goes to the next in the batch", (s) =>
      Effect.gen(function* () {
        yield* s.admitMany("attended", [{ id: "x", name: null }, { id: "y", name: null }], 2, 10)
        expect(tags(yield* s.admitMany("attended", [{ id: "p", name: null }, { id: "q", name: null }], 2, 20))).toEqual(["Full", "Full"])
        yield* s.release("attended", "x")
        expect(tags(yield* s.admitMany("attended", [{ id: "p", name: null }, { id: "q", name: null }, { id: "y", name: null }], 2, 30))).toEqual([
          "Admitted",
          "Full",
          "AlreadyAdmitted"
        ])
        expect((yield* s.listPrincipals("attended")).map((p) => p.id)).toEqual(["y", "p"])
      }))

    test("findPrincipals returns the records that exist, any status, of that cap only", (s) =>
      Effect.gen(function* () {
        yield* s.admit("unattended", "a", "A", 5, 100)
        yield* s.admit("unattended", "b", null, 5, 110)
        yield* s.deactivate("unattended", "b", 120)
        yield* s.admit("developer", "c", null, 5, 130)
        expect(yield* s.findPrincipals("unattended", [])).toEqual([])
        const found = yield* s.findPrincipals("unattended", ["b", "a", "c", "nobody", "a"])
        expect([...found].sort((x, y) => x.id.localeCompare(y.id))).toEqual([
          { cap: "unattended", id: "a", name: "A", status: "active", admittedAt: 100, updatedAt: 100 },
          { cap: "unattended", id: "b", name: null, status: "deactivated", admittedAt: 110, updatedAt: 120 }
        ])
        expect(yield* s.findPrincipals("attended", ["a", "b", "c"])).toEqual([])
      }))

    test("every shared write appends its change, in order, tagged with this node; no-ops append none", (s) =>
      Effect.gen(function* () {
        expect(yield* s.latestSeq).toBe(0)
        expect(yield* s.changesSince(0, 100)).toEqual({ changes: [], gap: false })
        yield* s.replaceLicense(null, license(1))
        yield* s.replaceLicense("fp-0", license(2))
        yield* s.setPending(license(3))
        yield* s.activate(license(4), admin("admin@acme.example"))
        yield* s.activate(license(5), admin("other@acme.example"))
        yield* s.raiseHighWater(1_000)
        yield* s.raiseHighWater(500)
        yield* s.raiseHighWater(1_000)
        yield* s.putValidation(healthy)
        yield* s.putCredential(credential("h1", "api", 1))
        yield* s.deleteCredential("h1")
        yield* s.admit("unattended", "r1", null, 1, 10)
        yield* s.admit("unattended", "r1", null, 1, 11)
        yield* s.admit("unattended", "r2", null, 1, 12)
        yield* s.deactivate("unattended", "r1", 13)
        yield* s.deactivate("unattended", "nobody", 14)
        yield* s.release("unattended", "r1")
        yield* s.release("unattended", "r1")
        yield* s.admitMany("developer", [{ id: "d1", name: null }, { id: "d2", name: null }, { id: "d1", name: null }, { id: "d3", name: null }], 2, 20)
        const page = yield* s.changesSince(0, 100)
        const n = s.nodeId
        expect(page.gap).toBe(false)
        expect(page.changes.map(gist)).toEqual([
          { topic: "license", cap: null, key: null, node: n },
          { topic: "pending", cap: null, key: null, node: n },
          { topic: "license", cap: null, key: null, node: n },
          { topic: "admin", cap: null, key: null, node: n },
          { topic: "clock", cap: null, key: null, node: n },
          { topic: "validation", cap: null, key: null, node: n },
          { topic: "credential", cap: null, key: null, node: n },
          { topic: "credential", cap: null, key: null, node: n },
          { topic: "principal", cap: "unattended", key: "r1", node: n },
          { topic: "principal", cap: "unattended", key: "r1", node: n },
          { topic: "principal", cap: "unattended", key: "r1", node: n },
          { topic: "principal", cap: "developer", key: "d1", node: n },
          { topic: "principal", cap: "developer", key: "d2", node: n }
        ])
        const seqs = page.changes.map((c) => c.seq)
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
        expect(new Set(seqs).size).toBe(seqs.length)
        expect(yield* s.latestSeq).toBe(seqs[seqs.length - 1])
      }))

    test("snapshots, audit, usage, attempts, leases and node records append no change", (s) =>
      Effect.gen(function* () {
        yield* s.raiseHighWater(1)
        const before = yield* s.latestSeq
        yield* s.putSnapshot("cap:unattended", "{}")
        yield* s.appendAudit(audit(1))
        yield* s.appendAudits([audit(2), audit(3)])
        yield* s.recordUsage("unattended", "2026-03-01", 2)
        yield* s.countAttempt("admin@acme.example", 100, 60_000)
        yield* s.clearAttempts("admin@acme.example")
        yield* s.claimLease("leader", "n1", 100, 1_000)
        yield* s.releaseLease("leader", "n1")
        yield* s.touchNode(node("n1", 1, 2))
        expect(yield* s.latestSeq).toBe(before)
        expect((yield* s.changesSince(before, 100)).changes).toEqual([])
      }))

    test("changesSince pages the log after a sequence number, at most limit changes", (s) =>
      Effect.gen(function* () {
        for (let t = 1; t <= 5; t++) yield* s.raiseHighWater(t)
        const all = (yield* s.changesSince(0, 100)).changes
        expect(all).toHaveLength(5)
        const seq = all.map((c) => c.seq)
        expect(yield* s.changesSince(0, 2)).toEqual({ changes: all.slice(0, 2), gap: false })
        expect(yield* s.changesSince(seq[1]!, 100)).toEqual({ changes: all.slice(2), gap: false })
        expect(yield* s.changesSince(seq[4]!, 100)).toEqual({ changes: [], gap: false })
        expect((yield* s.changesSince(0, 0)).changes).toEqual([])
        expect((yield* s.changesSince(0, -1)).changes).toEqual([])
      }))

    test("pruneChanges forgets changes through a sequence number and reports the gap to readers behind it", (s) =>
      Effect.gen(function* () {
        for (let t = 1; t <= 5; t++) yield* s.raiseHighWater(t)
        const seq = (yield* s.changesSince(0, 100)).changes.map((c) => c.seq)
        yield* s.pruneChanges(seq[2]!)
        expect(yield* s.changesSince(0, 100)).toMatchObject({ gap: true, changes: [{ seq: seq[3] }, { seq: seq[4] }] })
        expect((yield* s.changesSince(seq[1]!, 100)).gap).toBe(true)
        expect(yield* s.changesSince(seq[2]!, 100)).toMatchObject({ gap: false, changes: [{ seq: seq[3] }, { seq: seq[4] }] })
        // Pruning less than before changes nothing.
        yield* s.pruneChanges(seq[0]!)
        expect((yield* s.changesSince(seq[1]!, 100)).gap).toBe(true)
        expect((yield* s.changesSince(seq[2]!, 100)).changes).toHaveLength(2)
        // Pruning past the end forgets everything written so far, and no more.
        yield* s.pruneChanges(seq[4]! + 1_000)
        expect(yield* s.latestSeq).toBe(seq[4])
        expect(yield* s.changesSince(seq[4]!, 100)).toEqual({ changes: [], gap: false })
        expect((yield* s.changesSince(seq[3]!, 100)).gap).toBe(true)
        yield* s.raiseHighWater(6)
        const after = yield* s.changesSince(seq[4]!, 100)
        expect(after.gap).toBe(false)
        expect(after.changes.map(gist)).toEqual([{ topic: "clock", cap: null, key: null, node: s.nodeId }])
        expect(after.changes[0]!.seq).toBeGreaterThan(seq[4]!)
        expect(yield* s.latestSeq).toBe(after.changes[0]!.seq)
      }))

    test("countAttempt counts in a window that starts again once windowMs has passed", (s) =>
      Effect.gen(function* () {
        expect(yield* s.countAttempt("ann", 1_000, 100)).toEqual({ start: 1_000, attempts: 1 })
        expect(yield* s.countAttempt("ann", 1_050, 100)).toEqual({ start: 1_000, attempts: 2 })
        expect(yield* s.countAttempt("bob", 1_060, 100)).toEqual({ start: 1_060, attempts: 1 })
        expect(yield* s.countAttempt("ann", 1_099, 100)).toEqual({ start: 1_000, attempts: 3 })
        expect(yield* s.countAttempt("ann", 1_100, 100)).toEqual({ start: 1_100, attempts: 1 })
        expect(yield* s.countAttempt("ann", 1_150, 100)).toEqual({ start: 1_100, attempts: 2 })
        yield* s.clearAttempts("ann")
        yield* s.clearAttempts("nobody")
        expect(yield* s.countAttempt("ann", 1_160, 100)).toEqual({ start: 1_160, attempts: 1 })
        expect(yield* s.countAttempt("bob", 1_070, 100)).toEqual({ start: 1_060, attempts: 2 })
      }))

    test("claimLease: free, renewed by its holder, refused to others until it expires, then taken over", (s) =>
      Effect.gen(function* () {
        expect(yield* s.leaseHolder("leader")).toEqual(Option.none())
        expect(yield* s.claimLease("leader", "a", 1_000, 500)).toBe(true)
        expect(yield* s.leaseHolder("leader")).toEqual(Option.some({ holder: "a", until: 1_500 }))
        expect(yield* s.claimLease("leader", "b", 1_200, 500)).toBe(false)
        expect(yield* s.leaseHolder("leader")).toEqual(Option.some({ holder: "a", until: 1_500 }))
        expect(yield* s.claimLease("leader", "a", 1_300, 500)).toBe(true)
        expect(yield* s.leaseHolder("leader")).toEqual(Option.some({ holder: "a", until: 1_800 }))
        expect(yield* s.claimLease("leader", "b", 1_799, 500)).toBe(false)
        // Its end is not after now: expired.
        expect(yield* s.claimLease("leader", "b", 1_800, 500)).toBe(true)
        expect(yield* s.leaseHolder("leader")).toEqual(Option.some({ holder: "b", until: 2_300 }))
        // Leases of other names are independent.
        expect(yield* s.claimLease("culler", "a", 1_900, 500)).toBe(true)
        expect(yield* s.leaseHolder("culler")).toEqual(Option.some({ holder: "a", until: 2_400 }))
      }))

    test("releaseLease frees a lease its holder gives up, and only then", (s) =>
      Effect.gen(function* () {
        yield* s.claimLease("leader", "a", 1_000, 500)
        yield* s.releaseLease("leader", "b")
        expect(yield* s.leaseHolder("leader")).toEqual(Option.some({ holder: "a", until: 1_500 }))
        expect(yield* s.claimLease("leader", "b", 1_100, 500)).toBe(false)
        yield* s.releaseLease("leader", "a")
        expect(yield* s.claimLease("leader", "b", 1_100, 500)).toBe(true)
        expect(yield* s.leaseHolder("leader")).toEqual(Option.some({ holder: "b", until: 1_600 }))
        yield* s.releaseLease("nothing", "a")
        expect(yield* s.leaseHolder("nothing")).toEqual(Option.none())
      }))

    test("touchNode records a node; listNodes lists those seen since a time, by start time", (s) =>
      Effect.gen(function* () {
        expect(yield* s.listNodes(0)).toEqual([])
        yield* s.touchNode(node("n1", 200, 1_000))
        yield* s.touchNode(node("n2", 100, 900))
        yield* s.touchNode(node("n3", 300, 500))
        expect(yield* s.listNodes(0)).toEqual([node("n2", 100, 900), node("n1", 200, 1_000), node("n3", 300, 500)])
        expect(yield* s.listNodes(900)).toEqual([node("n2", 100, 900), node("n1", 200, 1_000)])
        yield* s.touchNode(node("n3", 300, 1_100, 7))
        expect(yield* s.listNodes(1_000)).toEqual([node("n1", 200, 1_000), node("n3", 300, 1_100, 7)])
        expect(yield* s.listNodes(2_000)).toEqual([])
      }))

    test("appendAudits appends several lines in order", (s) =>
      Effect.gen(function* () {
        yield* s.appendAudits([])
        yield* s.appendAudit(audit(1))
        yield* s.appendAudits([audit(2), audit(3), audit(4)])
        expect(yield* s.listAudit({ limit: 10 })).toEqual([audit(4), audit(3), audit(2), audit(1)])
      }))

    test("100 concurrent admits at ceiling 5 admit exactly 5", (s) =>
      Effect.gen(function* () {
        const outcomes = yield* Effect.all(
          Array.from({ length: 100 }, (_, i) => s.admit("unattended", `runner-${i}`, null, 5, 1000 + i)),
          { concurrency: "unbounded" }
        )
        expect(tags(outcomes).filter((t) => t === "Admitted")).toHaveLength(5)
        expect(tags(outcomes).filter((t) => t === "Full")).toHaveLength(95)
        expect((yield* s.countActive).unattended).toBe(5)
      }))

    // ---- principal leases (DESIGN §12) ----------------------------------------------------------------------------

    leasing("sets, changes and clears a cap's lease, each with a settings change for the cap", (s) =>
      Effect.gen(function* () {
        expect(yield* s.capLeases).toEqual([])
        const before = yield* s.latestSeq
        yield* s.setCapLease("unattended", { leaseSeconds: 600, reviveSeconds: 300 }, 1_000)
        yield* s.setCapLease("attended", { leaseSeconds: 60, reviveSeconds: 0 }, 2_000)
        yield* s.setCapLease("unattended", { leaseSeconds: 120, reviveSeconds: 30 }, 3_000)
        expect(yield* s.capLeases).toEqual([
          { cap: "unattended", leaseSeconds: 120, reviveSeconds: 30, since: 3_000 },
          { cap: "attended", leaseSeconds: 60, reviveSeconds: 0, since: 2_000 }
        ])
        yield* s.setCapLease("attended", null, 4_000)
        expect(yield* s.capLeases).toEqual([{ cap: "unattended", leaseSeconds: 120, reviveSeconds: 30, since: 3_000 }])
        const page = yield* s.changesSince(before, 100)
        expect(page.changes.map(gist)).toEqual(
          (["unattended", "attended", "unattended", "attended"] as const).map((cap) => ({ topic: "settings", cap, key: null, node: s.nodeId }))
        )
      }))

    leasing("an admission starts the principal's lease; the base listing keeps its shape", (s) =>
      Effect.gen(function* () {
        yield* s.admit("unattended", "r1", "Runner 1", 5, 100)
        yield* s.admit("unattended", "r2", null, 5, 200)
        expect(yield* s.listLeased("unattended")).toEqual([
          { cap: "unattended", id: "r1", name: "Runner 1", status: "active", admittedAt: 100, updatedAt: 100, heartbeatAt: 100, culledAt: null },
          { cap: "unattended", id: "r2", name: null, status: "active", admittedAt: 200, updatedAt: 200, heartbeatAt: 200, culledAt: null }
        ])
        expect(yield* s.listPrincipals("unattended")).toEqual([
          { cap: "unattended", id: "r1", name: "Runner 1", status: "active", admittedAt: 100, updatedAt: 100 },
          { cap: "unattended", id: "r2", name: null, status: "active", admittedAt: 200, updatedAt: 200 }
        ])
      }))

    leasing("culls exactly the principals whose lease ended at or before now, as of their lease's end", (s) =>
      Effect.gen(function* () {
        yield* s.admit("unattended", "early", null, 5, 10_000)
        yield* s.admit("unattended", "late", null, 5, 20_000)
        yield* s.admit("developer", "other", null, 5, 10_000)
        // No lease: no one is culled, and nothing is due.
        expect(yield* s.cull("unattended", 1_000_000)).toEqual({ culled: [], used: 2, nextEndAt: null })
        yield* s.setCapLease("unattended", { leaseSeconds: 60, reviveSeconds: 30 }, 0)
        expect(yield* s.cull("unattended", 69_999)).toEqual({ culled: [], used: 2, nextEndAt: 70_000 })
        const seq = yield* s.latestSeq
        const first = yield* s.cull("unattended", 70_000)
        expect(first).toEqual({
          culled: [{ cap: "unattended", id: "early", name: null, status: "expired", admittedAt: 10_000, updatedAt: 70_000, heartbeatAt: 10_000, culledAt: 70_000 }],
          used: 1,
          nextEndAt: 80_000
        })
        expect((yield* s.changesSince(seq, 10)).changes.map(gist)).toEqual([{ topic: "principal", cap: "unattended", key: "early", node: s.nodeId }])
        // Late: culled as of its lease's end, not of the call.
        expect((yield* s.cull("unattended", 500_000)).culled.map((p) => [p.id, p.culledAt])).toEqual([["late", 80_000]])
        expect(yield* s.cull("unattended", 600_000)).toEqual({ culled: [], used: 0, nextEndAt: null })
        expect((yield* s.countActive)).toEqual({ unattended: 0, developer: 1, attended: 0 })
        expect((yield* s.findPrincipals("unattended", ["early"]))[0]?.status).toBe("expired")
      }))

    leasing("a heartbeat renews an active lease; an unknown or deactivated principal is not admitted", (s) =>
      Effect.gen(function* () {
        yield* s.setCapLease("unattended", { leaseSeconds: 60, reviveSeconds: 30 }, 0)
        yield* s.admit("unattended", "r1", null, 5, 1_000)
        yield* s.admit("unattended", "r2", null, 5, 1_000)
        yield* s.deactivate("unattended", "r2", 2_000)
        const seq = yield* s.latestSeq
        expect(yield* s.heartbeat("unattended", "r1", 5, 50_000)).toMatchObject({ _tag: "Renewed", used: 1, principal: { id: "r1", status: "active", heartbeatAt: 50_000 } })
        // A renewal is per-principal bookkeeping: no change for the other nodes.
        expect(yield* s.latestSeq).toBe(seq)
        expect(yield* s.cull("unattended", 109_999)).toEqual({ culled: [], used: 1, nextEndAt: 110_000 })
        expect(yield* s.heartbeat("unattended", "r2", 5, 50_000)).toEqual({ _tag: "NotAdmitted", used: 1 })
        expect(yield* s.heartbeat("unattended", "nobody", 5, 50_000)).toEqual({ _tag: "NotAdmitted", used: 1 })
        // A cap without a lease records heartbeats all the same.
        yield* s.admit("developer", "d1", null, 5, 1_000)
        expect(yield* s.heartbeat("developer", "d1", 5, 9_000_000)).toMatchObject({ _tag: "Renewed", principal: { heartbeatAt: 9_000_000 } })
      }))

    leasing("a heartbeat after the lease's end culls and revives within the window, if a slot is free", (s) =>
      Effect.gen(function* () {
        yield* s.setCapLease("unattended", { leaseSeconds: 60, reviveSeconds: 30 }, 0)
        yield* s.admit("unattended", "r1", null, 2, 0)
        // Before any cull ran: the heartbeat decides as if the cull had (the lease ended at 60 s), then revives.
        const seq = yield* s.latestSeq
        expect(yield* s.heartbeat("unattended", "r1", 2, 75_000)).toMatchObject({
          _tag: "Revived",
          used: 1,
          principal: { status: "active", heartbeatAt: 75_000, culledAt: null }
        })
        expect((yield* s.changesSince(seq, 10)).changes.map((c) => [c.topic, c.key])).toEqual([["principal", "r1"], ["principal", "r1"]])
        // Culled by a cull, then revived at the window's last instant.
        expect((yield* s.cull("unattended", 135_000)).culled.map((p) => p.culledAt)).toEqual([135_000])
        expect(yield* s.heartbeat("unattended", "r1", 2, 165_000)).toMatchObject({ _tag: "Revived", used: 1 })
        expect(yield* s.listLeased("unattended")).toMatchObject([{ id: "r1", status: "active", admittedAt: 165_000, heartbeatAt: 165_000, culledAt: null }])
      }))

    leasing("a heartbeat after the revive window is lapsed; within it but at the ceiling is full; neither takes a slot", (s) =>
      Effect.gen(function* () {
        yield* s.setCapLease("unattended", { leaseSeconds: 60, reviveSeconds: 30 }, 0)
        yield* s.admit("unattended", "r1", null, 1, 0)
        yield* s.cull("unattended", 60_000)
        expect(yield* s.admit("unattended", "r2", null, 1, 61_000)).toMatchObject({ _tag: "Admitted", used: 1 })
        expect(yield* s.heartbeat("unattended", "r1", 1, 70_000)).toMatchObject({ _tag: "Full", used: 1, principal: { id: "r1", status: "expired", culledAt: 60_000 } })
        expect(yield* s.heartbeat("unattended", "r1", 1, 90_001)).toMatchObject({ _tag: "Lapsed", used: 1, principal: { status: "expired" } })
        // Turning the lease off ends every revive window.
        yield* s.release("unattended", "r2")
        yield* s.setCapLease("unattended", null, 70_000)
        expect(yield* s.heartbeat("unattended", "r1", 1, 70_000)).toMatchObject({ _tag: "Lapsed", used: 0 })
        expect((yield* s.countActive).unattended).toBe(0)
      }))

    leasing("a changed lease runs from the change; an expired principal is admitted again like a new one", (s) =>
      Effect.gen(function* () {
        yield* s.admit("unattended", "r1", "Runner 1", 5, 0)
        // Set long after r1's admission: its lease runs from the setting, not from its admission.
        yield* s.setCapLease("unattended", { leaseSeconds: 60, reviveSeconds: 0 }, 1_000_000)
        expect(yield* s.cull("unattended", 1_000_000)).toEqual({ culled: [], used: 1, nextEndAt: 1_060_000 })
        expect((yield* s.cull("unattended", 1_060_000)).culled.map((p) => p.id)).toEqual(["r1"])
        expect(yield* s.admit("unattended", "r1", null, 5, 2_000_000)).toMatchObject({ _tag: "Admitted", used: 1, principal: { name: "Runner 1", status: "active" } })
        expect(yield* s.listLeased("unattended")).toMatchObject([{ status: "active", heartbeatAt: 2_000_000, culledAt: null }])
        // Deactivating an expired principal keeps the record, no longer expired.
        yield* s.cull("unattended", 2_060_000)
        yield* s.deactivate("unattended", "r1", 2_070_000)
        expect(yield* s.listLeased("unattended")).toMatchObject([{ status: "deactivated", updatedAt: 2_060_000, culledAt: null }])
      }))

    leasing("heartbeats racing culls at the lease's end never exceed the ceiling nor count a principal twice", (s) =>
      Effect.gen(function* () {
        yield* s.setCapLease("unattended", { leaseSeconds: 60, reviveSeconds: 60 }, 0)
        for (let i = 0; i < 4; i++) yield* s.admit("unattended", `r${i}`, null, 4, 0)
        const work: Array<Effect.Effect<unknown, LicenseStore.StoreError>> = []
        for (let round = 0; round < 5; round++) {
          work.push(s.cull("unattended", 60_000 + round))
          for (let i = 0; i < 4; i++) work.push(s.heartbeat("unattended", `r${i}`, 4, 60_000 + round))
          work.push(s.admit("unattended", `newcomer-${round}`, null, 4, 60_000 + round))
        }
        yield* Effect.all(work, { concurrency: "unbounded" })
        const listed = yield* s.listLeased("unattended")
        const active = listed.filter((p) => p.status === "active")
        expect(active.length).toBeLessThanOrEqual(4)
        expect((yield* s.countActive).unattended).toBe(active.length)
        expect(new Set(listed.map((p) => p.id)).size).toBe(listed.length)
      }))
  })

contract("memory", () => LicenseStore.layerMemory)
contract("sqlite", () => LicenseStore.layerSqlite({ filename: freshFile() }))
// A database of its own per test: tests stay independent, and may run beside other suites on the same server.
contract("postgres", () => Layer.unwrapScoped(Effect.map(freshDatabase(), (db) => LicenseStore.layerPostgres({ url: db.url }))))

describe("LicenseStore SQLite", () => {
  it.effect("keeps everything across a close and reopen", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const layer = LicenseStore.layerSqlite({ filename })
      const validation: LicenseStore.ValidationRecord = {
        lastAttemptAt: 5,
        lastSuccessAt: 5,
        failingSince: null,
        lastError: null,
        lastStatus: "valid",
        consecutiveFailures: 0,
        nextAttemptAt: 9
      }
      yield* withStore(layer, (s) =>
        Effect.gen(function* () {
          yield* s.ensureInstallationId("inst_kept")
          yield* s.activate(license(1), admin("admin@acme.example"))
          yield* s.replaceLicense("fp-1", license(2))
          yield* s.setPending(license(3))
          yield* s.raiseHighWater(777)
          yield* s.putValidation(validation)
          yield* s.putCredential(credential("h1", "api", 1))
          yield* s.admit("unattended", "r1", "Runner 1", 3, 10)
          yield* s.admit("developer", "d1", null, 3, 11)
          yield* s.deactivate("developer", "d1", 12)
          yield* s.putSnapshot("cap:unattended", "{}")
          yield* s.appendAudit(audit(1))
          yield* s.recordUsage("unattended", "2026-01-01", 1)
        })
      )
      yield* withStore(layer, (s) =>
        Effect.gen(function* () {
          expect(yield* s.ensureInstallationId("inst_new")).toBe("inst_kept")
          expect(yield* s.getAdmin).toEqual(Option.some(admin("admin@acme.example")))
          expect(yield* s.getLicense).toEqual(Option.some(license(2)))
          expect(yield* s.licenseHistory).toEqual([license(1), license(2)])
          expect(yield* s.getPending).toEqual(Option.some(license(3)))
          expect(yield* s.getHighWater).toBe(777)
          expect(yield* s.getValidation).toEqual(Option.some(validation))
          expect(yield* s.listCredentials("api")).toEqual([credential("h1", "api", 1)])
          expect(yield* s.countActive).toEqual({ unattended: 1, developer: 0, attended: 0 })
          expect(yield* s.listPrincipals("developer")).toEqual([
            { cap: "developer", id: "d1", name: null, status: "deactivated", admittedAt: 11, updatedAt: 12 }
          ])
          expect(yield* s.getSnapshots).toEqual(new Map([["cap:unattended", "{}"]]))
          expect(yield* s.listAudit({ limit: 5 })).toEqual([audit(1)])
          expect(yield* s.usageHistory).toEqual([{ cap: "unattended", day: "2026-01-01", peak: 1 }])
        })
      )
    }))

  it.effect("two connections on one file, as two processes, never exceed the ceiling together", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const open = Effect.map(Layer.build(LicenseStore.layerSqlite({ filename })), Context.get(Store))
      const [a, b] = [yield* open, yield* open]
      const race = (s: Service, prefix: string) =>
        Array.from({ length: 50 }, (_, i) => s.admit("unattended", `${prefix}-${i}`, null, 10, i))
      const outcomes = yield* Effect.all([...race(a, "a"), ...race(b, "b")], { concurrency: "unbounded" })
      expect(tags(outcomes).filter((t) => t === "Admitted")).toHaveLength(10)
      expect((yield* a.countActive).unattended).toBe(10)
      expect((yield* b.listPrincipals("unattended")).filter((p) => p.status === "active")).toHaveLength(10)
    }).pipe(Effect.scoped))

  it.effect("interrupted admits leave no transaction open", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const open = Effect.map(Layer.build(LicenseStore.layerSqlite({ filename, busyTimeoutMs: 2000 })), Context.get(Store))
      const [a, b] = [yield* open, yield* open]
      const fiber = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 20 }, (_, i) => a.admit("attended", `u-${i}`, null, 100, i)),
          { concurrency: "unbounded" }
        )
      )
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      // Another connection can still take the write lock, and the first connection still commits.
      expect(yield* b.admit("attended", "other", null, 100, 0)).toMatchObject({ _tag: "Admitted" })
      expect(yield* a.admit("attended", "after", null, 100, 0)).toMatchObject({ _tag: "Admitted" })
      const active = (yield* b.listPrincipals("attended")).length
      expect((yield* a.countActive).attended).toBe(active)
    }).pipe(Effect.scoped))

  it.effect("refuses a database written by a newer schema with STORE_CORRUPT", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      yield* raw(filename, "PRAGMA user_version = 99")
      const error = yield* Effect.flip(withStore(LicenseStore.layerSqlite({ filename }), () => Effect.void))
      expect(error.code).toBe("STORE_CORRUPT")
      expect(error.message).toMatch(/schema version 99.*newer Exekra release/)
    }))

  it.effect("reports a file it cannot open as STORE_UNAVAILABLE", () =>
    Effect.gen(function* () {
      const filename = join(dir, "missing-directory", "store.db")
      const error = yield* Effect.flip(withStore(LicenseStore.layerSqlite({ filename }), () => Effect.void))
      expect(error.code).toBe("STORE_UNAVAILABLE")
      expect(error.message).toContain(filename)
      expect(error.message).toBe(
        `The license store at ${filename} could not open the database (SQLITE_CANTOPEN: unable to open database file). ` +
          "Check that the directory exists and that the Hub may read and write it."
      )
    }))

  it.effect("reports a file that is not a database as STORE_CORRUPT", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      writeFileSync(filename, "not a license store\n".repeat(200))
      const error = yield* Effect.flip(withStore(LicenseStore.layerSqlite({ filename }), () => Effect.void))
      expect(error).toMatchObject({
        _tag: "StoreError",
        code: "STORE_CORRUPT",
        message:
          `The license store at ${filename} could not configure the database (SQLITE_NOTADB: file is not a database). ` +
          "The file is damaged or is not an Exekra database; restore it from a backup."
      })
    }))

  it.effect("reports a write lock another process holds past busyTimeoutMs as STORE_UNAVAILABLE", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const s = yield* Effect.map(Layer.build(LicenseStore.layerSqlite({ filename, busyTimeoutMs: 25 })), Context.get(Store))
      const error = yield* Effect.flip(Effect.scoped(Effect.zipRight(holdWriteLock(filename), s.admit("unattended", "runner-a", null, 5, 100))))
      expect(error).toMatchObject({
        _tag: "StoreError",
        code: "STORE_UNAVAILABLE",
        message:
          `The license store at ${filename} could not admit a principal (SQLITE_BUSY: database is locked). ` +
          "Another process held the database lock for more than 25 ms; retry, or raise busyTimeoutMs."
      })
      expect(yield* s.admit("unattended", "runner-a", null, 5, 100)).toMatchObject({ _tag: "Admitted", used: 1 })
    }).pipe(Effect.scoped))

  it.effect("names what every operation could not do when the database fails under it", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const s = yield* Effect.map(Layer.build(LicenseStore.layerSqlite({ filename })), Context.get(Store))
      // Another tool drops the schema under the open connection: every statement now fails.
      for (const table of tables) yield* raw(filename, `DROP TABLE ${table}`)
      const operations: ReadonlyArray<readonly [string, string, Effect.Effect<unknown, LicenseStore.StoreError>]> = [
        ["record the installation id", "meta", s.ensureInstallationId("inst_a")],
        ["read the installed license", "licenses", s.getLicense],
        ["replace the installed license", "licenses", s.replaceLicense(null, license(1))],
        ["read the license history", "licenses", s.licenseHistory],
        ["read the pending license", "pending_license", s.getPending],
        ["store the pending license", "pending_license", s.setPending(license(1))],
        ["activate the Hub", "admin", s.activate(license(1), admin("admin@acme.example"))],
        ["read the admin account", "admin", s.getAdmin],
        ["read the time high-water mark", "meta", s.getHighWater],
        ["raise the time high-water mark", "meta", s.raiseHighWater(1)],
        ["read the validation record", "validation", s.getValidation],
        ["store the validation record", "validation", s.putValidation(healthy)],
        ["store a credential", "credentials", s.putCredential(credential("h1", "api", 1))],
        ["read a credential", "credentials", s.findCredential("h1")],
        ["delete a credential", "credentials", s.deleteCredential("h1")],
        ["list credentials", "credentials", s.listCredentials("api")],
        ["list principals", "principals", s.listPrincipals("unattended")],
        ["count active principals", "principals", s.countActive],
        ["admit a principal", "principals", s.admit("unattended", "runner-a", null, 5, 100)],
        ["release a principal", "principals", s.release("unattended", "runner-a")],
        ["deactivate a principal", "principals", s.deactivate("unattended", "runner-a", 100)],
        ["read the cap leases", "cap_leases", s.capLeases],
        ["set a cap's lease", "cap_leases", s.setCapLease("unattended", { leaseSeconds: 60, reviveSeconds: 0 }, 100)],
        ["list principals", "principals", s.listLeased("unattended")],
        ["record a heartbeat", "cap_leases", s.heartbeat("unattended", "runner-a", 5, 100)],
        ["cull principals whose lease ended", "cap_leases", s.cull("unattended", 100)],
        ["read snapshots", "snapshots", s.getSnapshots],
        ["store a snapshot", "snapshots", s.putSnapshot("validation", "{}")],
        ["append to the audit log", "audit", s.appendAudit(audit(1))],
        ["read the audit log", "audit", s.listAudit({ limit: 5 })],
        ["record usage", "usage", s.recordUsage("unattended", "2026-01-01", 1)],
        ["read the usage history", "usage", s.usageHistory]
      ]
      for (const [what, table, operation] of operations) {
        const error = yield* Effect.flip(operation)
        expect(error).toMatchObject({
          _tag: "StoreError",
          code: "STORE_FAILED",
          message:
            `The license store at ${filename} could not ${what} (SQLITE_ERROR: no such table: ${table}). ` +
            "This is unexpected: keep the database file and report the error."
        })
      }
    }).pipe(Effect.scoped))

  it.effect("runs in WAL mode", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      yield* withStore(LicenseStore.layerSqlite({ filename }), (s) => s.raiseHighWater(1))
      expect(yield* raw(filename, "PRAGMA journal_mode")).toEqual([{ journal_mode: "wal" }])
    }))
})

describe("LicenseStore PostgreSQL", () => {
  /** A store of its own (a node) on the database at `url`; its pool closes with the scope. */
  const open = (url: string, options: Omit<LicenseStore.PostgresOptions, "url"> = {}) =>
    Effect.map(Layer.build(LicenseStore.layerPostgres({ url, ...options })), Context.get(Store))
  /** Every connection to database `name` but the caller's own ends, as `pg_terminate_backend` (or a server restart) ends them. */
  const terminate = (name: string, where = "true") =>
    sqlAt(serverUrl, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND ${where}`, [name])
  /** Until `n` sessions of database `name` wait for a lock. */
  const waitingOnLocks = (name: string, n: number): Effect.Effect<void> =>
    Effect.repeat(
      sqlAt(serverUrl, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [name]),
      { until: (rows) => rows[0]?.n === n }
    ).pipe(Effect.asVoid)
  const isUnavailable = (exit: Exit.Exit<unknown, LicenseStore.StoreError>) =>
    Exit.isSuccess(exit) || Option.exists(Cause.failureOption(exit.cause), (e) => e.code === "STORE_UNAVAILABLE")

  it.effect("three nodes opening one new database at once upgrade its schema exactly once", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const nodes = yield* Effect.all([open(db.url), open(db.url), open(db.url)], { concurrency: "unbounded" })
      const steps = yield* sqlAt(db.url, "SELECT version, applied_by FROM exekra_migrations ORDER BY version")
      expect(steps.length).toBeGreaterThan(0)
      expect(steps.map((r) => r.version)).toEqual(steps.map((_, i) => i + 1))
      for (const step of steps) expect(nodes.map((n) => `exekra-hub ${n.nodeId}`)).toContain(step.applied_by)
      expect(new Set(nodes.map((n) => n.nodeId)).size).toBe(3)
      // One schema, shared: what one node writes, the others read.
      expect(yield* nodes[0]!.admit("unattended", "runner-a", null, 5, 100)).toMatchObject({ _tag: "Admitted", used: 1 })
      expect(yield* nodes[1]!.admit("unattended", "runner-a", null, 5, 110)).toMatchObject({ _tag: "AlreadyAdmitted", used: 1 })
      expect((yield* nodes[2]!.countActive).unattended).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("two nodes (two pools) racing 200 acquisitions at a ceiling of 10 admit exactly 10", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const [a, b] = [yield* open(db.url), yield* open(db.url)]
      const singles = Array.from({ length: 100 }, (_, i) => Effect.map(a.admit("unattended", `a-${i}`, null, 10, i), (o) => [o]))
      const batches = Array.from({ length: 10 }, (_, i) =>
        b.admitMany("unattended", Array.from({ length: 10 }, (_, j) => ({ id: `b-${i}-${j}`, name: null })), 10, i)
      )
      const outcomes = (yield* Effect.all([...singles, ...batches], { concurrency: "unbounded" })).flat()
      expect(outcomes).toHaveLength(200)
      expect(tags(outcomes).filter((t) => t === "Admitted")).toHaveLength(10)
      expect(Math.max(...outcomes.map((o) => o.used))).toBe(10)
      expect((yield* a.countActive).unattended).toBe(10)
      expect((yield* b.listPrincipals("unattended")).filter((p) => p.status === "active")).toHaveLength(10)
      expect(yield* sqlAt(db.url, "SELECT used FROM exekra_caps WHERE cap = 'unattended'")).toEqual([{ used: 10 }])
      // Releases keep the counter exact, and a freed slot is there for the other node.
      const admitted = (yield* a.listPrincipals("unattended")).map((p) => p.id)
      expect(yield* b.release("unattended", admitted[0]!)).toBe(true)
      expect(yield* a.deactivate("unattended", admitted[1]!, 500)).toBe(true)
      expect(tags(yield* a.admitMany("unattended", [{ id: "late-1", name: null }, { id: "late-2", name: null }, { id: "late-3", name: null }], 10, 600))).toEqual([
        "Admitted",
        "Admitted",
        "Full"
      ])
      expect(yield* sqlAt(db.url, "SELECT count(*)::int AS n FROM exekra_principals WHERE cap = 'unattended' AND status = 'active'")).toEqual([{ n: 10 }])
    }).pipe(Effect.scoped))

  it.effect("heartbeats on one node racing culls and acquisitions on another keep the count exact and under the ceiling", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const [a, b] = [yield* open(db.url), yield* open(db.url)]
      yield* a.setCapLease("unattended", { leaseSeconds: 60, reviveSeconds: 60 }, 0)
      yield* a.admitMany("unattended", Array.from({ length: 6 }, (_, i) => ({ id: `r${i}`, name: null })), 6, 0)
      const work: Array<Effect.Effect<unknown, LicenseStore.StoreError>> = []
      for (let round = 0; round < 10; round++) {
        work.push(b.cull("unattended", 60_000 + round))
        for (let i = 0; i < 6; i++) work.push((i % 2 === 0 ? a : b).heartbeat("unattended", `r${i}`, 6, 60_000 + round))
        work.push(b.admit("unattended", `newcomer-${round}`, null, 6, 60_000 + round))
      }
      yield* Effect.all(work, { concurrency: "unbounded" })
      const active = (yield* a.listLeased("unattended")).filter((p) => p.status === "active")
      expect(active.length).toBeLessThanOrEqual(6)
      expect((yield* b.countActive).unattended).toBe(active.length)
      expect(yield* sqlAt(db.url, "SELECT used FROM exekra_caps WHERE cap = 'unattended'")).toEqual([{ used: active.length }])
    }).pipe(Effect.scoped))

  it.live("a node's wakeups fire after another node writes", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const [a, b] = [yield* open(db.url), yield* open(db.url)]
      const woken = yield* Queue.unbounded<void>()
      yield* Effect.forkScoped(Stream.runForEach(b.wakeups, () => Queue.offer(woken, undefined)))
      // The first wakeup says the subscription is in place.
      yield* Queue.take(woken).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("never subscribed") }))
      yield* Effect.sleep("300 millis")
      expect(yield* Queue.takeAll(woken)).toHaveLength(0)
      yield* a.raiseHighWater(5_000)
      yield* Queue.take(woken).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no wakeup after the write") }))
      expect((yield* b.changesSince(0, 10)).changes.map(gist)).toEqual([{ topic: "clock", cap: null, key: null, node: a.nodeId }])
      expect(yield* b.getHighWater).toBe(5_000)
    }).pipe(Effect.scoped))

  it.live("wakeups subscribe again after the listener's connection is terminated", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const [a, b] = [yield* open(db.url), yield* open(db.url)]
      const woken = yield* Queue.unbounded<void>()
      yield* Effect.forkScoped(Stream.runForEach(b.wakeups, () => Queue.offer(woken, undefined)))
      yield* Queue.take(woken).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("never subscribed") }))
      yield* terminate(db.name, `application_name = 'exekra-hub ${b.nodeId}'`)
      // The listener notices that its pings no longer come back, subscribes again on a fresh connection, and says so.
      yield* Queue.take(woken).pipe(Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error("never subscribed again") }))
      yield* Queue.takeAll(woken)
      yield* a.putValidation(healthy)
      yield* Queue.take(woken).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no wakeup after the write") }))
    }).pipe(Effect.scoped), 40_000)

  it.effect("terminated connections fail a call with STORE_UNAVAILABLE at worst, and the next call works", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const s = yield* open(db.url, { poolSize: 4 })
      for (let round = 0; round < 3; round++) {
        // Four calls at once leave four connections in the pool for the termination to kill.
        yield* Effect.all(Array.from({ length: 4 }, () => s.countActive), { concurrency: "unbounded" })
        expect((yield* terminate(db.name)).length).toBeGreaterThan(0)
        const exits = yield* Effect.all(
          Array.from({ length: 4 }, (_, i) => Effect.exit(s.admit("unattended", `r-${round}-${i}`, null, 100, round))),
          { concurrency: "unbounded" }
        )
        for (const exit of exits) expect(isUnavailable(exit), String(exit)).toBe(true)
        expect(yield* s.admit("unattended", `after-${round}`, null, 100, round)).toMatchObject({ _tag: "Admitted" })
      }
      const active = (yield* s.listPrincipals("unattended")).length
      expect((yield* s.countActive).unattended).toBe(active)
    }).pipe(Effect.scoped))

  it.effect("a statement that runs past statementTimeoutMs fails with STORE_UNAVAILABLE", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const s = yield* open(db.url, { statementTimeoutMs: 300 })
      const other = yield* client(db.url)
      // Another session holds the cap's row lock: the acquisition waits on it until its statement times out.
      const error = yield* other.withTransaction(
        Effect.zipRight(
          other.unsafe("SELECT used FROM exekra_caps WHERE cap = 'unattended' FOR UPDATE"),
          Effect.flip(s.admit("unattended", "runner-a", null, 5, 100))
        )
      )
      expect(error).toMatchObject({
        _tag: "StoreError",
        code: "STORE_UNAVAILABLE",
        message:
          `The license store at ${displayUrl(db.url)} could not admit a principal (SQLSTATE 57014: canceling statement due to statement timeout). ` +
          "The statement ran longer than the statement timeout of 300 ms (or was cancelled); retry, or raise statementTimeoutMs."
      })
      expect(yield* s.admit("unattended", "runner-a", null, 5, 100)).toMatchObject({ _tag: "Admitted", used: 1 })
    }).pipe(Effect.scoped))

  // Regression: @effect/sql finds "the current transaction" by a tag every client shares, so the store's statements
  // ran on the connection of any transaction its caller had open, of another client and even another database.
  it.effect("runs on its own connections inside a transaction of another SQL client", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const s = yield* open(db.url)
      yield* s.raiseHighWater(7)
      const elsewhere = yield* client(serverUrl)
      const [seq, mark] = yield* elsewhere.withTransaction(Effect.all([s.latestSeq, s.getHighWater]))
      expect([seq, mark]).toEqual([1, 7])
    }).pipe(Effect.scoped))

  it.effect("no free connection within connectTimeoutMs is STORE_UNAVAILABLE", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const s = yield* open(db.url, { poolSize: 1, connectTimeoutMs: 300 })
      const other = yield* client(db.url)
      const error = yield* other.withTransaction(
        Effect.gen(function* () {
          yield* other.unsafe("SELECT used FROM exekra_caps WHERE cap = 'unattended' FOR UPDATE")
          // The pool's only connection waits on the lock; the next call waits for the pool.
          const blocked = yield* Effect.fork(s.admit("unattended", "runner-a", null, 5, 100))
          yield* waitingOnLocks(db.name, 1)
          const error = yield* Effect.flip(s.getLicense)
          return [error, blocked] as const
        })
      ).pipe(Effect.flatMap(([error, blocked]) => Effect.as(Fiber.join(blocked), error)))
      expect(error.code).toBe("STORE_UNAVAILABLE")
      expect(error.message).toBe(
        `The license store at ${displayUrl(db.url)} could not read the installed license (timeout exceeded when trying to connect). ` +
          "No connection was free or could be opened within 300 ms; retry, or raise poolSize or connectTimeoutMs."
      )
      expect((yield* s.countActive).unattended).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("refuses a database upgraded by a newer release with STORE_CORRUPT", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      yield* Effect.scoped(open(db.url))
      yield* sqlAt(db.url, "INSERT INTO exekra_migrations (version) VALUES (99)")
      const error = yield* Effect.flip(Effect.scoped(open(db.url)))
      expect(error.code).toBe("STORE_CORRUPT")
      expect(error.message).toMatch(
        new RegExp(
          `^The license store at ${displayUrl(db.url)} has schema version 99, but this Hub knows versions up to \\d+: ` +
            "it was written by a newer Exekra release\\. Upgrade this Hub, or restore a backup taken before the upgrade\\.$"
        )
      )
    }).pipe(Effect.scoped))

  it.effect("an unreachable server is STORE_UNAVAILABLE, named without the password", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(open("postgres://hub:s3cret-pw@127.0.0.1:1/licenses", { connectTimeoutMs: 2_000 })))
      expect(error.code).toBe("STORE_UNAVAILABLE")
      expect(error.message).toBe(
        "The license store at postgres://127.0.0.1:1/licenses could not connect to the database (connect ECONNREFUSED 127.0.0.1:1). " +
          "Check that PostgreSQL is running and that this node can reach it; the Hub keeps answering checks and retries."
      )
      expect(error.message).not.toContain("s3cret")
    }))

  it.effect("a server that never answers is STORE_UNAVAILABLE after connectTimeoutMs", () =>
    Effect.gen(function* () {
      // Accepts connections and says nothing, as a host behind a dropped route would.
      const sockets = new Set<Socket>()
      const silent = yield* Effect.acquireRelease(
        Effect.async<Server>((resume) => {
          const server = createServer((socket) => void sockets.add(socket))
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) =>
          Effect.sync(() => {
            for (const socket of sockets) socket.destroy()
            server.close()
          })
      )
      const port = (silent.address() as AddressInfo).port
      const error = yield* Effect.flip(Effect.scoped(open(`postgres://hub@127.0.0.1:${port}/licenses`, { connectTimeoutMs: 300 })))
      expect(error).toMatchObject({ code: "STORE_UNAVAILABLE" })
      expect(error.message).toMatch(
        new RegExp(
          `^The license store at postgres://127\\.0\\.0\\.1:${port}/licenses could not connect to the database \\(.*time.*\\)\\. ` +
            "No connection was free or could be opened within 300 ms; retry, or raise poolSize or connectTimeoutMs\\.$",
          "i"
        )
      )
    }).pipe(Effect.scoped))

  it.effect("a database that does not exist is STORE_FAILED, saying to create it", () =>
    Effect.gen(function* () {
      const url = databaseUrl("exekra_t_missing")
      const error = yield* Effect.flip(Effect.scoped(open(url)))
      expect(error).toMatchObject({
        code: "STORE_FAILED",
        message:
          `The license store at ${displayUrl(url)} could not connect to the database (SQLSTATE 3D000: database "exekra_t_missing" does not exist). ` +
          "Create the database, or correct the database name in the store URL."
      })
    }))

  it.effect("refuses options out of range without connecting", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(open("postgres://127.0.0.1:1/x", { poolSize: 0 })))
      expect(error).toMatchObject({ code: "STORE_FAILED", message: "poolSize must be a positive whole number, got 0." })
      const notUrl = yield* Effect.flip(Effect.scoped(open("postgres://hub:pw@[bad")))
      expect(notUrl.code).toBe("STORE_FAILED")
      expect(notUrl.message).not.toContain("pw")
    }))

  it.effect("tags changes with the node id it is given, or a new random one", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const given = yield* open(db.url, { nodeId: "node_given" })
      const random = yield* open(db.url)
      expect(given.nodeId).toBe("node_given")
      expect(random.nodeId).toMatch(/^node_[0-9a-f]{10}$/)
      yield* given.raiseHighWater(1)
      yield* random.raiseHighWater(2)
      expect((yield* given.changesSince(0, 10)).changes.map((c) => c.node)).toEqual(["node_given", random.nodeId])
    }).pipe(Effect.scoped))

  it.effect("another node reads everything this one wrote, epoch-ms numbers intact", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const [a, b] = [yield* open(db.url), yield* open(db.url)]
      yield* a.ensureInstallationId("inst_kept")
      yield* a.activate(license(1), admin("admin@acme.example"))
      yield* a.replaceLicense("fp-1", license(2))
      yield* a.setPending(license(3))
      yield* a.raiseHighWater(1_800_000_000_123)
      yield* a.putValidation(healthy)
      yield* a.putCredential(credential("h1", "session", 1_800_000_000_000))
      yield* a.admit("unattended", "r1", "Runner 1", 3, 1_800_000_000_001)
      yield* a.putSnapshot("cap:unattended", "{}")
      yield* a.appendAudit(audit(1))
      yield* a.recordUsage("unattended", "2026-01-01", 1)
      yield* a.touchNode(node(a.nodeId, 1_800_000_000_000, 1_800_000_000_500, 9))
      expect(yield* b.ensureInstallationId("inst_new")).toBe("inst_kept")
      expect(yield* b.getAdmin).toEqual(Option.some(admin("admin@acme.example")))
      expect(yield* b.getLicense).toEqual(Option.some(license(2)))
      expect(yield* b.licenseHistory).toEqual([license(1), license(2)])
      expect(yield* b.getPending).toEqual(Option.some(license(3)))
      expect(yield* b.getHighWater).toBe(1_800_000_000_123)
      expect(yield* b.getValidation).toEqual(Option.some(healthy))
      expect(yield* b.findCredential("h1")).toEqual(Option.some(credential("h1", "session", 1_800_000_000_000)))
      expect(yield* b.listPrincipals("unattended")).toEqual([
        { cap: "unattended", id: "r1", name: "Runner 1", status: "active", admittedAt: 1_800_000_000_001, updatedAt: 1_800_000_000_001 }
      ])
      expect(yield* b.getSnapshots).toEqual(new Map([["cap:unattended", "{}"]]))
      expect(yield* b.listAudit({ limit: 5 })).toEqual([audit(1)])
      expect(yield* b.usageHistory).toEqual([{ cap: "unattended", day: "2026-01-01", peak: 1 }])
      expect(yield* b.listNodes(0)).toEqual([node(a.nodeId, 1_800_000_000_000, 1_800_000_000_500, 9)])
      expect(yield* b.latestSeq).toBe(yield* a.latestSeq)
    }).pipe(Effect.scoped))

  it.effect("names what every operation could not do when the schema is gone", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const s = yield* open(db.url)
      yield* sqlAt(db.url, "DROP TABLE exekra_meta, exekra_principals, exekra_changes CASCADE")
      const operations: ReadonlyArray<readonly [string, string, Effect.Effect<unknown, LicenseStore.StoreError>]> = [
        ["record the installation id", "exekra_meta", s.ensureInstallationId("inst_a")],
        ["raise the time high-water mark", "exekra_meta", s.raiseHighWater(1)],
        ["list principals", "exekra_principals", s.listPrincipals("unattended")],
        ["admit a principal", "exekra_principals", s.admit("unattended", "runner-a", null, 5, 100)],
        ["admit principals", "exekra_principals", s.admitMany("unattended", [{ id: "a", name: null }, { id: "b", name: null }], 5, 100)],
        ["read the change log", "exekra_meta", s.changesSince(0, 10)]
      ]
      for (const [what, table, operation] of operations) {
        const error = yield* Effect.flip(operation)
        expect(error).toMatchObject({ _tag: "StoreError", code: "STORE_FAILED" })
        expect(error.message).toMatch(new RegExp(`^The license store at ${displayUrl(db.url)} could not ${what} \\(SQLSTATE 42P01: relation "${table}" does not exist\\)`))
        expect(error.message).toMatch(/This is unexpected: keep the database as it is and report the error\.$/)
      }
    }).pipe(Effect.scoped))
})
