// Bench: license verifications per second with tweetnacl and node:crypto, and memoised checks.
import { Keyring, Keys, Signer, Verifier } from "@exekra/core"
import { Effect } from "effect"
import { opsPerSecond, rate } from "./measure.mjs"

/** Measure and return table rows; every ratio is against tweetnacl measured in the same run. */
export const run = () => {
  const key = Keys.generate()
  const keyring = Keyring.make([key.publicKey])
  const text = Signer.sign(
    {
      licenseId: "lic_bench",
      type: "production",
      issuedTo: { name: "Bench Corp", email: "admin@bench.example" },
      issuedAt: "2026-01-01T00:00:00Z",
      caps: { unattended: { limit: 10, expiresAt: "2027-01-01T00:00:00Z" }, developer: { limit: 5, expiresAt: "2027-01-01T00:00:00Z" } },
      validation: { required: false, intervalHours: 24 }
    },
    key
  )
  const fresh = (primitive) => () => {
    const result = Verifier.verifyWith(keyring, primitive, text)
    if (result._tag !== "Right") throw new Error("bench license did not verify")
  }
  const nacl = opsPerSecond(fresh(Verifier.tweetnaclPrimitive))
  const node = opsPerSecond(fresh(Verifier.nodeCryptoPrimitive()))
  const memo = Verifier.make(keyring, Verifier.nodeCryptoPrimitive())
  const verifyMemo = memo.verify(text)
  const memoised = opsPerSecond(() => Effect.runSync(verifyMemo))
  return [
    { figure: "verify/s, tweetnacl", value: rate(nacl), baseline: "(baseline)", ratio: "1.0×" },
    { figure: "verify/s, node:crypto", value: rate(node), baseline: "tweetnacl", ratio: `${(node / nacl).toFixed(1)}×` },
    { figure: "verify/s, memoised (same bytes)", value: rate(memoised), baseline: "tweetnacl", ratio: `${(memoised / nacl).toFixed(0)}×` }
  ]
}
