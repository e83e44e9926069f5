/** A license's life over time: drives the real cap machines through their deadlines and renders the result as text, SVG or HTML. */
import { Cap, type License } from "@exekra/core"
import { initialTransition, transition } from "xstate"
import { capMachine, type CapEvent, type CapSnapshot } from "./capMachine.js"
import { capTerms, nextDeadline, type Reason } from "./evaluate.js"

/** A span of time one cap spends in one state for one reason; `from` inclusive, `to` exclusive (epoch ms). */
export interface Interval {
  readonly state: Cap.CapState
  readonly reason: Reason
  readonly from: number
  readonly to: number
}

/** One cap's intervals, in order, covering the simulated span. */
export interface CapTimeline {
  readonly cap: Cap.Cap
  readonly intervals: ReadonlyArray<Interval>
}

/** The simulated life of one license. */
export interface Timeline {
  readonly licenseId: string
  readonly from: number
  readonly to: number
  readonly portalDownFrom: number | null
  readonly caps: ReadonlyArray<CapTimeline>
}

/** The span to simulate; dates or epoch ms. */
export interface SimulateOptions {
  readonly from: Date | number
  readonly to: Date | number
  /** From this instant on, every validation ping fails (matters only when validation is required). */
  readonly portalDownFrom?: Date | number | undefined
}

const ms = (d: Date | number): number => (typeof d === "number" ? d : d.getTime())

const simulateCap = (payload: License.LicensePayload, cap: Cap.Cap, from: number, to: number, portalDownFrom: number | null): CapTimeline => {
  // Every observed change of state or reason; intervals run from one change to the next.
  const changes: Array<{ readonly at: number; readonly state: Cap.CapState; readonly reason: Reason }> = []
  let [snapshot] = initialTransition(capMachine, { cap, now: from })
  const record = (at: number, s: CapSnapshot): void => {
    // A change at the same instant replaces the one before it: the cap never spent time in that state.
    if (changes[changes.length - 1]?.at === at) changes.pop()
    const last = changes[changes.length - 1]
    if (last !== undefined && last.state === s.value && last.reason === s.context.reason) return
    changes.push({ at, state: s.value, reason: s.context.reason })
  }
  const send = (event: CapEvent): void => {
    ;[snapshot] = transition(capMachine, snapshot, event)
    record(event.now, snapshot)
  }
  record(from, snapshot)
  const license = capTerms(payload, cap)
  const notBefore = payload.notBefore?.getTime()
  send(
    notBefore !== undefined && notBefore > from
      ? { type: "LICENSE_STAGED", now: from, notBefore, license }
      : { type: "LICENSE_INSTALLED", now: from, license }
  )
  let portalDown = portalDownFrom
  if (portalDown !== null && portalDown <= from) {
    send({ type: "VALIDATION_FAILED", now: from, failingSince: portalDown })
    portalDown = null
  }
  // Deadlines lie strictly after the instant evaluated, so every step moves time forward.
  for (;;) {
    const deadline = nextDeadline(snapshot.context)
    const next = Math.min(deadline ?? Infinity, portalDown ?? Infinity)
    if (next > to) break
    if (next === portalDown) {
      send({ type: "VALIDATION_FAILED", now: next, failingSince: next })
      portalDown = null
    } else {
      send({ type: "TICK", now: next })
    }
  }
  const intervals = changes.map((c, i): Interval => ({ state: c.state, reason: c.reason, from: c.at, to: changes[i + 1]?.at ?? to }))
    .filter((interval) => interval.to > interval.from)
  return { cap, intervals }
}

