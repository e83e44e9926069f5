#!/usr/bin/env node
// Writes the bad-license corpus (test/fixtures/bad-licenses/): deterministic files, each with its expected code; `--check` verifies the committed copy.
//
// The files are built here with node:crypto alone, from the format in DESIGN §2, not with @exekra/core: the
// corpus is an oracle written independently of the code it tests, and needs no build. Everything is fixed
// (seeds, dates, order), Ed25519 signatures are deterministic, so running it twice writes the same bytes.
//
//   node scripts/make-bad-licenses.mjs          write the corpus
//   node scripts/make-bad-licenses.mjs --check  exit 1 when the committed corpus differs from what this script writes
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "test", "fixtures", "bad-licenses")

// ---- keys -------------------------------------------------------------------------------------------------

// Fixed 32-byte Ed25519 seeds: "exekra bad-licenses vendor seed!" and "exekra bad-licenses strange seed".
const VENDOR_SEED = Buffer.from("6578656b7261206261642d6c6963656e7365732076656e646f72207365656421", "hex")
const STRANGER_SEED = Buffer.from("6578656b7261206261642d6c6963656e73657320737472616e67652073656564", "hex")

const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex")

const keyFromSeed = (seed) => {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" })
  const publicKey = createPublicKey(privateKey)
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url")
  // Key id: the first 16 hex digits of SHA-256 of the raw 32-byte public key (DESIGN §7, keygen).
  const kid = createHash("sha256").update(raw).digest("hex").slice(0, 16)
  return { privateKey, publicKey, kid }
}

const vendor = keyFromSeed(VENDOR_SEED)
const stranger = keyFromSeed(STRANGER_SEED)

// ---- the format -------------------------------------------------------------------------------------------

const BEGIN = "-----BEGIN EXEKRA LICENSE-----"
const END = "-----END EXEKRA LICENSE-----"
const MAX_BYTES = 64 * 1024
const PREFIX = Buffer.from("exekra-license/v1.", "utf8")

const b64url = (bytes) => Buffer.from(bytes).toString("base64url")
/** The Ed25519 signature over the domain prefix and the exact payload bytes. */
const signature = (payloadBytes, key, prefix = PREFIX) => sign(null, Buffer.concat([prefix, payloadBytes]), key.privateKey)
/** Armour a body text (base64 of the envelope JSON), wrapped at 64 columns. */
const armourBase64 = (base64, wrap = 64) => [BEGIN, ...(base64.match(new RegExp(`.{1,${wrap}}`, "g")) ?? []), END, ""].join("\n")
const armour = (jsonText) => armourBase64(Buffer.from(jsonText, "utf8").toString("base64"))
/** An envelope object around payload bytes, signed by `key` (its kid unless `kid` is given). */
const envelopeOf = (payloadBytes, key = vendor, kid = key.kid) => ({ v: 1, alg: "ed25519", kid, payload: b64url(payloadBytes), sig: b64url(signature(payloadBytes, key)) })
const fileOf = (envelope) => armour(JSON.stringify(envelope))
const utf8 = (s) => Buffer.from(s, "utf8")
const signedBytes = (payloadBytes, key = vendor) => fileOf(envelopeOf(payloadBytes, key))
/** A payload object signed as-is (key order kept), with its `kid` set to the signer's unless present. */
const signedPayload = (payload, key = vendor) => signedBytes(utf8(JSON.stringify({ ...payload, kid: payload.kid ?? key.kid })), key)

// ---- context ----------------------------------------------------------------------------------------------

/** The instant activation and renewal are attempted at (the Hub's clock in the tests). */
const NOW = "2026-06-01T00:00:00Z"
/** The Hub the corpus is run against: its installation id (Crockford base32, as Installation generates). */
const HUB = "inst_c0rp5hvb0000000000000000"
const OTHER_HUB = "inst_zzzzzzzzzzzzzzzzzzzzzzzzzz"
const EMAIL = "admin@acme.example"

/** The license installed before renewal attempts: issued 2026-05-01, not bound, validation optional. */
const installedPayload = {
  licenseId: "lic_corpus",
  type: "production",
  kid: vendor.kid,
  issuedTo: { name: "Acme Corp", email: EMAIL },
  issuedAt: "2026-05-01T00:00:00Z",
  caps: {
    unattended: { limit: 5, expiresAt: "2027-06-01T00:00:00Z" },
    developer: { limit: 3, expiresAt: "2027-06-01T00:00:00Z" },
    attended: { limit: 10, expiresAt: "2027-09-01T00:00:00Z" }
  },
  expiryWarningDays: 30,
  gracePeriodDays: 14,
  validation: { required: false, intervalHours: 24 }
}

/**
 * A genuine, newer renewal (issued 2026-05-20, ten times the limits): the source of every tampered file, so a
 * check that let a tampered file through would install it and change the installed license.
 */
