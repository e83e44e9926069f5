// GET /metrics on a served Hub: bearer API token only, the Prometheus text format read by a strict parser, every value equal to GET /api/license and GET /api/cluster at the same moment; and the lease routes over HTTP.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Cap } from "@exekra/core"
import { Hub } from "@exekra/server"
import { Effect, TestClock } from "effect"
import { at, licenseFile, password, vendorKey } from "./fixtures.js"

const dir = mkdtempSync(join(tmpdir(), "exekra-metrics-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// ---- a strict reader of the Prometheus text format (0.0.4) ------------------------------------------------------
//
// No parser package is installed, so the test reads the exposition format itself, strictly, as the format's
// specification states it: `# HELP` and `# TYPE` at most once per family and before its samples; metric and label
// names of the allowed alphabet; label values with only the \\, \" and \n escapes; values as Go floats (NaN, ±Inf);
// no series twice; a histogram's buckets in increasing `le`, cumulative, ending at +Inf equal to `_count`; a final
// newline. Anything else fails the test, so the Hub's output is checked, not just read.

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}
interface Family {
  readonly type: string
  readonly help: string
  readonly samples: Array<Sample>
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

const parseValue = (text: string): number => {
  if (text === "NaN") return Number.NaN
  if (text === "+Inf") return Number.POSITIVE_INFINITY
  if (text === "-Inf") return Number.NEGATIVE_INFINITY
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`not a sample value: ${text}`)
  return Number(text)
}

const parseLabels = (text: string): Record<string, string> => {
  const labels: Record<string, string> = {}
  let i = 0
  while (i < text.length) {
    const eq = text.indexOf("=", i)
    const name = text.slice(i, eq)
    if (eq < 0 || !LABEL.test(name)) throw new Error(`bad label name in {${text}}`)
    if (text[eq + 1] !== '"') throw new Error(`label ${name} is not quoted`)
    let value = ""
    let j = eq + 2
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        const next = text[++j]
        if (next === "\\") value += "\\"
        else if (next === '"') value += '"'
        else if (next === "n") value += "\n"
        else throw new Error(`bad escape \\${next} in {${text}}`)
      } else value += text[j]
    }
    if (j >= text.length) throw new Error(`unterminated label value in {${text}}`)
    if (name in labels) throw new Error(`label ${name} twice`)
    labels[name] = value
    i = j + 1
    if (i < text.length) {
      if (text[i] !== ",") throw new Error(`expected , in {${text}}`)
      i++
    }
  }
  return labels
}

const familyOf = (name: string, families: ReadonlyMap<string, Family>): string => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = name.slice(0, -suffix.length)
    if (name.endsWith(suffix) && families.get(base)?.type === "histogram") return base
  }
  return name
}

const parse = (body: string): ReadonlyMap<string, Family> => {
  if (!body.endsWith("\n")) throw new Error("the body must end with a newline")
  const families = new Map<string, Family>()
  const help = new Map<string, string>()
  const seen = new Set<string>()
  for (const line of body.slice(0, -1).split("\n")) {
    if (line === "") continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string]
      if (!NAME.test(name)) throw new Error(`bad metric name ${name}`)
      if (kind === "HELP") {
        if (help.has(name)) throw new Error(`HELP twice for ${name}`)
        help.set(name, rest)
      } else {
        if (families.has(name)) throw new Error(`TYPE twice for ${name}`)
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) throw new Error(`unknown type ${rest}`)
        families.set(name, { type: rest, help: help.get(name) ?? "", samples: [] })
      }
      continue
    }
    if (line.startsWith("#")) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line)
    if (sample === null) throw new Error(`not a sample line: ${line}`)
    const [, name, labelText, valueText] = sample as unknown as [string, string, string | undefined, string]
    const family = families.get(familyOf(name, families))
    if (family === undefined) throw new Error(`${name} has no TYPE before its samples`)
    const labels = labelText === undefined || labelText === "" ? {} : parseLabels(labelText)
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (seen.has(key)) throw new Error(`series twice: ${key}`)
    seen.add(key)
    family.samples.push({ name, labels, value: parseValue(valueText) })
  }
  for (const [name, family] of families) {
    if (family.type !== "histogram") continue
    const groups = new Map<string, Array<Sample>>()
    for (const s of family.samples.filter((s) => s.name === `${name}_bucket`)) {
      const { le: _le, ...rest } = s.labels
      const key = JSON.stringify(rest)
      groups.set(key, [...(groups.get(key) ?? []), s])
    }
    for (const [key, buckets] of groups) {
      const les = buckets.map((b) => parseValue(b.labels.le ?? "x"))
      if (les.some((le, i) => i > 0 && le <= les[i - 1]!)) throw new Error(`${name}${key}: buckets out of order`)
      if (les.at(-1) !== Number.POSITIVE_INFINITY) throw new Error(`${name}${key}: no +Inf bucket`)
      if (buckets.some((b, i) => i > 0 && b.value < buckets[i - 1]!.value)) throw new Error(`${name}${key}: buckets not cumulative`)
      const count = family.samples.find((s) => s.name === `${name}_count` && JSON.stringify((({ le: _, ...r }) => r)(s.labels)) === key)
      if (count?.value !== buckets.at(-1)!.value) throw new Error(`${name}${key}: +Inf bucket differs from _count`)
    }
  }
  return families
}

