// The `.lic` envelope: strict, bounded parsing (each refusal with its code and its sentence) and 64-column encoding.
import { describe, expect, it } from "@effect/vitest"
import { Envelope, Keys, LicenseError, Signer } from "@exekra/core"
import { Effect, Either, Exit } from "effect"

const key = Keys.privateKeyFromSeed(new Uint8Array(32).fill(7))
const payloadBytes = new TextEncoder().encode(JSON.stringify({ hello: "world", n: 1 }))
const good = Signer.signBytes(payloadBytes, key)
const goodEnvelope = () => Either.getOrThrow(Envelope.parse(good))

const malformed = (why: string) =>
  `The file is not a readable Exekra license (${why}). Download the .lic file from the Customer Portal again and upload it unchanged.`

/** Armour arbitrary bytes as the body of a `.lic` file. */
const armourBytes = (bytes: Uint8Array): string =>
  `${Envelope.BEGIN}\n${Buffer.from(bytes).toString("base64")}\n${Envelope.END}\n`
const armour = (json: string): string => armourBytes(new TextEncoder().encode(json))

/** The envelope JSON of the good file, as an object to edit. */
const envelopeJson = (): Record<string, unknown> => {
  const body = good.trim().split("\n").slice(1, -1).join("")
  return JSON.parse(Buffer.from(body, "base64").toString("utf8")) as Record<string, unknown>
}
const withEnvelope = (edit: (json: Record<string, unknown>) => Record<string, unknown>): string =>
  armour(JSON.stringify(edit(envelopeJson())))

/** The error of a refused input. */
const refusal = (input: string | Uint8Array): LicenseError => {
  const result = Envelope.parse(input)
  if (Either.isRight(result)) throw new Error("expected the input to be refused")
  return result.left
}
const expectMalformed = (input: string | Uint8Array, why: string) =>
  expect(refusal(input)).toMatchObject({ _tag: "LicenseError", code: "LICENSE_MALFORMED", message: malformed(why) })

/** A byte string padded with trailing newlines to exactly `size` UTF-8 bytes. */
const padTo = (text: string, size: number) => text + "\n".repeat(size - Buffer.byteLength(text, "utf8"))

