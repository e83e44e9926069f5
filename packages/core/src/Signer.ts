/** Issuing side: sign a license payload into an armoured `.lic` text with tweetnacl. */
import * as Schema from "effect/Schema"
import nacl from "tweetnacl"
import * as Envelope from "./Envelope.js"
import type { PrivateKey } from "./Keys.js"
import { LicensePayload } from "./License.js"

/** A payload as issued: the encoded (JSON) form, without `kid`, which the signing key supplies. */
export type Issuable = Omit<typeof LicensePayload.Encoded, "kid">

const encodePayload = Schema.encodeSync(LicensePayload)
const decodePayload = Schema.decodeUnknownSync(LicensePayload, { onExcessProperty: "error" })

/** Sign the exact bytes given as payload; for tests that need payloads the schema would refuse. */
export const signBytes = (payload: Uint8Array, key: PrivateKey): string =>
  Envelope.encode({
    kid: key.kid,
    payload,
    signature: nacl.sign.detached(Envelope.signingInput(payload), key.secretKey)
  })

/**
 * Sign a license. The payload is validated first (so the issuer can never produce a file the
 * Hub refuses as invalid) and `kid` is set to the signing key's id.
 */
export const sign = (payload: Issuable, key: PrivateKey): string => {
  const canonical = encodePayload(decodePayload({ ...payload, kid: key.kid }))
  return signBytes(new TextEncoder().encode(JSON.stringify(canonical)), key)
}
