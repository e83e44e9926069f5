/** `exekra-license portal`: run the Customer Portal (SQLite under --data, or PostgreSQL with --store), and revoke, restore, register, list pings or create staff in its data. */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { dirname, join } from "node:path"
import * as Config from "effect/Config"
import * as DevKit from "../DevKit.js"
import * as CustomerPortal from "../portal/CustomerPortal.js"
import * as Demo from "../portal/Demo.js"
import * as Licensing from "../portal/Licensing.js"
import * as PortalAuth from "../portal/PortalAuth.js"
import * as PortalStore from "../portal/PortalStore.js"
import * as ReferencePortal from "../portal/ReferencePortal.js"
import { CliError } from "./CliError.js"
import { descriptions, portalDescriptions } from "./commands.js"

const DEFAULT_DATA = "./data"

const dataDescription = `Directory of the Portal's database (portal.sqlite); default ${DEFAULT_DATA}.`
const data = Options.directory("data").pipe(Options.withDefault(DEFAULT_DATA), Options.withDescription(dataDescription))
// A subcommand takes --data after its name too; given before it (`portal --data D revoke …`) it belongs to `portal`.
const subData = Options.directory("data").pipe(Options.optional, Options.withDescription(dataDescription))
const storeDescription =
  "Where the Portal keeps its data: postgres://user[:password]@host[:port]/database for PostgreSQL (several Portal processes may share it), " +
  "or a SQLite file path; env EXEKRA_PORTAL_STORE; default the embedded SQLite file DATA/portal.sqlite."
const store = Options.text("store").pipe(Options.withFallbackConfig(Config.string("EXEKRA_PORTAL_STORE")), Options.optional, Options.withDescription(storeDescription))
// As --data: a subcommand's own, else the one given to `portal` (or EXEKRA_PORTAL_STORE).
const subStore = Options.text("store").pipe(Options.optional, Options.withDescription(storeDescription))
const licenseId = Args.text({ name: "LICENSE_ID" }).pipe(Args.withDescription("The license id, as in the .lic file (e.g. lic_acme)."))

const serveOptions = {
  port: Options.integer("port").pipe(
    Options.withDefault(CustomerPortal.DEFAULT_PORT),
    Options.withDescription(`Port to listen on (0 picks a free one); default ${CustomerPortal.DEFAULT_PORT}.`)
  ),
  host: Options.text("host").pipe(Options.withDefault(CustomerPortal.DEFAULT_HOST), Options.withDescription(`Address to listen on; default ${CustomerPortal.DEFAULT_HOST}.`)),
  data,
  store,
  key: Options.text("key").pipe(
    Options.optional,
    Options.withDescription("The vendor's private key (PKCS#8 PEM from keygen, mode 0600) that signs licenses; default $EXEKRA_PORTAL_KEY.")
  ),
  publicUrl: Options.text("public-url").pipe(
    Options.optional,
    Options.withDescription("The Portal's address as Hubs and browsers reach it (invite links, licenses' portalUrl); default where it listens.")
  ),
  adminEmail: Options.text("admin-email").pipe(
    Options.withDefault(CustomerPortal.DEFAULT_ADMIN_EMAIL),
    Options.withDescription(`Email of the vendor admin the first start creates; default ${CustomerPortal.DEFAULT_ADMIN_EMAIL}.`)
  ),
  trialDays: Options.integer("trial-days").pipe(
    Options.withDefault(Licensing.defaultTrial.days),
    Options.withDescription(`Length of the one trial a customer may take; default ${Licensing.defaultTrial.days} days (grace 0).`)
  ),
  demo: Options.boolean("demo").pipe(
    Options.withDescription("Add a demo customer with a user and a production license, print one-time passwords for it and the vendor admin; without --key, sign with a development key under DATA/dev/.")
  )
}

/** The signing key: --key, else $EXEKRA_PORTAL_KEY, else (demo only) the development key under the data directory. */
const signingKey = (key: Option.Option<string>, data: string, demo: boolean) =>
  Effect.gen(function* () {
    const configured = Option.isSome(key) ? key.value : yield* Config.string("EXEKRA_PORTAL_KEY").pipe(Config.withDefault(""))
    if (configured.trim() !== "") return { key: yield* CustomerPortal.readSigningKey(configured.trim()), publicKeyPath: null }
    if (!demo) {
      return yield* new CustomerPortal.CustomerPortalError({
        code: "PORTAL_KEY_MISSING",
        message: "The Portal signs licenses with the vendor's private key: pass --key FILE (or set EXEKRA_PORTAL_KEY). Create one with `exekra-license keygen --out DIR`."
      })
    }
    const dev = yield* DevKit.ensure(data)
    return { key: yield* CustomerPortal.readSigningKey(dev.privateKeyPath), publicKeyPath: join(dirname(dev.privateKeyPath), "public.key") }
  })

