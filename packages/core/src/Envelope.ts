/** The armoured `.lic` envelope: strict, bounded parsing and encoding (DESIGN §2). */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { LicenseError } from "./LicenseError.js"

/** Largest license file accepted, in bytes. */
export const MAX_BYTES = 64 * 1024
/** Armour lines around the base64 body. */
export const BEGIN = "-----BEGIN EXEKRA LICENSE-----"
export const END = "-----END EXEKRA LICENSE-----"
/** Domain-separation prefix: the signature covers these bytes followed by the payload bytes. */
export const SIGNING_PREFIX = "exekra-license/v1."
/** The only envelope version and algorithm this runtime reads. */
export const VERSION = 1
export const ALGORITHM = "ed25519"

/** A parsed envelope whose signature has not been checked yet. */
export interface Envelope {
  readonly kid: string
  /** The exact payload bytes that were signed (UTF-8 JSON). */
  readonly payload: Uint8Array
  /** The 64-byte Ed25519 signature. */
  readonly signature: Uint8Array
}

const prefixBytes = new TextEncoder().encode(SIGNING_PREFIX)

/** The bytes an Ed25519 signature covers: the domain prefix followed by the payload bytes. */
export const signingInput = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(prefixBytes.length + payload.length)
  out.set(prefixBytes, 0)
  out.set(payload, prefixBytes.length)
  return out
}

// Node's decoders are lenient (they skip foreign characters and accept either alphabet, any
// padding and stray trailing bits); re-encoding and comparing keeps only the one canonical spelling,
// which also rules out every character outside the alphabet and every impossible length.

/** Strict base64url decoding: the alphabet only, no padding, canonical trailing bits. */
export const decodeBase64Url = (s: string): Uint8Array | undefined => {
  const bytes = Buffer.from(s, "base64url")
  return bytes.toString("base64url") === s ? new Uint8Array(bytes) : undefined
}

/** Strict base64 decoding: the alphabet only, exact padding, canonical trailing bits. */
const decodeBase64 = (s: string): Uint8Array | undefined => {
  const bytes = Buffer.from(s, "base64")
  return bytes.toString("base64") === s ? new Uint8Array(bytes) : undefined
}

const EnvelopeJson = Schema.Struct({
  v: Schema.Number,
  alg: Schema.String,
  kid: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{16}$/)),
  payload: Schema.String,
  sig: Schema.String
})
const decodeEnvelopeJson = Schema.decodeUnknownEither(EnvelopeJson, { onExcessProperty: "error" })

const malformed = (why: string) => LicenseError.of("LICENSE_MALFORMED", `The file is not a readable Exekra license (${why}). Download the .lic file from the Customer Portal again and upload it unchanged.`)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Parse the text of a `.lic` file into its envelope, without checking the signature.
 * Accepts LF or CRLF line ends, a wrapped or unwrapped body and surrounding whitespace; nothing else.
 */
export const parse = (input: string | Uint8Array): Either.Either<Envelope, LicenseError> => {
  const size = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.byteLength
  if (size > MAX_BYTES) return Either.left(LicenseError.of("LICENSE_TOO_LARGE"))
  let text: string
  if (typeof input === "string") text = input
  else {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(input)
    } catch {
      return Either.left(malformed("not UTF-8 text"))
    }
  }
  const lines = text.trim().split(/\r?\n/)
  if (lines.length < 3 || lines[0] !== BEGIN || lines[lines.length - 1] !== END) {
    return Either.left(malformed("missing the BEGIN/END EXEKRA LICENSE lines"))
  }
  const body = lines.slice(1, -1).map((l) => l.trim()).join("")
  const raw = decodeBase64(body)
  if (raw === undefined) return Either.left(malformed("the body is not base64"))
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw))
  } catch {
    return Either.left(malformed("the body is not JSON"))
  }
  if (!isRecord(json)) return Either.left(malformed("the body is not a JSON object"))
  if (json.v !== VERSION) {
    return "v" in json
      ? Either.left(LicenseError.of("LICENSE_UNSUPPORTED_VERSION", `License format version ${JSON.stringify(json.v).slice(0, 20)} is not supported by this Hub (it reads version ${VERSION}). Update the Hub or ask for a license in the current format.`))
      : Either.left(malformed("no format version"))
  }
  if (json.alg !== ALGORITHM) {
    return "alg" in json
      ? Either.left(LicenseError.of("LICENSE_UNSUPPORTED_ALGORITHM"))
      : Either.left(malformed("no signature algorithm"))
  }
  const decoded = decodeEnvelopeJson(json)
  if (Either.isLeft(decoded)) return Either.left(malformed("unexpected envelope fields"))
  const { kid, payload, sig } = decoded.right
  const payloadBytes = decodeBase64Url(payload)
  if (payloadBytes === undefined || payloadBytes.length === 0) return Either.left(malformed("the payload is not base64url"))
  const signature = decodeBase64Url(sig)
  if (signature === undefined || signature.length !== 64) return Either.left(malformed("the signature is not 64 bytes of base64url"))
  return Either.right({ kid, payload: payloadBytes, signature })
}

/** `parse` as an Effect. */
export const parseEffect = (input: string | Uint8Array): Effect.Effect<Envelope, LicenseError> =>
  Either.match(parse(input), { onLeft: Effect.fail, onRight: Effect.succeed })

/** Encode an envelope as armoured `.lic` text, the body wrapped at 64 columns. */
export const encode = (envelope: Envelope): string => {
  const json = JSON.stringify({
    v: VERSION,
    alg: ALGORITHM,
    kid: envelope.kid,
    payload: Buffer.from(envelope.payload).toString("base64url"),
    sig: Buffer.from(envelope.signature).toString("base64url")
  })
  const body = Buffer.from(json, "utf8").toString("base64").match(/.{1,64}/g)!
  return [BEGIN, ...body, END, ""].join("\n")
}
