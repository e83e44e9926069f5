/** `exekra-license issue`: sign a `.lic` file (the vendor side of the Customer Portal). */
import { randomBytes } from "node:crypto"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Cap from "@exekra/core/Cap"
import * as License from "@exekra/core/License"
import * as Signer from "@exekra/core/Signer"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { CliError } from "./CliError.js"
import { descriptions } from "./commands.js"
import { parseDate, readPrivateKey } from "./options.js"

const TRIAL_DAYS = 30

const count = (cap: Cap.Cap) =>
  Options.integer(cap).pipe(Options.optional, Options.withDescription(`${Cap.unitNames[cap].title} limit (omit to grant none).`))
const capExpires = (cap: Cap.Cap) =>
  Options.text(`${cap}-expires`).pipe(Options.optional, Options.withDescription(`Expiry of the ${cap} cap, if it differs from --expires.`))
const optionalInt = (name: string, description: string) => Options.integer(name).pipe(Options.optional, Options.withDescription(description))

const options = {
  key: Options.file("key", { exists: "yes" }).pipe(Options.withDescription("The vendor's private key (PKCS#8 PEM from keygen).")),
  name: Options.text("name").pipe(Options.withDescription("Licensee name.")),
  email: Options.text("email").pipe(Options.withDescription("Licensee email; the Hub admin must sign up with it.")),
  unattended: count("unattended"),
  developer: count("developer"),
  attended: count("attended"),
  expires: Options.text("expires").pipe(Options.optional, Options.withDescription("Expiry of every cap: YYYY-MM-DD or ISO-8601 UTC. Required unless --trial (30 days).")),
  unattendedExpires: capExpires("unattended"),
  developerExpires: capExpires("developer"),
  attendedExpires: capExpires("attended"),
  trial: Options.boolean("trial").pipe(Options.withDescription("Issue a trial: expires in 30 days unless --expires, grace 0 days, validation optional.")),
  installation: Options.text("installation").pipe(Options.optional, Options.withDescription("Bind to this Hub installation id (else the Hub binds it at activation).")),
  graceDays: optionalInt("grace-days", "Grace after expiry and after the Portal becomes unreachable (default 14, trials 0)."),
  warningDays: optionalInt("warning-days", "Days before expiry in which a cap shows as expiring (default 30)."),
  overagePercent: optionalInt("overage-percent", "Percentage above each limit that is still admitted (default 0)."),
  onLimited: Options.choice("on-limited", ["refuse-new", "block-all"]).pipe(Options.optional, Options.withDescription("When a cap is limited: refuse new admissions only (default), or also block admitted principals.")),
  validation: Options.choice("validation", ["required", "optional"]).pipe(Options.optional, Options.withDescription("Whether Portal validation is required (default optional).")),
  intervalHours: optionalInt("interval-hours", "Hours between validation pings (default 24)."),
  portalUrl: Options.text("portal-url").pipe(Options.optional, Options.withDescription("Portal base URL the Hub phones home to.")),
  licenseId: Options.text("license-id").pipe(Options.optional, Options.withDescription("License id (default: a new random id); a renewal normally keeps it.")),
  issuedAt: Options.text("issued-at").pipe(Options.optional, Options.withDescription("Issuance time (default: now); a Hub refuses a file older than the installed one.")),
  notBefore: Options.text("not-before").pipe(Options.optional, Options.withDescription("The license takes effect only from this time; before it a Hub keeps it as pending.")),
  out: Options.text("out").pipe(Options.withDescription("Where to write the .lic file."))
}

type IssueOptions = Command.Command.ParseConfig<typeof options>

const invalid = (message: string) => new CliError({ code: "INVALID_OPTION", message })
const optionalDate = (flag: string, value: Option.Option<string>) =>
  Option.match(value, { onNone: () => Effect.succeed(undefined), onSome: (v) => parseDate(flag, v) })

