/** `exekra-license timeline`: each cap's states over time for a license file, as text, SVG or HTML. */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Envelope from "@exekra/core/Envelope"
import * as License from "@exekra/core/License"
import { LicenseError } from "@exekra/core/LicenseError"
import { renderHtml, renderSvg, renderText, simulate } from "@exekra/machines"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { CliError } from "./CliError.js"
import { descriptions } from "./commands.js"
import { parseDate, readText } from "./options.js"

const file = Args.file({ name: "FILE", exists: "yes" }).pipe(Args.withDescription("The .lic file (its signature is not checked)."))
const dateOption = (name: string, description: string) => Options.text(name).pipe(Options.optional, Options.withDescription(description))

const options = {
  from: dateOption("from", "Start, YYYY-MM-DD or ISO-8601 UTC; default the license's issuedAt."),
  to: dateOption("to", "End; default 30 days after the last cap's grace has run out."),
  portalDownFrom: dateOption("portal-down-from", "Simulate the Portal unreachable from this date on."),
  format: Options.choice("format", ["text", "svg", "html"]).pipe(
    Options.withDefault("text" as const),
    Options.withDescription("text (default; one line per transition), svg (Gantt chart) or html (chart, legend and transitions).")
  ),
  out: Options.text("out").pipe(Options.optional, Options.withDescription("Write to this file instead of stdout."))
}

const decodePayload = Schema.decodeUnknown(Schema.parseJson(License.LicensePayload))

/** The payload of a `.lic` file, read without a trusted key: a timeline is a forecast, not an authorisation. */
const readPayload = (text: string): Effect.Effect<License.LicensePayload, LicenseError> =>
  Effect.flatMap(Envelope.parseEffect(text), (envelope) =>
    decodePayload(Buffer.from(envelope.payload).toString("utf8")).pipe(Effect.mapError(() => LicenseError.of("LICENSE_PAYLOAD_INVALID")))
  )

const instant = (flag: string, value: Option.Option<string>): Effect.Effect<Option.Option<number>, CliError> =>
  Option.match(value, {
    onNone: () => Effect.succeedNone,
    onSome: (v) => Effect.map(parseDate(flag, v), (iso) => Option.some(Date.parse(iso)))
  })

/** Simulate a license from `--from` to `--to` and print or write its timeline. */
export const timeline = Command.make("timeline", { file, ...options }, (o) =>
  Effect.gen(function* () {
    const payload = yield* readPayload(yield* readText(o.file))
    const from = Option.getOrElse(yield* instant("from", o.from), () => payload.issuedAt.getTime())
    const to = Option.getOrElse(yield* instant("to", o.to), () => License.lastUsefulInstant(payload) + License.days(30))
    const portalDownFrom = Option.getOrUndefined(yield* instant("portal-down-from", o.portalDownFrom))
    if (to <= from) {
      return yield* new CliError({ code: "INVALID_OPTION", message: "--to must lie after --from (by default, --from is the license's issuedAt)." })
    }
    const simulated = simulate(payload, { from, to, portalDownFrom })
    const output = o.format === "html" ? renderHtml(simulated) : o.format === "svg" ? renderSvg(simulated) : renderText(simulated)
    if (Option.isNone(o.out)) return yield* Console.log(output.trimEnd())
    const out = o.out.value
    const fs = yield* FileSystem.FileSystem
    yield* fs.writeFileString(out, output).pipe(
      Effect.mapError(() => new CliError({ code: "FILE_UNWRITABLE", message: `Cannot write ${out}: check the path and its permissions.` }))
    )
    yield* Console.log(`timeline of ${payload.licenseId} → ${out}`)
  })
).pipe(Command.withDescription(descriptions.timeline))
