/** Development defaults for a Hub started without a vendor key: a local key pair and a demo trial license. */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as Keys from "@exekra/core/Keys"
import * as License from "@exekra/core/License"
import * as Signer from "@exekra/core/Signer"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as DataFiles from "./internal/dataFiles.js"

/** What the dev kit provides and where its files are. */
export interface DevKit {
  readonly publicKey: Keys.PublicKey
  readonly privateKeyPath: string
  /** A trial license signed with the dev key, ready to upload on the activation screen. */
  readonly licensePath: string
  /** The email the demo license is issued to: the admin signs up with it. */
  readonly email: string
}

/** Email of the demo license. */
export const DEMO_EMAIL = "admin@example.com"

/**
 * Create (once) `DIR/dev/private.key`, `public.key` and `demo-trial.lic`; later starts reuse them, so a
 * Hub activated with the demo license keeps trusting it. The trial runs 30 days from its creation. The
 * folder is owner-only (0700) and so are its files (0600), also when an earlier release left them open.
 */
export const ensure = (dataDir: string) =>
  Effect.gen(function* () {
    const dir = join(dataDir, "dev")
    const privateKeyPath = join(dir, "private.key")
    const publicKeyPath = join(dir, "public.key")
    const licensePath = join(dir, "demo-trial.lic")
    DataFiles.makeDirectory(dir)
    for (const path of [dir, privateKeyPath, publicKeyPath, licensePath]) if (existsSync(path)) DataFiles.restrict(path)
    const key = existsSync(privateKeyPath)
      ? yield* Either.match(Keys.privateKeyFromPem(readFileSync(privateKeyPath, "utf8")), { onLeft: Effect.fail, onRight: Effect.succeed })
      : Keys.generate()
    if (!existsSync(privateKeyPath)) {
      DataFiles.writeFile(privateKeyPath, Keys.privateKeyToPem(key))
      DataFiles.writeFile(publicKeyPath, Keys.publicKeyToPem(key.publicKey))
    }
    if (!existsSync(licensePath)) {
      const now = yield* Clock.currentTimeMillis
      const iso = (t: number) => new Date(Math.floor(t / 1000) * 1000).toISOString().replace(".000Z", "Z")
      const expiresAt = iso(now + License.days(30))
      const text = Signer.sign(
        {
          licenseId: `lic_demo_${key.kid.slice(0, 8)}`,
          type: "trial",
          issuedTo: { name: "Demo Customer", email: DEMO_EMAIL },
          issuedAt: iso(now),
          caps: {
            unattended: { limit: 5, expiresAt },
            developer: { limit: 3, expiresAt },
            attended: { limit: 10, expiresAt }
          },
          expiryWarningDays: 7,
          gracePeriodDays: 0,
          validation: { required: false, intervalHours: 24 }
        },
        key
      )
      DataFiles.writeFile(licensePath, text)
    }
    return { publicKey: key.publicKey, privateKeyPath, licensePath, email: DEMO_EMAIL } satisfies DevKit
  })

/** A configured vendor public key file could not be read or is not an Ed25519 public key. */
export class TrustedKeyError extends Data.TaggedError("TrustedKeyError")<{
  readonly code: "FILE_UNREADABLE" | "KEY_INVALID"
  readonly path: string
  readonly message: string
}> {}

/** The keys a Hub trusts and, when it fell back to them, the development defaults. */
export interface TrustedKeys {
  readonly publicKeys: ReadonlyArray<Keys.PublicKey>
  /** Set when no vendor key was configured and the dev kit supplies the key. */
  readonly dev: DevKit | undefined
}

/** Read an Ed25519 public key (SPKI PEM) from a file, failing with a code that names the file. */
export const readPublicKey = (path: string): Effect.Effect<Keys.PublicKey, TrustedKeyError> =>
  Effect.try({
    try: () => readFileSync(path, "utf8"),
    catch: () => new TrustedKeyError({ code: "FILE_UNREADABLE", path, message: `Cannot read the public key ${path}: check the path and its permissions.` })
  }).pipe(
    Effect.flatMap((text) =>
      Either.match(Keys.publicKeyFromPem(text), {
        onLeft: (e) => Effect.fail(new TrustedKeyError({ code: "KEY_INVALID", path, message: `${path}: ${e.message}` })),
        onRight: Effect.succeed
      })
    )
  )

/**
 * Resolve the vendor public keys a Hub trusts: the PEM files in `paths`, else those named by
 * `EXEKRA_PUBLIC_KEYS` (comma-separated), else the development key of {@link ensure}.
 */
export const trustedKeys = (dataDir: string, paths: ReadonlyArray<string> = []) =>
  Effect.gen(function* () {
    const configured =
      paths.length > 0 ? paths : yield* Config.array(Config.string(), "EXEKRA_PUBLIC_KEYS").pipe(Config.withDefault<ReadonlyArray<string>>([]))
    const files = configured.map((path) => path.trim()).filter((path) => path !== "")
    if (files.length > 0) {
      const publicKeys = yield* Effect.forEach(files, readPublicKey)
      return { publicKeys, dev: undefined } satisfies TrustedKeys
    }
    const dev = yield* ensure(dataDir)
    return { publicKeys: [dev.publicKey], dev } satisfies TrustedKeys
  })
