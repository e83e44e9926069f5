// Sign → verify round trips on both verifier layers, and the tamper matrix: every bad file gets its own code.
import { createHash, createPrivateKey, generateKeyPairSync, sign } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Keyring, Keys, LicenseError, Signer, Verifier, Envelope } from "@exekra/core"
import { Effect, Either, Exit, Layer } from "effect"

const key = Keys.privateKeyFromSeed(new Uint8Array(32).fill(7))
const otherKey = Keys.privateKeyFromSeed(new Uint8Array(32).fill(9))
const keyring = Keyring.make([key.publicKey])

const issuable = (over: Partial<Signer.Issuable> = {}): Signer.Issuable => ({
  licenseId: "lic_0001",
  type: "production",
  issuedTo: { name: "Acme Corp", email: "admin@acme.example" },
  issuedAt: "2026-01-01T00:00:00Z",
  caps: {
    unattended: { limit: 10, expiresAt: "2027-01-01T00:00:00Z" },
    developer: { limit: 5, expiresAt: "2027-06-01T00:00:00Z", graceDays: 7, overagePercent: 10 }
  },
  validation: { required: true, intervalHours: 24, portalUrl: "https://portal.example/api" },
  ...over
})

const good = Signer.sign(issuable(), key)

const layers = [
  ["tweetnacl", Verifier.layerTweetnacl(keyring)],
  ["node:crypto", Verifier.layerNodeCrypto(keyring)]
] as const

const verifyWith = (layer: Layer.Layer<Verifier.Verifier>, input: string | Uint8Array) =>
  Effect.flatMap(Verifier.Verifier, (v) => v.verify(input)).pipe(Effect.provide(layer))

/** Rewrite the JSON envelope inside a good file. */
const editEnvelope = (text: string, edit: (json: Record<string, unknown>) => Record<string, unknown>): string => {
  const body = text.trim().split("\n").slice(1, -1).join("")
  const json = JSON.parse(Buffer.from(body, "base64").toString("utf8")) as Record<string, unknown>
  return armour(JSON.stringify(edit(json)))
}
const armour = (json: string): string => `${Envelope.BEGIN}\n${Buffer.from(json).toString("base64")}\n${Envelope.END}\n`
const envelopeOf = (text: string) => Either.getOrThrow(Envelope.parse(text))

/** Flip one bit of a base64url field of the envelope. */
const flipIn = (field: "payload" | "sig", byteIndex: number) =>
  editEnvelope(good, (j) => {
    const bytes = Buffer.from(j[field] as string, "base64url")
    bytes[byteIndex] = bytes[byteIndex]! ^ 0x01
    return { ...j, [field]: bytes.toString("base64url") }
  })

const signedPayload = (payload: unknown) => Signer.signBytes(new TextEncoder().encode(JSON.stringify(payload)), key)
const validPayloadJson = () => JSON.parse(Buffer.from(envelopeOf(good).payload).toString("utf8")) as Record<string, unknown>

// Ed25519 group order L; adding it to S gives a second encoding of the same signature scalar.
const L = (1n << 252n) + 27742317777372353535851937790883648493n
const malleate = (text: string) =>
  editEnvelope(text, (j) => {
    const sig = Buffer.from(j.sig as string, "base64url")
    let s = 0n
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!)
    s += L
    for (let i = 0; i < 32; i++) {
      sig[32 + i] = Number(s & 0xffn)
      s >>= 8n
    }
    return { ...j, sig: sig.toString("base64url") }
  })