/** The value of the one sample of `name` whose labels include `labels`. */
const value = (families: ReadonlyMap<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined => {
  const family = families.get(familyOf(name, families))
  const matching = family?.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) ?? []
  if (matching.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${matching.length} series`)
  return matching[0]?.value
}

// ---- the served Hub ---------------------------------------------------------------------------------------------

const json = (response: Response) => Effect.promise(() => response.json() as Promise<Record<string, unknown>>)
const call = (url: string, init: RequestInit = {}) => Effect.promise(() => fetch(url, init))
const bearer = (token: string, body?: unknown): RequestInit => ({
  headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
  ...(body === undefined ? {} : { body: JSON.stringify(body) })
})

const startHub = Effect.gen(function* () {
  yield* TestClock.setTime(at("2027-01-02T00:00:00Z"))
  const hub = yield* Hub.start({ dataDir: mkdtempSync(join(dir, "hub-")), host: "127.0.0.1", port: 0, publicKeys: [vendorKey.publicKey], version: "test" })
  const api = `${hub.url}/api`
  expect((yield* call(`${api}/activation`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ license: licenseFile(), email: "admin@acme.example", password }) })).status).toBe(201)
  const session = (yield* json(yield* call(`${api}/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "admin@acme.example", password }) }))).token as string
  const created = yield* call(`${api}/tokens`, { method: "POST", ...bearer(session, { name: "prometheus" }) })
  const token = (yield* json(created)).token as string
  return { ...hub, api, session, token }
})

