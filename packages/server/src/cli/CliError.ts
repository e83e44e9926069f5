/** Failures of CLI commands that are not license errors: bad options, unreadable files. */
import * as Data from "effect/Data"

/** A command could not do what was asked; `code` is printed on stderr. */
export class CliError extends Data.TaggedError("CliError")<{
  readonly code: "INVALID_OPTION" | "FILE_UNREADABLE" | "FILE_EXISTS" | "KEY_INVALID" | "FILE_UNWRITABLE"
  readonly message: string
}> {}
