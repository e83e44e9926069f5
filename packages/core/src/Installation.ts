/** Installation service: this Hub's stable id, created once and kept in the LicenseStore. */
import { randomBytes } from "node:crypto"
import { Context, Effect, Layer } from "effect"
import { LicenseStore, type StoreError } from "./LicenseStore.js"

/** The id that binds licenses to this Hub, shown on the activation screen and sent in validation pings. */
export class Installation extends Context.Tag("@exekra/core/Installation")<Installation, { readonly id: string }>() {}

// Crockford's base32 alphabet, lowercased: no i, l, o or u, so an id read aloud or retyped survives.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
const LENGTH = 26

/** Shape of an installation id: `inst_` and 26 base32 characters (130 random bits). */
export const idPattern = /^inst_[0-9abcdefghjkmnpqrstvwxyz]{26}$/

/** A new random installation id. */
export const generateId: Effect.Effect<string> = Effect.sync(() => {
  const bytes = randomBytes(Math.ceil((LENGTH * 5) / 8))
  let bits = 0
  let value = 0
  let out = "inst_"
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5 && out.length < 5 + LENGTH) {
      bits -= 5
      out += ALPHABET[(value >>> bits) & 31]
    }
    value &= (1 << bits) - 1
  }
  return out
})

/** The installation id in force: the stored one, or a new one stored now. */
export const make: Effect.Effect<Context.Tag.Service<Installation>, StoreError, LicenseStore> = Effect.gen(function* () {
  const store = yield* LicenseStore
  const id = yield* store.ensureInstallationId(yield* generateId)
  return { id }
})

/** Provides the installation id, stable across restarts because the store keeps it. */
export const layer: Layer.Layer<Installation, StoreError, LicenseStore> = Layer.effect(Installation, make)
