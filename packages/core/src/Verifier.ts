/** Verifier service: turns `.lic` bytes into a verified license, memoised by content. */
import { createHash, createPublicKey, verify as nodeVerify, type KeyObject } from "node:crypto"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import nacl from "tweetnacl"
import * as Envelope from "./Envelope.js"
import type { PublicKey } from "./Keys.js"
import * as Keyring from "./Keyring.js"
import { LicensePayload } from "./License.js"
import { LicenseError } from "./LicenseError.js"

/** A license whose signature holds against a trusted key and whose payload is valid. */
export interface VerifiedLicense {
  /** The id of the key that signed it. */
  readonly kid: string
  readonly payload: LicensePayload
  /** The file's text exactly as verified. */
  readonly text: string
  /** SHA-256 (hex) of the file's text: identifies these exact bytes. */
  readonly fingerprint: string
}

/** An Ed25519 verification primitive over a trusted key. */
export type VerifyPrimitive = (key: PublicKey, message: Uint8Array, signature: Uint8Array) => boolean

/** Portable primitive: tweetnacl, pure JavaScript. */
export const tweetnaclPrimitive: VerifyPrimitive = (key, message, signature) =>
  nacl.sign.detached.verify(message, signature, key.raw)

const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex")

/** Fast primitive: node:crypto (OpenSSL) Ed25519, with one KeyObject per trusted key. */
export const nodeCryptoPrimitive = (): VerifyPrimitive => {
  const objects = new Map<string, KeyObject>()
  return (key, message, signature) => {
    let object = objects.get(key.kid)
    if (object === undefined) {
      object = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key.raw]), format: "der", type: "spki" })
      objects.set(key.kid, object)
    }
    return nodeVerify(null, message, object, signature)
  }
}

// Group order L of Ed25519, little-endian. tweetnacl accepts S ≥ L (a malleable variant of a valid
// signature) while OpenSSL refuses it; we refuse it up front so both primitives accept the same files.
const L = Buffer.from("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", "hex")

/** True when the scalar half of a signature is canonical (S < L). */
export const hasCanonicalScalar = (signature: Uint8Array): boolean => {
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i]!
    const l = L[i]!
    if (s !== l) return s < l
  }
  return false
}

const decodePayload = Schema.decodeUnknownEither(LicensePayload, { onExcessProperty: "error", errors: "first" })
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Verify `.lic` content against a keyring with a given primitive, without memoisation. */
export const verifyWith = (
  keyring: Keyring.Keyring,
  primitive: VerifyPrimitive,
  input: string | Uint8Array
): Either.Either<VerifiedLicense, LicenseError> =>
  Either.flatMap(Envelope.parse(input), (envelope) => {
    const key = Keyring.get(keyring, envelope.kid)
    if (key === undefined) return Either.left(LicenseError.of("LICENSE_UNKNOWN_KEY"))
    if (!hasCanonicalScalar(envelope.signature) || !primitive(key, Envelope.signingInput(envelope.payload), envelope.signature)) {
      return Either.left(LicenseError.of("LICENSE_SIGNATURE_INVALID"))
    }
    let json: unknown
    try {
      json = JSON.parse(utf8.decode(envelope.payload))
    } catch {
      return Either.left(LicenseError.of("LICENSE_PAYLOAD_INVALID", "The license is signed but its payload is not JSON. Contact the vendor: the issued license needs to be corrected."))
    }
    const decoded = decodePayload(json)
    if (Either.isLeft(decoded)) {
      // The first issue as `path: message` (e.g. `caps.unattended.limit: Expected …`), short enough for one sentence.
      const [issue] = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
      const detail = (issue === undefined ? "invalid" : `${issue.path.length === 0 ? "" : `${issue.path.map(String).join(".")}: `}${issue.message}`).slice(0, 200)
      return Either.left(LicenseError.of("LICENSE_PAYLOAD_INVALID", `The license is signed but its contents are invalid (${detail}). Contact the vendor: the issued license needs to be corrected.`))
    }
    if (decoded.right.kid !== envelope.kid) return Either.left(LicenseError.of("LICENSE_KEY_MISMATCH"))
    const text = typeof input === "string" ? input : utf8.decode(input)
    return Either.right({ kid: envelope.kid, payload: decoded.right, text, fingerprint: fingerprint(text) })
  })

/** SHA-256 (hex) of a license text. */
export const fingerprint = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

/** Verifies license files against the trusted keyring. */
export class Verifier extends Context.Tag("@exekra/core/Verifier")<Verifier, Verifier.Service>() {}

export declare namespace Verifier {
  /** The verifier's interface. */
  export interface Service {
    readonly keyring: Keyring.Keyring
    /** Verify a file; the same content is verified once and then answered from memory. */
    readonly verify: (input: string | Uint8Array) => Effect.Effect<VerifiedLicense, LicenseError>
    /** `verify` without an Effect, for the synchronous admission hot path. */
    readonly verifySync: (input: string | Uint8Array) => Either.Either<VerifiedLicense, LicenseError>
  }
}

const MEMO_SIZE = 32

/** A verifier over a keyring and primitive, memoising results by content. */
export const make = (keyring: Keyring.Keyring, primitive: VerifyPrimitive): Verifier.Service => {
  // Keyed by the text itself: a Map lookup hashes and compares the string, which is the cheapest
  // "hash comparison" available, and any change of the bytes misses the memo and is verified afresh.
  const memo = new Map<string, Either.Either<VerifiedLicense, LicenseError>>()
  const verifySync = (input: string | Uint8Array): Either.Either<VerifiedLicense, LicenseError> => {
    if (typeof input !== "string") {
      if (input.byteLength > Envelope.MAX_BYTES) return Either.left(LicenseError.of("LICENSE_TOO_LARGE"))
      try {
        input = utf8.decode(input)
      } catch {
        return verifyWith(keyring, primitive, input)
      }
    }
    const hit = memo.get(input)
    if (hit !== undefined) return hit
    const result = verifyWith(keyring, primitive, input)
    if (input.length <= Envelope.MAX_BYTES) {
      if (memo.size >= MEMO_SIZE) memo.delete(memo.keys().next().value!)
      memo.set(input, result)
    }
    return result
  }
  return {
    keyring,
    verifySync,
    verify: (input) => Effect.suspend(() => Either.match(verifySync(input), { onLeft: Effect.fail, onRight: Effect.succeed }))
  }
}

/** Verifier using tweetnacl (portable, pure JavaScript). */
export const layerTweetnacl = (keyring: Keyring.Keyring): Layer.Layer<Verifier> =>
  Layer.sync(Verifier, () => make(keyring, tweetnaclPrimitive))

/** Verifier using node:crypto Ed25519 (about a hundred times faster); the Hub's default. */
export const layerNodeCrypto = (keyring: Keyring.Keyring): Layer.Layer<Verifier> =>
  Layer.sync(Verifier, () => make(keyring, nodeCryptoPrimitive()))

/** The default verifier layer: node:crypto. */
export const layer = layerNodeCrypto
