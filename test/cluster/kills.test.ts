// Issue 12.8: 20 SIGKILLs of random nodes of a three-node Hub during acquisitions and renewals, each killed node
// restarted: nothing acknowledged is lost, nothing refused is present, the license is one uploaded and never older
// than an acknowledged upload, and the restarted node answers as the others. On PostgreSQL and on one SQLite file.
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { ceiling, issue, type LicenseFile } from "../support/licenses.js"
import * as Prng from "../support/prng.js"
import { report, seed, since, sized } from "../support/profile.js"
import * as Scratch from "../support/scratch.js"
import * as C from "./support.js"

const cap = "unattended"
const kills = sized(20, 100)
/** Renewals every other kill: each file newer than the one before, with a higher limit, so a mix of two would show. */
const licenses: ReadonlyArray<LicenseFile> = Array.from({ length: kills / 2 + 2 }, (_, k) =>
  issue({ [cap]: { limit: 30 + k } }, { licenseId: "lic_kills", issuedAt: new Date(Date.UTC(2026, 0, 1, k)).toISOString() })
)
const byFingerprint = new Map(licenses.map((l, k) => [l.fingerprint, k]))

let cluster: C.Cluster | undefined
afterEach(async () => {
  await cluster?.close()
  cluster = undefined
})
afterAll(async () => {
  await C.stopAll()
  Scratch.cleanup()
})

/** What the client knows of each principal it named: acknowledged in or out, or in flight to the killed node. */
type Known = "present" | "absent" | "unknown"

interface Round {
  readonly failures: ReadonlyArray<string>
  readonly stats: { acked: number; refused: number; released: number; inFlight: number }
  readonly renewed: "acked" | "unacknowledged" | "none"
  readonly killAfter: number
  readonly more: number
}

/**
 * Load the three nodes (16 workers, each request to a random node) and SIGKILL `victim` after a random number of
 * answers; in renewal rounds the upload goes to `uploadTo` just before. Only requests to the victim may fail.
 */
const loadAndKill = async (
  nodes: ReadonlyArray<C.Node>,
  token: string,
  victim: C.Node,
  known: Map<string, Known>,
  prng: Prng.Prng,
  label: string,
  renewal: { readonly file: LicenseFile; readonly to: C.Node } | null
): Promise<Round> => {
  const clients = new Map(nodes.map((n) => [n, C.api(n.url, { token }, 17)]))
  const failures: Array<string> = []
  let killed = false
  let responses = 0
  let serial = 0
  const stats = { acked: 0, refused: 0, released: 0, inFlight: 0 }
  const waiting: Array<{ readonly at: number; readonly resolve: () => void }> = []
  const answers = (at: number) => new Promise<void>((resolve) => (responses >= at ? resolve() : waiting.push({ at, resolve })))
  const answered = () => {
    responses++
    for (const w of waiting.filter((w) => responses >= w.at)) {
      waiting.splice(waiting.indexOf(w), 1)
      w.resolve()
    }
  }
  /** A transport error is expected only from the victim, once the kill is under way. */
  const lost = (node: C.Node, id: string, what: string, reply: C.Reply) => {
    if (killed && node === victim) {
      known.set(id, "unknown")
      stats.inFlight++
    } else failures.push(`${id} ${what} on ${node.name}: ${C.describeReply(reply)}${killed ? ` (after ${victim.name} was killed)` : " (before the kill)"}`)
  }
  const holders = new Set([...known].filter(([, k]) => k === "present").map(([id]) => id))
  const worker = async () => {
    while (!killed) {
      const node = prng.pick(nodes)
      const client = clients.get(node)!
      if (holders.size > 0 && prng.chance(0.3)) {
        const id = prng.pick([...holders])
        holders.delete(id)
        known.set(id, "unknown")
        const reply = await client.send("DELETE", `/api/caps/${cap}/principals/${id}`)
        if (reply._tag === "Response" && reply.status === 204) {
          known.set(id, "absent")
          stats.released++
        } else if (reply._tag === "TransportError") lost(node, id, "release", reply)
        else failures.push(`${id} release on ${node.name}: ${C.describeReply(reply)}`)
      } else {
        const id = `${label}-${serial++}`
        known.set(id, "unknown")
        const reply = await client.send("POST", `/api/caps/${cap}/principals`, { id })
        if (reply._tag === "Response" && reply.status === 201) {
          known.set(id, "present")
          holders.add(id)
          stats.acked++
        } else if (reply._tag === "Response" && reply.status === 403 && C.field(reply.body, "code") === "CAP_LIMIT_REACHED") {
          known.set(id, "absent")
          stats.refused++
        } else if (reply._tag === "TransportError") lost(node, id, "acquire", reply)
        else failures.push(`${id} acquire on ${node.name}: ${C.describeReply(reply)}`)
      }
      answered()
    }
  }
  const workers = Promise.all(Array.from({ length: 16 }, worker))

  const killAfter = prng.int(1, 120)
  await answers(killAfter)
  const renewed: { state: Round["renewed"] } = { state: "none" }
  let upload: Promise<void> = Promise.resolve()
  const more = renewal === null ? 0 : prng.int(0, 6)
  if (renewal !== null) {
    renewed.state = "unacknowledged"
    upload = clients
      .get(renewal.to)!
      .send("PUT", "/api/license", { license: renewal.file.text })
      .then((reply) => {
        if (reply._tag === "Response" && reply.status === 200) renewed.state = "acked"
        else if (!(reply._tag === "TransportError" && killed && renewal.to === victim)) failures.push(`renewal on ${renewal.to.name}: ${C.describeReply(reply)}`)
      })
  }
  await answers(killAfter + more)
  killed = true
  const exit = await victim.kill()
  if (exit.signal !== "SIGKILL") failures.push(`${victim.name} ended ${JSON.stringify(exit)}, not by the SIGKILL`)
  await Promise.all([workers, upload])
  for (const c of clients.values()) c.close()
  for (const node of nodes) {
    const errors = C.errorLines(node)
    if (errors.length > 0) failures.push(`${node.name} logged: ${errors.slice(0, 3).join(" | ")}`)
  }
  return { failures, stats, renewed: renewed.state, killAfter, more }
}

