/** The set of vendor public keys a Hub trusts, addressed by key id (several at once for rotation). */
import type { PublicKey } from "./Keys.js"

/** Trusted public keys by `kid`. */
export interface Keyring {
  readonly keys: ReadonlyMap<string, PublicKey>
}

/** A keyring trusting exactly these keys. */
export const make = (keys: Iterable<PublicKey>): Keyring => ({ keys: new Map([...keys].map((k) => [k.kid, k])) })

/** The trusted key with this id, if any. */
export const get = (keyring: Keyring, kid: string): PublicKey | undefined => keyring.keys.get(kid)
