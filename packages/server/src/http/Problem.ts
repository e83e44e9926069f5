/** Errors over HTTP as RFC 9457 `application/problem+json`: one typed error, its schema per status, and the status of every domain code. */
import { HttpApiSchema, HttpServerResponse } from "@effect/platform"
import type { Admission, LicenseError, LicenseErrorCode, LicenseStore } from "@exekra/core"
import { Effect, Schema } from "effect"
import type { AuthError, AuthErrorCode } from "../AdminAuth.js"
import type { ActivationError, ActivationErrorCode } from "../ActivationError.js"
import type { LeaseError } from "../Leases.js"

/** Media type of every error body. */
export const contentType = "application/problem+json"

/** An error answered over HTTP: `status`, a stable `code` and an actionable `message` (the body's `detail`). */
export class HttpProblem extends Schema.TaggedError<HttpProblem>("@exekra/server/HttpProblem")("HttpProblem", {
  status: Schema.Int,
  code: Schema.String,
  message: Schema.String,
  /** Sent as `Retry-After` (seconds), not in the body. */
  retryAfterSeconds: Schema.optional(Schema.Int)
}) {}

/** The problem's `type`: a URN naming its code, stable like the code itself. */
export const typeOf = (code: string): string => `urn:exekra:problem:${code}`

/** The problem's `title`: the code in words, the same for every occurrence of the type. */
export const titleOf = (code: string): string => {
  const words = code.toLowerCase().replaceAll("_", " ")
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/**
 * The schema of problems with one status, for an endpoint's (or the API's) error list. `codes` are
 * the codes the endpoint answers with at that status: they document the OpenAPI `code` enum.
 */
export const schema = <const S extends number>(status: S, codes: ReadonlyArray<string>, description: string) =>
  Schema.transform(
    Schema.Struct({
      type: Schema.String,
      title: Schema.String,
      status: Schema.Literal(status),
      code: Schema.String.annotations({ jsonSchema: { type: "string", enum: codes } }),
      detail: Schema.String
    }),
    // Several schemas share the class; the status tells the encoder which one (and so which HTTP status) applies.
    Schema.typeSchema(HttpProblem).pipe(Schema.filter((problem) => problem.status === status)),
    {
      strict: true,
      decode: (body) => new HttpProblem({ status: body.status, code: body.code, message: body.detail }),
      encode: (problem) => ({ type: typeOf(problem.code), title: titleOf(problem.code), status, code: problem.code, detail: problem.message })
    }
  ).pipe(HttpApiSchema.withEncoding({ kind: "Json", contentType }), (s) => s.annotations({ ...HttpApiSchema.annotations({ status }), description }))

/** A problem with a status and a code. */
export const make = (status: number, code: string, message: string): HttpProblem => new HttpProblem({ status, code, message })

// ---- domain codes → HTTP ------------------------------------------------------------------------
//
// 400: the upload cannot be read or authenticated as a license of this vendor (the file is bad).
// 413: the upload is too large to be a license.
// 422: the license is authentic but not acceptable for this Hub or not at this time, or the
//      activation form's email or password is refused.
// 409: the request conflicts with the Hub's state (already activated, not yet activated, rollback).
// 403: admission refusals (DESIGN §4).

const licenseStatus: Readonly<Record<LicenseErrorCode, number>> = {
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

const activationStatus: Readonly<Record<ActivationErrorCode, number>> = {
  ADMIN_EMAIL_MISMATCH: 422,
  PASSWORD_TOO_WEAK: 422,
  ALREADY_ACTIVATED: 409,
  NOT_ACTIVATED: 409
}

const authStatus: Readonly<Record<AuthErrorCode, number>> = {
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  TOO_MANY_ATTEMPTS: 429,
  TOKEN_EXISTS: 409,
  TOKEN_NOT_FOUND: 404
}

/** Codes of each status, as the endpoints document them. */
export const codesWithStatus = (status: number): ReadonlyArray<string> =>
  [licenseStatus, activationStatus, authStatus].flatMap((table) => Object.entries(table).filter(([, s]) => s === status).map(([code]) => code))

/** Every error the domain answers with, as opposed to the store failing. */
export type DomainError = LicenseError | ActivationError | Admission.AdmissionError | AuthError | LeaseError

/** The problem of a domain error: its code, its status, and its sentence as the detail. */
export const fromDomain = (error: DomainError): HttpProblem => {
  switch (error._tag) {
    case "LicenseError":
      return make(licenseStatus[error.code], error.code, error.message)
    case "ActivationError":
      return make(activationStatus[error.code], error.code, error.message)
    case "AdmissionError":
      return make(403, error.code, error.message)
    case "LeaseError":
      // 422: the request is well-formed, but the values are outside what a lease may be.
      return make(422, error.code, error.message)
    case "AuthError":
      return new HttpProblem({ status: authStatus[error.code], code: error.code, message: error.message, retryAfterSeconds: error.retryAfterSeconds })
  }
}

/**
 * Generic sentence of a 500: nothing about the internals reaches the client. `product` is the server that answers,
 * as the sentence names it ("Hub", the default, or "Portal": both use this module).
 */
export const internalError = (product: string = "Hub"): HttpProblem =>
  make(500, "INTERNAL_ERROR", `The ${product} hit an unexpected error. Try again; if it keeps happening, the ${product}'s log has the details.`)

/** What a 503 for an unavailable store asks clients to wait before retrying. */
export const STORE_RETRY_AFTER_SECONDS = 2

/** A store failure: logged with its cause; the client learns only whether retrying may help. */
export const fromStore = (error: LicenseStore.StoreError): Effect.Effect<never, HttpProblem> =>
  Effect.zipRight(
    Effect.logError(`Store failure ${error.code}: ${error.message}`, error.cause ?? error),
    Effect.fail(
      error.code === "STORE_UNAVAILABLE"
        ? new HttpProblem({
            status: 503,
            code: "STORE_UNAVAILABLE",
            message: "The Hub's database is busy or unavailable. Try again in a moment.",
            retryAfterSeconds: STORE_RETRY_AFTER_SECONDS
          })
        : internalError()
    )
  )

/** Answer an effect's domain and store failures as problems. */
export const answer = <A, E extends DomainError | LicenseStore.StoreError, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, HttpProblem, R> =>
  Effect.catchAll(effect, (error: DomainError | LicenseStore.StoreError) =>
    error._tag === "StoreError" ? fromStore(error) : Effect.fail(fromDomain(error))
  )

/**
 * A problem as a response of its own, for routes outside the `HttpApi` (e.g. `GET /metrics`): the same body the API's
 * encoder writes, `Retry-After` when the problem asks for one, and `WWW-Authenticate: Bearer` on a 401.
 */
export const toResponse = (problem: HttpProblem): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    { type: typeOf(problem.code), title: titleOf(problem.code), status: problem.status, code: problem.code, detail: problem.message },
    {
      status: problem.status,
      contentType,
      headers: {
        ...(problem.retryAfterSeconds === undefined ? {} : { "retry-after": String(problem.retryAfterSeconds) }),
        ...(problem.status === 401 ? { "www-authenticate": "Bearer" } : {})
      }
    }
  )