/** Simulate each cap the license names from `from` to `to` by sending the real cap machine a TICK at every deadline. */
export const simulate = (payload: License.LicensePayload, options: SimulateOptions): Timeline => {
  const from = ms(options.from)
  const to = ms(options.to)
  const portalDownFrom = options.portalDownFrom === undefined ? null : ms(options.portalDownFrom)
  const caps = Cap.all.filter((cap) => payload.caps[cap] !== undefined)
  return {
    licenseId: payload.licenseId,
    from,
    to,
    portalDownFrom,
    caps: caps.map((cap) => simulateCap(payload, cap, from, to, portalDownFrom))
  }
}

/** An instant as ISO-8601 UTC, without milliseconds when they are zero. */
export const isoDate = (t: number): string => new Date(t).toISOString().replace(".000Z", "Z")

/** One change of state: the first interval of a cap has no `previous`. */
export interface Transition {
  readonly at: number
  readonly cap: Cap.Cap
  readonly previous: Cap.CapState | null
  readonly state: Cap.CapState
  readonly reason: Reason
}

/** Every change of state or reason, in time order (caps in display order at the same instant). */
export const transitions = (timeline: Timeline): ReadonlyArray<Transition> =>
  timeline.caps
    .flatMap((c) =>
      c.intervals.map((interval, i) => ({
        at: interval.from,
        cap: c.cap,
        previous: c.intervals[i - 1]?.state ?? null,
        state: interval.state,
        reason: interval.reason
      }))
    )
    .sort((a, b) => a.at - b.at || Cap.all.indexOf(a.cap) - Cap.all.indexOf(b.cap))

/** The timeline as text, one line per transition: date, cap, from → to, reason. */
export const renderText = (timeline: Timeline): string => {
  const capWidth = Math.max(...Cap.all.map((c) => c.length))
  return transitions(timeline)
    .map((t) => `${isoDate(t.at)}  ${t.cap.padEnd(capWidth)}  ${t.previous ?? "start"} → ${t.state}  ${t.reason}`)
    .join("\n")
    .concat("\n")
}

/** Colours of the states in charts, chosen to read as calm → alarming. */
export const stateColors: Readonly<Record<Cap.CapState, string>> = {
  unactivated: "#9ca3af",
  active: "#16a34a",
  renewed: "#0891b2",
  expiring: "#ca8a04",
  grace: "#ea580c",
  limited: "#dc2626"
}

/** What each state means, for legends. */
export const stateMeanings: Readonly<Record<Cap.CapState, string>> = {
  unactivated: "not licensed: refuses all",
  active: "licensed: admits up to the limit",
  renewed: "just renewed: as active",
  expiring: "expiry approaching: admits, banner",
  grace: "expired or Portal unreachable: admits until grace ends",
  limited: "grace ran out: refuses new admissions"
}

/** Escape text for XML and HTML. */
export const escapeXml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

const DAY_MS = 86_400_000

// Axis ticks on whole UTC days, about eight of them, on a 1/7/30/… day step.
const axisTicks = (from: number, to: number): ReadonlyArray<number> => {
  const spanDays = Math.max(1, (to - from) / DAY_MS)
  const step = [1, 7, 14, 30, 61, 91, 182, 365, 730].find((d) => spanDays / d <= 10) ?? Math.ceil(spanDays / 10)
  const first = Math.ceil(from / DAY_MS) * DAY_MS
  const ticks: Array<number> = []
  for (let t = first; t <= to; t += step * DAY_MS) ticks.push(t)
  return ticks
}

