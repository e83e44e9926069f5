/** Wording of the pages: dates in UTC with their distance from now, state labels and the sentences admins act on. */
import { Cap } from "@exekra/core"
import type { CapStatus, ValidationPosture } from "../../LicenseRuntime.js"

const DAY = 86_400_000
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

const pad = (n: number): string => String(n).padStart(2, "0")

/** "12 March 2027", with ", 14:05 UTC" when the instant is not a UTC midnight. */
export const date = (t: number): string => {
  const d = new Date(t)
  const day = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`
  return d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0 ? day : `${day}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`
}

/** "12 March 2027, 14:05 UTC", always with the time. */
export const dateTime = (t: number): string => {
  const d = new Date(t)
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`
}

/** Distance in calendar days (UTC): "today", "tomorrow", "in 41 days", "yesterday", "3 days ago". */
export const days = (t: number, now: number): string => {
  const n = Math.floor(t / DAY) - Math.floor(now / DAY)
  if (n === 0) return "today"
  if (n === 1) return "tomorrow"
  if (n === -1) return "yesterday"
  return n > 0 ? `in ${n} days` : `${-n} days ago`
}

/** "12 March 2027 (in 41 days)". */
export const dateAndDays = (t: number, now: number): string => `${date(t)} (${days(t, now)})`

/** A length of time in the largest fitting unit: "45 seconds", "5 minutes", "3 hours", "2 days". */
export const duration = (ms: number): string => {
  const abs = Math.abs(ms)
  const say = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`
  if (abs < 60_000) return say(Math.round(abs / 1000), "second")
  if (abs < 3_600_000) return say(Math.round(abs / 60_000), "minute")
  if (abs < 36 * 3_600_000) return say(Math.round(abs / 3_600_000), "hour")
  return say(Math.round(abs / DAY), "day")
}

/** Distance for recent events: "just now", "5 minutes ago", "in 3 hours", "2 days ago". */
export const relative = (t: number, now: number): string => {
  if (Math.abs(t - now) < 60_000) return "just now"
  return t > now ? `in ${duration(t - now)}` : `${duration(now - t)} ago`
}

/** "12 March 2027, 14:05 UTC (3 hours ago)". */
export const dateTimeAndRelative = (t: number, now: number): string => `${dateTime(t)} (${relative(t, now)})`

/** A state as a badge says it: words, never only a colour. */
export const stateLabels: Readonly<Record<Cap.CapState, string>> = {
  unactivated: "Not licensed",
  active: "Active",
  renewed: "Renewed",
  expiring: "Expiring",
  grace: "In grace",
  limited: "Limited"
}

/** "Unattended Runners", "Developer seats", "Attended users". */
export const capHeading = (cap: Cap.Cap): string => `${Cap.unitNames[cap].title}s`

/** "3 Runners", "1 Developer seat". */
export const count = (n: number, cap: Cap.Cap): string => `${n} ${n === 1 ? Cap.unitNames[cap].one : Cap.unitNames[cap].many}`

/** What a limited cap refuses, by its `onLimited` policy. */
export const limitedEffect = (status: CapStatus): string => {
  const many = Cap.unitNames[status.cap].many
  return status.onLimited === "block-all"
    ? `No new ${many} can be added, and admitted ${many} cannot run work. Nothing is deleted.`
    : `No new ${many} can be added. Admitted ${many} keep working and nothing is deleted.`
}

/** What the cap's state means for the admin, in one sentence. */
export const stateSentence = (status: CapStatus): string => {
  const many = Cap.unitNames[status.cap].many
  switch (status.state) {
    case "unactivated":
      return `This license grants no ${many}.`
    case "active":
      return `Licensed: ${many} are admitted up to the limit.`
    case "renewed":
      return `Just renewed: ${many} are admitted up to the limit.`
    case "expiring":
      return `Expiry is approaching. Everything keeps working; renew before the expiry date.`
    case "grace":
      return `In grace: everything keeps working until the grace period ends.`
    case "limited":
      return `Limited. ${limitedEffect(status)}`
  }
}

/** Why a cap is in grace or limited, as a clause: "the license expired on 1 March 2027". */
export const graceCause = (status: CapStatus, validation: ValidationPosture | null, now: number): string => {
  if (status.reason === "portal-unreachable") {
    const since = validation?.failingSince
    return since === null || since === undefined
      ? "the Customer Portal could not be reached for validation"
      : `the Customer Portal has been unreachable since ${dateTime(since)} (${relative(since, now)})`
  }
  return status.expiresAt === null ? "the license expired" : `the license expired on ${date(status.expiresAt)}`
}

/** What to do about a cap in grace or limited. */
export const remedy = (status: CapStatus, validation: ValidationPosture | null): string =>
  status.reason === "portal-unreachable"
    ? `Make sure the Hub can reach ${validation?.portalUrl ?? "the Customer Portal"} (validation retries on its own), or upload a renewed license on the License page.`
    : "Ask Exekra sales or your account manager for a renewal, then upload the new file on the License page."

/** A banner: a headline and what it means, for a cap that is expiring, in grace or limited. */
export interface Banner {
  readonly cap: Cap.Cap
  readonly tone: "warning" | "danger"
  readonly title: string
  readonly detail: string
}

/** The dashboard banner of one cap, or undefined when its state needs none. */
export const banner = (status: CapStatus, validation: ValidationPosture | null, now: number): Banner | undefined => {
  const heading = capHeading(status.cap)
  const many = Cap.unitNames[status.cap].many
  switch (status.state) {
    case "expiring":
      return {
        cap: status.cap,
        tone: "warning",
        title: status.expiresAt === null ? `${heading} expire soon.` : `${heading} expire on ${dateAndDays(status.expiresAt, now)}.`,
        detail: `Everything keeps working until then. ${remedy(status, validation)}`
      }
    case "grace": {
      const ends = status.grace === null ? "" : ` Grace ends on ${dateAndDays(status.grace.endsAt, now)}; after that no new ${many} can be added.`
      return {
        cap: status.cap,
        tone: "warning",
        title: `${heading} are in grace: ${graceCause(status, validation, now)}.`,
        detail: `Everything keeps working for now.${ends} ${remedy(status, validation)}`
      }
    }
    case "limited": {
      const since = status.limitedSince === null ? "" : ` since ${dateAndDays(status.limitedSince, now)}`
      return {
        cap: status.cap,
        tone: "danger",
        title: `${heading} are limited${since}: ${graceCause(status, validation, now)} and the grace period has ended.`,
        detail: `${limitedEffect(status)} ${remedy(status, validation)}`
      }
    }
    case "unactivated":
    case "active":
    case "renewed":
      return undefined
  }
}

/** The Portal's last answer, for the License page. */
export const portalAnswer = (status: ValidationPosture["lastStatus"]): string => {
  switch (status) {
    case "valid":
      return "Valid"
    case "revoked":
      return "Revoked: the vendor has revoked this license. Contact Exekra sales or your account manager."
    case "unknown":
      return "Unknown: the Portal does not know this license. Check that it was issued by the Customer Portal."
    case null:
      return "No answer yet"
  }
}
