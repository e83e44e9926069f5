// The Portal's store on SQLite: one trial per customer, compare-and-set renewals, one-time invites, the sign-in window, revocation as validation sees it, and the upgrade of a reference Portal's database.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Sqlite } from "@exekra/core"
import * as PortalStore from "@exekra/server/portal/PortalStore"
import { Effect } from "effect"

const dir = mkdtempSync(join(tmpdir(), "exekra-portal-store-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const fresh = () => PortalStore.makeSqlite({ filename: join(dir, `portal-${++n}.sqlite`) })

const customer = (customerId: string): PortalStore.Customer => ({ customerId, name: customerId, createdAt: 1, trialLicenseId: null })
const revision = (licenseId: string, revision: number): PortalStore.LicenseRevision => ({
  licenseId,
  revision,
  issuedAt: 1000 * revision,
  issuedBy: "test",
  reason: revision === 1 ? "issued" : "renewed",
  text: `file ${licenseId} #${revision}`
})
const license = (licenseId: string, customerId: string, type: "production" | "trial" = "production") => ({
  licenseId,
  customerId,
  type,
  createdAt: 1,
  current: revision(licenseId, 1)
})

describe("PortalStore (SQLite)", () => {
  it.scoped("claims a customer's one trial in the same transaction as the license", () =>
    Effect.gen(function* () {
      const store = yield* fresh()
      yield* store.createCustomer(customer("cus_a"))
      expect(yield* store.insertLicense(license("lic_t1", "cus_a", "trial"), { trial: true })).toBe("inserted")
      expect(yield* store.insertLicense(license("lic_t2", "cus_a", "trial"), { trial: true })).toBe("trial-taken")
      expect(yield* store.getLicense("lic_t2")).toBeUndefined()
      expect((yield* store.getCustomer("cus_a"))?.trialLicenseId).toBe("lic_t1")
      expect(yield* store.insertLicense(license("lic_t1", "cus_a"), { trial: false })).toBe("license-exists")
      // Issued licenses are known to validation: valid until revoked.
      expect(yield* store.answer({ licenseId: "lic_t1", installationId: "i", version: "1", receivedAt: 5, clientAddress: null, bodyKeys: [] }, { strict: true })).toBe("valid")
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
      expect((yield* store.getLicense("lic_a"))?.current).toEqual(revision("lic_a", 2))
      expect((yield* store.revisions("lic_a")).map((r) => r.revision)).toEqual([2, 1])
      expect((yield* store.listLicenses({ customerId: "cus_b" }))).toEqual([])
    }))

  it.scoped("uses a one-time credential once, and counts sign-in attempts per window", () =>
    Effect.gen(function* () {
      const store = yield* fresh()
      const account: PortalStore.Account = {
        accountId: "acc_1",
        email: "a@b.example",
        name: "A",
        role: "staff",
        customerId: null,
        passwordHash: null,
        mustChangePassword: false,
        createdAt: 1
      }
      expect(yield* store.createAccount(account)).toBe(true)
      expect(yield* store.createAccount({ ...account, accountId: "acc_2" })).toBe(false)
      yield* store.putCredential({ tokenHash: "h", kind: "invite", accountId: "acc_1", name: null, createdAt: 1, expiresAt: 100 })
      expect((yield* store.takeCredential("h"))?.accountId).toBe("acc_1")
      expect(yield* store.takeCredential("h")).toBeUndefined()
      expect(yield* store.countAttempt("k", 0, 1000)).toEqual({ attempts: 1, start: 0 })
      expect(yield* store.countAttempt("k", 999, 1000)).toEqual({ attempts: 2, start: 0 })
      expect(yield* store.countAttempt("k", 1000, 1000)).toEqual({ attempts: 1, start: 1000 })
      yield* store.clearAttempts("k")
      expect(yield* store.countAttempt("k", 1001, 1000)).toEqual({ attempts: 1, start: 1001 })
    }))

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
