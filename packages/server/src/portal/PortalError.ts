/** The Customer Portal's typed errors: one class, a stable `code`, the HTTP status of each code, and a sentence a vendor or customer can act on. */
import { Schema } from "effect"

/** Every code the Portal's domain answers with, and its HTTP status. */
export const statusOf = {
  INVALID_CREDENTIALS: 401,
  UNAUTHORIZED: 401,
  STAFF_ONLY: 403,
  CUSTOMER_ONLY: 403,
  PASSWORD_CHANGE_REQUIRED: 403,
  CUSTOMER_NOT_FOUND: 404,
  LICENSE_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  ACCOUNT_NOT_FOUND: 404,
  EMAIL_TAKEN: 409,
  TOKEN_EXISTS: 409,
  TRIAL_ALREADY_TAKEN: 409,
  TRIAL_NOT_AVAILABLE: 409,
  LICENSE_REVOKED: 409,
  LICENSE_ALREADY_BOUND: 409,
  LICENSE_CHANGED: 409,
  INVITE_INVALID: 410,
  LICENSE_TERMS_INVALID: 422,
  INSTALLATION_ID_INVALID: 422,
  EMAIL_INVALID: 422,
  NAME_INVALID: 422,
  PASSWORD_TOO_WEAK: 422,
  PASSWORD_WRONG: 422,
  TOO_MANY_ATTEMPTS: 429
} as const

/** A stable code of {@link PortalError}. */
export type PortalErrorCode = keyof typeof statusOf

/** The codes as a schema. */
export const PortalErrorCode = Schema.Literal(...(Object.keys(statusOf) as [PortalErrorCode, ...Array<PortalErrorCode>]))

/** A refusal of the Portal's domain; `message` says what to do about it. */
export class PortalError extends Schema.TaggedError<PortalError>("@exekra/server/PortalError")("PortalError", {
  code: PortalErrorCode,
  message: Schema.String,
  /** For `TOO_MANY_ATTEMPTS`: seconds until sign-in is allowed again. */
  retryAfterSeconds: Schema.optional(Schema.Int)
}) {}

/** A PortalError of `code`. */
export const make = (code: PortalErrorCode, message: string, retryAfterSeconds?: number): PortalError =>
  new PortalError(retryAfterSeconds === undefined ? { code, message } : { code, message, retryAfterSeconds })

/** Codes answered with `status`, for the OpenAPI document. */
export const codesWithStatus = (status: number): ReadonlyArray<PortalErrorCode> =>
  (Object.keys(statusOf) as Array<PortalErrorCode>).filter((code) => statusOf[code] === status)
