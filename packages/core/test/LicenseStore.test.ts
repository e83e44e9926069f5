// One LicenseStore contract run against the memory and SQLite layers, plus what only SQLite promises: durability, WAL, cross-connection atomicity.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { LicenseStore } from "@exekra/core"
import { Context, Effect, Fiber, Layer, Option } from "effect"
import sqlite3 from "sqlite3"
import { holdWriteLock } from "./support/holdWriteLock.js"

const Store = LicenseStore.LicenseStore
type Service = LicenseStore.LicenseStore.Service

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
const tables = ["meta", "licenses", "pending_license", "admin", "credentials", "principals", "validation", "snapshots", "audit", "usage"]
const tags = (outcomes: ReadonlyArray<LicenseStore.AdmitOutcome>) => outcomes.map((o) => o._tag)

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

const contract = (name: string, makeLayer: () => Layer.Layer<LicenseStore.LicenseStore, LicenseStore.StoreError>) =>
  describe(`LicenseStore contract: ${name}`, () => {
    const test = <A>(title: string, body: (store: Service) => Effect.Effect<A, LicenseStore.StoreError>) =>
      it.effect(title, () => withStore(makeLayer(), body))

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
  })

contract("memory", () => LicenseStore.layerMemory)
contract("sqlite", () => LicenseStore.layerSqlite({ filename: freshFile() }))

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
