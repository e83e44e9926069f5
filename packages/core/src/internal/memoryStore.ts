/** In-memory LicenseStore: plain maps, for tests and for Hubs that need no persistence. */
import { Effect, Option } from "effect"
import * as Cap from "../Cap.js"
import type {
  AdminAccount,
  AdmitOutcome,
  AuditRecord,
  Credential,
  LicenseStore,
  Principal,
  StoredLicense,
  UsagePoint,
  ValidationRecord
} from "../LicenseStore.js"

/** Build an empty store. Every method is one synchronous step, so each is atomic without locks. */
export const make: Effect.Effect<LicenseStore.Service> = Effect.sync(() => {
  let installationId: string | null = null
  let highWater = 0
  let current: StoredLicense | null = null
  let pending: StoredLicense | null = null
  let admin: AdminAccount | null = null
  let validation: ValidationRecord | null = null
  const history: Array<StoredLicense> = []
  const credentials = new Map<string, Credential>()
  // Map insertion order plays the role of SQLite's rowid: it breaks ties in admission order.
  const principals = new Map<Cap.Cap, Map<string, Principal>>(Cap.all.map((cap) => [cap, new Map()]))
  const snapshots = new Map<string, string>()
  const audit: Array<AuditRecord> = []
  const usage = new Map<string, UsagePoint>()

  const principalsOf = (cap: Cap.Cap): Map<string, Principal> => principals.get(cap)!
  const countOf = (cap: Cap.Cap): number => {
    let n = 0
    for (const p of principalsOf(cap).values()) if (p.status === "active") n++
    return n
  }
  const install = (license: StoredLicense): void => {
    current = license
    history.push(license)
  }

  return {
    ensureInstallationId: (candidate) => Effect.sync(() => (installationId ??= candidate)),

    getLicense: Effect.sync(() => Option.fromNullable(current)),
    replaceLicense: (expected, next) =>
      Effect.sync(() => {
        if ((current?.fingerprint ?? null) !== expected) return false
        install(next)
        return true
      }),
    licenseHistory: Effect.sync(() => history.slice()),
    getPending: Effect.sync(() => Option.fromNullable(pending)),
    setPending: (license) => Effect.sync(() => void (pending = license)),

    activate: (license, account) =>
      Effect.sync(() => {
        if (admin !== null) return false
        install(license)
        admin = account
        return true
      }),
    getAdmin: Effect.sync(() => Option.fromNullable(admin)),

    getHighWater: Effect.sync(() => highWater),
    raiseHighWater: (t) => Effect.sync(() => (highWater = Math.max(highWater, t))),

    getValidation: Effect.sync(() => Option.fromNullable(validation)),
    putValidation: (record) => Effect.sync(() => void (validation = record)),

    putCredential: (credential) => Effect.sync(() => void credentials.set(credential.tokenHash, credential)),
    findCredential: (tokenHash) => Effect.sync(() => Option.fromNullable(credentials.get(tokenHash))),
    deleteCredential: (tokenHash) => Effect.sync(() => void credentials.delete(tokenHash)),
    listCredentials: (kind) =>
      Effect.sync(() =>
        Array.from(credentials.values())
          .filter((c) => c.kind === kind)
          .sort((a, b) => a.createdAt - b.createdAt)
      ),

    listPrincipals: (cap) =>
      Effect.sync(() => Array.from(principalsOf(cap).values()).sort((a, b) => a.admittedAt - b.admittedAt)),
    countActive: Effect.sync(() => Object.fromEntries(Cap.all.map((cap) => [cap, countOf(cap)])) as Record<Cap.Cap, number>),
    admit: (cap, id, name, ceiling, now) =>
      Effect.sync((): AdmitOutcome => {
        const existing = principalsOf(cap).get(id)
        const used = countOf(cap)
        if (existing?.status === "active") return { _tag: "AlreadyAdmitted", principal: existing, used }
        if (used >= ceiling) return { _tag: "Full", used }
        const principal: Principal = { cap, id, name: name ?? existing?.name ?? null, status: "active", admittedAt: now, updatedAt: now }
        principalsOf(cap).set(id, principal)
        return { _tag: "Admitted", principal, used: used + 1 }
      }),
    release: (cap, id) => Effect.sync(() => principalsOf(cap).delete(id)),
    deactivate: (cap, id, now) =>
      Effect.sync(() => {
        const existing = principalsOf(cap).get(id)
        if (existing === undefined) return false
        if (existing.status === "active") principalsOf(cap).set(id, { ...existing, status: "deactivated", updatedAt: now })
        return true
      }),

    getSnapshots: Effect.sync(() => new Map(snapshots)),
    putSnapshot: (key, json) => Effect.sync(() => void snapshots.set(key, json)),

    appendAudit: (record) => Effect.sync(() => void audit.push(record)),
    listAudit: ({ limit }) => Effect.sync(() => audit.slice(Math.max(0, audit.length - Math.max(0, limit))).reverse()),

    recordUsage: (cap, day, used) =>
      Effect.sync(() => {
        const key = `${day} ${cap}`
        const peak = Math.max(used, usage.get(key)?.peak ?? used)
        usage.set(key, { cap, day, peak })
      }),
    usageHistory: Effect.sync(() =>
      Array.from(usage.values()).sort((a, b) => (a.day === b.day ? compare(a.cap, b.cap) : compare(a.day, b.day)))
    )
  }
})

// Plain code-unit order, the same as SQLite's default BINARY collation.
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