const tamperMatrix: ReadonlyArray<readonly [string, string | Uint8Array, LicenseError["code"]]> = [
  ["a bit flipped in the payload", flipIn("payload", 10), "LICENSE_SIGNATURE_INVALID"],
  ["a bit flipped in the last payload byte", flipIn("payload", 40), "LICENSE_SIGNATURE_INVALID"],
  ["a bit flipped in the signature R", flipIn("sig", 3), "LICENSE_SIGNATURE_INVALID"],
  ["a bit flipped in the signature S", flipIn("sig", 40), "LICENSE_SIGNATURE_INVALID"],
  ["a non-canonical signature scalar (S + L)", malleate(good), "LICENSE_SIGNATURE_INVALID"],
  ["the kid swapped for another trusted-format id", editEnvelope(good, (j) => ({ ...j, kid: "0123456789abcdef" })), "LICENSE_UNKNOWN_KEY"],
  ["a kid that is not 16 hex digits", editEnvelope(good, (j) => ({ ...j, kid: "KEY" })), "LICENSE_MALFORMED"],
  ["signed by an untrusted key", Signer.sign(issuable(), otherKey), "LICENSE_UNKNOWN_KEY"],
  ["an untrusted key's signature under the trusted kid", editEnvelope(Signer.sign(issuable(), otherKey), (j) => ({ ...j, kid: key.kid })), "LICENSE_SIGNATURE_INVALID"],
  ["payload kid differs from envelope kid", signedPayload({ ...validPayloadJson(), kid: otherKey.kid }), "LICENSE_KEY_MISMATCH"],
  ["armour BEGIN line changed", good.replace("BEGIN EXEKRA", "BEGIN EXEKRO"), "LICENSE_MALFORMED"],
  ["armour END line missing", good.replace(Envelope.END, ""), "LICENSE_MALFORMED"],
  ["a character of the armour body changed to a non-base64 one", good.replace(/\n(.)/, "\n*"), "LICENSE_MALFORMED"],
  ["truncated to half", good.slice(0, Math.floor(good.length / 2)), "LICENSE_MALFORMED"],
  ["truncated body, armour kept", `${Envelope.BEGIN}\n${good.split("\n")[1]}\n${Envelope.END}\n`, "LICENSE_MALFORMED"],
  ["empty file", "", "LICENSE_MALFORMED"],
  ["not UTF-8", new Uint8Array([0xff, 0xfe, 0x00, 0x41]), "LICENSE_MALFORMED"],
  ["JSON garbage inside the armour", armour("{not json"), "LICENSE_MALFORMED"],
  ["a JSON array inside the armour", armour("[1,2,3]"), "LICENSE_MALFORMED"],
  ["payload not base64url", editEnvelope(good, (j) => ({ ...j, payload: "a+b/c=" })), "LICENSE_MALFORMED"],
  ["signature not base64url", editEnvelope(good, (j) => ({ ...j, sig: "%%%" })), "LICENSE_MALFORMED"],
  ["signature of the wrong length", editEnvelope(good, (j) => ({ ...j, sig: Buffer.alloc(63).toString("base64url") })), "LICENSE_MALFORMED"],
  ["an extra envelope field", editEnvelope(good, (j) => ({ ...j, extra: 1 })), "LICENSE_MALFORMED"],
  ["a missing envelope field", editEnvelope(good, ({ sig: _sig, ...j }) => j), "LICENSE_MALFORMED"],
  ["oversized (64 KiB + 1)", good + " ".repeat(Envelope.MAX_BYTES), "LICENSE_TOO_LARGE"],
  ["oversized bytes", new Uint8Array(Envelope.MAX_BYTES + 1), "LICENSE_TOO_LARGE"],
  ["unknown version v=2", editEnvelope(good, (j) => ({ ...j, v: 2 })), "LICENSE_UNSUPPORTED_VERSION"],
  ["version as a string", editEnvelope(good, (j) => ({ ...j, v: "1" })), "LICENSE_UNSUPPORTED_VERSION"],
  ["no version", editEnvelope(good, ({ v: _v, ...j }) => j), "LICENSE_MALFORMED"],
  ["unknown algorithm", editEnvelope(good, (j) => ({ ...j, alg: "rsa" })), "LICENSE_UNSUPPORTED_ALGORITHM"],
  ["negative limit", signedPayload({ ...validPayloadJson(), caps: { unattended: { limit: -1, expiresAt: "2027-01-01T00:00:00Z" } } }), "LICENSE_PAYLOAD_INVALID"],
  ["fractional limit", signedPayload({ ...validPayloadJson(), caps: { unattended: { limit: 1.5, expiresAt: "2027-01-01T00:00:00Z" } } }), "LICENSE_PAYLOAD_INVALID"],
  ["an impossible date (30 February)", signedPayload({ ...validPayloadJson(), issuedAt: "2026-02-30T00:00:00Z" }), "LICENSE_PAYLOAD_INVALID"],
  ["a date without a UTC zone", signedPayload({ ...validPayloadJson(), issuedAt: "2026-01-01T00:00:00+02:00" }), "LICENSE_PAYLOAD_INVALID"],
  ["a fourth, unknown cap", signedPayload({ ...validPayloadJson(), caps: { robots: { limit: 1, expiresAt: "2027-01-01T00:00:00Z" } } }), "LICENSE_PAYLOAD_INVALID"],
  ["no caps at all", signedPayload({ ...validPayloadJson(), caps: {} }), "LICENSE_PAYLOAD_INVALID"],
  ["an unknown license type", signedPayload({ ...validPayloadJson(), type: "forever" }), "LICENSE_PAYLOAD_INVALID"],
  ["a missing licensee email", signedPayload({ ...validPayloadJson(), issuedTo: { name: "Acme" } }), "LICENSE_PAYLOAD_INVALID"],
  ["a payload that is not JSON", Signer.signBytes(new TextEncoder().encode("hello"), key), "LICENSE_PAYLOAD_INVALID"]
]