/** The timeline as a self-contained SVG Gantt chart: one row per cap, a bar per interval. */
export const renderSvg = (timeline: Timeline): string => {
  const labelWidth = 110
  const plotWidth = 860
  const rowHeight = 34
  const top = 48
  const width = labelWidth + plotWidth + 20
  const height = top + timeline.caps.length * rowHeight + 40
  const span = Math.max(1, timeline.to - timeline.from)
  const x = (t: number): number => labelWidth + ((t - timeline.from) / span) * plotWidth
  const f = (n: number): string => n.toFixed(1)
  const parts: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(`License ${timeline.licenseId}: cap states from ${isoDate(timeline.from)} to ${isoDate(timeline.to)}`)}</title>`,
    `<text x="${labelWidth}" y="20" font-size="14" font-weight="bold">${escapeXml(`License ${timeline.licenseId}`)}</text>`
  ]
  for (const tick of axisTicks(timeline.from, timeline.to)) {
    const tx = f(x(tick))
    parts.push(
      `<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${top + timeline.caps.length * rowHeight}" stroke="#e5e7eb"/>`,
      `<text x="${tx}" y="${top + timeline.caps.length * rowHeight + 16}" text-anchor="middle" fill="#4b5563" font-size="10">${isoDate(tick).slice(0, 10)}</text>`
    )
  }
  timeline.caps.forEach((row, i) => {
    const y = top + i * rowHeight
    parts.push(`<text x="${labelWidth - 8}" y="${y + rowHeight / 2 + 4}" text-anchor="end">${escapeXml(row.cap)}</text>`)
    for (const interval of row.intervals) {
      const x0 = x(interval.from)
      const w = Math.max(0.5, x(interval.to) - x0)
      const tip = `${row.cap}: ${interval.state} (${interval.reason}) ${isoDate(interval.from)} → ${isoDate(interval.to)}`
      parts.push(
        `<g><title>${escapeXml(tip)}</title><rect x="${f(x0)}" y="${y + 4}" width="${f(w)}" height="${rowHeight - 8}" fill="${stateColors[interval.state]}" stroke="#ffffff" stroke-width="1"/>`,
        w >= interval.state.length * 7 + 8
          ? `<text x="${f(x0 + 4)}" y="${y + rowHeight / 2 + 4}" fill="#ffffff">${escapeXml(interval.state)}</text></g>`
          : "</g>"
      )
    }
  })
  if (timeline.portalDownFrom !== null && timeline.portalDownFrom >= timeline.from && timeline.portalDownFrom <= timeline.to) {
    const px = f(x(timeline.portalDownFrom))
    parts.push(
      `<line x1="${px}" y1="${top - 10}" x2="${px}" y2="${top + timeline.caps.length * rowHeight}" stroke="#111827" stroke-dasharray="4 3"/>`,
      `<text x="${px}" y="${top - 14}" text-anchor="middle" font-size="10">Portal down</text>`
    )
  }
  parts.push("</svg>")
  return `${parts.join("\n")}\n`
}

/** The timeline as a self-contained HTML page: the Gantt chart, a legend and the list of transitions. */
export const renderHtml = (timeline: Timeline): string => {
  const legend = Cap.states
    .map((s) => `<li><span class="swatch" style="background:${stateColors[s]}"></span><b>${s}</b> — ${escapeXml(stateMeanings[s])}</li>`)
    .join("\n")
  const rows = transitions(timeline)
    .map((t) => `<tr><td>${isoDate(t.at)}</td><td>${t.cap}</td><td>${t.previous ?? "start"} → ${t.state}</td><td>${t.reason}</td></tr>`)
    .join("\n")
  const title = escapeXml(`License ${timeline.licenseId} timeline`)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 2rem; color: #111827; }
ul.legend { list-style: none; padding: 0; columns: 2; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; vertical-align: middle; }
table { border-collapse: collapse; font-size: 0.9rem; }
td, th { padding: 0.2rem 0.8rem; border-bottom: 1px solid #e5e7eb; text-align: left; }
</style>
</head>
<body>
<h1>${title}</h1>
<p>${escapeXml(`From ${isoDate(timeline.from)} to ${isoDate(timeline.to)}`)}${timeline.portalDownFrom === null ? "" : escapeXml(`; Portal unreachable from ${isoDate(timeline.portalDownFrom)}`)}.</p>
${renderSvg(timeline)}
<ul class="legend">
${legend}
</ul>
<table>
<thead><tr><th>date</th><th>cap</th><th>transition</th><th>reason</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`
}
