// Issue 12.8: a three-node Hub on PostgreSQL whose connections are terminated, and whose server is stopped and started
// again, under load: only 2xx, 403 and 503 STORE_UNAVAILABLE (with Retry-After), check answered from memory, no
// over-admission, and every node catches up. Then the leader SIGKILLed: exactly one node pings the Portal, before and after.
import { Signer, Verifier } from "@exekra/core"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { email, issue, type LicenseFile, vendor } from "../support/licenses.js"
import * as Prng from "../support/prng.js"
import { report, seed, since, sized } from "../support/profile.js"
import * as Scratch from "../support/scratch.js"
import * as C from "./support.js"

const cap = "unattended"
/** A small ceiling, so an over-admission would show at once. */
const LIMIT = 10
const BOUND_MS = 1_000

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((e: Error) => console.warn(`cleanup: ${e.message}`))
})
afterAll(async () => {
  await C.stopAll()
  Scratch.cleanup()
})

type Known = "present" | "absent" | "unknown"

/** How the load's responses went, by phase ("before", "away", "after"…). */
interface Tally {
  readonly statuses: Map<string, number>
  readonly failures: Array<string>
  maxUsed: number
  unavailable: number
}

/**
 * Acquisitions, releases and checks on random nodes until `stop` is called, judged as they come: acquisitions and
 * releases get 2xx, 403 CAP_LIMIT_REACHED or 503 STORE_UNAVAILABLE with Retry-After; check always answers from memory
 * (200 or 403), never a 5xx; no transport error. As a client honouring Retry-After would, an operation answered 503 is
 * retried later with the same id: what the 503 did is unknown until then (a retried acquisition answers 200 if the
 * first had committed, a retried release 404). Each answer is counted under the phase its request was sent in.
 */
const startLoad = (clients: ReadonlyArray<C.Api>, known: Map<string, Known>, prng: Prng.Prng, label: string, phase: () => string) => {
  const tally: Tally = { statuses: new Map(), failures: [], maxUsed: 0, unavailable: 0 }
  const holders = new Set([...known].filter(([, k]) => k === "present").map(([id]) => id))
  const retryAcquire = new Set<string>()
  const retryRelease = new Set<string>()
  let stopped = false
  let serial = 0
  /** Under the phase the request was sent in, and `sent>answered` when the phase changed while it was in flight. */
  const count = (sent: string, what: string, reply: C.Reply) => {
    const answered = phase()
    const key = `${sent === answered ? sent : `${sent}>${answered}`} ${what} ${reply._tag === "Response" ? reply.status : "transport"}`
    tally.statuses.set(key, (tally.statuses.get(key) ?? 0) + 1)
  }
  /** A 503 must be the store's, and say when to retry. */
  const unavailable = (reply: C.Reply, what: string): boolean => {
    if (reply._tag !== "Response" || reply.status !== 503) return false
    tally.unavailable++
    const code = C.field(reply.body, "code")
    const retryAfter = reply.headers["retry-after"]
    if (code !== "STORE_UNAVAILABLE" || retryAfter === undefined || !(Number(retryAfter) > 0)) {
      tally.failures.push(`${what}: 503 with code ${String(code)} and Retry-After ${String(retryAfter)}`)
    }
    return true
  }
  const take = (set: Set<string>): string => {
    const id = prng.pick([...set])
    set.delete(id)
    return id
  }
  const worker = async () => {
    while (!stopped) {
      const client = prng.pick(clients)
      const roll = prng.next()
      const sent = phase()
      const where = `${sent} on ${client.url}`
      if (roll < 0.25 && known.size > 0) {
        // check: from memory, whatever the store is doing.
        const id = prng.pick([...known.keys()])
        const reply = await client.send("GET", `/api/caps/${cap}/principals/${id}/check`)
        count(sent, "check", reply)
        const ok = reply._tag === "Response" && (reply.status === 200 || (reply.status === 403 && C.field(reply.body, "code") === "PRINCIPAL_NOT_ADMITTED"))
        if (!ok) tally.failures.push(`check ${id} ${where}: ${C.describeReply(reply)}`)
      } else if (roll < 0.5 && (holders.size > 0 || retryRelease.size > 0)) {
        const retry = retryRelease.size > 0 && (holders.size === 0 || prng.chance(0.5))
        const id = take(retry ? retryRelease : holders)
        known.set(id, "unknown")
        const reply = await client.send("DELETE", `/api/caps/${cap}/principals/${id}`)
        count(sent, retry ? "re-release" : "release", reply)
        if (reply._tag === "Response" && reply.status === 204) known.set(id, "absent")
        else if (retry && reply._tag === "Response" && reply.status === 404 && C.field(reply.body, "code") === "PRINCIPAL_NOT_FOUND") known.set(id, "absent")
        else if (unavailable(reply, `release ${id} ${where}`)) {
          retryRelease.add(id)
          await C.sleep(10)
        } else tally.failures.push(`release ${id} ${where}: ${C.describeReply(reply)}`)
      } else {
        const retry = retryAcquire.size > 0 && prng.chance(0.5)
        const id = retry ? take(retryAcquire) : `${label}-${serial++}`
        known.set(id, "unknown")
        const reply = await client.send("POST", `/api/caps/${cap}/principals`, { id })
        count(sent, retry ? "re-acquire" : "acquire", reply)
        if (reply._tag === "Response" && (reply.status === 201 || (retry && reply.status === 200))) {
          const used = Number(C.field(reply.body, "used"))
          tally.maxUsed = Math.max(tally.maxUsed, used)
          if (used > LIMIT) tally.failures.push(`${id} admitted ${where} at used=${used} > ${LIMIT}`)
          known.set(id, "present")
          holders.add(id)
        } else if (reply._tag === "Response" && reply.status === 403 && C.field(reply.body, "code") === "CAP_LIMIT_REACHED") known.set(id, "absent")
        else if (unavailable(reply, `acquire ${id} ${where}`)) {
          retryAcquire.add(id)
          await C.sleep(10)
        } else tally.failures.push(`acquire ${id} ${where}: ${C.describeReply(reply)}`)
      }
    }
  }
  const workers = Promise.all(Array.from({ length: 24 }, worker))
  return {
    tally,
    stop: async () => {
      stopped = true
      await workers
      return tally
    }
  }
}