describe("Verifier", () => {
  for (const [name, layer] of layers) {
    describe(name, () => {
      it.effect("accepts a freshly signed license and returns its payload", () =>
        Effect.gen(function* () {
          const verified = yield* verifyWith(layer, good)
          expect(verified.kid).toBe(key.kid)
          expect(verified.payload.licenseId).toBe("lic_0001")
          expect(verified.payload.caps.unattended?.limit).toBe(10)
          expect(verified.payload.caps.unattended?.expiresAt.toISOString()).toBe("2027-01-01T00:00:00.000Z")
          expect(verified.payload.expiryWarningDays).toBe(30)
          expect(verified.payload.gracePeriodDays).toBe(14)
          expect(verified.fingerprint).toBe(Verifier.fingerprint(good))
        }))

      it.effect("accepts CRLF line ends and surrounding whitespace, and the same file as bytes", () =>
        Effect.gen(function* () {
          const crlf = `\r\n  ${good.replace(/\n/g, "\r\n")}  \r\n`
          expect((yield* verifyWith(layer, crlf)).payload.licenseId).toBe("lic_0001")
          expect((yield* verifyWith(layer, new TextEncoder().encode(good))).payload.licenseId).toBe("lic_0001")
        }))

      for (const [what, input, code] of tamperMatrix) {
        it.effect(`refuses ${what} with ${code}`, () =>
          Effect.gen(function* () {
            const exit = yield* Effect.exit(verifyWith(layer, input))
            expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ _tag: "LicenseError", code })))
            if (Exit.isFailure(exit)) {
              const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
              expect(error?.message.length).toBeGreaterThan(20)
            }
          }))
      }
    })
  }

  it.effect("both layers give the same answer for every file of the matrix", () =>
    Effect.gen(function* () {
      for (const [, input] of [["good", good] as const, ...tamperMatrix]) {
        const a = yield* Effect.either(verifyWith(layers[0][1], input))
        const b = yield* Effect.either(verifyWith(layers[1][1], input))
        expect(Either.isRight(a)).toBe(Either.isRight(b))
        if (Either.isLeft(a) && Either.isLeft(b)) expect(a.left.code).toBe(b.left.code)
      }
    }))

  it("tweetnacl signs what node:crypto verifies and node:crypto signs what tweetnacl verifies", () => {
    const payload = envelopeOf(good).payload
    const message = Envelope.signingInput(payload)
    const nodeSigned = Signer.signBytes(payload, key)
    expect(Either.isRight(Verifier.verifyWith(keyring, Verifier.tweetnaclPrimitive, nodeSigned))).toBe(true)
    // A signature made by node:crypto from the PEM key verifies under tweetnacl.
    const sig = sign(null, message, createPrivateKey(Keys.privateKeyToPem(key)))
    expect(Verifier.tweetnaclPrimitive(key.publicKey, message, sig)).toBe(true)
    expect(Verifier.nodeCryptoPrimitive()(key.publicKey, message, sig)).toBe(true)
  })

  it.effect("trusts several keys at once (rotation)", () =>
    Effect.gen(function* () {
      const both = Verifier.layerNodeCrypto(Keyring.make([key.publicKey, otherKey.publicKey]))
      expect((yield* verifyWith(both, good)).kid).toBe(key.kid)
      expect((yield* verifyWith(both, Signer.sign(issuable(), otherKey))).kid).toBe(otherKey.kid)
    }))

  it("memoises by content: the same text is verified once, a changed text afresh", () => {
    let calls = 0
    const counting: Verifier.VerifyPrimitive = (k, m, s) => {
      calls++
      return Verifier.tweetnaclPrimitive(k, m, s)
    }
    const verifier = Verifier.make(keyring, counting)
    for (let i = 0; i < 100; i++) Effect.runSync(verifier.verify(good))
    expect(calls).toBe(1)
    // The same content in a different string object is still a hit.
    Effect.runSync(verifier.verify((" " + good).slice(1)))
    expect(calls).toBe(1)
    const tampered = flipIn("payload", 10)
    expect(Exit.isFailure(Effect.runSyncExit(verifier.verify(tampered)))).toBe(true)
    expect(calls).toBe(2)
    expect(Exit.isFailure(Effect.runSyncExit(verifier.verify(tampered)))).toBe(true)
    expect(calls).toBe(2)
  })

  it("refuses to issue a payload the Hub would refuse", () => {
    expect(() => Signer.sign(issuable({ caps: { unattended: { limit: -3, expiresAt: "2027-01-01T00:00:00Z" } } }), key)).toThrow()
  })
})