// The parent command on its own: subcommands read its --data when they were not given one.
const serve = Command.make("portal", serveOptions, ({ port, host, data, store, key, publicUrl, adminEmail, trialDays, demo }) =>
  Effect.gen(function* () {
    const signing = yield* signingKey(key, data, demo)
    if (trialDays < 1 || trialDays > 3650) return yield* new CliError({ code: "INVALID_OPTION", message: `--trial-days must be 1 to 3650, got ${trialDays}.` })
    const running = yield* CustomerPortal.start({
      dataDir: data,
      store: Option.getOrUndefined(store),
      host,
      port,
      signingKey: signing.key,
      publicUrl: Option.getOrUndefined(publicUrl),
      adminEmail,
      trial: { ...Licensing.defaultTrial, days: trialDays }
    })
    yield* Console.log(`Exekra Customer Portal listening on ${running.url}, data in ${running.database}, signing with key ${running.publicKey.kid}`)
    if (demo) {
      const accounts = yield* Demo.seed(running, adminEmail)
      yield* Console.log(
        [
          "Demo data (one-time passwords, new at every start; each asks for your own password at the first sign-in):",
          `  Vendor staff:  open ${running.url}/ and sign in as ${accounts.staff.email} with ${accounts.staff.password}`,
          `  Customer user: open ${running.url}/ and sign in as ${accounts.customer.email} with ${accounts.customer.password} (${accounts.customer.customerName}, license ${accounts.customer.licenseId})`,
          ...(signing.publicKeyPath === null ? [] : [`  A Hub trusts this Portal's licenses with: npm start -- --public-key ${signing.publicKeyPath} --portal-url ${running.url}`])
        ].join("\n")
      )
    } else if (running.bootstrap !== null) {
      yield* Console.log(
        `Vendor admin created: sign in at ${running.url}/ as ${running.bootstrap.email} with the one-time password ${running.bootstrap.password}\n` +
          "  It is shown only now; you choose your own password at the first sign-in. Add staff with `exekra-license portal admin create --email E`."
      )
    }
    return yield* Effect.never
  }).pipe(Effect.scoped)
).pipe(Command.withDescription(descriptions.portal))

/** Run `use` on the Portal's store at the subcommand's --store or --data (else `portal`'s), closing it afterwards. */
const withStore = <A, E, R>(
  subcommand: { readonly data: Option.Option<string>; readonly store: Option.Option<string> },
  create: boolean,
  use: (store: Effect.Effect.Success<ReturnType<typeof ReferencePortal.openStore>>, now: number) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function* () {
    const parent = yield* serve
    const dataDir = Option.getOrElse(subcommand.data, () => parent.data)
    const store = yield* ReferencePortal.openStore(dataDir, { create, store: Option.getOrUndefined(Option.orElse(subcommand.store, () => parent.store)) })
    return yield* use(store, yield* Clock.currentTimeMillis)
  }).pipe(Effect.scoped)

const revoke = Command.make("revoke", { licenseId, data: subData, store: subStore }, ({ licenseId, data, store }) =>
  withStore({ data, store }, true, (store, now) =>
    Effect.flatMap(store.revoke(licenseId, now), (before) =>
      Console.log(before === "revoked" ? `${licenseId} was already revoked` : `revoked ${licenseId}: its Hubs get "revoked" from their next ping on`)
    )
  )
).pipe(Command.withDescription(portalDescriptions.revoke))

const restore = Command.make("restore", { licenseId, data: subData, store: subStore }, ({ licenseId, data, store }) =>
  withStore({ data, store }, true, (store, now) =>
    Effect.flatMap(store.restore(licenseId, now), (before) =>
      Console.log(before === "revoked" ? `restored ${licenseId}: its Hubs get "valid" from their next ping on` : `${licenseId} was not revoked; it is now registered`)
    )
  )
).pipe(Command.withDescription(portalDescriptions.restore))

const register = Command.make("register", { licenseId, data: subData, store: subStore }, ({ licenseId, data, store }) =>
  withStore({ data, store }, true, (store, now) =>
    Effect.flatMap(store.register(licenseId, now), (before) =>
      Console.log(
        before === "unregistered" ? `registered ${licenseId}` : before === "revoked" ? `${licenseId} is known and revoked; restore it to make it valid` : `${licenseId} was already registered`
      )
    )
  )
).pipe(Command.withDescription(portalDescriptions.register))

const pings = Command.make(
  "pings",
  {
    data: subData,
    store: subStore,
    licenseId: Options.text("license-id").pipe(Options.optional, Options.withDescription("Only the pings of this license.")),
    limit: Options.integer("limit").pipe(Options.withDefault(100), Options.withDescription("At most this many, newest first; default 100."))
  },
  ({ data, store, licenseId, limit }) =>
    withStore({ data, store }, false, (store) =>
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
).pipe(Command.withDescription(portalDescriptions.pings))

const adminCreate = Command.make(
  "create",
  {
    data: subData,
    store: subStore,
    email: Options.text("email").pipe(Options.withDescription("The new staff member's email; they sign in with it."))
  },
  ({ data, store, email }) =>
    withStore({ data, store }, true, (store) =>
      Effect.gen(function* () {
        const auth = yield* PortalAuth.make().pipe(Effect.provideService(PortalStore.PortalStore, store))
        const created = yield* auth.createAccount({ email, name: "", role: "staff", customerId: null }, "temporary-password", "cli")
        yield* Console.log(
          `created staff account ${created.account.email}; one-time password: ${created.temporaryPassword ?? ""}\n` +
            "  It is shown only now; they choose their own password at the first sign-in."
        )
      })
    )
).pipe(Command.withDescription("Create a vendor staff account and print its one-time password."))

const admin = Command.make("admin").pipe(Command.withDescription(portalDescriptions.admin), Command.withSubcommands([adminCreate]))

/** `portal` serves until interrupted (SIGINT/SIGTERM), then closes the server and the database; subcommands administer its data. */
export const portal = serve.pipe(Command.withSubcommands([revoke, restore, register, pings, admin]))