const renewalPayload = {
  ...installedPayload,
  issuedAt: "2026-05-20T00:00:00Z",
  caps: {
    unattended: { limit: 50, expiresAt: "2027-12-01T00:00:00Z" },
    developer: { limit: 30, expiresAt: "2027-12-01T00:00:00Z" },
    attended: { limit: 100, expiresAt: "2028-03-01T00:00:00Z" }
  }
}

const installed = signedPayload(installedPayload)
const renewal = signedPayload(renewalPayload)
const renewalEnvelope = envelopeOf(utf8(JSON.stringify(renewalPayload)))
const renewalBody = renewal.trim().split("\n").slice(1, -1)
/** The renewal with its body lines replaced (the armour kept). */
const withBody = (lines) => [BEGIN, ...lines, END, ""].join("\n")
/** The renewal with body line `i` (negative: from the end) edited. */
const editLine = (i, edit) => withBody(renewalBody.map((line, j) => (j === (i < 0 ? renewalBody.length + i : i) ? edit(line) : line)))

/** The renewal's envelope with some fields changed (undefined removes a field), re-armoured. */
const editEnvelope = (edit) => {
  const json = { ...renewalEnvelope, ...edit }
  for (const k of Object.keys(json)) if (json[k] === undefined) delete json[k]
  return armour(JSON.stringify(json))
}
/** The renewal's payload with fields changed (undefined removes a field), signed by the vendor. */
const editPayload = (edit) => {
  const json = { ...renewalPayload, ...edit }
  for (const k of Object.keys(json)) if (json[k] === undefined) delete json[k]
  return signedBytes(utf8(JSON.stringify(json)))
}
/** The renewal's payload with one cap grant changed. */
const editCap = (edit) => editPayload({ caps: { ...renewalPayload.caps, unattended: { ...renewalPayload.caps.unattended, ...edit } } })
/** Flip bit `bit` of byte `index` of a base64url field of the renewal's envelope. */
const flip = (field, index, bit = 0) => {
  const bytes = Buffer.from(renewalEnvelope[field], "base64url")
  bytes[index] = bytes[index] ^ (1 << bit)
  return editEnvelope({ [field]: b64url(bytes) })
}
const sigBytes = () => Buffer.from(renewalEnvelope.sig, "base64url")

// Ed25519 group order L: S + L encodes the same scalar, a malleable variant OpenSSL refuses and tweetnacl accepts.
const L = (1n << 252n) + 27742317777372353535851937790883648493n
const malleated = () => {
  const sig = sigBytes()
  let s = 0n
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i])
  s += L
  for (let i = 0; i < 32; i++) {
    sig[32 + i] = Number(s & 0xffn)
    s >>= 8n
  }
  return editEnvelope({ sig: b64url(sig) })
}

/** Pad a text with trailing spaces to exactly `bytes` bytes. */
const padTo = (text, bytes) => text + " ".repeat(bytes - Buffer.byteLength(text, "utf8"))

// ---- the corpus -------------------------------------------------------------------------------------------

const MALFORMED = "LICENSE_MALFORMED"
const TOO_LARGE = "LICENSE_TOO_LARGE"
const VERSION = "LICENSE_UNSUPPORTED_VERSION"
const ALGORITHM = "LICENSE_UNSUPPORTED_ALGORITHM"
const UNKNOWN_KEY = "LICENSE_UNKNOWN_KEY"
const SIGNATURE = "LICENSE_SIGNATURE_INVALID"
const KEY_MISMATCH = "LICENSE_KEY_MISMATCH"
const PAYLOAD = "LICENSE_PAYLOAD_INVALID"
const WRONG_INSTALLATION = "LICENSE_WRONG_INSTALLATION"
const NOT_YET_VALID = "LICENSE_NOT_YET_VALID"
const EXPIRED = "LICENSE_EXPIRED"
const ROLLBACK = "LICENSE_ROLLBACK"

const entries = []
const seen = new Set()

/**
 * A file refused whenever it is read (by the Verifier, `inspect`, activation and renewal alike).
 * `http` is the problem the API answers instead, when it refuses the request before reading the license.
 */
const bad = (category, name, description, code, content, extra = {}) => {
  if (seen.has(name)) throw new Error(`duplicate file ${name}`)
  seen.add(name)
  entries.push({
    file: `${name}.lic`,
    category,
    description,
    code,
    stage: "verify",
    expect: { verify: code, activation: code, renewal: code },
    ...extra,
    content: typeof content === "string" ? utf8(content) : Buffer.from(content)
  })
}
/** A file that verifies, refused only at activation or renewal given the context. */
const staged = (category, name, description, code, stage, expect, content) => {
  if (seen.has(name)) throw new Error(`duplicate file ${name}`)
  seen.add(name)
  entries.push({ file: `${name}.lic`, category, description, code, stage, expect: { verify: null, ...expect }, content: utf8(content) })
}