/** Build the payload the options describe; exported for tests. */
export const payloadFromOptions = (o: IssueOptions, now: number): Effect.Effect<Signer.Issuable, CliError> =>
  Effect.gen(function* () {
    const issuedAt = yield* Option.match(o.issuedAt, {
      onNone: () => Effect.succeed(new Date(Math.floor(now / 1000) * 1000).toISOString().replace(".000Z", "Z")),
      onSome: (v) => parseDate("issued-at", v)
    })
    const expires = yield* Option.match(o.expires, {
      onNone: () =>
        o.trial
          ? Effect.succeed(new Date(Date.parse(issuedAt) + License.days(TRIAL_DAYS)).toISOString().replace(".000Z", "Z"))
          : Effect.fail(invalid("--expires is required (YYYY-MM-DD), unless --trial is given.")),
      onSome: (v) => parseDate("expires", v)
    })
    const perCap = { unattended: o.unattendedExpires, developer: o.developerExpires, attended: o.attendedExpires }
    const limits = { unattended: o.unattended, developer: o.developer, attended: o.attended }
    const caps: Record<string, Signer.Issuable["caps"][keyof Signer.Issuable["caps"]]> = {}
    for (const cap of Cap.all) {
      const limit = limits[cap]
      if (Option.isNone(limit)) {
        if (Option.isSome(perCap[cap])) return yield* invalid(`--${cap}-expires is given but --${cap} is not.`)
        continue
      }
      if (limit.value < 0) return yield* invalid(`--${cap} must be 0 or more.`)
      caps[cap] = {
        limit: limit.value,
        expiresAt: (yield* optionalDate(`${cap}-expires`, perCap[cap])) ?? expires,
        ...Option.match(o.overagePercent, { onNone: () => ({}), onSome: (overagePercent) => ({ overagePercent }) }),
        ...Option.match(o.onLimited, { onNone: () => ({}), onSome: (onLimited) => ({ onLimited }) })
      }
    }
    if (Object.keys(caps).length === 0) return yield* invalid("Grant at least one cap: --unattended N, --developer N or --attended N.")
    const notBefore = yield* optionalDate("not-before", o.notBefore)
    return {
      licenseId: Option.getOrElse(o.licenseId, () => `lic_${randomBytes(8).toString("hex")}`),
      type: o.trial ? "trial" : "production",
      issuedTo: { name: o.name, email: o.email },
      ...Option.match(o.installation, { onNone: () => ({}), onSome: (installationId) => ({ installationId }) }),
      issuedAt,
      ...(notBefore === undefined ? {} : { notBefore }),
      caps,
      expiryWarningDays: Option.getOrElse(o.warningDays, () => License.DEFAULT_WARNING_DAYS),
      gracePeriodDays: Option.getOrElse(o.graceDays, () => (o.trial ? 0 : License.DEFAULT_GRACE_DAYS)),
      validation: {
        required: Option.getOrElse(o.validation, () => "optional") === "required",
        intervalHours: Option.getOrElse(o.intervalHours, () => 24),
        ...Option.match(o.portalUrl, { onNone: () => ({}), onSome: (portalUrl) => ({ portalUrl }) })
      }
    }
  })

/** Sign a license with the vendor's key and write it to `--out`. */
export const issue = Command.make("issue", options, (o) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const key = yield* readPrivateKey(o.key)
    const payload = yield* payloadFromOptions(o, yield* Clock.currentTimeMillis)
    const text = yield* Effect.try({
      try: () => Signer.sign(payload, key),
      catch: (e) => invalid(`The license would be invalid: ${e instanceof Error ? e.message.split("\n").slice(-1)[0]?.trim() : String(e)}`)
    })
    yield* fs.writeFileString(o.out, text).pipe(
      Effect.mapError(() => new CliError({ code: "FILE_UNWRITABLE", message: `Cannot write ${o.out}: check the path and its permissions.` }))
    )
    const caps = Object.entries(payload.caps).map(([cap, g]) => `${cap} ${g?.limit} until ${g?.expiresAt}`).join(", ")
    yield* Console.log(`issued ${payload.licenseId} (${payload.type}) to ${payload.issuedTo.email}: ${caps}`)
    yield* Console.log(`signed with key ${key.kid} → ${o.out}`)
  })
).pipe(Command.withDescription(descriptions.issue))
