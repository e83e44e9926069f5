// The vendor key and license files of the fault and load suites, with each file's fingerprint and ceilings.
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Cap, Keys, Signer, Verifier } from "@exekra/core"

/** A fixed vendor key, so files are reproducible. */
export const vendor = Keys.privateKeyFromSeed(new Uint8Array(32).fill(7))

export const email = "ops@fault.example"
export const password = "a sturdy passphrase 42"

/** The limit and overage of one cap. */
export interface Grant {
  readonly limit: number
  readonly overagePercent?: number
}

/** A signed file and what the tests compare the Hub's answers with. */
export interface LicenseFile {
  readonly text: string
  readonly fingerprint: string
  readonly licenseId: string
  readonly issuedAt: number
  readonly grants: Readonly<Partial<Record<Cap.Cap, Grant>>>
}

/** Most principals a cap admits: `floor(limit × (1 + overagePercent/100))` (DESIGN §4). */
export const ceiling = (grant: Grant): number => Math.floor((grant.limit * (100 + (grant.overagePercent ?? 0))) / 100)

/** Sign a production license granting `grants`, valid until 2099 and without required validation. */
export const issue = (grants: Readonly<Partial<Record<Cap.Cap, Grant>>>, options: { readonly licenseId?: string; readonly issuedAt?: string } = {}): LicenseFile => {
  const licenseId = options.licenseId ?? "lic_fault"
  const issuedAt = options.issuedAt ?? "2026-01-01T00:00:00Z"
  const caps = Object.fromEntries(
    Cap.all.flatMap((cap) => {
      const grant = grants[cap]
      return grant === undefined ? [] : [[cap, { ...grant, expiresAt: "2099-01-01T00:00:00Z" }]]
    })
  )
  const text = Signer.sign(
    {
      licenseId,
      type: "production",
      issuedTo: { name: "Fault Corp", email },
      issuedAt,
      caps,
      validation: { required: false, intervalHours: 24 }
    },
    vendor
  )
  return { text, fingerprint: Verifier.fingerprint(text), licenseId, issuedAt: Date.parse(issuedAt), grants }
}

/** Write the vendor's public key for `serve --public-key`; returns its path. */
export const writePublicKey = (dir: string): string => {
  const path = join(dir, "vendor.pub")
  writeFileSync(path, Keys.publicKeyToPem(vendor.publicKey))
  return path
}