// Armour.
bad("armour", "empty", "an empty file", MALFORMED, "")
bad("armour", "whitespace-only", "only blank lines and spaces", MALFORMED, "  \n\n\t \r\n")
bad("armour", "no-armour", "the base64 body without BEGIN/END lines", MALFORMED, renewalBody.join("\n") + "\n")
bad("armour", "end-line-missing", "the END line removed", MALFORMED, renewal.replace(END, ""))
bad("armour", "begin-line-missing", "the BEGIN line removed", MALFORMED, renewal.replace(BEGIN + "\n", ""))
bad("armour", "begin-line-typo", "BEGIN EXEKRO LICENSE", MALFORMED, renewal.replace("BEGIN EXEKRA", "BEGIN EXEKRO"))
bad("armour", "armour-lowercase", "the armour lines in lower case", MALFORMED, renewal.replace(BEGIN, BEGIN.toLowerCase()).replace(END, END.toLowerCase()))
bad("armour", "armour-four-dashes", "four dashes instead of five around BEGIN", MALFORMED, renewal.replace(BEGIN, BEGIN.slice(1, -1)))
bad("armour", "armour-swapped", "END line first, BEGIN line last", MALFORMED, [END, ...renewalBody, BEGIN, ""].join("\n"))
bad("armour", "armour-no-body", "BEGIN and END lines only", MALFORMED, `${BEGIN}\n${END}\n`)
bad("armour", "armour-blank-body", "BEGIN, a blank line, END", MALFORMED, `${BEGIN}\n\n${END}\n`)
bad("armour", "text-before-armour", "a line of prose before BEGIN", MALFORMED, "Here is your license:\n" + renewal)
bad("armour", "text-after-armour", "a line of prose after END", MALFORMED, renewal + "Thanks for your purchase.\n")
bad("armour", "two-licenses", "two licenses concatenated", MALFORMED, installed + renewal)
bad("armour", "pem-public-key", "a PEM public key instead of a license", MALFORMED, vendor.publicKey.export({ format: "pem", type: "spki" }).toString())
bad("armour", "begin-bit-flipped", "one bit flipped in the BEGIN line (E→D)", MALFORMED, renewal.replace("BEGIN EXEKRA", "BEGIN DXEKRA"))
bad("armour", "utf16le", "the license saved as UTF-16LE with a BOM", MALFORMED, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(renewal, "utf16le")]))
bad("armour", "not-utf8", "bytes that are not UTF-8 text", MALFORMED, Buffer.from([0xff, 0xfe, 0x00, 0x41, 0xc3, 0x28, 0x0a]))
bad("armour", "nul-bytes", "NUL bytes inside the body", MALFORMED, editLine(1, (l) => l.slice(0, 10) + "\u0000\u0000" + l.slice(12)))

// Base64 of the body.
bad("base64", "body-non-base64-char", "a '*' in the body", MALFORMED, editLine(0, (l) => "*" + l.slice(1)))
bad("base64", "body-base64url-alphabet", "a '-' (base64url) in the standard-base64 body", MALFORMED, editLine(0, (l) => "-" + l.slice(1)))
bad("base64", "body-extra-char", "one character appended to the body (length not a multiple of 4)", MALFORMED, editLine(-1, (l) => l + "A"))
bad("base64", "body-space-inside-line", "a space in the middle of a body line", MALFORMED, editLine(0, (l) => l.slice(0, 20) + " " + l.slice(20)))
bad("base64", "body-padding-inside", "'=' padding in the middle of the body", MALFORMED, editLine(0, (l) => l.slice(0, 30) + "==" + l.slice(32)))
// Trailing spaces after the envelope JSON (still valid JSON) until its base64 ends in '=' padding; then the last
// data character's spare bits are set: the same bytes, a second (non-canonical) encoding.
const B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
let padded = Buffer.from(JSON.stringify(renewalEnvelope), "utf8").toString("base64")
for (let spaces = 1; !padded.endsWith("="); spaces++) padded = Buffer.from(JSON.stringify(renewalEnvelope) + " ".repeat(spaces), "utf8").toString("base64")
const lastData = padded.replace(/=+$/, "").length - 1
const nonCanonical = padded.slice(0, lastData) + B64_ALPHABET[B64_ALPHABET.indexOf(padded[lastData]) + 1] + padded.slice(lastData + 1)
bad("base64", "body-noncanonical-bits", "non-zero spare bits before the '=' padding (a second encoding of the same bytes)", MALFORMED, armourBase64(nonCanonical))
bad("base64", "body-padding-stripped", "the '=' padding removed", MALFORMED, armourBase64(padded.replace(/=+$/, "")))
bad("base64", "body-double-base64", "the body base64-encoded twice", MALFORMED, armourBase64(Buffer.from(Buffer.from(JSON.stringify(renewalEnvelope)).toString("base64")).toString("base64")))
bad("base64", "body-first-char-flipped", "one bit flipped in the first body character (e→f)", MALFORMED, editLine(0, (l) => "f" + l.slice(1)))

