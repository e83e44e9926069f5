/** Typed failures of Hub activation that are not about the license file itself. */
import { Schema } from "effect"

/** Stable codes of activation failures that are not about the file itself. */
export const ActivationErrorCode = Schema.Literal("ADMIN_EMAIL_MISMATCH", "PASSWORD_TOO_WEAK", "ALREADY_ACTIVATED", "NOT_ACTIVATED")
export type ActivationErrorCode = typeof ActivationErrorCode.Type

/** Activation (or an operation needing it) was refused; `message` tells the admin what to do. */
export class ActivationError extends Schema.TaggedError<ActivationError>("@exekra/server/ActivationError")("ActivationError", {
  code: ActivationErrorCode,
  message: Schema.String
}) {}