/**
 * Once the faults are over: every node lists the same principals, the acknowledged ones among them and the refused
 * and released ones not, at most the ceiling; what was in flight is settled by the store; each node's memory (usage,
 * check) agrees within `withinMs`. Returns how long the memory took to agree.
 */
const caughtUp = async (
  clients: ReadonlyArray<C.Api>,
  known: Map<string, Known>,
  where: string,
  withinMs: number,
  lagging: Array<string> = []
): Promise<number> => {
  const t0 = performance.now()
  const lists = await Promise.all(clients.map((c) => C.listed(c, cap)))
  for (const list of lists) expect(list, `${where}: the nodes list different principals`).toEqual(lists[0])
  const active = new Set(lists[0])
  const lostAcks = [...known].filter(([id, s]) => s === "present" && !active.has(id)).map(([id]) => id)
  const keptRefusals = [...known].filter(([id, s]) => s === "absent" && active.has(id)).map(([id]) => id)
  const strangers = [...active].filter((id) => !known.has(id))
  expect({ lostAcks, keptRefusals, strangers }, where).toEqual({ lostAcks: [], keptRefusals: [], strangers: [] })
  expect(active.size, where).toBeLessThanOrEqual(LIMIT)
  for (const [id, s] of known) if (s === "unknown") known.set(id, active.has(id) ? "present" : "absent")
  const gone = [...known].filter(([, s]) => s === "absent").map(([id]) => id).slice(-30)
  return C.waitUntil(
    `${where}: every node's memory to agree with the store`,
    async () => {
      for (const c of clients) {
        const used = (await C.licenseView(c)).used[cap]
        const lag = (text: string) => {
          lagging.push(`${C.round(performance.now() - t0)}ms ${text}`)
          return text
        }
        if (used !== active.size) return lag(`${c.url} counts ${used}, the store ${active.size}`)
        const answers = await Promise.all([...active, ...gone].map((id) => C.check(c, cap, id)))
        const wrong = [...active, ...gone].filter((id, i) => answers[i] !== (active.has(id) ? "allowed" : "PRINCIPAL_NOT_ADMITTED"))
        if (wrong.length > 0) return lag(`${c.url} answers check wrongly for ${wrong.slice(0, 5).join(", ")}`)
      }
      return true
    },
    { from: t0, timeoutMs: withinMs, intervalMs: 50 }
  )
}