// JSON inside the armour.
bad("json", "json-garbage", "'{not json' inside the armour", MALFORMED, armour("{not json"))
bad("json", "json-array", "a JSON array inside the armour", MALFORMED, armour("[1,2,3]"))
bad("json", "json-null", "JSON null inside the armour", MALFORMED, armour("null"))
bad("json", "json-string", "a JSON string inside the armour", MALFORMED, armour(JSON.stringify("v1 ed25519")))
bad("json", "json-truncated", "the envelope JSON cut short", MALFORMED, armour(JSON.stringify(renewalEnvelope).slice(0, -10)))
bad("json", "json-not-utf8", "the decoded body is not UTF-8", MALFORMED, armourBase64(Buffer.concat([utf8('{"v":1,"alg":"'), Buffer.from([0xff, 0xfe]), utf8('"}')]).toString("base64")))
bad("json", "json-deep-nesting", "20 000 nested arrays inside the armour", MALFORMED, armour("[".repeat(20_000) + "]".repeat(20_000)))
bad("json", "json-proto-key", "v and alg only under __proto__", MALFORMED, armour(JSON.stringify({ kid: vendor.kid, payload: renewalEnvelope.payload, sig: renewalEnvelope.sig }).replace("{", '{"__proto__":{"v":1,"alg":"ed25519"},')))
// JSON.parse keeps the last of duplicate keys: the tampered payload wins, and its signature fails.
bad("json", "json-duplicate-payload", "the payload key twice, the second one tampered", SIGNATURE, armour(JSON.stringify(renewalEnvelope).replace('"sig":', `"payload":"${b64url(utf8(JSON.stringify({ ...renewalPayload, caps: { unattended: { limit: 9999, expiresAt: "2099-01-01T00:00:00Z" } } })))}","sig":`)))

// Envelope fields.
bad("envelope", "env-missing-v", "no v", MALFORMED, editEnvelope({ v: undefined }))
bad("envelope", "env-v2", "v = 2", VERSION, editEnvelope({ v: 2 }))
bad("envelope", "env-v0", "v = 0", VERSION, editEnvelope({ v: 0 }))
bad("envelope", "env-v-string", 'v = "1"', VERSION, editEnvelope({ v: "1" }))
bad("envelope", "env-v-null", "v = null", VERSION, editEnvelope({ v: null }))
bad("envelope", "env-missing-alg", "no alg", MALFORMED, editEnvelope({ alg: undefined }))
bad("envelope", "env-alg-rsa", 'alg = "rsa"', ALGORITHM, editEnvelope({ alg: "rsa" }))
bad("envelope", "env-alg-none", 'alg = "none"', ALGORITHM, editEnvelope({ alg: "none" }))
bad("envelope", "env-alg-uppercase", 'alg = "ED25519"', ALGORITHM, editEnvelope({ alg: "ED25519" }))
bad("envelope", "env-missing-kid", "no kid", MALFORMED, editEnvelope({ kid: undefined }))
bad("envelope", "env-kid-not-hex", 'kid = "KEY"', MALFORMED, editEnvelope({ kid: "KEY" }))
bad("envelope", "env-kid-uppercase", "the kid in upper-case hex", MALFORMED, editEnvelope({ kid: vendor.kid.toUpperCase() }))
bad("envelope", "env-kid-17-digits", "a kid of 17 hex digits", MALFORMED, editEnvelope({ kid: vendor.kid + "0" }))
bad("envelope", "env-missing-payload", "no payload", MALFORMED, editEnvelope({ payload: undefined }))
bad("envelope", "env-payload-empty", "an empty payload", MALFORMED, editEnvelope({ payload: "" }))
bad("envelope", "env-payload-std-base64", "the payload in standard base64 with padding", MALFORMED, editEnvelope({ payload: Buffer.from(renewalEnvelope.payload, "base64url").toString("base64").replace(/[^=]$/, "$&=") }))
bad("envelope", "env-payload-number", "payload = 42", MALFORMED, editEnvelope({ payload: 42 }))
bad("envelope", "env-missing-sig", "no sig", MALFORMED, editEnvelope({ sig: undefined }))
bad("envelope", "env-sig-null", "sig = null", MALFORMED, editEnvelope({ sig: null }))
bad("envelope", "env-sig-63-bytes", "a 63-byte signature", MALFORMED, editEnvelope({ sig: b64url(sigBytes().subarray(0, 63)) }))
bad("envelope", "env-sig-65-bytes", "a 65-byte signature", MALFORMED, editEnvelope({ sig: b64url(Buffer.concat([sigBytes(), Buffer.from([0])])) }))
bad("envelope", "env-sig-std-base64", "the signature in standard base64 with padding", MALFORMED, editEnvelope({ sig: sigBytes().toString("base64") }))
bad("envelope", "env-extra-field", "an extra envelope field", MALFORMED, editEnvelope({ note: "unlimited" }))

