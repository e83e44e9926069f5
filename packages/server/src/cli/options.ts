/** Option parsing shared by the CLI commands. */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Keys from "@exekra/core/Keys"
import * as License from "@exekra/core/License"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as DevKit from "../DevKit.js"
import { CliError } from "./CliError.js"

/**
 * Parse a CLI date: `YYYY-MM-DD` (midnight UTC) or a full ISO-8601 UTC timestamp.
 * Returns the canonical ISO string the license payload uses.
 */
export const parseDate = (flag: string, value: string): Effect.Effect<string, CliError> => {
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value
  return License.isUtcTimestamp(iso)
    ? Effect.succeed(new Date(iso).toISOString().replace(".000Z", "Z"))
    : Effect.fail(new CliError({ code: "INVALID_OPTION", message: `--${flag} ${value} is not a date: use YYYY-MM-DD or an ISO-8601 UTC time such as 2027-01-31T12:00:00Z.` }))
}

/** Read a text file, failing with a CliError that names it. */
export const readText = (path: string): Effect.Effect<string, CliError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path)).pipe(
    Effect.mapError(() => new CliError({ code: "FILE_UNREADABLE", message: `Cannot read ${path}: check the path and its permissions.` }))
  )

/** Read an Ed25519 public key (SPKI PEM) from a file: the Hub's own reader, its error as a CliError. */
export const readPublicKey = (path: string) =>
  Effect.mapError(DevKit.readPublicKey(path), (e) => new CliError({ code: e.code, message: e.message }))

/** Read an Ed25519 private key (PKCS#8 PEM) from a file. */
export const readPrivateKey = (path: string) =>
  Effect.flatMap(readText(path), (text) =>
    Either.match(Keys.privateKeyFromPem(text), {
      onLeft: (e) => Effect.fail(new CliError({ code: "KEY_INVALID", message: `${path}: ${e.message}` })),
      onRight: Effect.succeed
    })
  )