/** The cap the staleness probes use, never full (the load fills `cap`). */
const probeCap = "developer"
const faultLicense = (licenseId: string) => issue({ [cap]: { limit: LIMIT }, [probeCap]: { limit: 100 } }, { licenseId })

/** After the faults, one leader, the same for every node (the lease was lost while the store was away, and retaken). */
const oneLeader = (clients: ReadonlyArray<C.Api>) =>
  C.waitUntil(
    "one leader that every node names",
    async () => {
      const leaders = await Promise.all(clients.map(C.leaderOf))
      return (leaders[0] !== null && leaders.every((l) => l === leaders[0])) || JSON.stringify(leaders)
    },
    { timeoutMs: 5_000 }
  )

/** Staleness after the faults: writes on one node seen by the others' check (the change feed works again). */
const staleness = async (clients: ReadonlyArray<C.Api>, prng: Prng.Prng, label: string, rounds: number): Promise<Array<number>> => {
  const cap = probeCap
  const figures: Array<number> = []
  for (let k = 0; k < rounds; k++) {
    const id = `${label}-${k}`
    const writer = prng.int(0, clients.length - 1)
    C.expectStatus(await clients[writer]!.send("POST", `/api/caps/${cap}/principals`, { id }), 201, `acquire ${id}`)
    const t0 = performance.now()
    for (const [i, c] of clients.entries()) {
      if (i !== writer) figures.push(await C.waitUntil(`${id} on ${c.url}`, async () => (await C.check(c, cap, id)) === "allowed", { from: t0, timeoutMs: 5_000 }))
    }
    C.expectStatus(await clients[writer]!.send("DELETE", `/api/caps/${cap}/principals/${id}`), 204, `release ${id}`)
  }
  return figures
}

const describeStatuses = (tally: Tally) => [...tally.statuses].sort().map(([k, v]) => `${k}:${v}`).join(" ")

