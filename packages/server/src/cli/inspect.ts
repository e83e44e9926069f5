/** `exekra-license inspect`: show a license's payload and whether its signature holds. */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Envelope from "@exekra/core/Envelope"
import * as Keyring from "@exekra/core/Keyring"
import * as License from "@exekra/core/License"
import { LicenseError } from "@exekra/core/LicenseError"
import * as Verifier from "@exekra/core/Verifier"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { descriptions } from "./commands.js"
import { readPublicKey, readText } from "./options.js"

const file = Args.file({ name: "FILE", exists: "yes" }).pipe(Args.withDescription("The .lic file."))
const publicKey = Options.file("public-key", { exists: "yes" }).pipe(
  Options.optional,
  Options.withDescription("Vendor public key (SPKI PEM) to check the signature against.")
)

const decodePayload = Schema.decodeUnknownEither(Schema.parseJson(License.LicensePayload))
const encodePayload = Schema.encodeSync(License.LicensePayload)

/** Read the payload without trusting it, for display. */
const readUnverified = (text: string): Either.Either<License.LicensePayload, LicenseError> =>
  Either.flatMap(Envelope.parse(text), (envelope) =>
    Either.mapLeft(decodePayload(Buffer.from(envelope.payload).toString("utf8")), () => LicenseError.of("LICENSE_PAYLOAD_INVALID"))
  )

/** Print the payload; verify the signature when a public key is given; exit 1 with the code otherwise. */
export const inspect = Command.make("inspect", { file, publicKey }, ({ file, publicKey }) =>
  Effect.gen(function* () {
    const text = yield* readText(file)
    const unverified = readUnverified(text)
    if (Either.isRight(unverified)) yield* Console.log(JSON.stringify(encodePayload(unverified.right), null, 2))
    if (Option.isNone(publicKey)) {
      if (Either.isLeft(unverified)) return yield* unverified.left
      yield* Console.log("signature: not checked (pass --public-key to verify it)")
      return
    }
    const key = yield* readPublicKey(publicKey.value)
    const verifier = Verifier.make(Keyring.make([key]), Verifier.nodeCryptoPrimitive())
    const verified = yield* verifier.verify(text)
    yield* Console.log(`signature: valid (key ${verified.kid})`)
  })
).pipe(Command.withDescription(descriptions.inspect))
