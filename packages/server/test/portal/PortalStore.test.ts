// The Portal's store, one contract run against SQLite and PostgreSQL (a fresh database per test; PostgreSQL tests never
// skip): one trial per customer, compare-and-set renewals, one-time invites, the sign-in window, revocation as
// validation sees it, and each under concurrency. Then what only one engine has: the upgrade of a reference Portal's
// SQLite file; PostgreSQL's nodes sharing one database, its own connections, and its failures.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { LicenseStore, Sqlite } from "@exekra/core"
import * as PortalStore from "@exekra/server/portal/PortalStore"
import { Effect, type Scope } from "effect"
import { client, displayUrl, freshDatabase, serverUrl, sqlAt } from "../../../core/test/support/postgres.js"

const dir = mkdtempSync(join(tmpdir(), "exekra-portal-store-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

type Fresh = () => Effect.Effect<PortalStore.PortalStore.Service, PortalStore.PortalStoreError, Scope.Scope>

const customer = (customerId: string, createdAt = 1): PortalStore.Customer => ({ customerId, name: customerId, createdAt, trialLicenseId: null })
const revision = (licenseId: string, revision: number): PortalStore.LicenseRevision => ({
  licenseId,
  revision,
  issuedAt: 1000 * revision,
  issuedBy: "test",
  reason: revision === 1 ? "issued" : "renewed",
  text: `file ${licenseId} #${revision}`
})
const license = (licenseId: string, customerId: string, type: "production" | "trial" = "production", createdAt = 1) => ({
  licenseId,
  customerId,
  type,
  createdAt,
  current: revision(licenseId, 1)
})
const account = (accountId: string, email: string, over: Partial<PortalStore.Account> = {}): PortalStore.Account => ({
  accountId,
  email,
  name: accountId,
  role: "staff",
  customerId: null,
  passwordHash: null,
  mustChangePassword: false,
  createdAt: 1,
  ...over
})
const ping = (licenseId: string, receivedAt: number, bodyKeys: ReadonlyArray<string> = ["licenseId", "installationId", "version"]): PortalStore.Ping => ({
  licenseId,
  installationId: "inst_a",
  version: "1.4.2",
  receivedAt,
  clientAddress: receivedAt % 2 === 0 ? "127.0.0.1" : null,
  bodyKeys
})

const contract = (name: string, fresh: Fresh) =>
  describe(`PortalStore contract: ${name}`, () => {
    it.scoped("claims a customer's one trial in the same transaction as the license", () =>
      Effect.gen(function* () {
        const store = yield* fresh()
        expect(store.engine).toBe(name)
        yield* store.createCustomer(customer("cus_a"))
        expect(yield* store.insertLicense(license("lic_t1", "cus_a", "trial"), { trial: true })).toBe("inserted")
        expect(yield* store.insertLicense(license("lic_t2", "cus_a", "trial"), { trial: true })).toBe("trial-taken")
        expect(yield* store.getLicense("lic_t2")).toBeUndefined()
        expect((yield* store.getCustomer("cus_a"))?.trialLicenseId).toBe("lic_t1")
        expect(yield* store.insertLicense(license("lic_t1", "cus_a"), { trial: false })).toBe("license-exists")
        // An existing id wins over a taken trial, and claims nothing.
        yield* store.createCustomer(customer("cus_b"))
        expect(yield* store.insertLicense(license("lic_t1", "cus_b", "trial"), { trial: true })).toBe("license-exists")
        expect((yield* store.getCustomer("cus_b"))?.trialLicenseId).toBeNull()
        // Issued licenses are known to validation: valid until revoked.
        expect(yield* store.answer(ping("lic_t1", 5), { strict: true })).toBe("valid")
        expect(yield* store.revoke("lic_t1", 7)).toBe("registered")
        expect((yield* store.getLicense("lic_t1"))?.revokedAt).toBe(7)
      }))

    it.scoped("adds a file only on top of the revision it was made from", () =>
      Effect.gen(function* () {
        const store = yield* fresh()
        yield* store.createCustomer(customer("cus_a"))
        yield* store.insertLicense(license("lic_a", "cus_a"), { trial: false })
        expect(yield* store.addRevision(revision("lic_a", 2))).toBe(true)
        // A second change made from revision 1 lost the race.
        expect(yield* store.addRevision(revision("lic_a", 2))).toBe(false)
        expect(yield* store.addRevision(revision("lic_a", 4))).toBe(false)
        expect(yield* store.addRevision(revision("lic_none", 2))).toBe(false)
        expect((yield* store.getLicense("lic_a"))?.current).toEqual(revision("lic_a", 2))
        expect((yield* store.revisions("lic_a")).map((r) => r.revision)).toEqual([2, 1])
        expect(yield* store.revisions("lic_a")).toEqual([revision("lic_a", 2), revision("lic_a", 1)])
        expect(yield* store.listLicenses({ customerId: "cus_b" })).toEqual([])
      }))

    it.scoped("uses a one-time credential once, and counts sign-in attempts per window", () =>
      Effect.gen(function* () {
        const store = yield* fresh()
        expect(yield* store.createAccount(account("acc_1", "a@b.example"))).toBe(true)
        expect(yield* store.createAccount(account("acc_2", "a@b.example"))).toBe(false)
        expect(yield* store.getAccount("acc_2")).toBeUndefined()
        yield* store.putCredential({ tokenHash: "h", kind: "invite", accountId: "acc_1", name: null, createdAt: 1, expiresAt: 100 })
        expect((yield* store.takeCredential("h"))?.accountId).toBe("acc_1")
        expect(yield* store.takeCredential("h")).toBeUndefined()
        expect(yield* store.countAttempt("k", 0, 1000)).toEqual({ attempts: 1, start: 0 })
        expect(yield* store.countAttempt("k", 999, 1000)).toEqual({ attempts: 2, start: 0 })
        expect(yield* store.countAttempt("k", 1000, 1000)).toEqual({ attempts: 1, start: 1000 })
        yield* store.clearAttempts("k")
        expect(yield* store.countAttempt("k", 1001, 1000)).toEqual({ attempts: 1, start: 1001 })
      }))

    it.scoped("answers pings as statusOf decides, records each with its body's keys, and reports the state before each change", () =>
      Effect.gen(function* () {
        const store = yield* fresh()
        expect(yield* store.register("lic_reg", 10)).toBe("unregistered")
        expect(yield* store.register("lic_reg", 11)).toBe("registered")
        expect(yield* store.revoke("lic_rev", 12)).toBe("unregistered")
        expect(yield* store.revoke("lic_rev", 13)).toBe("revoked")
        expect(yield* store.register("lic_rev", 14)).toBe("revoked")
        let t = 100
        for (const strict of [false, true]) {
          for (const [licenseId, state] of [["lic_reg", "registered"], ["lic_rev", "revoked"], ["lic_new", "unregistered"]] as const) {
            expect(yield* store.answer(ping(licenseId, ++t), { strict }), `${licenseId} strict=${strict}`).toBe(PortalStore.statusOf(state, strict))
          }
        }
        expect(yield* store.restore("lic_rev", 200)).toBe("revoked")
        expect(yield* store.restore("lic_rev", 201)).toBe("registered")
        expect(yield* store.restore("lic_other", 202)).toBe("unregistered")
        expect(yield* store.answer(ping("lic_rev", 300, []), { strict: true })).toBe("valid")

        const all = yield* store.pings({ limit: 100 })
        expect(all.map((p) => [p.licenseId, p.receivedAt, p.status])).toEqual([
          ["lic_rev", 300, "valid"],
          ["lic_new", 106, "unknown"],
          ["lic_rev", 105, "revoked"],
          ["lic_reg", 104, "valid"],
          ["lic_new", 103, "valid"],
          ["lic_rev", 102, "revoked"],
          ["lic_reg", 101, "valid"]
        ])
        expect(all[0]).toEqual({ ...ping("lic_rev", 300, []), status: "valid" })
        expect(all[1]).toEqual({ ...ping("lic_new", 106), status: "unknown" })
        expect((yield* store.pings({ licenseId: "lic_rev", limit: 2 })).map((p) => p.receivedAt)).toEqual([300, 105])
        expect(yield* store.pings({ limit: 0 })).toEqual([])
        expect(yield* store.pings({ limit: -5 })).toEqual([])
      }))

    it.scoped("keeps customers, accounts, credentials and the audit log, epoch-ms numbers intact, in their orders", () =>
      Effect.gen(function* () {
        const store = yield* fresh()
        const t = 1_800_000_000_123
        yield* store.createCustomer(customer("cus_b", t))
        yield* store.createCustomer(customer("cus_a", t))
        yield* store.createCustomer(customer("cus_0", t - 1))
        expect((yield* store.listCustomers).map((c) => c.customerId)).toEqual(["cus_0", "cus_a", "cus_b"])
        expect(yield* store.getCustomer("cus_a")).toEqual(customer("cus_a", t))
        expect(yield* store.getCustomer("cus_none")).toBeUndefined()

        const ann = account("acc_ann", "ann@acme.example", { role: "customer", customerId: "cus_a", createdAt: t, passwordHash: "scrypt$x", mustChangePassword: true })
        yield* store.createAccount(account("acc_staff", "boss@vendor.example", { createdAt: t }))
        yield* store.createAccount(ann)
        yield* store.createAccount(account("acc_bob", "bob@acme.example", { role: "customer", customerId: "cus_a", createdAt: t }))
        expect(yield* store.findAccountByEmail("ann@acme.example")).toEqual(ann)
        expect(yield* store.findAccountByEmail("nobody@acme.example")).toBeUndefined()
        expect((yield* store.listAccounts({ customerId: "cus_a" })).map((a) => a.accountId)).toEqual(["acc_ann", "acc_bob"])
        expect((yield* store.listAccounts({ role: "staff" })).map((a) => a.accountId)).toEqual(["acc_staff"])
        expect((yield* store.listAccounts({})).map((a) => a.accountId)).toEqual(["acc_ann", "acc_bob", "acc_staff"])
        expect(yield* store.setPassword("acc_ann", "scrypt$y", false)).toBe(true)
        expect(yield* store.setPassword("acc_none", "scrypt$y", false)).toBe(false)
        expect(yield* store.getAccount("acc_ann")).toEqual({ ...ann, passwordHash: "scrypt$y", mustChangePassword: false })

        const session = (hash: string, expiresAt: number | null): PortalStore.Credential => ({ tokenHash: hash, kind: "session", accountId: "acc_ann", name: null, createdAt: t, expiresAt })
        yield* store.putCredential(session("s1", t + 10))
        yield* store.putCredential(session("s2", t + 20))
        yield* store.putCredential({ tokenHash: "i1", kind: "invite", accountId: "acc_ann", name: null, createdAt: t, expiresAt: t + 10 })
        yield* store.putCredential({ tokenHash: "a2", kind: "api", accountId: null, name: "zeta", createdAt: t, expiresAt: null })
        yield* store.putCredential({ tokenHash: "a1", kind: "api", accountId: null, name: "crm", createdAt: t, expiresAt: null })
        expect(yield* store.findCredential("s1")).toEqual(session("s1", t + 10))
        expect((yield* store.listApiTokens).map((c) => c.name)).toEqual(["crm", "zeta"])
        expect(yield* store.deleteExpiredCredentials(t + 10)).toBe(2)
        expect(yield* store.findCredential("i1")).toBeUndefined()
        expect(yield* store.deleteCredentialsOf("acc_ann", "session")).toBe(1)
        expect(yield* store.deleteCredentialsOf("acc_ann", "session")).toBe(0)
        expect(yield* store.deleteCredential("a2")).toBe(true)
        expect(yield* store.deleteCredential("a2")).toBe(false)
        expect((yield* store.listApiTokens).map((c) => c.tokenHash)).toEqual(["a1"])

        yield* store.insertLicense(license("lic_old", "cus_a", "production", t), { trial: false })
        yield* store.insertLicense(license("lic_new", "cus_b", "production", t + 1), { trial: false })
        expect((yield* store.listLicenses({})).map((l) => l.licenseId)).toEqual(["lic_new", "lic_old"])
        expect(yield* store.getLicense("lic_old")).toEqual({ ...license("lic_old", "cus_a", "production", t), revokedAt: null })

        const audit = (i: number): PortalStore.AuditRecord => ({ at: t + i, actor: "cli", action: `a${i}`, outcome: i === 2 ? "denied" : "ok", subject: i === 1 ? null : `s${i}`, detail: i === 3 ? "d" : null })
        for (const i of [1, 2, 3]) yield* store.appendAudit(audit(i))
        expect(yield* store.listAudit({ limit: 2 })).toEqual([audit(3), audit(2)])
        expect(yield* store.listAudit({ limit: 10 })).toEqual([audit(3), audit(2), audit(1)])
      }))

    it.scoped("under concurrency: one trial per customer, one renewal per revision, one use per invite, every attempt counted", () =>
      Effect.gen(function* () {
        const store = yield* fresh()
        yield* store.createCustomer(customer("cus_a"))
        const trials = yield* Effect.all(
          Array.from({ length: 12 }, (_, i) => store.insertLicense(license(`lic_t${i}`, "cus_a", "trial"), { trial: true })),
          { concurrency: "unbounded" }
        )
        expect(trials.filter((o) => o === "inserted")).toHaveLength(1)
        expect(trials.filter((o) => o === "trial-taken")).toHaveLength(11)
        expect(yield* store.listLicenses({ customerId: "cus_a" })).toHaveLength(1)

        yield* store.insertLicense(license("lic_p", "cus_a"), { trial: false })
        const renewals = yield* Effect.all(
          Array.from({ length: 12 }, (_, i) => store.addRevision({ ...revision("lic_p", 2), text: `renewal ${i}` })),
          { concurrency: "unbounded" }
        )
        expect(renewals.filter((ok) => ok)).toHaveLength(1)
        expect((yield* store.revisions("lic_p")).map((r) => r.revision)).toEqual([2, 1])

        yield* store.createAccount(account("acc_1", "a@b.example"))
        yield* store.putCredential({ tokenHash: "invite", kind: "invite", accountId: "acc_1", name: null, createdAt: 1, expiresAt: null })
        const uses = yield* Effect.all(Array.from({ length: 12 }, () => store.takeCredential("invite")), { concurrency: "unbounded" })
        expect(uses.filter((c) => c !== undefined)).toHaveLength(1)

        const counted = yield* Effect.all(Array.from({ length: 12 }, () => store.countAttempt("ip", 5, 60_000)), { concurrency: "unbounded" })
        expect(counted.map((c) => c.attempts).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
      }))
  })

contract("sqlite", () => PortalStore.makeSqlite({ filename: join(dir, `portal-${++n}.sqlite`) }))
contract("postgres", () => Effect.flatMap(freshDatabase(), (db) => PortalStore.makePostgres({ url: db.url })))

describe("PortalStore SQLite", () => {
  it.scoped("upgrades a reference Portal's database in place, keeping its pings and revocations", () =>
    Effect.gen(function* () {
      const filename = join(dir, "reference.sqlite")
      // The reference Portal's schema, version 1, as shipped.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const db = yield* Sqlite.open({
            filename,
            describe: "Portal database",
            owner: "Portal",
            migrations: [
              `CREATE TABLE licenses (license_id TEXT PRIMARY KEY, revoked INTEGER NOT NULL CHECK (revoked IN (0, 1)), updated_at INTEGER NOT NULL);
               CREATE TABLE pings (seq INTEGER PRIMARY KEY AUTOINCREMENT, license_id TEXT NOT NULL, installation_id TEXT NOT NULL, version TEXT NOT NULL,
                 received_at INTEGER NOT NULL, client_address TEXT, body_keys TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('valid', 'revoked', 'unknown')));
               CREATE INDEX pings_license ON pings (license_id, seq);`
            ]
          })
          yield* db.atomic("seed", db.run("INSERT INTO licenses VALUES ('lic_old', 1, 3)"))
          yield* db.atomic("seed", db.run(`INSERT INTO pings (license_id, installation_id, version, received_at, client_address, body_keys, status) VALUES ('lic_old', 'i', '1', 2, NULL, '["licenseId"]', 'valid')`))
        })
      )
      const store = yield* PortalStore.makeSqlite({ filename })
      expect((yield* store.pings({ limit: 10 })).map((p) => [p.licenseId, p.status])).toEqual([["lic_old", "valid"]])
      expect(yield* store.answer({ licenseId: "lic_old", installationId: "i", version: "1", receivedAt: 4, clientAddress: null, bodyKeys: [] }, { strict: true })).toBe("revoked")
      expect(yield* store.listCustomers).toEqual([])
    }))
})

