/** `exekra-license keygen`: create the vendor's Ed25519 signing key pair. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Keys from "@exekra/core/Keys"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { CliError } from "./CliError.js"
import { descriptions } from "./commands.js"

const out = Options.directory("out").pipe(Options.withDescription("Directory to write private.key (mode 0600) and public.key into; created if missing."))
const force = Options.boolean("force").pipe(Options.withDescription("Overwrite an existing private.key."))

/** Write `private.key` (PKCS#8 PEM, 0600) and `public.key` (SPKI PEM) and print the key id. */
export const keygen = Command.make("keygen", { out, force }, ({ out, force }) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const privatePath = path.join(out, "private.key")
    const publicPath = path.join(out, "public.key")
    const unwritable = () => new CliError({ code: "FILE_UNWRITABLE", message: `Cannot write into ${out}: check the directory's permissions.` })
    yield* fs.makeDirectory(out, { recursive: true }).pipe(Effect.mapError(unwritable))
    if (!force && (yield* fs.exists(privatePath).pipe(Effect.orElseSucceed(() => false)))) {
      return yield* new CliError({ code: "FILE_EXISTS", message: `${privatePath} already exists. Keep it (licenses signed with it depend on it) or pass --force to replace it.` })
    }
    const key = Keys.generate()
    // Remove first so a pre-existing file's looser mode is not kept: the mode applies on creation only.
    yield* fs.remove(privatePath).pipe(Effect.ignore)
    yield* fs.writeFileString(privatePath, Keys.privateKeyToPem(key), { mode: 0o600 }).pipe(Effect.mapError(unwritable))
    yield* fs.writeFileString(publicPath, Keys.publicKeyToPem(key.publicKey), { mode: 0o644 }).pipe(Effect.mapError(unwritable))
    yield* Console.log(`key id ${key.kid}`)
    yield* Console.log(`private key: ${privatePath} (keep it secret)`)
    yield* Console.log(`public key:  ${publicPath} (embed it in the Hub: serve --public-key ${publicPath})`)
  })
).pipe(Command.withDescription(descriptions.keygen))
