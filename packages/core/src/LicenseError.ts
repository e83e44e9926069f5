/** Typed failures of reading, verifying and installing a license file, each with a stable code. */
import * as Schema from "effect/Schema"

/** Stable codes for every way a license file can be refused. */
export const LicenseErrorCode = Schema.Literal(
  "LICENSE_MALFORMED",
  "LICENSE_TOO_LARGE",
  "LICENSE_UNSUPPORTED_VERSION",
  "LICENSE_UNSUPPORTED_ALGORITHM",
  "LICENSE_UNKNOWN_KEY",
  "LICENSE_SIGNATURE_INVALID",
  "LICENSE_KEY_MISMATCH",
  "LICENSE_PAYLOAD_INVALID",
  "LICENSE_WRONG_INSTALLATION",
  "LICENSE_NOT_YET_VALID",
  "LICENSE_EXPIRED",
  "LICENSE_ROLLBACK",
  "LICENSE_NOT_INSTALLED"
)
export type LicenseErrorCode = typeof LicenseErrorCode.Type

/** The default sentence for each code: what happened and what the admin can do. */
export const defaultMessages: Readonly<Record<LicenseErrorCode, string>> = {
  LICENSE_MALFORMED:
    "The file is not a readable Exekra license. Download the .lic file from the Customer Portal again and upload it unchanged.",
  LICENSE_TOO_LARGE: "The file is larger than 64 KiB, so it cannot be an Exekra license. Check that you chose the .lic file.",
  LICENSE_UNSUPPORTED_VERSION:
    "This license file uses a format version this Hub does not understand. Update the Hub or ask for a license in the current format.",
  LICENSE_UNSUPPORTED_ALGORITHM:
    "This license file is signed with an algorithm this Hub does not accept. Ask the vendor for an Ed25519-signed license.",
  LICENSE_UNKNOWN_KEY:
    "This license is signed with a key this Hub does not trust. Make sure the file comes from your vendor's Customer Portal for this product.",
  LICENSE_SIGNATURE_INVALID:
    "The license signature does not match its contents: the file was changed after it was issued. Download it again from the Customer Portal.",
  LICENSE_KEY_MISMATCH:
    "The key named inside the license differs from the key that signed it. Download the file again from the Customer Portal.",
  LICENSE_PAYLOAD_INVALID:
    "The license is signed but its contents are invalid. Contact the vendor: the issued license needs to be corrected.",
  LICENSE_WRONG_INSTALLATION:
    "This license is bound to a different Hub installation. Request a license for this installation id from the Customer Portal.",
  LICENSE_NOT_YET_VALID: "This license is not valid yet. It can be installed once its start date has passed.",
  LICENSE_EXPIRED: "Every capacity in this license has expired. Download a renewed license from the Customer Portal.",
  LICENSE_ROLLBACK:
    "This license is older than the one installed. Upload the newest license file from the Customer Portal.",
  LICENSE_NOT_INSTALLED: "No license is installed on this Hub. Activate it with a .lic file from the Customer Portal."
}

/** A license file was refused; `code` is stable, `message` tells the admin what to do. */
export class LicenseError extends Schema.TaggedError<LicenseError>("@exekra/core/LicenseError")("LicenseError", {
  code: LicenseErrorCode,
  message: Schema.String
}) {
  /** Build the error for a code, with its default sentence unless a more specific one is given. */
  static of(code: LicenseErrorCode, message?: string): LicenseError {
    return new LicenseError({ code, message: message ?? defaultMessages[code] })
  }
}
