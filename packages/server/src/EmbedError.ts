/** Typed failures of embedding the Hub (`createHub`, `createLicenseHandler`): options it refuses, and calls it cannot serve. */
import { Data } from "effect"

/**
 * An option of `createHub` or `createLicenseHandler` is invalid: `option` names it (`"publicKeys"`, `"http.prefix"`),
 * `message` says what was wrong and how to fix it. Raised before anything is opened or listened on.
 */
export class HubOptionsError extends Data.TaggedError("HubOptionsError")<{
  readonly code: "HUB_OPTIONS_INVALID"
  /** The option at fault, as it is spelled in the options object (`"http.maxBodyBytes"` for a nested one). */
  readonly option: string
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * A call the hub cannot serve: it was closed (`HUB_CLOSED`), or an argument is not a cap (`CAP_INVALID`) or not a
 * principal id the Hub API could address later (`PRINCIPAL_INVALID`, the same rule as `POST /api/caps/{cap}/principals`).
 */
export class HubCallError extends Data.TaggedError("HubCallError")<{
  readonly code: "HUB_CLOSED" | "CAP_INVALID" | "PRINCIPAL_INVALID"
  readonly message: string
}> {}