describe.each(["postgres", "sqlite"] as const)("%s: SIGKILLs of random nodes of three", (engine) => {
  it(
    `${kills} kills during acquisitions and renewals: nothing acknowledged lost, no refused one present, the newest acknowledged license or a newer one installed`,
    async () => {
      const t0 = performance.now()
      const prng = Prng.make(seed).fork(`kills ${engine}`)
      cluster = await C.startCluster(await C.makeStore(engine))
      const { nodes } = cluster
      let installed = 0
      const admin = await C.activate(nodes[0]!.url, licenses[0]!)
      // The newest upload a node acknowledged: what is installed may be newer (an unacknowledged upload), never older.
      let newestAcked = 0
      const known = new Map<string, Known>()
      // Each round's victim, starred when it was the leader.
      const leaders: Array<string> = []
      const tally = { acked: 0, refused: 0, released: 0, inFlight: 0, renewals: 0, renewalsAcked: 0, unackedTookNew: 0, unackedKeptOld: 0, restartMs: 0, restartTotalMs: 0, leaderKills: 0 }

      for (let k = 1; k <= kills; k++) {
        const roundPrng = prng.fork(`round ${k}`)
        const victim = roundPrng.pick(nodes)
        // Half the uploads go to the node about to die, half to one that lives.
        const renewal = k % 2 === 0 ? { file: licenses[installed + 1]!, to: roundPrng.chance(0.5) ? victim : roundPrng.pick(nodes.filter((n) => n !== victim)) } : null
        const before = licenses[installed]!
        const survivors = nodes.filter((n) => n !== victim)
        const probe = C.api(survivors[0]!.url, { token: admin.token }, 2)
        const leader = await C.leaderOf(probe)
        leaders.push(`${victim.name}${leader === victim.name ? "*" : ""}`)
        if (leader === victim.name) tally.leaderKills++
        probe.close()

        const outcome = await loadAndKill(nodes, admin.token, victim, known, roundPrng, `k${k}`, renewal)
        // Restarted at once, under its name, while the survivors are examined (a starting node changes no principal
        // and no license); a start that fails is reported below.
        const restart = performance.now()
        let restartMs = 0
        const restarting = victim.start().then(
          () => void (restartMs = since(restart)),
          (e: Error) => e
        )
        const where = `seed=${seed} ${engine} kill ${k} of ${victim.name} (after ${outcome.killAfter}${renewal === null ? "" : `+${outcome.more}`} answers${renewal === null ? "" : `, renewal on ${renewal.to.name} ${outcome.renewed}`})`
        expect(outcome.failures, where).toEqual([])
        tally.acked += outcome.stats.acked
        tally.refused += outcome.stats.refused
        tally.released += outcome.stats.released
        tally.inFlight += outcome.stats.inFlight

        // The restarted node reads the store at start: its first answer is what the store holds. (The survivors may
        // not have followed the victim's last write yet: on SQLite the change feed polls, so they catch up within the
        // bound, not at once.)
        const failed = await restarting
        if (failed instanceof Error) throw new Error(`${where}: restart failed: ${failed.message}`)
        tally.restartMs = Math.max(tally.restartMs, restartMs)
        tally.restartTotalMs += restartMs
        const back = C.api(victim.url, { token: admin.token }, 8)
        const fingerprint = (await C.licenseView(back)).fingerprint
        // The survivors: what the store holds (their lists), and what they installed (agreeing within the bound).
        const clients = survivors.map((n) => C.api(n.url, { token: admin.token }, 4))
        await C.waitUntil(`${where}: the survivors to agree with the store on the installed license`, async () => {
          const views = await Promise.all(clients.map(C.licenseView))
          return views.every((v) => v.fingerprint === fingerprint) || `store ${fingerprint}; survivors ${views.map((v) => v.fingerprint).join(", ")}`
        }, { timeoutMs: 2_000 })
        const index = byFingerprint.get(fingerprint)
        const candidates = renewal === null ? [before.fingerprint] : [before.fingerprint, renewal.file.fingerprint]
        expect(candidates, `${where}: installed ${fingerprint}`).toContain(fingerprint)
        if (outcome.renewed === "acked") newestAcked = Math.max(newestAcked, byFingerprint.get(renewal!.file.fingerprint)!)
        expect(index!, `${where}: installed is older than an acknowledged upload`).toBeGreaterThanOrEqual(newestAcked)
        if (renewal !== null) {
          tally.renewals++
          if (outcome.renewed === "acked") tally.renewalsAcked++
          else if (fingerprint === renewal.file.fingerprint) tally.unackedTookNew++
          else tally.unackedKeptOld++
        }
        installed = index!
        const current = licenses[installed]!

        const lists = await Promise.all(clients.map((c) => C.listed(c, cap)))
        for (const list of lists) expect(list, `${where}: the survivors list different principals`).toEqual(lists[0])
        const active = new Set(lists[0])
        const lostAcks = [...known].filter(([id, state]) => state === "present" && !active.has(id)).map(([id]) => id)
        const keptRefusals = [...known].filter(([id, state]) => state === "absent" && active.has(id)).map(([id]) => id)
        const strangers = [...active].filter((id) => !known.has(id))
        expect({ lostAcks, keptRefusals, strangers }, where).toEqual({ lostAcks: [], keptRefusals: [], strangers: [] })
        expect(active.size, where).toBeLessThanOrEqual(ceiling(current.grants[cap]!))
        for (const [id, state] of known) if (state === "unknown") known.set(id, active.has(id) ? "present" : "absent")

        // The restarted node serves what the others do, from its first answers.
        try {
          expect(fingerprint, `${where}: the restarted node's license`).toBe(current.fingerprint)
          expect((await C.licenseView(back)).used[cap], where).toBe(active.size)
          expect(await C.listed(back, cap), where).toEqual(lists[0])
          // check answers from its memory: holders allowed, a sample of those gone refused.
          const gone = [...known].filter(([, s]) => s === "absent").map(([id]) => id).slice(-20)
          const holders = [...active]
          const answers = await Promise.all([...holders, ...gone].map((id) => C.check(back, cap, id)))
          expect(answers.slice(0, holders.length).filter((a) => a !== "allowed"), `${where}: check of holders`).toEqual([])
          expect(answers.slice(holders.length).filter((a) => a !== "PRINCIPAL_NOT_ADMITTED"), `${where}: check of released/refused`).toEqual([])
        } finally {
          back.close()
          for (const c of clients) c.close()
        }
      }

      // After all that: one leader, three nodes, the same principals on each.
      const clients = nodes.map((n) => C.api(n.url, { token: admin.token }, 4))
      await C.waitUntil("one leader that all three name", async () => {
        const leaders = await Promise.all(clients.map(C.leaderOf))
        return (leaders[0] !== null && leaders.every((l) => l === leaders[0])) || JSON.stringify(leaders)
      }, { timeoutMs: 5_000 })
      const lists = await Promise.all(clients.map((c) => C.listed(c, cap)))
      for (const list of lists) expect(list).toEqual(lists[0])
      for (const c of clients) c.close()
      expect(tally.acked).toBeGreaterThan(0)
      expect(tally.refused).toBeGreaterThan(0)
      report("cluster-kills", { engine, kills, ...tally, victims: leaders.join(","), ms: since(t0) })
    },
    sized(300_000, 3_600_000)
  )
})
