// The bad-license corpus (test/fixtures/bad-licenses/, written by scripts/make-bad-licenses.mjs) as typed data, and the soak profile switches.
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Keyring, Keys, type LicenseErrorCode } from "@exekra/core"
import { Either } from "effect"

/** The corpus folder. */
export const corpusDir = fileURLToPath(new URL("../fixtures/bad-licenses/", import.meta.url))

/** One bad file and what every surface must answer for it. */
export interface BadFile {
  readonly file: string
  readonly category: string
  readonly description: string
  /** The code that defines the file. */
  readonly code: LicenseErrorCode
  /** Where `code` arises: on any read, or only at activation or renewal given the context. */
  readonly stage: "verify" | "activation" | "renewal"
  readonly expect: {
    readonly verify: LicenseErrorCode | null
    readonly activation: LicenseErrorCode | null
    readonly renewal: LicenseErrorCode | "staged"
  }
  /** The API's answer when it refuses the request before the license is read (body limit). */
  readonly http?: { readonly status: number; readonly code: string }
}

/** The manifest: the files, the valid references and the context the codes depend on. */
export interface Manifest {
  readonly vendorPublicKey: string
  readonly vendorKid: string
  readonly strangerKid: string
  readonly context: {
    /** The instant activation and renewal are attempted at. */
    readonly now: string
    /** The installation id of the Hub the corpus is run against. */
    readonly hubInstallationId: string
    /** The license installed before renewal attempts. */
    readonly installed: string
    readonly email: string
  }
  readonly valid: ReadonlyArray<{ readonly file: string; readonly description: string }>
  readonly files: ReadonlyArray<BadFile>
}

export const manifest = JSON.parse(readFileSync(`${corpusDir}manifest.json`, "utf8")) as Manifest

/** A corpus file's exact bytes. */
export const bytesOf = (file: string): Uint8Array => new Uint8Array(readFileSync(`${corpusDir}${file}`))

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })
/** A corpus file's text, or undefined when it is not UTF-8 (it can only travel as bytes, e.g. multipart). */
export const textOf = (file: string): string | undefined => {
  try {
    return strictUtf8.decode(bytesOf(file))
  } catch {
    return undefined
  }
}

/** The corpus vendor key, and a keyring trusting only it. */
export const vendorPublicKey = Either.getOrThrow(Keys.publicKeyFromPem(readFileSync(`${corpusDir}${manifest.vendorPublicKey}`, "utf8")))
export const corpusKeyring = Keyring.make([vendorPublicKey])
/** Epoch ms of the corpus's activation instant. */
export const corpusNow = Date.parse(manifest.context.now)
/** A password activation accepts, so a file that slipped through would really activate the Hub. */
export const corpusPassword = "a sturdy corpus passphrase 7"

/**
 * HTTP status of each license code (an oracle written here, independently of Problem.ts): 400 the file
 * is unreadable or not authentic, 413 too large, 422 authentic but unacceptable here or now, 409 older.
 */
export const statusOfCode: Readonly<Record<LicenseErrorCode, number>> = {
  LICENSE_MALFORMED: 400,
  LICENSE_UNSUPPORTED_VERSION: 400,
  LICENSE_UNSUPPORTED_ALGORITHM: 400,
  LICENSE_UNKNOWN_KEY: 400,
  LICENSE_SIGNATURE_INVALID: 400,
  LICENSE_KEY_MISMATCH: 400,
  LICENSE_TOO_LARGE: 413,
  LICENSE_PAYLOAD_INVALID: 422,
  LICENSE_WRONG_INSTALLATION: 422,
  LICENSE_NOT_YET_VALID: 422,
  LICENSE_EXPIRED: 422,
  LICENSE_ROLLBACK: 409,
  LICENSE_NOT_INSTALLED: 409
}

// ---- profiles -------------------------------------------------------------------------------------------

/**
 * The bench/soak profile: `EXEKRA_SOAK=1` runs the CLI over the whole corpus and fuzzes 10 000 cases per
 * property; `FUZZ_RUNS=N` sets the fuzz cases per property on its own. CI runs a subset and a few hundred.
 */
export const soak = process.env["EXEKRA_SOAK"] === "1"

/** Fuzz cases per property: FUZZ_RUNS when set, 10 000 in the soak profile, else `ci`. */
export const fuzzRuns = (ci: number): number => {
  const fromEnv = Number(process.env["FUZZ_RUNS"])
  return Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : soak ? 10_000 : ci
}
