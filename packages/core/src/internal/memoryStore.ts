/** In-memory LicenseStore: plain maps, for tests and for Hubs that need no persistence. */
import { Effect, Option, Stream } from "effect"
import * as Cap from "../Cap.js"
import { leaseEnd } from "../LicenseStore.js"
import type {
  AdminAccount,
  AdmitOutcome,
  AttemptWindow,
  AuditRecord,
  CapLease,
  Change,
  ChangeTopic,
  Credential,
  CullOutcome,
  HeartbeatOutcome,
  LeasedPrincipal,
  LicenseStore,
  NodeRecord,
  Principal,
  StoredLicense,
  UsagePoint,
  ValidationRecord
} from "../LicenseStore.js"

/** The node id of the in-memory store: it has no other node to share with. */
const NODE = "memory"

/** A principal's record without its lease facts, as the base contract returns it. */
const plain = ({ heartbeatAt: _h, culledAt: _c, ...principal }: LeasedPrincipal): Principal => principal

/** Build an empty store. Every method is one synchronous step, so each is atomic without locks. */
export const make: Effect.Effect<LicenseStore.Service & LicenseStore.Leasing> = Effect.sync(() => {
  let installationId: string | null = null
  let highWater = 0
  let current: StoredLicense | null = null
  let pending: StoredLicense | null = null
  let admin: AdminAccount | null = null
  let validation: ValidationRecord | null = null
  const history: Array<StoredLicense> = []
  const credentials = new Map<string, Credential>()
  // Map insertion order plays the role of SQLite's rowid: it breaks ties in admission order.
  const principals = new Map<Cap.Cap, Map<string, LeasedPrincipal>>(Cap.all.map((cap) => [cap, new Map()]))
  const capLeases = new Map<Cap.Cap, CapLease>()
  const snapshots = new Map<string, string>()
  const audit: Array<AuditRecord> = []
  const usage = new Map<string, UsagePoint>()
  const changes: Array<Change> = []
  let seq = 0
  let prunedThrough = 0
  const attempts = new Map<string, AttemptWindow>()
  const leases = new Map<string, { holder: string; until: number }>()
  const nodes = new Map<string, NodeRecord>()

  const changed = (topic: ChangeTopic, cap: Cap.Cap | null = null, key: string | null = null): void => {
    changes.push({ seq: ++seq, topic, cap, key, node: NODE })
  }

  const principalsOf = (cap: Cap.Cap): Map<string, LeasedPrincipal> => principals.get(cap)!
  const countOf = (cap: Cap.Cap): number => {
    let n = 0
    for (const p of principalsOf(cap).values()) if (p.status === "active") n++
    return n
  }
  const install = (license: StoredLicense): void => {
    current = license
    history.push(license)
    changed("license")
  }
  const admitOne = (cap: Cap.Cap, id: string, name: string | null, ceiling: number, now: number): AdmitOutcome => {
    const existing = principalsOf(cap).get(id)
    const used = countOf(cap)
    if (existing?.status === "active") return { _tag: "AlreadyAdmitted", principal: plain(existing), used }
    if (used >= ceiling) return { _tag: "Full", used }
    const principal: LeasedPrincipal = {
      cap,
      id,
      name: name ?? existing?.name ?? null,
      status: "active",
      admittedAt: now,
      updatedAt: now,
      heartbeatAt: now,
      culledAt: null
    }
    // Reactivating keeps the entry's place in the map, as SQLite keeps the rowid.
    principalsOf(cap).set(id, principal)
    changed("principal", cap, id)
    return { _tag: "Admitted", principal: plain(principal), used: used + 1 }
  }
  /** Mark an active principal whose lease ended at or before `now` as expired, as of its lease's end. */
  const cullOne = (p: LeasedPrincipal, lease: CapLease | undefined, now: number): LeasedPrincipal | null => {
    if (lease === undefined || p.status !== "active") return null
    const end = leaseEnd(lease, p.heartbeatAt)
    if (end > now) return null
    const culled: LeasedPrincipal = { ...p, status: "expired", updatedAt: end, culledAt: end }
    principalsOf(p.cap).set(p.id, culled)
    changed("principal", p.cap, p.id)
    return culled
  }
  const byAdmission = (a: Principal, b: Principal) => a.admittedAt - b.admittedAt

  return {
    engine: "memory",
    nodeId: NODE,
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
    setPending: (license) =>
      Effect.sync(() => {
        pending = license
        changed("pending")
      }),

    activate: (license, account) =>
      Effect.sync(() => {
        if (admin !== null) return false
        install(license)
        admin = account
        changed("admin")
        return true
      }),
    getAdmin: Effect.sync(() => Option.fromNullable(admin)),

    getHighWater: Effect.sync(() => highWater),
    raiseHighWater: (t) =>
      Effect.sync(() => {
        if (t > highWater) {
          highWater = t
          changed("clock")
        }
        return highWater
      }),

    getValidation: Effect.sync(() => Option.fromNullable(validation)),
    putValidation: (record) =>
      Effect.sync(() => {
        validation = record
        changed("validation")
      }),

    putCredential: (credential) =>
      Effect.sync(() => {
        credentials.set(credential.tokenHash, credential)
        changed("credential")
      }),
    addApiToken: (credential) =>
      Effect.sync(() => {
        for (const c of credentials.values()) if (c.kind === "api" && c.name === credential.name) return false
        credentials.set(credential.tokenHash, credential)
        changed("credential")
        return true
      }),
    findCredential: (tokenHash) => Effect.sync(() => Option.fromNullable(credentials.get(tokenHash))),
    deleteCredential: (tokenHash) =>
      Effect.sync(() => {
        if (credentials.delete(tokenHash)) changed("credential")
      }),
    listCredentials: (kind) =>
      Effect.sync(() =>
        Array.from(credentials.values())
          .filter((c) => c.kind === kind)
          .sort((a, b) => a.createdAt - b.createdAt)
      ),

    listPrincipals: (cap) => Effect.sync(() => Array.from(principalsOf(cap).values(), plain).sort(byAdmission)),
    countActive: Effect.sync(() => Object.fromEntries(Cap.all.map((cap) => [cap, countOf(cap)])) as Record<Cap.Cap, number>),
    admit: (cap, id, name, ceiling, now) => Effect.sync(() => admitOne(cap, id, name, ceiling, now)),
    admitMany: (cap, requests, ceiling, now) => Effect.sync(() => requests.map((r) => admitOne(cap, r.id, r.name, ceiling, now))),
    findPrincipals: (cap, ids) =>
      Effect.sync(() => {
        const found: Array<Principal> = []
        for (const id of new Set(ids)) {
          const p = principalsOf(cap).get(id)
          if (p !== undefined) found.push(plain(p))
        }
        return found
      }),
    release: (cap, id) =>
      Effect.sync(() => {
        const found = principalsOf(cap).delete(id)
        if (found) changed("principal", cap, id)
        return found
      }),
    deactivate: (cap, id, now) =>
      Effect.sync(() => {
        const existing = principalsOf(cap).get(id)
        if (existing === undefined) return false
        principalsOf(cap).set(id, { ...existing, status: "deactivated", updatedAt: existing.status === "active" ? now : existing.updatedAt, culledAt: null })
        changed("principal", cap, id)
        return true
      }),

    getSnapshots: Effect.sync(() => new Map(snapshots)),
    putSnapshot: (key, json) => Effect.sync(() => void snapshots.set(key, json)),

    appendAudit: (record) => Effect.sync(() => void audit.push(record)),
    appendAudits: (records) => Effect.sync(() => void audit.push(...records)),
    listAudit: ({ limit }) => Effect.sync(() => audit.slice(Math.max(0, audit.length - Math.max(0, limit))).reverse()),

    recordUsage: (cap, day, used) =>
      Effect.sync(() => {
        const key = `${day} ${cap}`
        const peak = Math.max(used, usage.get(key)?.peak ?? used)
        usage.set(key, { cap, day, peak })
      }),
    usageHistory: Effect.sync(() =>
      Array.from(usage.values()).sort((a, b) => (a.day === b.day ? compare(a.cap, b.cap) : compare(a.day, b.day)))
    ),

    changesSince: (after, limit) =>
      Effect.sync(() => ({
        changes: changes.filter((c) => c.seq > after).slice(0, Math.max(0, limit)),
        gap: after < prunedThrough
      })),
    latestSeq: Effect.sync(() => seq),
    pruneChanges: (through) =>
      Effect.sync(() => {
        prunedThrough = Math.max(prunedThrough, Math.min(through, seq))
        while (changes.length > 0 && changes[0]!.seq <= prunedThrough) changes.shift()
      }),
    // Nothing else writes to this store.
    wakeups: Stream.never,

    countAttempt: (key, now, windowMs) =>
      Effect.sync(() => {
        const current = attempts.get(key)
        const next = current === undefined || now >= current.start + windowMs ? { start: now, attempts: 1 } : { start: current.start, attempts: current.attempts + 1 }
        attempts.set(key, next)
        return next
      }),
    clearAttempts: (key) => Effect.sync(() => void attempts.delete(key)),

    claimLease: (name, holder, now, ttlMs) =>
      Effect.sync(() => {
        const lease = leases.get(name)
        if (lease !== undefined && lease.holder !== holder && lease.until > now) return false
        leases.set(name, { holder, until: now + ttlMs })
        return true
      }),
    releaseLease: (name, holder) =>
      Effect.sync(() => {
        if (leases.get(name)?.holder === holder) leases.delete(name)
      }),
    leaseHolder: (name) => Effect.sync(() => Option.fromNullable(leases.get(name))),

    capLeases: Effect.sync(() => Cap.all.flatMap((cap) => (capLeases.has(cap) ? [capLeases.get(cap)!] : []))),
    setCapLease: (cap, lease, now) =>
      Effect.sync(() => {
        if (lease === null) capLeases.delete(cap)
        else capLeases.set(cap, { cap, leaseSeconds: lease.leaseSeconds, reviveSeconds: lease.reviveSeconds, since: now })
        changed("settings", cap)
      }),
    listLeased: (cap) => Effect.sync(() => Array.from(principalsOf(cap).values()).sort(byAdmission)),
    heartbeat: (cap, id, ceiling, now) =>
      Effect.sync((): HeartbeatOutcome => {
        const lease = capLeases.get(cap)
        const existing = principalsOf(cap).get(id)
        if (existing === undefined || existing.status === "deactivated") return { _tag: "NotAdmitted", used: countOf(cap) }
        if (existing.status === "active" && cullOne(existing, lease, now) === null) {
          const renewed: LeasedPrincipal = { ...existing, heartbeatAt: now }
          principalsOf(cap).set(id, renewed)
          return { _tag: "Renewed", principal: renewed, used: countOf(cap) }
        }
        const expired = principalsOf(cap).get(id)!
        const used = countOf(cap)
        const culledAt = expired.culledAt ?? expired.updatedAt
        if (lease === undefined || now > culledAt + lease.reviveSeconds * 1000) return { _tag: "Lapsed", principal: expired, used }
        if (used >= ceiling) return { _tag: "Full", principal: expired, used }
        const revived: LeasedPrincipal = { ...expired, status: "active", admittedAt: now, updatedAt: now, heartbeatAt: now, culledAt: null }
        principalsOf(cap).set(id, revived)
        changed("principal", cap, id)
        return { _tag: "Revived", principal: revived, used: used + 1 }
      }),
    cull: (cap, now) =>
      Effect.sync((): CullOutcome => {
        const lease = capLeases.get(cap)
        const culled: Array<LeasedPrincipal> = []
        let nextEndAt: number | null = null
        for (const p of Array.from(principalsOf(cap).values()).sort(byAdmission)) {
          const done = cullOne(p, lease, now)
          if (done !== null) culled.push(done)
          else if (lease !== undefined && p.status === "active") {
            const end = leaseEnd(lease, p.heartbeatAt)
            nextEndAt = nextEndAt === null ? end : Math.min(nextEndAt, end)
          }
        }
        return { culled, used: countOf(cap), nextEndAt }
      }),

    touchNode: (node) => Effect.sync(() => void nodes.set(node.id, node)),
    listNodes: (since) =>
      Effect.sync(() => Array.from(nodes.values()).filter((n) => n.lastSeenAt >= since).sort((a, b) => a.startedAt - b.startedAt))
  }
})

// Plain code-unit order, the same as SQLite's default BINARY collation.
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
