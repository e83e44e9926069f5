// Timelines: the simulated states of each cap at the exact instants DESIGN §3 names, and their text, SVG and HTML renderings.
import { describe, expect, it } from "@effect/vitest"
import { License } from "@exekra/core"
import { escapeXml, renderHtml, renderSvg, renderText, simulate, transitions } from "@exekra/machines"
import { Schema } from "effect"

const DAY = 86_400_000
const issuedAt = "2026-01-10T08:00:00Z"
const expires = "2027-03-15T13:45:30Z"
const E = Date.parse(expires)
const W = 45
const G = 21
const VG = 10

const payload = (overrides: Record<string, unknown> = {}): License.LicensePayload =>
  Schema.decodeUnknownSync(License.LicensePayload)({
    licenseId: "lic-timeline",
    type: "production",
    kid: "0123456789abcdef",
    issuedTo: { name: "Acme <Ops> & Co", email: "it@acme.test" },
    issuedAt,
    caps: { unattended: { limit: 10, expiresAt: expires, graceDays: G } },
    expiryWarningDays: W,
    gracePeriodDays: VG,
    validation: { required: true, intervalHours: 24 },
    ...overrides
  })

const from = Date.parse(issuedAt)
const to = E + G * DAY + 30 * DAY

describe("simulate", () => {
  it("shows expiring at E−W, grace at E and limited at E+G, to the millisecond", () => {
    const timeline = simulate(payload(), { from, to })
    expect(timeline.caps).toEqual([
      {
        cap: "unattended",
        intervals: [
          { state: "active", reason: "licensed", from, to: E - W * DAY },
          { state: "expiring", reason: "expiry-approaching", from: E - W * DAY, to: E },
          { state: "grace", reason: "expired", from: E, to: E + G * DAY },
          { state: "limited", reason: "expired", from: E + G * DAY, to }
        ]
      }
    ])
  })

  it("with the Portal down and validation required: grace at once, limited after the validation grace", () => {
    const P = Date.parse("2026-05-01T10:00:00Z")
    const timeline = simulate(payload(), { from, to, portalDownFrom: P })
    expect(timeline.caps[0]?.intervals).toEqual([
      { state: "active", reason: "licensed", from, to: P },
      { state: "grace", reason: "portal-unreachable", from: P, to: P + VG * DAY },
      { state: "limited", reason: "portal-unreachable", from: P + VG * DAY, to }
    ])
  })

  it("with the Portal down and validation optional: nothing changes", () => {
    const optional = payload({ validation: { required: false, intervalHours: 24 } })
    const down = simulate(optional, { from, to, portalDownFrom: Date.parse("2026-05-01T10:00:00Z") })
    expect(down.caps).toEqual(simulate(optional, { from, to }).caps)
  })

  it("a Portal down before the license was installed (at the start) gives the full validation grace from the install", () => {
    const P = from - 3 * DAY
    expect(simulate(payload(), { from, to, portalDownFrom: P }).caps[0]?.intervals).toEqual([
      { state: "grace", reason: "portal-unreachable", from, to: from + VG * DAY },
      { state: "limited", reason: "portal-unreachable", from: from + VG * DAY, to }
    ])
  })

  it("a future-dated license is unactivated until its notBefore", () => {
    const notBefore = Date.parse("2026-02-01T00:00:00Z")
    const intervals = simulate(payload({ notBefore: "2026-02-01T00:00:00Z" }), { from, to }).caps[0]?.intervals
    expect(intervals?.slice(0, 2)).toEqual([
      { state: "unactivated", reason: "not-licensed", from, to: notBefore },
      { state: "active", reason: "licensed", from: notBefore, to: E - W * DAY }
    ])
  })

  it("simulates each cap the license names, with its own expiry", () => {
    const two = payload({ caps: { unattended: { limit: 1, expiresAt: expires }, attended: { limit: 0, expiresAt: expires } } })
    const timeline = simulate(two, { from, to })
    expect(timeline.caps.map((c) => c.cap)).toEqual(["unattended", "attended"])
    expect(timeline.caps[1]?.intervals).toEqual([{ state: "unactivated", reason: "not-licensed", from, to }])
  })
})