describe("PortalStore PostgreSQL", () => {
  it.scoped("three processes opening one new database upgrade its schema once, then share it: a trial or a renewal wins on one only", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const nodes = yield* Effect.all(
        ["a", "b", "c"].map((node) => PortalStore.makePostgres({ url: db.url, applicationName: `exekra-portal ${node}` })),
        { concurrency: "unbounded" }
      )
      const steps = yield* sqlAt(db.url, "SELECT version, applied_by FROM exekra_portal_migrations ORDER BY version")
      expect(steps.map((r) => r.version)).toEqual(steps.map((_, i) => i + 1))
      expect(steps.length).toBeGreaterThan(0)
      for (const step of steps) expect(["exekra-portal a", "exekra-portal b", "exekra-portal c"]).toContain(step.applied_by)
      const [a, b, c] = nodes as [PortalStore.PortalStore.Service, PortalStore.PortalStore.Service, PortalStore.PortalStore.Service]
      yield* a.createCustomer(customer("cus_a"))
      const trials = yield* Effect.all(
        Array.from({ length: 12 }, (_, i) => [a, b, c][i % 3]!.insertLicense(license(`lic_t${i}`, "cus_a", "trial"), { trial: true })),
        { concurrency: "unbounded" }
      )
      expect(trials.filter((o) => o === "inserted")).toHaveLength(1)
      const trial = (yield* c.getCustomer("cus_a"))!.trialLicenseId!
      const renewals = yield* Effect.all(
        Array.from({ length: 12 }, (_, i) => [a, b, c][i % 3]!.addRevision({ ...revision(trial, 2), text: `renewal ${i}` })),
        { concurrency: "unbounded" }
      )
      expect(renewals.filter((ok) => ok)).toHaveLength(1)
      expect((yield* b.getLicense(trial))?.current.revision).toBe(2)
      // What one process revokes, every process answers.
      expect(yield* a.revoke(trial, 50)).toBe("registered")
      expect(yield* c.answer(ping(trial, 51), { strict: true })).toBe("revoked")
    }))

  it.scoped("shares a database with a Hub's license store: separate tables, separate migrations", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const hub = yield* LicenseStore.makePostgres({ url: db.url })
      const portal = yield* PortalStore.makePostgres({ url: db.url })
      yield* hub.raiseHighWater(5)
      yield* portal.register("lic_a", 5)
      const tables = yield* sqlAt(db.url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE '%migrations' ORDER BY tablename")
      expect(tables.map((t) => t.tablename)).toEqual(["exekra_migrations", "exekra_portal_migrations"])
      expect(yield* hub.getHighWater).toBe(5)
      expect(yield* portal.register("lic_a", 6)).toBe("registered")
    }))

  // @effect/sql finds "the current transaction" by a tag every client shares: the store must not run on the caller's.
  it.scoped("runs on its own connections inside a transaction of another SQL client", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      const store = yield* PortalStore.makePostgres({ url: db.url })
      const elsewhere = yield* client(serverUrl)
      yield* elsewhere.withTransaction(Effect.zipRight(store.register("lic_a", 1), store.createCustomer(customer("cus_a"))))
      expect(yield* store.register("lic_a", 2)).toBe("registered")
      expect((yield* store.listCustomers).map((c) => c.customerId)).toEqual(["cus_a"])
    }))

  it.effect("an unreachable server is DATABASE_UNAVAILABLE, named without the password", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(PortalStore.makePostgres({ url: "postgres://vendor:s3cret-pw@127.0.0.1:1/portal", connectTimeoutMs: 2_000 })))
      expect(error).toMatchObject({
        _tag: "PortalStoreError",
        code: "DATABASE_UNAVAILABLE",
        message:
          "The Portal database at postgres://127.0.0.1:1/portal could not connect to the database (connect ECONNREFUSED 127.0.0.1:1). " +
          "Check that PostgreSQL is running and that this node can reach it; the Portal answers 503 until it is back."
      })
      expect(error.message).not.toContain("s3cret")
      const notUrl = yield* Effect.flip(Effect.scoped(PortalStore.makePostgres({ url: "postgres://vendor:s3cret-pw@[bad" })))
      expect(notUrl.code).toBe("DATABASE_FAILED")
      expect(notUrl.message).not.toContain("s3cret")
    }))

  it.scoped("refuses a database upgraded by a newer release with DATABASE_CORRUPT, and names what it could not do", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase()
      yield* Effect.scoped(PortalStore.makePostgres({ url: db.url }))
      yield* sqlAt(db.url, "INSERT INTO exekra_portal_migrations (version) VALUES (99)")
      const error = yield* Effect.flip(Effect.scoped(PortalStore.makePostgres({ url: db.url })))
      expect(error.code).toBe("DATABASE_CORRUPT")
      expect(error.message).toMatch(
        new RegExp(
          `^The Portal database at ${displayUrl(db.url)} has schema version 99, but this Portal knows versions up to \\d+: ` +
            "it was written by a newer Exekra release\\. Upgrade this Portal, or restore a backup taken before the upgrade\\.$"
        )
      )
      yield* sqlAt(db.url, "DELETE FROM exekra_portal_migrations WHERE version = 99")
      const store = yield* PortalStore.makePostgres({ url: db.url })
      yield* sqlAt(db.url, "DROP TABLE exekra_portal_pings")
      const gone = yield* Effect.flip(store.answer(ping("lic_a", 1), { strict: false }))
      expect(gone.code).toBe("DATABASE_FAILED")
      expect(gone.message).toMatch(
        new RegExp(`^The Portal database at ${displayUrl(db.url)} could not record a validation ping \\(SQLSTATE 42P01: relation "exekra_portal_pings" does not exist\\)`)
      )
    }))
})