describe("Envelope.parse", () => {
  it("reads the kid, the exact payload bytes and the 64-byte signature", () => {
    const envelope = goodEnvelope()
    expect(envelope.kid).toBe(key.kid)
    expect(envelope.payload).toStrictEqual(payloadBytes)
    expect(envelope.signature).toHaveLength(64)
  })

  it("reads the same file given as UTF-8 bytes", () => {
    expect(Envelope.parse(new TextEncoder().encode(good))).toStrictEqual(Envelope.parse(good))
  })

  it("accepts body lines with surrounding whitespace and CRLF line ends", () => {
    const [begin, ...rest] = good.trim().split("\n")
    const end = rest.pop()!
    const indented = [begin, ...rest.map((line) => `  ${line}\t `), end].join("\r\n")
    expect(Envelope.parse(indented)).toStrictEqual(Envelope.parse(good))
  })

  describe("size", () => {
    it("accepts a file of exactly MAX_BYTES bytes and refuses one byte more", () => {
      const exact = padTo(good, Envelope.MAX_BYTES)
      expect(Either.isRight(Envelope.parse(exact))).toBe(true)
      expect(Either.isRight(Envelope.parse(new TextEncoder().encode(exact)))).toBe(true)
      const over = padTo(good, Envelope.MAX_BYTES + 1)
      for (const input of [over, new TextEncoder().encode(over)]) {
        expect(refusal(input)).toMatchObject({
          code: "LICENSE_TOO_LARGE",
          message: "The file is larger than 64 KiB, so it cannot be an Exekra license. Check that you chose the .lic file."
        })
      }
    })

    it("counts a text's UTF-8 bytes, not its characters", () => {
      // U+00A0 is whitespace to trim() but two bytes in UTF-8: fewer than MAX_BYTES characters, more bytes.
      const text = good + "\u00a0".repeat(Envelope.MAX_BYTES / 2)
      expect(text.length).toBeLessThan(Envelope.MAX_BYTES)
      expect(refusal(text).code).toBe("LICENSE_TOO_LARGE")
      expect(Either.isRight(Envelope.parse(good + "\u00a0".repeat(100)))).toBe(true)
    })
  })

  describe("text and armour", () => {
    it("refuses bytes that are not UTF-8, even around a valid armour", () => {
      expectMalformed(new Uint8Array([0xff, 0xfe, 0x00, 0x41]), "not UTF-8 text")
      const bytes = new TextEncoder().encode(good)
      const withBadByte = new Uint8Array([...bytes, 0xff])
      expectMalformed(withBadByte, "not UTF-8 text")
    })

    it("refuses a file without the BEGIN and END lines", () => {
      const lines = good.trim().split("\n")
      const why = "missing the BEGIN/END EXEKRA LICENSE lines"
      expectMalformed("", why)
      expectMalformed(lines.slice(1).join("\n"), why)
      expectMalformed(lines.slice(0, -1).join("\n"), why)
      expectMalformed(good.replace(Envelope.BEGIN, "-----BEGIN EXEKRA LICENCE-----"), why)
      expectMalformed(good.replace(Envelope.END, "-----END EXEKRA LICENCE-----"), why)
      expectMalformed(`${Envelope.BEGIN}\n${Envelope.END}\n`, why)
    })

    it("refuses a body that is not canonical base64", () => {
      // Pad the JSON with spaces so its base64 needs "=" padding.
      const json = JSON.stringify(envelopeJson())
      const body = Buffer.from(json + " ".repeat(json.length % 3 === 1 ? 0 : 1)).toString("base64")
      expect(body).toMatch(/[^=]==$/)
      expect(Either.isRight(Envelope.parse(`${Envelope.BEGIN}\n${body}\n${Envelope.END}`))).toBe(true)
      const why = "the body is not base64"
      expectMalformed(`${Envelope.BEGIN}\n${body.slice(0, 10)}*${body.slice(11)}\n${Envelope.END}`, why)
      expectMalformed(`${Envelope.BEGIN}\n${body.slice(0, 10)} ${body.slice(10)}\n${Envelope.END}`, why)
      expectMalformed(`${Envelope.BEGIN}\n${body.replace(/=+$/, "")}\n${Envelope.END}`, why)
      // "+/8=" in the base64url alphabet.
      expectMalformed(`${Envelope.BEGIN}\n-_8=\n${Envelope.END}`, why)
      // "Kg==" is "*"; "Kh==" decodes to the same byte through bits that should be zero.
      expectMalformed(`${Envelope.BEGIN}\nKh==\n${Envelope.END}`, why)
      expect(refusal(`${Envelope.BEGIN}\nKg==\n${Envelope.END}`).message).toBe(malformed("the body is not JSON"))
    })

    it("refuses a body that is not UTF-8 JSON", () => {
      expectMalformed(armour("{not json"), "the body is not JSON")
      expectMalformed(armour(""), "the body is not JSON")
      // Valid JSON but for one byte that is not UTF-8.
      const json = new TextEncoder().encode(`{"v":1,"alg":"ed25519","note":"?"}`)
      json[json.length - 3] = 0xff
      expectMalformed(armourBytes(json), "the body is not JSON")
    })

    it("refuses JSON that is not an object", () => {
      for (const json of ["[1,2,3]", "[]", "null", "1", '"text"', "true"]) {
        expectMalformed(armour(json), "the body is not a JSON object")
      }
    })
  })

  describe("envelope fields", () => {
    it("refuses a missing version as malformed and another version as unsupported, naming it", () => {
      expectMalformed(withEnvelope(({ v: _v, ...j }) => j), "no format version")
      const unsupported = (v: string) =>
        `License format version ${v} is not supported by this Hub (it reads version 1). Update the Hub or ask for a license in the current format.`
      expect(refusal(withEnvelope((j) => ({ ...j, v: 2 })))).toMatchObject({ code: "LICENSE_UNSUPPORTED_VERSION", message: unsupported("2") })
      expect(refusal(withEnvelope((j) => ({ ...j, v: "1" }))).message).toBe(unsupported('"1"'))
      expect(refusal(withEnvelope((j) => ({ ...j, v: null }))).message).toBe(unsupported("null"))
      // A long value is cut to 20 characters so the sentence stays readable.
      expect(refusal(withEnvelope((j) => ({ ...j, v: "x".repeat(500) }))).message).toBe(unsupported(`"${"x".repeat(19)}`))
    })

    it("refuses a missing algorithm as malformed and another algorithm as unsupported", () => {
      expectMalformed(withEnvelope(({ alg: _alg, ...j }) => j), "no signature algorithm")
      for (const alg of ["rsa", "ED25519", null]) {
        expect(refusal(withEnvelope((j) => ({ ...j, alg })))).toMatchObject({
          code: "LICENSE_UNSUPPORTED_ALGORITHM",
          message: "This license file is signed with an algorithm this Hub does not accept. Ask the vendor for an Ed25519-signed license."
        })
      }
    })

    it("refuses missing, extra or mistyped envelope fields", () => {
      const why = "unexpected envelope fields"
      expectMalformed(withEnvelope((j) => ({ ...j, extra: 1 })), why)
      expectMalformed(withEnvelope(({ kid: _kid, ...j }) => j), why)
      expectMalformed(withEnvelope(({ sig: _sig, ...j }) => j), why)
      expectMalformed(withEnvelope((j) => ({ ...j, kid: key.kid.toUpperCase() })), why)
      expectMalformed(withEnvelope((j) => ({ ...j, kid: `${key.kid}0` })), why)
      expectMalformed(withEnvelope((j) => ({ ...j, payload: 12 })), why)
    })

    it("refuses a payload that is empty or not canonical base64url", () => {
      const why = "the payload is not base64url"
      const payload = Buffer.from(payloadBytes).toString("base64url")
      expectMalformed(withEnvelope((j) => ({ ...j, payload: "" })), why)
      expectMalformed(withEnvelope((j) => ({ ...j, payload: Buffer.from(payloadBytes).toString("base64") })), why)
      expectMalformed(withEnvelope((j) => ({ ...j, payload: `${payload}=` })), why)
      expectMalformed(withEnvelope((j) => ({ ...j, payload: `${payload.slice(0, 4)}.${payload.slice(4)}` })), why)
      // One base64url character more than a whole number of bytes: no byte can be spelled that way.
      expectMalformed(withEnvelope((j) => ({ ...j, payload: `${"A".repeat(Math.ceil(payload.length / 4) * 4)}A` })), why)
    })

    it("refuses a signature that is not exactly 64 bytes of canonical base64url", () => {
      const why = "the signature is not 64 bytes of base64url"
      const sig = Buffer.from(goodEnvelope().signature)
      expectMalformed(withEnvelope((j) => ({ ...j, sig: sig.subarray(0, 63).toString("base64url") })), why)
      expectMalformed(withEnvelope((j) => ({ ...j, sig: Buffer.concat([sig, Buffer.of(0)]).toString("base64url") })), why)
      expectMalformed(withEnvelope((j) => ({ ...j, sig: `${sig.toString("base64url")}==` })), why)
      // 64 bytes are 86 base64url characters whose last one carries 4 unused bits; set one of them.
      const spelled = sig.toString("base64url")
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
      const last = alphabet[alphabet.indexOf(spelled.at(-1)!) + 1]!
      const noncanonical = spelled.slice(0, -1) + last
      expect(Buffer.from(noncanonical, "base64url")).toStrictEqual(sig)
      expectMalformed(withEnvelope((j) => ({ ...j, sig: noncanonical })), why)
    })
  })

  it.effect("parseEffect succeeds with the envelope and fails with the same error as parse", () =>
    Effect.gen(function* () {
      expect(yield* Envelope.parseEffect(good)).toStrictEqual(goodEnvelope())
      const exit = yield* Effect.exit(Envelope.parseEffect("not a license"))
      expect(exit).toStrictEqual(Exit.fail(refusal("not a license")))
    }))
})