// Size.
bad("oversized", "oversized-by-one-byte", "a genuine license padded with spaces to 64 KiB + 1 byte", TOO_LARGE, padTo(renewal, MAX_BYTES + 1))
bad("oversized", "oversized-multibyte", "under 64 Ki characters but over 64 KiB of UTF-8 (é is two bytes)", TOO_LARGE, renewal + "é".repeat(33_000) + "\n")
bad("oversized", "oversized-envelope", "a 50 KiB envelope field inside the armour", TOO_LARGE, editEnvelope({ note: "A".repeat(50 * 1024) }))
bad("oversized", "oversized-signed-payload", "a genuinely signed payload whose file is over 64 KiB", TOO_LARGE, editPayload({ padding: "x".repeat(40 * 1024) }))
bad("oversized", "oversized-136k", "136 KiB: more than the API's 128 KiB body limit", TOO_LARGE, padTo(renewal, 136 * 1024), {
  http: { status: 413, code: "PAYLOAD_TOO_LARGE" }
})

// Keys.
bad("key", "unknown-kid", "the kid changed to another well-formed id", UNKNOWN_KEY, editEnvelope({ kid: "0123456789abcdef" }))
bad("key", "kid-one-digit-changed", "one hex digit of the kid changed", UNKNOWN_KEY, editEnvelope({ kid: (vendor.kid[0] === "a" ? "b" : "a") + vendor.kid.slice(1) }))
bad("key", "stranger-signed", "signed by a key the Hub does not trust", UNKNOWN_KEY, signedPayload(renewalPayload, stranger))
bad("key", "stranger-signature-vendor-kid", "signed by the stranger key, envelope and payload naming the vendor's kid", SIGNATURE, fileOf(envelopeOf(utf8(JSON.stringify(renewalPayload)), stranger, vendor.kid)))
bad("key", "payload-kid-mismatch", "vendor-signed, but the payload names the stranger's kid", KEY_MISMATCH, signedPayload({ ...renewalPayload, kid: stranger.kid }))

// Flipped bits.
bad("flip", "flip-payload-first-byte", "one bit flipped in the first payload byte", SIGNATURE, flip("payload", 0, 1))
bad("flip", "flip-payload-middle", "one bit flipped in the middle of the payload", SIGNATURE, flip("payload", 100))
bad("flip", "flip-payload-last-byte", "one bit flipped in the last payload byte", SIGNATURE, flip("payload", Buffer.from(renewalEnvelope.payload, "base64url").length - 1, 2))
bad("flip", "flip-sig-r", "one bit flipped in the signature's R", SIGNATURE, flip("sig", 3))
bad("flip", "flip-sig-s", "one bit flipped in the signature's S", SIGNATURE, flip("sig", 40))
bad("flip", "flip-sig-top-bit", "the top bit of S set (non-canonical scalar)", SIGNATURE, flip("sig", 63, 7))
bad("flip", "sig-malleated", "S + L: the same signature, non-canonical", SIGNATURE, malleated())
bad("flip", "sig-all-zero", "a signature of 64 zero bytes", SIGNATURE, editEnvelope({ sig: b64url(Buffer.alloc(64)) }))
bad("flip", "payload-edited-limit", "the payload's limit raised, the old signature kept", SIGNATURE, editEnvelope({ payload: b64url(utf8(JSON.stringify({ ...renewalPayload, caps: { ...renewalPayload.caps, unattended: { limit: 5000, expiresAt: "2027-12-01T00:00:00Z" } } }))) }))
bad("flip", "payload-spliced", "the installed license's payload with the renewal's signature", SIGNATURE, editEnvelope({ payload: b64url(utf8(JSON.stringify(installedPayload))) }))
bad("flip", "sig-without-domain-prefix", "signed over the payload bytes without the exekra-license/v1. prefix", SIGNATURE, editEnvelope({ sig: b64url(signature(utf8(JSON.stringify(renewalPayload)), vendor, Buffer.alloc(0))) }))

// Truncations.
bad("truncated", "trunc-half", "cut in half", MALFORMED, renewal.slice(0, Math.floor(renewal.length / 2)))
bad("truncated", "trunc-begin-line-only", "only the BEGIN line", MALFORMED, BEGIN + "\n")
bad("truncated", "trunc-last-body-line", "the last body line removed, armour kept", MALFORMED, withBody(renewalBody.slice(0, -1)))
bad("truncated", "trunc-last-body-char", "the last body character removed", MALFORMED, editLine(-1, (l) => l.slice(0, -1)))
bad("truncated", "trunc-end-line", "the END line cut short", MALFORMED, renewal.replace(END, END.slice(0, 20)))
bad("truncated", "trunc-payload-chars", "the payload field shortened by 4 characters (its last one now has spare bits set)", MALFORMED, editEnvelope({ payload: renewalEnvelope.payload.slice(0, -4) }))
bad("truncated", "trunc-payload-bytes", "the payload's last 3 bytes removed, re-encoded canonically", SIGNATURE, editEnvelope({ payload: b64url(Buffer.from(renewalEnvelope.payload, "base64url").subarray(0, -3)) }))
bad("truncated", "trunc-sig-field", "the signature shortened by 4 characters", MALFORMED, editEnvelope({ sig: renewalEnvelope.sig.slice(0, -4) }))