describe("Keys", () => {
  it("round-trips PEM and derives the key id from the raw public key", () => {
    const fresh = Keys.generate()
    const priv = Either.getOrThrow(Keys.privateKeyFromPem(Keys.privateKeyToPem(fresh)))
    const pub = Either.getOrThrow(Keys.publicKeyFromPem(Keys.publicKeyToPem(fresh.publicKey)))
    expect(priv.kid).toBe(fresh.kid)
    expect(pub.kid).toBe(fresh.kid)
    expect(fresh.kid).toMatch(/^[0-9a-f]{16}$/)
    expect(fresh.kid).toBe(createHash("sha256").update(fresh.publicKey.raw).digest("hex").slice(0, 16))
  })

  it("reads keys as OpenSSL and node:crypto write them", () => {
    const pair = generateKeyPairSync("ed25519")
    const priv = Either.getOrThrow(Keys.privateKeyFromPem(pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString()))
    const pub = Either.getOrThrow(Keys.publicKeyFromPem(pair.publicKey.export({ format: "pem", type: "spki" }).toString()))
    expect(priv.publicKey.kid).toBe(pub.kid)
  })

  it("refuses a key that is not Ed25519 PEM", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" })
    expect(Either.isLeft(Keys.privateKeyFromPem(ec.privateKey.export({ format: "pem", type: "pkcs8" }).toString()))).toBe(true)
    expect(Either.isLeft(Keys.publicKeyFromPem("not a key"))).toBe(true)
  })
})

