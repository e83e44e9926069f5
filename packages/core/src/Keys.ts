/** Ed25519 key pairs: generation, PEM (PKCS#8 / SPKI) import and export, and key ids. */
import { createHash, createPrivateKey, createPublicKey } from "node:crypto"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import nacl from "tweetnacl"

/** A public key the Hub can trust, addressed by its key id. */
export interface PublicKey {
  readonly kid: string
  /** Raw 32-byte Ed25519 public key. */
  readonly raw: Uint8Array
}

/** A signing key: the 32-byte seed, the tweetnacl 64-byte secret key and its public half. */
export interface PrivateKey {
  readonly kid: string
  readonly seed: Uint8Array
  readonly secretKey: Uint8Array
  readonly publicKey: PublicKey
}

/** A key file could not be read. */
export class KeyError extends Data.TaggedError("KeyError")<{
  readonly code: "KEY_INVALID"
  readonly message: string
}> {}

const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex")
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex")

/** Key id: the first 16 hex digits of SHA-256 of the raw 32-byte public key. */
export const keyId = (raw: Uint8Array): string => createHash("sha256").update(raw).digest("hex").slice(0, 16)

/** A public key from its raw 32 bytes. */
export const publicKeyFromRaw = (raw: Uint8Array): PublicKey => ({ kid: keyId(raw), raw })

/** A private key from its 32-byte seed. */
export const privateKeyFromSeed = (seed: Uint8Array): PrivateKey => {
  const pair = nacl.sign.keyPair.fromSeed(seed)
  const publicKey = publicKeyFromRaw(pair.publicKey)
  return { kid: publicKey.kid, seed, secretKey: pair.secretKey, publicKey }
}

/** A fresh random key pair (tweetnacl's CSPRNG, backed by node:crypto). */
export const generate = (): PrivateKey => privateKeyFromSeed(nacl.randomBytes(32))

const pem = (label: string, der: Buffer): string =>
  `-----BEGIN ${label}-----\n${der.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`

/** PKCS#8 PEM of a private key, as `openssl genpkey -algorithm ed25519` writes it. */
export const privateKeyToPem = (key: PrivateKey): string => pem("PRIVATE KEY", Buffer.concat([PKCS8_PREFIX, key.seed]))

/** SPKI PEM of a public key, as `openssl pkey -pubout` writes it. */
export const publicKeyToPem = (key: PublicKey): string => pem("PUBLIC KEY", Buffer.concat([SPKI_PREFIX, key.raw]))

const invalid = (what: string) =>
  new KeyError({ code: "KEY_INVALID", message: `The ${what} is not an Ed25519 key in PEM form. Create one with \`exekra-license keygen\`.` })

/** Read a PKCS#8 PEM Ed25519 private key. */
export const privateKeyFromPem = (text: string): Either.Either<PrivateKey, KeyError> => {
  try {
    const key = createPrivateKey({ key: text, format: "pem" })
    if (key.asymmetricKeyType !== "ed25519") return Either.left(invalid("private key file"))
    const jwk = key.export({ format: "jwk" })
    return Either.right(privateKeyFromSeed(new Uint8Array(Buffer.from(jwk.d ?? "", "base64url"))))
  } catch {
    return Either.left(invalid("private key file"))
  }
}

/** Read an SPKI PEM Ed25519 public key (a PKCS#8 private key is accepted too: its public half is used). */
export const publicKeyFromPem = (text: string): Either.Either<PublicKey, KeyError> => {
  try {
    const key = createPublicKey({ key: text, format: "pem" })
    if (key.asymmetricKeyType !== "ed25519") return Either.left(invalid("public key file"))
    const jwk = key.export({ format: "jwk" })
    return Either.right(publicKeyFromRaw(new Uint8Array(Buffer.from(jwk.x ?? "", "base64url"))))
  } catch {
    return Either.left(invalid("public key file"))
  }
}