// Signed payloads that break the schema.
const payloadBad = (name, description, content) => bad("payload", name, description, PAYLOAD, content)
payloadBad("payload-not-json", "a signed payload that is not JSON", signedBytes(utf8("hello")))
payloadBad("payload-json-array", "a signed payload that is a JSON array", signedBytes(utf8("[1,2,3]")))
payloadBad("payload-not-utf8", "a signed payload that is not UTF-8", signedBytes(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))
payloadBad("limit-negative", "limit -1", editCap({ limit: -1 }))
payloadBad("limit-fractional", "limit 1.5", editCap({ limit: 1.5 }))
payloadBad("limit-huge", "limit 10^12 (above 10^9)", editCap({ limit: 1e12 }))
payloadBad("limit-string", 'limit "10"', editCap({ limit: "10" }))
payloadBad("limit-null", "limit null", editCap({ limit: null }))
payloadBad("limit-overflow", "limit 1e309 (parses as Infinity)", signedBytes(utf8(JSON.stringify(renewalPayload).replace('"limit":50', '"limit":1e309'))))
payloadBad("grace-days-negative", "graceDays -1", editCap({ graceDays: -1 }))
payloadBad("overage-percent-huge", "overagePercent 1001", editCap({ overagePercent: 1001 }))
payloadBad("on-limited-unknown", 'onLimited "delete-all"', editCap({ onLimited: "delete-all" }))
payloadBad("cap-extra-field", "a cap grant with an extra field", editCap({ unlimited: true }))
payloadBad("expires-impossible-date", "expiresAt 2027-02-30", editCap({ expiresAt: "2027-02-30T00:00:00Z" }))
payloadBad("expires-no-zone", "expiresAt without a zone", editCap({ expiresAt: "2027-12-01T00:00:00" }))
payloadBad("expires-offset", "expiresAt with a +02:00 offset", editCap({ expiresAt: "2027-12-01T00:00:00+02:00" }))
payloadBad("expires-epoch-number", "expiresAt as epoch milliseconds", editCap({ expiresAt: 1_827_619_200_000 }))
payloadBad("issued-before-1970", "issuedAt in year 999", editPayload({ issuedAt: "0999-01-01T00:00:00Z" }))
payloadBad("issued-missing", "no issuedAt", editPayload({ issuedAt: undefined }))
payloadBad("not-before-garbage", 'notBefore "tomorrow"', editPayload({ notBefore: "tomorrow" }))
payloadBad("license-id-missing", "no licenseId", editPayload({ licenseId: undefined }))
payloadBad("license-id-path", 'licenseId "../../etc/passwd"', editPayload({ licenseId: "../../etc/passwd" }))
payloadBad("license-id-too-long", "a 129-character licenseId", editPayload({ licenseId: "l".repeat(129) }))
payloadBad("type-unknown", 'type "forever"', editPayload({ type: "forever" }))
payloadBad("issued-to-missing", "no issuedTo", editPayload({ issuedTo: undefined }))
payloadBad("email-invalid", 'email "not-an-email"', editPayload({ issuedTo: { name: "Acme Corp", email: "not-an-email" } }))
payloadBad("email-with-space", "an email with a space", editPayload({ issuedTo: { name: "Acme Corp", email: "admin @acme.example" } }))
payloadBad("name-empty", "an empty licensee name", editPayload({ issuedTo: { name: "", email: EMAIL } }))
payloadBad("name-too-long", "a 201-character licensee name", editPayload({ issuedTo: { name: "N".repeat(201), email: EMAIL } }))
payloadBad("caps-empty", "caps {}", editPayload({ caps: {} }))
payloadBad("caps-unknown-cap", "a fourth, unknown cap only", editPayload({ caps: { robots: { limit: 1, expiresAt: "2027-12-01T00:00:00Z" } } }))
payloadBad("caps-too-many", "the three caps and a fourth", editPayload({ caps: { ...renewalPayload.caps, robots: { limit: 1, expiresAt: "2027-12-01T00:00:00Z" } } }))
payloadBad("payload-extra-field", "an extra top-level field (admin: true)", editPayload({ admin: true }))
payloadBad("payload-proto-key", "an extra top-level __proto__ field", signedBytes(utf8(JSON.stringify(renewalPayload).replace("{", '{"__proto__":{"admin":true},'))))
payloadBad("payload-kid-missing", "no kid in the payload", signedBytes(utf8(JSON.stringify({ ...renewalPayload, kid: undefined }))))
payloadBad("validation-missing", "no validation policy", editPayload({ validation: undefined }))
payloadBad("validation-required-string", 'validation.required "false"', editPayload({ validation: { required: "false", intervalHours: 24 } }))
payloadBad("interval-zero", "validation.intervalHours 0", editPayload({ validation: { required: false, intervalHours: 0 } }))
payloadBad("interval-huge", "validation.intervalHours 8761", editPayload({ validation: { required: false, intervalHours: 8761 } }))
payloadBad("portal-url-javascript", "portalUrl javascript:alert(1)", editPayload({ validation: { required: true, intervalHours: 24, portalUrl: "javascript:alert(1)" } }))
payloadBad("portal-url-file", "portalUrl file:///etc/passwd", editPayload({ validation: { required: true, intervalHours: 24, portalUrl: "file:///etc/passwd" } }))
payloadBad("portal-url-space", "a portalUrl with a space", editPayload({ validation: { required: true, intervalHours: 24, portalUrl: "https://portal.example/a b" } }))
payloadBad("portal-url-too-long", "a 2 049-character portalUrl", editPayload({ validation: { required: true, intervalHours: 24, portalUrl: "https://portal.example/" + "p".repeat(2049 - 23) } }))
payloadBad("installation-empty", 'installationId ""', editPayload({ installationId: "" }))
payloadBad("installation-bad-chars", "an installationId with a slash", editPayload({ installationId: "inst/../other" }))
payloadBad("warning-days-negative", "expiryWarningDays -1", editPayload({ expiryWarningDays: -1 }))
payloadBad("grace-period-fractional", "gracePeriodDays 1.5", editPayload({ gracePeriodDays: 1.5 }))

