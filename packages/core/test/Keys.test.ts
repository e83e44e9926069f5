// Ed25519 keys: PEM export byte-for-byte as OpenSSL writes it, PEM import, and a refusal for every other kind of key.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Keys } from "@exekra/core"
import { Either } from "effect"

const key = Keys.privateKeyFromSeed(new Uint8Array(32).fill(7))

const refusal = (what: "private" | "public") => ({
  _tag: "KeyError",
  code: "KEY_INVALID",
  message: `The ${what} key file is not an Ed25519 key in PEM form. Create one with \`exekra-license keygen\`.`
})
const leftOf = <A, E>(result: Either.Either<A, E>): E => {
  if (Either.isRight(result)) throw new Error("expected the key to be refused")
  return result.left
}

/** PEM files of keys that are not Ed25519, as node:crypto (OpenSSL) writes them. */
const foreign = (["rsa", "x25519", "ed448", "ec"] as const).map((type) => {
  const pair =
    type === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 1024 })
      : type === "ec"
        ? generateKeyPairSync("ec", { namedCurve: "P-256" })
        : generateKeyPairSync(type as "x25519")
  return {
    type,
    privatePem: pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicPem: pair.publicKey.export({ format: "pem", type: "spki" }).toString()
  }
})

describe("Keys", () => {
  it("writes PKCS#8 and SPKI PEM exactly as node:crypto (OpenSSL) does", () => {
    for (const k of [key, Keys.generate()]) {
      const privatePem = Keys.privateKeyToPem(k)
      const publicPem = Keys.publicKeyToPem(k.publicKey)
      expect(privatePem).toBe(createPrivateKey(privatePem).export({ format: "pem", type: "pkcs8" }).toString())
      expect(publicPem).toBe(createPublicKey(privatePem).export({ format: "pem", type: "spki" }).toString())
      expect(privatePem.split("\n")).toStrictEqual(["-----BEGIN PRIVATE KEY-----", expect.stringMatching(/^[A-Za-z0-9+/]{64}$/), "-----END PRIVATE KEY-----", ""])
      expect(publicPem.split("\n")).toStrictEqual(["-----BEGIN PUBLIC KEY-----", expect.stringMatching(/^[A-Za-z0-9+/]{59}=$/), "-----END PUBLIC KEY-----", ""])
    }
  })

  it("derives the same key from its seed, its private PEM and its public PEM", () => {
    const fromPrivate = Either.getOrThrow(Keys.privateKeyFromPem(Keys.privateKeyToPem(key)))
    expect(fromPrivate.seed).toStrictEqual(key.seed)
    expect(fromPrivate.secretKey).toStrictEqual(key.secretKey)
    expect(fromPrivate.publicKey).toStrictEqual(key.publicKey)
    expect(Either.getOrThrow(Keys.publicKeyFromPem(Keys.publicKeyToPem(key.publicKey)))).toStrictEqual(key.publicKey)
    // A private key file is accepted where a public key is expected: its public half is used.
    expect(Either.getOrThrow(Keys.publicKeyFromPem(Keys.privateKeyToPem(key)))).toStrictEqual(key.publicKey)
    expect(key.publicKey.raw).toHaveLength(32)
    expect(key.kid).toBe(Keys.keyId(key.publicKey.raw))
  })

  for (const { type, privatePem, publicPem } of foreign) {
    it(`refuses ${type} keys with KEY_INVALID and a sentence saying how to make one`, () => {
      expect(leftOf(Keys.privateKeyFromPem(privatePem))).toMatchObject(refusal("private"))
      expect(leftOf(Keys.publicKeyFromPem(publicPem))).toMatchObject(refusal("public"))
      expect(leftOf(Keys.publicKeyFromPem(privatePem))).toMatchObject(refusal("public"))
    })
  }

  it("refuses text that is not a PEM key", () => {
    const garbage = ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
    for (const text of garbage) {
      expect(leftOf(Keys.privateKeyFromPem(text))).toMatchObject(refusal("private"))
      expect(leftOf(Keys.publicKeyFromPem(text))).toMatchObject(refusal("public"))
    }
    // A public key cannot stand in for a private one.
    expect(leftOf(Keys.privateKeyFromPem(Keys.publicKeyToPem(key.publicKey)))).toMatchObject(refusal("private"))
  })
})