describe("Verifier.hasCanonicalScalar", () => {
  /** A signature whose R half is zero and whose S half is the little-endian encoding of `s`. */
  const withScalar = (s: bigint): Uint8Array => {
    const sig = new Uint8Array(64)
    for (let i = 0; i < 32; i++) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn)
    return sig
  }

  it("accepts S < L and refuses S ≥ L, at the exact boundary", () => {
    expect(Verifier.hasCanonicalScalar(withScalar(0n))).toBe(true)
    expect(Verifier.hasCanonicalScalar(withScalar(1n))).toBe(true)
    // L - 1 shares every byte with L but the lowest one.
    expect(Verifier.hasCanonicalScalar(withScalar(L - 1n))).toBe(true)
    expect(Verifier.hasCanonicalScalar(withScalar(L))).toBe(false)
    expect(Verifier.hasCanonicalScalar(withScalar(L + 1n))).toBe(false)
    expect(Verifier.hasCanonicalScalar(withScalar((1n << 252n) - 1n))).toBe(true)
    expect(Verifier.hasCanonicalScalar(withScalar(1n << 253n))).toBe(false)
    expect(Verifier.hasCanonicalScalar(withScalar((1n << 256n) - 1n))).toBe(false)
  })

  it("judges the S half only", () => {
    const sig = withScalar(L - 1n)
    sig.fill(0xff, 0, 32)
    expect(Verifier.hasCanonicalScalar(sig)).toBe(true)
  })

  it("a file whose S is exactly L is refused by both primitives", () => {
    const text = editEnvelope(good, (j) => ({ ...j, sig: Buffer.from(withScalar(L)).toString("base64url") }))
    for (const primitive of [Verifier.tweetnaclPrimitive, Verifier.nodeCryptoPrimitive()]) {
      expect(Verifier.verifyWith(keyring, primitive, text)).toStrictEqual(Either.left(LicenseError.of("LICENSE_SIGNATURE_INVALID")))
    }
  })
})