// Binding, rollback and time: genuine files, refused only given the Hub and the installed license.
staged("installation", "wrong-installation", `bound to another Hub (${OTHER_HUB})`, WRONG_INSTALLATION, "activation",
  { activation: WRONG_INSTALLATION, renewal: WRONG_INSTALLATION }, editPayload({ installationId: OTHER_HUB }))
staged("installation", "wrong-installation-case", "bound to this Hub's id in upper case", WRONG_INSTALLATION, "activation",
  { activation: WRONG_INSTALLATION, renewal: WRONG_INSTALLATION }, editPayload({ installationId: HUB.toUpperCase() }))
staged("installation", "wrong-installation-prefix", "bound to this Hub's id with a character appended", WRONG_INSTALLATION, "activation",
  { activation: WRONG_INSTALLATION, renewal: WRONG_INSTALLATION }, editPayload({ installationId: HUB + "0" }))
staged("rollback", "rollback-older", "issued 2026-04-01, before the installed license, with higher limits", ROLLBACK, "renewal",
  { activation: null, renewal: ROLLBACK }, signedPayload({ ...renewalPayload, issuedAt: "2026-04-01T00:00:00Z" }))
staged("rollback", "rollback-by-1ms", "issued 1 ms before the installed license", ROLLBACK, "renewal",
  { activation: null, renewal: ROLLBACK }, signedPayload({ ...renewalPayload, issuedAt: "2026-04-30T23:59:59.999Z" }))
staged("rollback", "rollback-old-generous", "issued 2025-12-01 with 1000 Runners until 2099", ROLLBACK, "renewal",
  { activation: null, renewal: ROLLBACK }, signedPayload({ ...installedPayload, issuedAt: "2025-12-01T00:00:00Z", caps: { unattended: { limit: 1000, expiresAt: "2099-01-01T00:00:00Z" } } }))
staged("time", "not-yet-valid", "valid from 2026-07-01 (issued before the installed license)", NOT_YET_VALID, "activation",
  { activation: NOT_YET_VALID, renewal: ROLLBACK }, signedPayload({ ...installedPayload, issuedAt: "2026-04-15T00:00:00Z", notBefore: "2026-07-01T00:00:00Z" }))
staged("time", "not-yet-valid-by-1ms", "valid from 1 ms after the activation instant", NOT_YET_VALID, "activation",
  { activation: NOT_YET_VALID, renewal: ROLLBACK }, signedPayload({ ...installedPayload, issuedAt: "2026-04-15T00:00:00Z", notBefore: "2026-06-01T00:00:00.001Z" }))
staged("time", "not-yet-valid-renewal", "a newer file valid from 2026-07-01: refused at activation, kept pending at renewal", NOT_YET_VALID, "activation",
  { activation: NOT_YET_VALID, renewal: "staged" }, signedPayload({ ...renewalPayload, issuedAt: "2026-05-25T00:00:00Z", notBefore: "2026-07-01T00:00:00Z" }))