describe("GET /metrics", () => {
  it.scoped("answers 401 problems without a bearer API token, and the Prometheus text format with one", () =>
    Effect.gen(function* () {
      const hub = yield* startHub
      const anonymous = yield* call(`${hub.url}/metrics`)
      expect(anonymous.status).toBe(401)
      expect(anonymous.headers.get("content-type")).toBe("application/problem+json")
      expect(anonymous.headers.get("www-authenticate")).toBe("Bearer")
      expect(yield* json(anonymous)).toMatchObject({ status: 401, code: "UNAUTHORIZED", detail: expect.stringMatching(/Authorization: Bearer/) })
      const wrong = yield* call(`${hub.url}/metrics`, bearer("not-a-token"))
      expect(wrong.status).toBe(401)
      const bySession = yield* call(`${hub.url}/metrics`, bearer(hub.session))
      expect(bySession.status).toBe(401)
      expect((yield* json(bySession)).detail).toMatch(/API token/)
      const ok = yield* call(`${hub.url}/metrics`, bearer(hub.token))
      expect(ok.status).toBe(200)
      expect(ok.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
      parse(yield* Effect.promise(() => ok.text()))
    }))

  it.scoped("every series equals what GET /api/license and GET /api/cluster say at the same moment", () =>
    Effect.gen(function* () {
      const hub = yield* startHub
      const acquire = (cap: string, id: string) => call(`${hub.api}/caps/${cap}/principals`, { method: "POST", ...bearer(hub.token, { id }) })
      for (const id of ["r1", "r2", "r3"]) expect((yield* acquire("unattended", id)).status).toBe(201)
      expect((yield* acquire("unattended", "r4")).status).toBe(403)
      expect((yield* acquire("unattended", "r5")).status).toBe(403)
      expect((yield* acquire("developer", "d1")).status).toBe(201)
      expect((yield* call(`${hub.api}/caps/attended/principals/nobody/check`, bearer(hub.token))).status).toBe(403)

      const families = parse(yield* Effect.promise(() => fetch(`${hub.url}/metrics`, bearer(hub.token)).then((r) => r.text())))
      const summary = (yield* json(yield* call(`${hub.api}/license`, bearer(hub.token)))) as {
        caps: Record<string, { used: number; limit: number; ceiling: number; state: string; expiresAt: string | null }>
        validation: { lastSuccessAt: string | null } | null
      }
      const cluster = (yield* json(yield* call(`${hub.api}/cluster`, bearer(hub.token)))) as { seq: number; nodes: Array<{ self: boolean; appliedSeq: number }> }
      for (const cap of Cap.all) {
        const c = summary.caps[cap]!
        expect([cap, value(families, "exekra_cap_used", { cap })]).toEqual([cap, c.used])
        expect([cap, value(families, "exekra_cap_limit", { cap })]).toEqual([cap, c.limit])
        expect([cap, value(families, "exekra_cap_ceiling", { cap })]).toEqual([cap, c.ceiling])
        for (const state of Cap.states) expect([cap, state, value(families, "exekra_cap_state", { cap, state })]).toEqual([cap, state, state === c.state ? 1 : 0])
        expect([cap, value(families, "exekra_cap_expiry_timestamp_seconds", { cap })]).toEqual([cap, c.expiresAt === null ? undefined : Date.parse(c.expiresAt) / 1000])
      }
      expect(summary.caps.unattended!.used).toBe(3)
      expect(value(families, "exekra_admission_denials_total", { cap: "unattended", code: "CAP_LIMIT_REACHED" })).toBe(2)
      expect(value(families, "exekra_admission_denials_total", { cap: "attended", code: "PRINCIPAL_NOT_ADMITTED" })).toBe(1)
      expect(value(families, "exekra_admission_denials_total", { cap: "developer", code: "CAP_LIMITED" })).toBe(0)
      // Five acquisitions of unattended answered (three admitted, two refused), one of developer.
      expect(value(families, "exekra_acquisition_duration_seconds_count", { cap: "unattended" })).toBe(5)
      expect(value(families, "exekra_acquisition_duration_seconds_count", { cap: "developer" })).toBe(1)
      expect(families.get("exekra_acquisition_duration_seconds")?.type).toBe("histogram")
      expect(value(families, "exekra_validation_last_success_timestamp_seconds")).toBe(
        summary.validation?.lastSuccessAt == null ? 0 : Date.parse(summary.validation.lastSuccessAt) / 1000
      )
      expect(value(families, "exekra_cluster_nodes")).toBe(cluster.nodes.length)
      const self = cluster.nodes.find((n) => n.self)!
      expect(value(families, "exekra_change_feed_lag")).toBe(cluster.seq - self.appliedSeq)
      for (const [name, type] of [["exekra_cap_used", "gauge"], ["exekra_admission_denials_total", "counter"]] as const) expect(families.get(name)?.type).toBe(type)
    }))
})

describe("leases over HTTP", () => {
  it.scoped("PUT /api/caps/{cap}/lease refuses bad values with 422 codes, sets and turns off; heartbeats renew and refuse", () =>
    Effect.gen(function* () {
      const hub = yield* startHub
      const put = (cap: string, lease: unknown) => call(`${hub.api}/caps/${cap}/lease`, { method: "PUT", ...bearer(hub.token, { lease }) })
      const tooShort = yield* put("unattended", { leaseSeconds: 30 })
      expect(tooShort.status).toBe(422)
      expect(tooShort.headers.get("content-type")).toBe("application/problem+json")
      expect(yield* json(tooShort)).toMatchObject({ code: "LEASE_TOO_SHORT", detail: expect.stringMatching(/60 or more/) })
      expect(yield* json(yield* put("unattended", { leaseSeconds: 60, reviveSeconds: 1.5 }))).toMatchObject({ code: "LEASE_INVALID" })
      expect((yield* put("unattended", { leaseSeconds: "sixty" })).status).toBe(400)
      const set = yield* put("unattended", { leaseSeconds: 600, reviveSeconds: 300 })
      expect(set.status).toBe(200)
      expect(yield* json(set)).toEqual({ cap: "unattended", lease: { leaseSeconds: 600, reviveSeconds: 300, since: "2027-01-02T00:00:00.000Z" } })
      expect(yield* json(yield* call(`${hub.api}/caps/unattended/lease`, bearer(hub.token)))).toMatchObject({ lease: { leaseSeconds: 600 } })
      expect((yield* json(yield* call(`${hub.api}/license`, bearer(hub.token)))).caps).toMatchObject({ unattended: { lease: { leaseSeconds: 600, reviveSeconds: 300 } }, developer: { lease: null } })

      yield* call(`${hub.api}/caps/unattended/principals`, { method: "POST", ...bearer(hub.token, { id: "runner-1" }) })
      const beat = yield* call(`${hub.api}/caps/unattended/principals/runner-1/heartbeat`, { method: "POST", ...bearer(hub.token) })
      expect(beat.status).toBe(200)
      expect(yield* json(beat)).toMatchObject({ revived: false, used: 1, leaseEndsAt: "2027-01-02T00:10:00.000Z", principal: { id: "runner-1", status: "active" } })
      const stranger = yield* call(`${hub.api}/caps/unattended/principals/nobody/heartbeat`, { method: "POST", ...bearer(hub.token) })
      expect(stranger.status).toBe(403)
      expect(yield* json(stranger)).toMatchObject({ code: "PRINCIPAL_NOT_ADMITTED" })
      const listed = yield* json(yield* call(`${hub.api}/caps/unattended/principals`, bearer(hub.token)))
      expect(listed.principals).toEqual([expect.objectContaining({ id: "runner-1", status: "active", heartbeatAt: "2027-01-02T00:00:00.000Z", culledAt: null })])
      expect(yield* json(yield* put("unattended", null))).toEqual({ cap: "unattended", lease: null })
    }))
})