describe("Verifier.verifyWith messages", () => {
  const refusal = (input: string | Uint8Array): LicenseError => {
    const result = Verifier.verifyWith(keyring, Verifier.nodeCryptoPrimitive(), input)
    if (Either.isRight(result)) throw new Error("expected the license to be refused")
    return result.left
  }
  /** The schema's reason inside a LICENSE_PAYLOAD_INVALID sentence. */
  const invalidDetail = (input: string): string => {
    const error = refusal(input)
    expect(error.code).toBe("LICENSE_PAYLOAD_INVALID")
    const match = /^The license is signed but its contents are invalid \((.*)\)\. Contact the vendor: the issued license needs to be corrected\.$/s.exec(error.message)
    expect(match, error.message).not.toBeNull()
    return match![1]!
  }

  it("says a signed payload that is not UTF-8 JSON is not JSON", () => {
    const sentence = "The license is signed but its payload is not JSON. Contact the vendor: the issued license needs to be corrected."
    for (const bytes of [new TextEncoder().encode("hello"), new TextEncoder().encode('{"a":1'), new Uint8Array([0x7b, 0xff, 0x7d])]) {
      expect(refusal(Signer.signBytes(bytes, key))).toMatchObject({ code: "LICENSE_PAYLOAD_INVALID", message: sentence })
    }
  })

  it("names the schema's reason in one trimmed line of at most 200 characters", () => {
    const date = invalidDetail(signedPayload({ ...validPayloadJson(), issuedAt: "2026-02-30T00:00:00Z" }))
    expect(date).toBe("issuedAt: expected an ISO-8601 UTC timestamp such as 2027-01-31T00:00:00Z")
    const url = invalidDetail(signedPayload({ ...validPayloadJson(), validation: { required: true, intervalHours: 24, portalUrl: "https://portal.example:99999/" } }))
    expect(url).toBe("validation.portalUrl: expected a URL that parses, such as https://portal.example.com")
    const caps = invalidDetail(signedPayload({ ...validPayloadJson(), caps: {} }))
    expect(caps).toMatch(/^\S.*a license grants at least one cap$/)
    const long = invalidDetail(signedPayload({ ...validPayloadJson(), type: "x".repeat(500) }))
    expect(long).toMatch(/^\S.*actual "x+$/)
    expect(long).toHaveLength(200)
  })

  it("returns the text of a file given as bytes, and its fingerprint", () => {
    const verified = Either.getOrThrow(Verifier.verifyWith(keyring, Verifier.tweetnaclPrimitive, new TextEncoder().encode(good)))
    expect(verified.text).toBe(good)
    expect(verified.fingerprint).toBe(createHash("sha256").update(good).digest("hex"))
  })
})

describe("Verifier.fingerprint", () => {
  it("is the SHA-256 of the exact text, in hex", () => {
    expect(Verifier.fingerprint("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(Verifier.fingerprint("é")).toBe(createHash("sha256").update(Buffer.from([0xc3, 0xa9])).digest("hex"))
    expect(Verifier.fingerprint(good.replace(/\n/g, "\r\n"))).not.toBe(Verifier.fingerprint(good))
  })
})

describe("Verifier.make memo", () => {
  const counting = () => {
    const counter = { calls: 0 }
    const primitive: Verifier.VerifyPrimitive = (k, m, s) => {
      counter.calls++
      return Verifier.tweetnaclPrimitive(k, m, s)
    }
    return { counter, verifier: Verifier.make(keyring, primitive) }
  }
  /** Distinct texts of the same valid license (trailing spaces are allowed around the armour). */
  const variant = (i: number) => good + " ".repeat(i)
  const padTo = (text: string, size: number) => text + "\n".repeat(size - Buffer.byteLength(text, "utf8"))

  it("answers the same content from memory whether given as bytes or as text", () => {
    const { counter, verifier } = counting()
    const bytes = () => new TextEncoder().encode(good)
    const first = verifier.verifySync(bytes())
    expect(Either.getOrThrow(first).text).toBe(good)
    expect(verifier.verifySync(bytes())).toBe(first)
    expect(verifier.verifySync(good)).toBe(first)
    expect(counter.calls).toBe(1)
  })

  it("holds the 32 most recent files and forgets the oldest first", () => {
    const { counter, verifier } = counting()
    for (let i = 0; i < 32; i++) expect(Either.isRight(verifier.verifySync(variant(i)))).toBe(true)
    expect(counter.calls).toBe(32)
    for (let i = 0; i < 32; i++) verifier.verifySync(variant(i))
    expect(counter.calls).toBe(32)
    verifier.verifySync(variant(32))
    expect(counter.calls).toBe(33)
    for (let i = 1; i <= 32; i++) verifier.verifySync(variant(i))
    expect(counter.calls).toBe(33)
    verifier.verifySync(variant(0))
    expect(counter.calls).toBe(34)
  })

  it("verifies a file of exactly MAX_BYTES, as text or bytes, and remembers it", () => {
    const { counter, verifier } = counting()
    const exact = padTo(good, Envelope.MAX_BYTES)
    expect(Either.isRight(verifier.verifySync(exact))).toBe(true)
    expect(Either.isRight(verifier.verifySync(exact))).toBe(true)
    expect(Either.isRight(verifier.verifySync(new TextEncoder().encode(exact)))).toBe(true)
    expect(counter.calls).toBe(1)
  })

  it("refuses a file of MAX_BYTES + 1, as text or bytes, without giving it a memory slot", () => {
    const { counter, verifier } = counting()
    for (let i = 0; i < 32; i++) verifier.verifySync(variant(i))
    const over = padTo(good, Envelope.MAX_BYTES + 1)
    // Two-byte U+00A0 padding: over MAX_BYTES bytes, yet fewer characters once decoded.
    const overMultibyte = new TextEncoder().encode(good + "\u00a0".repeat(Envelope.MAX_BYTES / 2))
    for (const input of [over, new TextEncoder().encode(over), overMultibyte]) {
      expect(verifier.verifySync(input)).toStrictEqual(Either.left(LicenseError.of("LICENSE_TOO_LARGE")))
    }
    expect(counter.calls).toBe(32)
    verifier.verifySync(variant(0))
    expect(counter.calls).toBe(32)
  })

  it("refuses bytes that are not UTF-8 without giving them a memory slot", () => {
    const { counter, verifier } = counting()
    for (let i = 0; i < 32; i++) verifier.verifySync(variant(i))
    for (let i = 0; i < 3; i++) {
      const notUtf8 = new Uint8Array([...new TextEncoder().encode(good), 0xff, i])
      expect(verifier.verifySync(notUtf8)).toStrictEqual(Envelope.parse(notUtf8))
      expect(Either.isLeft(Envelope.parse(notUtf8))).toBe(true)
    }
    verifier.verifySync(variant(0))
    expect(counter.calls).toBe(32)
  })
})