describe("renderings", () => {
  const timeline = simulate(payload(), { from, to, portalDownFrom: E + 2 * DAY })

  it("text: one line per transition with date, cap, from → to and reason", () => {
    expect(renderText(timeline).trimEnd().split("\n")).toEqual([
      "2026-01-10T08:00:00Z  unattended  start → active  licensed",
      "2027-01-29T13:45:30Z  unattended  active → expiring  expiry-approaching",
      "2027-03-15T13:45:30Z  unattended  expiring → grace  expired",
      "2027-03-17T13:45:30Z  unattended  grace → grace  portal-unreachable",
      "2027-03-27T13:45:30Z  unattended  grace → limited  portal-unreachable"
    ])
  })

  it("svg: self-contained, one bar per interval, escaped text", () => {
    const svg = renderSvg(timeline)
    expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true)
    expect(svg).not.toMatch(/href=|<script|<image|url\(/)
    expect(svg.match(/<rect /g)).toHaveLength(timeline.caps[0]?.intervals.length ?? -1)
    expect(svg.match(/<g>/g)?.length).toBe(svg.match(/<\/g>/g)?.length)
    expect(svg).toContain("Portal down")
    expect(escapeXml(`<a href="x">&'`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&#39;")
  })

  it("html: a standalone page with the chart, a legend for every state and the transitions", () => {
    const html = renderHtml(timeline)
    expect(html.startsWith("<!doctype html>")).toBe(true)
    expect(html).toContain(renderSvg(timeline))
    for (const state of ["unactivated", "active", "renewed", "expiring", "grace", "limited"]) expect(html).toContain(`<b>${state}</b>`)
    expect(html).toContain("<td>2027-03-15T13:45:30Z</td>")
    expect(html).not.toMatch(/<link|<script|src=/)
  })
})

// The exact renderings, reviewed once and kept: any change to the chart shows up as a diff of these files.
describe("golden renderings", () => {
  it("text, SVG and HTML of a license that expires with the Portal down, and of a two-cap future-dated one", async () => {
    const down = simulate(payload(), { from, to, portalDownFrom: E + 2 * DAY })
    await expect(renderText(down)).toMatchFileSnapshot("__golden__/timeline.txt")
    await expect(renderSvg(down)).toMatchFileSnapshot("__golden__/timeline.svg")
    await expect(renderHtml(down)).toMatchFileSnapshot("__golden__/timeline.html")
    const two = simulate(
      payload({
        notBefore: "2026-02-01T00:00:00Z",
        caps: { unattended: { limit: 1, expiresAt: expires }, developer: { limit: 2, expiresAt: "2026-12-01T00:00:00Z", graceDays: 0 } }
      }),
      { from, to }
    )
    await expect(renderText(two)).toMatchFileSnapshot("__golden__/timeline-two.txt")
    await expect(renderSvg(two)).toMatchFileSnapshot("__golden__/timeline-two.svg")
  })
})

describe("edges of the simulated span", () => {
  it("takes dates as well as epoch ms", () => {
    const P = Date.parse("2026-05-01T10:00:00Z")
    expect(simulate(payload(), { from: new Date(from), to: new Date(to), portalDownFrom: new Date(P) })).toEqual(
      simulate(payload(), { from, to, portalDownFrom: P })
    )
  })

  it("a change at the very end of the span adds no empty interval", () => {
    // The Portal goes down exactly at `to`, and grace for the expiry ends there too.
    const end = E + G * DAY
    const timeline = simulate(payload(), { from: E - DAY, to: end, portalDownFrom: end })
    expect(timeline.caps[0]?.intervals).toEqual([
      { state: "expiring", reason: "expiry-approaching", from: E - DAY, to: E },
      { state: "grace", reason: "expired", from: E, to: end }
    ])
  })

  it("a license whose notBefore has already passed is installed at the start, so validation grace runs from there", () => {
    const P = from - 3 * DAY
    expect(simulate(payload({ notBefore: "2026-01-05T00:00:00Z" }), { from, to, portalDownFrom: P }).caps[0]?.intervals).toEqual([
      { state: "grace", reason: "portal-unreachable", from, to: from + VG * DAY },
      { state: "limited", reason: "portal-unreachable", from: from + VG * DAY, to }
    ])
  })
})

describe("transitions", () => {
  it("lists changes at the same instant in display order, whatever the order of the timeline's caps", () => {
    const three = simulate(
      payload({ caps: { attended: { limit: 1, expiresAt: expires }, developer: { limit: 1, expiresAt: expires }, unattended: { limit: 1, expiresAt: expires } } }),
      { from, to }
    )
    const listed = transitions(three)
    expect(listed.slice(0, 3).map((t) => [t.at, t.cap, t.previous, t.state])).toEqual([
      [from, "unattended", null, "active"],
      [from, "developer", null, "active"],
      [from, "attended", null, "active"]
    ])
    expect(transitions({ ...three, caps: [...three.caps].reverse() })).toEqual(listed)
  })
})

describe("chart axis and markers", () => {
  const tickLabels = (svg: string): ReadonlyArray<string> =>
    [...svg.matchAll(/text-anchor="middle" fill="#4b5563" font-size="10">([^<]+)</g)].map((m) => m[1] ?? "")
  const portalLines = (svg: string): ReadonlyArray<string> =>
    [...svg.matchAll(/<line x1="([\d.]+)"[^>]*stroke="#111827"/g)].map((m) => m[1] ?? "")

  it("a ten-day span from midnight to midnight has a tick every day, the last on its end", () => {
    const start = Date.parse("2027-03-10T00:00:00Z")
    const end = Date.parse("2027-03-20T00:00:00Z")
    const timeline = simulate(payload(), { from: start, to: end })
    expect(tickLabels(renderSvg(timeline))).toEqual(Array.from({ length: 11 }, (_, i) => `2027-03-${String(10 + i).padStart(2, "0")}`))
  })

  it("a span of decades has about ten ticks, a tenth of the span apart", () => {
    const end = from + 30 * 365 * DAY
    const labels = tickLabels(renderSvg(simulate(payload(), { from, to: end })))
    // 10950 days: no step in the list keeps it to ten ticks, so every 1095 days from the first midnight.
    expect(labels).toEqual(
      Array.from({ length: 10 }, (_, i) => new Date(Date.parse("2026-01-11T00:00:00Z") + i * 1095 * DAY).toISOString().slice(0, 10))
    )
  })

  it("marks the Portal outage only when it falls inside the span, its ends included", () => {
    const line = (portalDownFrom: number) => portalLines(renderSvg(simulate(payload(), { from, to, portalDownFrom })))
    expect(line(from)).toEqual(["110.0"])
    expect(line(to)).toEqual(["970.0"])
    expect(line(from - 1)).toEqual([])
    expect(line(to + 1)).toEqual([])
  })

  it("golden: a ten-day chart around the expiry with the Portal down at its end, and the two-cap page without an outage", async () => {
    const days = simulate(payload(), { from: Date.parse("2027-03-10T00:00:00Z"), to: Date.parse("2027-03-20T00:00:00Z"), portalDownFrom: Date.parse("2027-03-20T00:00:00Z") })
    await expect(renderSvg(days)).toMatchFileSnapshot("__golden__/timeline-days.svg")
    const two = simulate(
      payload({
        notBefore: "2026-02-01T00:00:00Z",
        caps: { unattended: { limit: 1, expiresAt: expires }, developer: { limit: 2, expiresAt: "2026-12-01T00:00:00Z", graceDays: 0 } }
      }),
      { from, to }
    )
    await expect(renderHtml(two)).toMatchFileSnapshot("__golden__/timeline-two.html")
  })
})