describe("PostgreSQL faults under load", () => {
  it(
    "connections terminated: only 2xx, 403 and 503 STORE_UNAVAILABLE with Retry-After, never a 500 or an over-admission, and the nodes catch up",
    async () => {
      const t0 = performance.now()
      const prng = Prng.make(seed).fork("terminate")
      const store = await C.postgresStore()
      const cluster = await C.startCluster(store)
      cleanups.push(cluster.close)
      const admin = await C.activate(cluster.nodes[0]!.url, faultLicense("lic_terminate"))
      const clients = cluster.nodes.map((n) => C.api(n.url, { token: admin.token }, 24))
      cleanups.push(async () => clients.forEach((c) => c.close()))
      const known = new Map<string, Known>()
      const killer = await C.pgConnect(store.database!.url)
      cleanups.push(() => killer.end())

      let phase = "terminating"
      const load = startLoad(clients, known, prng.fork("load"), "t", () => phase)
      await C.sleep(500)
      // Terminate every other connection to the database (the nodes' pools and their LISTEN connections), again and again.
      const rounds = sized(12, 120)
      let terminated = 0
      for (let k = 0; k < rounds; k++) {
        terminated += await C.terminateConnections(killer, store.database!.name)
        await C.sleep(prng.int(100, 600))
      }
      phase = "after"
      await C.sleep(1_500)
      const tally = await load.stop()
      expect(tally.failures.slice(0, 20), describeStatuses(tally)).toEqual([])
      expect(terminated).toBeGreaterThan(0)
      expect(tally.maxUsed).toBeLessThanOrEqual(LIMIT)
      for (const node of cluster.nodes) expect(node.running, `${node.name} is still running`).toBe(true)

      const lagging: Array<string> = []
      const catchUpMs = await caughtUp(clients, known, `seed=${seed}`, 3_000, lagging)
      if (lagging.length > 0) console.log(`[cluster-terminate] lagging: ${lagging.join(" | ")}`)
      await oneLeader(clients)
      const figures = await staleness(clients, prng.fork("after"), "fresh", 10)
      expect(C.percentile(figures, 99), `staleness after the terminations: ${figures.map(C.round).join(", ")}`).toBeLessThanOrEqual(BOUND_MS)
      // Not a single 500 in any node's log either (a 503 logs the store failure; an INTERNAL_ERROR would be a 500).
      for (const node of cluster.nodes) expect(node.log(), node.name).not.toMatch(/INTERNAL_ERROR|status":500|\b500\b.*Internal/)
      report("cluster-terminate", {
        rounds,
        terminated,
        unavailable: tally.unavailable,
        maxUsed: tally.maxUsed,
        catchUpMs: C.round(catchUpMs),
        p50: C.round(C.percentile(figures, 50)),
        p99: C.round(C.percentile(figures, 99)),
        statuses: describeStatuses(tally).replaceAll(" ", ","),
        ms: since(t0)
      })
    },
    sized(90_000, 900_000)
  )

  it(
    "the server stopped and started again: writes 503 while it is away, check answers from memory, then every node catches up",
    async () => {
      const t0 = performance.now()
      const prng = Prng.make(seed).fork("restart")
      // The test's own server: the machine's shared one is never stopped.
      const server = await C.throwawayPostgres()
      cleanups.push(server.destroy)
      const store = await C.postgresStore(server.serverUrl)
      const cluster = await C.startCluster(store)
      cleanups.push(async () => {
        await Promise.all(cluster.nodes.filter((n) => n.running).map((n) => n.kill()))
      })
      const admin = await C.activate(cluster.nodes[0]!.url, faultLicense("lic_restart"))
      const clients = cluster.nodes.map((n) => C.api(n.url, { token: admin.token }, 24))
      cleanups.push(async () => clients.forEach((c) => c.close()))
      const known = new Map<string, Known>()

      // Holders the load never releases, and principals gone before it: what check must keep answering while the store is away.
      const keepers = ["keep-1", "keep-2", "keep-3"]
      const gone = ["gone-1", "gone-2"]
      for (const [i, id] of [...keepers, ...gone].entries()) C.expectStatus(await clients[i % 3]!.send("POST", `/api/caps/${cap}/principals`, { id }), 201, `acquire ${id}`)
      for (const [i, id] of gone.entries()) C.expectStatus(await clients[(i + 1) % 3]!.send("DELETE", `/api/caps/${cap}/principals/${id}`), 204, `release ${id}`)
      const expectedCheck = new Map([...keepers.map((id) => [id, "allowed"] as const), ...gone.map((id) => [id, "PRINCIPAL_NOT_ADMITTED"] as const)])
      const wrongChecks = async () => {
        const wrong: Array<string> = []
        for (const c of clients) {
          for (const [id, expected] of expectedCheck) {
            const answer = await C.check(c, cap, id)
            if (answer !== expected) wrong.push(`${id} on ${c.url}: ${answer}`)
          }
        }
        return wrong
      }
      await C.waitUntil("every node to know the keepers and the gone", async () => (await wrongChecks()).length === 0 || (await wrongChecks()).join("; "), { timeoutMs: 2_000 })

      let phase = "up"
      const load = startLoad(clients, known, prng.fork("load"), "r", () => phase)
      for (const id of keepers) known.set(id, "present")
      for (const id of gone) known.set(id, "absent")
      await C.sleep(1_500)
      phase = "stopping"
      await server.stop("fast")
      const stoppedAt = performance.now()
      phase = "away"
      // While it is away: writes are refused with 503 (the load judges each), and check still answers from memory.
      const awayMs = sized(3_000, 20_000)
      const checksAway: Array<string> = []
      let awayChecks = 0
      while (performance.now() - stoppedAt < awayMs) {
        checksAway.push(...(await wrongChecks()))
        awayChecks += clients.length * expectedCheck.size
        await C.sleep(100)
      }
      phase = "starting"
      await server.start()
      const startedAt = performance.now()
      phase = "back"
      // Writes work again: the first admission or release after the start.
      const recoveryMs = await C.waitUntil(
        "a write to succeed after the server is back",
        async () => [...load.tally.statuses].some(([k, v]) => /^back (re-)?(acquire 20[01]|release 204|release 404|acquire 403)/.test(k) && v > 0),
        { from: startedAt, timeoutMs: 15_000, intervalMs: 20 }
      )
      await C.sleep(1_500)
      const tally = await load.stop()
      // Writes sent while the server was away, and answered before it was back: each a 503, none acknowledged or refused.
      const awayWrites = [...tally.statuses].filter(([k]) => /^away (re-)?(acquire|release) /.test(k)).reduce((n, [, v]) => n + v, 0)
      const awayDecided = [...tally.statuses].filter(([k]) => /^away (re-)?(acquire|release) (2|4)/.test(k)).reduce((n, [, v]) => n + v, 0)

      expect(tally.failures.slice(0, 20), describeStatuses(tally)).toEqual([])
      expect(checksAway.slice(0, 20)).toEqual([])
      expect(awayChecks).toBeGreaterThan(0)
      // The outage was seen: writes were refused with 503 while it lasted, none acknowledged.
      expect(awayWrites, describeStatuses(tally)).toBeGreaterThan(0)
      expect(awayDecided, describeStatuses(tally)).toBe(0)
      expect(tally.unavailable).toBeGreaterThan(0)
      expect(tally.maxUsed).toBeLessThanOrEqual(LIMIT)
      for (const node of cluster.nodes) expect(node.running, `${node.name} is still running`).toBe(true)

      const catchUpMs = await caughtUp(clients, known, `seed=${seed}`, 3_000)
      await oneLeader(clients)
      const figures = await staleness(clients, prng.fork("after"), "fresh", 10)
      expect(C.percentile(figures, 99), `staleness after the restart: ${figures.map(C.round).join(", ")}`).toBeLessThanOrEqual(BOUND_MS)
      for (const node of cluster.nodes) expect(node.log(), node.name).not.toMatch(/INTERNAL_ERROR/)
      report("cluster-pg-restart", {
        awayMs,
        awayWrites,
        awayChecks,
        unavailable: tally.unavailable,
        recoveryMs: C.round(recoveryMs),
        catchUpMs: C.round(catchUpMs),
        maxUsed: tally.maxUsed,
        p50: C.round(C.percentile(figures, 50)),
        p99: C.round(C.percentile(figures, 99)),
        statuses: describeStatuses(tally).replaceAll(" ", ","),
        ms: since(t0)
      })
      await store.drop()
    },
    sized(120_000, 900_000)
  )
})

// ---- the leader -----------------------------------------------------------------------------------------

/**
 * A file whose validation interval is `intervalHours`. The schema's shortest interval is 1 hour, too long to wait for:
 * pings are made due instead by installing a file with another interval (the Hub then validates at once, as after
 * activation). The license names no Portal, so each node pings the `--portal-url` it was given: one path per node.
 */
const withInterval = (intervalHours: number, k: number): LicenseFile => {
  const issuedAt = new Date(Date.UTC(2026, 0, 1, k)).toISOString()
  const text = Signer.sign(
    {
      licenseId: "lic_leader",
      type: "production",
      issuedTo: { name: "Fault Corp", email },
      issuedAt,
      caps: { [cap]: { limit: LIMIT, expiresAt: "2099-01-01T00:00:00Z" } },
      validation: { required: true, intervalHours }
    },
    vendor
  )
  return { text, fingerprint: Verifier.fingerprint(text), licenseId: "lic_leader", issuedAt: Date.parse(issuedAt), grants: { [cap]: { limit: LIMIT } } }
}

describe.each(["postgres", "sqlite"] as const)("%s: the leader", (engine) => {
  const leaseMs = 1_500
  /**
   * How long to watch for a second pinger after a ping: any node that wrongly thought itself leader would have
   * pinged as soon as it applied the change that made the ping due, within the staleness bound.
   */
  const quietMs = BOUND_MS + 500
  /** One lease period plus one renewal (a fifth of it), plus what polling and a loaded machine add. */
  const takeoverBound = leaseMs + leaseMs / 5 + 500

  it(
    "only the leader pings; SIGKILLed, exactly one other node takes over within a lease period and pings from then on",
    async () => {
      const portal = await C.pingLog()
      cleanups.push(portal.close)
      const cluster = await C.startCluster(await C.makeStore(engine), { leaseMs, portalUrl: (name) => `${portal.url}/${name}` })
      cleanups.push(cluster.close)
      const { nodes } = cluster
      const admin = await C.activate(nodes[0]!.url, withInterval(24, 0))
      const clients = new Map(nodes.map((n) => [n.name, C.api(n.url, { token: admin.token }, 4)]))
      cleanups.push(async () => [...clients.values()].forEach((c) => c.close()))
      const pingsBy = (from = 0) => portal.pings.slice(from).map((p) => p.node)
      /** The leader every listed client names, once they agree. */
      const agreedLeader = async (names: ReadonlyArray<string>, not?: string, from?: number) => {
        let leader = ""
        const ms = await C.waitUntil(
          `one leader named by ${names.join(", ")}${not === undefined ? "" : ` other than ${not}`}`,
          async () => {
            const views = await Promise.all(names.map((n) => C.clusterView(clients.get(n)!)))
            const named = views.map((v) => v.nodes.filter((x) => x.leader).map((x) => x.id))
            const first = named[0]!
            if (first.length !== 1 || first[0] === not || !named.every((l) => l.length === 1 && l[0] === first[0])) return JSON.stringify(named)
            leader = first[0]!
            return true
          },
          { timeoutMs: 10_000, ...(from === undefined ? {} : { from }) }
        )
        return { leader, ms }
      }

      // Activation makes the first ping due: exactly one, from the leader, and no other after it.
      const { leader: first } = await agreedLeader(nodes.map((n) => n.name))
      await C.waitUntil("the first ping", () => Promise.resolve(portal.pings.length >= 1), { timeoutMs: 10_000 })
      await C.sleep(quietMs)
      expect(pingsBy(), `leader ${first}`).toEqual([first])
      const installation = JSON.parse(portal.pings[0]!.body) as Record<string, unknown>
      expect(installation.licenseId).toBe("lic_leader")
      // The posture is the Hub's: every node reports the leader's successful ping.
      await C.waitUntil("every node to report the ping's success", async () => {
        const postures = await Promise.all(nodes.map(async (n) => C.field(C.field(C.expectStatus(await clients.get(n.name)!.send("GET", "/api/license"), 200, "license"), "validation"), "lastSuccessAt")))
        return (postures[0] !== null && postures.every((p) => p === postures[0])) || JSON.stringify(postures)
      }, { timeoutMs: BOUND_MS })

      // A renewal with another interval, uploaded on a follower, makes a ping due again: the leader's, once.
      const follower = nodes.find((n) => n.name !== first)!
      C.expectStatus(await clients.get(follower.name)!.send("PUT", "/api/license", { license: withInterval(23, 1).text }), 200, "renewal")
      await C.waitUntil("the second ping", () => Promise.resolve(portal.pings.length >= 2), { timeoutMs: 10_000 })
      await C.sleep(quietMs)
      expect(pingsBy(), `leader ${first}`).toEqual([first, first])

      // SIGKILL the leader: no goodbye, its lease simply runs out. One survivor takes over; both name it.
      const dead = nodes.find((n) => n.name === first)!
      const survivors = nodes.filter((n) => n !== dead).map((n) => n.name)
      const before = portal.pings.length
      await dead.kill()
      const killedAt = performance.now()
      const { leader: second, ms: takeover } = await agreedLeader(survivors, first, killedAt)
      expect(survivors).toContain(second)
      expect(takeover, `takeover after ${C.round(takeover)} ms`).toBeLessThanOrEqual(takeoverBound)
      // The dead node, while still listed, is not the leader; the new leader is the only one, on both survivors.
      for (const name of survivors) {
        const view = await C.clusterView(clients.get(name)!)
        expect(view.nodes.filter((n) => n.leader).map((n) => n.id)).toEqual([second])
      }
      // Taking over is not a reason to ping (the validation record is shared and not due): none so far.
      expect(pingsBy(before)).toEqual([])

      // The next due ping comes from the new leader only.
      C.expectStatus(await clients.get(survivors.find((n) => n !== second)!)!.send("PUT", "/api/license", { license: withInterval(22, 2).text }), 200, "renewal")
      await C.waitUntil("a ping after the takeover", () => Promise.resolve(portal.pings.length > before), { timeoutMs: 10_000 })
      await C.sleep(quietMs)
      expect(pingsBy(before)).toEqual([second])

      // The old leader back: it joins as a follower (the lease is held), and the leader still pings alone.
      await dead.start()
      clients.set(dead.name, C.api(dead.url, { token: admin.token }, 4))
      await C.sleep(quietMs)
      expect((await agreedLeader(nodes.map((n) => n.name))).leader).toBe(second)
      const after = portal.pings.length
      C.expectStatus(await clients.get(dead.name)!.send("PUT", "/api/license", { license: withInterval(21, 3).text }), 200, "renewal")
      await C.waitUntil("a ping after the restart", () => Promise.resolve(portal.pings.length > after), { timeoutMs: 10_000 })
      await C.sleep(quietMs)
      expect(pingsBy(after)).toEqual([second])
      expect(new Set(portal.pings.map((p) => (JSON.parse(p.body) as Record<string, unknown>).installationId)).size).toBe(1)

      report("cluster-leader", { engine, leaseMs, first, second, takeoverMs: C.round(takeover), pings: pingsBy().join(",") })
    },
    sized(60_000, 300_000)
  )
})