staged("time", "expired", "every cap expired on 2026-01-01", EXPIRED, "activation",
  { activation: EXPIRED, renewal: ROLLBACK }, signedPayload({ ...installedPayload, issuedAt: "2025-01-01T00:00:00Z", caps: { unattended: { limit: 5, expiresAt: "2026-01-01T00:00:00Z" }, developer: { limit: 3, expiresAt: "2026-03-01T00:00:00Z" } } }))
staged("time", "expired-at-now", "every cap expires exactly at the activation instant", EXPIRED, "activation",
  { activation: EXPIRED, renewal: ROLLBACK }, signedPayload({ ...installedPayload, issuedAt: "2025-06-01T00:00:00Z", caps: { attended: { limit: 10, expiresAt: NOW } } }))
staged("time", "expired-in-grace", "expired the day before activation, still inside its 30-day grace", EXPIRED, "activation",
  { activation: EXPIRED, renewal: ROLLBACK }, signedPayload({ ...installedPayload, issuedAt: "2025-06-01T00:00:00Z", caps: { unattended: { limit: 5, expiresAt: "2026-05-31T00:00:00Z", graceDays: 30 } } }))

// Genuine files the tests need alongside the corpus.
const valid = [
  { file: "valid/installed.lic", description: "the license installed before renewal attempts (issued 2026-05-01)", content: installed },
  { file: "valid/renewal.lic", description: "a genuine newer renewal (issued 2026-05-20): the source of every tampered file", content: renewal },
  { file: "valid/bound-to-hub.lic", description: `the renewal bound to the corpus Hub ${HUB}`, content: editPayload({ installationId: HUB }) },
  { file: "valid/boundary-64k.lic", description: "the renewal padded with spaces to exactly 64 KiB (the largest accepted file)", content: padTo(renewal, MAX_BYTES) },
  { file: "valid/crlf.lic", description: "the renewal with CRLF line ends and surrounding blank lines", content: "\r\n" + renewal.replaceAll("\n", "\r\n") + "\r\n" }
].map((v) => ({ ...v, content: utf8(v.content) }))

// ---- output -----------------------------------------------------------------------------------------------

const manifest = {
  description:
    "Bad license files, each with the code the Hub must answer. `expect.verify` is what signature verification (Verifier, `exekra-license inspect`) answers, null when the file verifies; `expect.activation` / `expect.renewal` what activation and renewal (PUT /api/license) answer given `context` (null: accepted; \"staged\": kept pending, the installed license unchanged). `http` overrides the API's answer where it refuses the request before reading the license.",
  generator: "scripts/make-bad-licenses.mjs",
  vendorPublicKey: "vendor.pub",
  vendorKid: vendor.kid,
  strangerKid: stranger.kid,
  context: {
    now: NOW,
    hubInstallationId: HUB,
    installed: "valid/installed.lic",
    email: EMAIL
  },
  valid: valid.map(({ file, description }) => ({ file, description })),
  files: entries.map(({ content: _content, ...entry }) => entry)
}

const outputs = new Map([
  ["vendor.pub", utf8(vendor.publicKey.export({ format: "pem", type: "spki" }).toString())],
  ["manifest.json", utf8(JSON.stringify(manifest, null, 2) + "\n")],
  ...entries.map((e) => [e.file, e.content]),
  ...valid.map((v) => [v.file, v.content])
])

const listFiles = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? listFiles(join(dir, d.name)) : [relative(OUT, join(dir, d.name))]))

if (process.argv.includes("--check")) {
  const problems = []
  let present = []
  try {
    present = listFiles(OUT)
  } catch {
    problems.push(`${OUT} does not exist`)
  }
  for (const [file, content] of outputs) {
    let actual
    try {
      actual = readFileSync(join(OUT, file))
    } catch {
      problems.push(`missing ${file}`)
      continue
    }
    if (!actual.equals(content)) problems.push(`differs: ${file}`)
  }
  for (const file of present) if (!outputs.has(file)) problems.push(`not written by the generator: ${file}`)
  if (problems.length > 0) {
    console.error(`The bad-license corpus is out of date (run node scripts/make-bad-licenses.mjs):\n  ${problems.join("\n  ")}`)
    process.exit(1)
  }
  console.log(`corpus up to date: ${entries.length} bad files, ${valid.length} valid files`)
} else {
  rmSync(OUT, { recursive: true, force: true })
  for (const [file, content] of outputs) {
    mkdirSync(dirname(join(OUT, file)), { recursive: true })
    writeFileSync(join(OUT, file), content)
  }
  const counts = new Map()
  for (const e of entries) counts.set(e.code, (counts.get(e.code) ?? 0) + 1)
  const byCode = [...counts].map(([code, n]) => `${code} ${n}`)
  console.log(`wrote ${entries.length} bad files and ${valid.length} valid files to ${relative(process.cwd(), OUT)}\n  ${byCode.join("\n  ")}`)
}
