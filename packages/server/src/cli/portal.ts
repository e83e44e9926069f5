/** `exekra-license portal`: run the reference Portal, and revoke, restore, register or list pings in its data. */
import { Args, Command, Options } from "@effect/cli"
import { Clock, Console, Effect, Option } from "effect"
import * as ReferencePortal from "../portal/ReferencePortal.js"

const DEFAULT_DATA = "./data"

const dataDescription = `Directory of the Portal's database (portal.sqlite); default ${DEFAULT_DATA}.`
const data = Options.directory("data").pipe(Options.withDefault(DEFAULT_DATA), Options.withDescription(dataDescription))
// A subcommand takes --data after its name too; given before it (`portal --data D revoke …`) it belongs to `portal`.
const subData = Options.directory("data").pipe(Options.optional, Options.withDescription(dataDescription))
const licenseId = Args.text({ name: "LICENSE_ID" }).pipe(Args.withDescription("The license id, as in the .lic file (e.g. lic_acme)."))

const serveOptions = {
  port: Options.integer("port").pipe(
    Options.withDefault(ReferencePortal.DEFAULT_PORT),
    Options.withDescription(`Port to listen on (0 picks a free one); default ${ReferencePortal.DEFAULT_PORT}.`)
  ),
  host: Options.text("host").pipe(Options.withDefault(ReferencePortal.DEFAULT_HOST), Options.withDescription(`Address to listen on; default ${ReferencePortal.DEFAULT_HOST}.`)),
  data,
  strict: Options.boolean("strict").pipe(
    Options.withDescription("Answer `unknown` for licenses never registered with `portal register` (default: every license not revoked is valid).")
  )
}

// The parent command on its own: subcommands read its --data when they were not given one.
const serve = Command.make("portal", serveOptions, ({ port, host, data, strict }) =>
  Effect.gen(function* () {
    const running = yield* ReferencePortal.start({ dataDir: data, host, port, strict })
    yield* Console.log(`reference Portal listening on ${running.url}${strict ? " (strict)" : ""}, data in ${running.database}`)
    return yield* Effect.never
  }).pipe(Effect.scoped)
).pipe(Command.withDescription("Run the reference Customer Portal that answers Hubs' validation pings, or administer its data."))

/** Run `use` on the Portal's store in the subcommand's --data (else `portal`'s), closing it afterwards. */
const withStore = <A, E, R>(
  subcommandData: Option.Option<string>,
  create: boolean,
  use: (store: Effect.Effect.Success<ReturnType<typeof ReferencePortal.openStore>>, now: number) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function* () {
    const dataDir = Option.isSome(subcommandData) ? subcommandData.value : (yield* serve).data
    const store = yield* ReferencePortal.openStore(dataDir, { create })
    return yield* use(store, yield* Clock.currentTimeMillis)
  }).pipe(Effect.scoped)

const revoke = Command.make("revoke", { licenseId, data: subData }, ({ licenseId, data }) =>
  withStore(data, true, (store, now) =>
    Effect.flatMap(store.revoke(licenseId, now), (before) =>
      Console.log(before === "revoked" ? `${licenseId} was already revoked` : `revoked ${licenseId}: its Hubs get "revoked" from their next ping on`)
    )
  )
).pipe(Command.withDescription("Revoke a license: the Portal answers `revoked` to its pings from now on."))

const restore = Command.make("restore", { licenseId, data: subData }, ({ licenseId, data }) =>
  withStore(data, true, (store, now) =>
    Effect.flatMap(store.restore(licenseId, now), (before) =>
      Console.log(before === "revoked" ? `restored ${licenseId}: its Hubs get "valid" from their next ping on` : `${licenseId} was not revoked; it is now registered`)
    )
  )
).pipe(Command.withDescription("Lift a revocation: the Portal answers `valid` to the license's pings again."))

const register = Command.make("register", { licenseId, data: subData }, ({ licenseId, data }) =>
  withStore(data, true, (store, now) =>
    Effect.flatMap(store.register(licenseId, now), (before) =>
      Console.log(
        before === "unregistered" ? `registered ${licenseId}` : before === "revoked" ? `${licenseId} is known and revoked; restore it to make it valid` : `${licenseId} was already registered`
      )
    )
  )
).pipe(Command.withDescription("Make a license known, so that a --strict Portal answers `valid` rather than `unknown`."))

const pings = Command.make(
  "pings",
  {
    data: subData,
    licenseId: Options.text("license-id").pipe(Options.optional, Options.withDescription("Only the pings of this license.")),
    limit: Options.integer("limit").pipe(Options.withDefault(100), Options.withDescription("At most this many, newest first; default 100."))
  },
  ({ data, licenseId, limit }) =>
    withStore(data, false, (store) =>
      Effect.gen(function* () {
        const recorded = yield* store.pings({ licenseId: Option.getOrUndefined(licenseId), limit })
        if (recorded.length === 0) return yield* Console.log("no pings recorded")
        for (const ping of recorded.map(ReferencePortal.pingJson)) {
          yield* Console.log(
            `${ping.receivedAt}  ${ping.status.padEnd(7)}  ${ping.licenseId}  ${ping.installationId}  version ${ping.version}  from ${ping.clientAddress ?? "?"}  body {${ping.bodyKeys.join(", ")}}`
          )
        }
      })
    )
).pipe(Command.withDescription("Print the validation pings the Portal recorded, newest first."))

/** `portal` serves until interrupted (SIGINT/SIGTERM), then closes the server and the database; subcommands administer its data. */
export const portal = serve.pipe(Command.withSubcommands([revoke, restore, register, pings]))
