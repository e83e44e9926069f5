/** `exekra-license inspect`: show a license's payload and whether its signature holds. */
import { Args, Command, Options } from "@effect/cli"
import { Envelope, Keyring, License, LicenseError, Verifier } from "@exekra/core"
import { Console, Effect, Either, Option, Schema } from "effect"
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
).pipe(Command.withDescription("Print a license's payload and check its signature against a public key."))