describe("Envelope.decodeBase64Url", () => {
  it("decodes canonical unpadded base64url and nothing else", () => {
    expect(Envelope.decodeBase64Url("")).toStrictEqual(new Uint8Array(0))
    expect(Envelope.decodeBase64Url("-_8")).toStrictEqual(new Uint8Array([0xfb, 0xff]))
    expect(Envelope.decodeBase64Url("AAAA")).toStrictEqual(new Uint8Array(3))
    for (const s of ["+/8", "-_8=", "AAAAA", "AA AA", "AB", "AAA.", "A"]) expect(Envelope.decodeBase64Url(s)).toBeUndefined()
  })
})

describe("Envelope.encode", () => {
  it("writes the armour and a base64 body wrapped at 64 columns, which parses back", () => {
    const text = Envelope.encode(goodEnvelope())
    expect(text).toBe(good)
    const lines = text.split("\n")
    expect(lines[0]).toBe(Envelope.BEGIN)
    expect(lines.at(-2)).toBe(Envelope.END)
    expect(lines.at(-1)).toBe("")
    const body = lines.slice(1, -2)
    expect(body.length).toBeGreaterThan(2)
    for (const line of body.slice(0, -1)) expect(line).toHaveLength(64)
    expect(body.at(-1)!.length).toBeGreaterThan(0)
    expect(body.at(-1)!.length).toBeLessThanOrEqual(64)
    expect(JSON.parse(Buffer.from(body.join(""), "base64").toString("utf8"))).toStrictEqual({
      v: 1,
      alg: "ed25519",
      kid: key.kid,
      payload: Buffer.from(payloadBytes).toString("base64url"),
      sig: Buffer.from(goodEnvelope().signature).toString("base64url")
    })
    expect(Envelope.parse(text)).toStrictEqual(Either.right(goodEnvelope()))
  })

  it("signs the domain prefix followed by the payload bytes", () => {
    const input = Envelope.signingInput(new Uint8Array([1, 2, 3]))
    expect(Buffer.from(input).toString("latin1")).toBe(`${Envelope.SIGNING_PREFIX}\x01\x02\x03`)
  })
})
