/** The Portal's errors as HTTP problems: domain refusals by their code's status, store failures as 503 (retry) or a logged 500. */
import { Effect } from "effect"
import * as Problem from "../../http/Problem.js"
import { type PortalError, statusOf } from "../PortalError.js"
import type { PortalStoreError } from "../PortalStore.js"

/** Seconds a 503 asks the client to wait. */
export const RETRY_AFTER_SECONDS = 2

/** The problem of a domain refusal. */
export const fromPortal = (error: PortalError): Problem.HttpProblem =>
  new Problem.HttpProblem({ status: statusOf[error.code], code: error.code, message: error.message, retryAfterSeconds: error.retryAfterSeconds })

/** Generic sentence of a 500: nothing about the internals reaches the client. */
export const internalError = (): Problem.HttpProblem => Problem.internalError("Portal")

/** A store failure: logged with its cause; the client learns only whether retrying may help. */
export const fromStore = (error: PortalStoreError): Effect.Effect<never, Problem.HttpProblem> =>
  Effect.zipRight(
    Effect.logError(`Portal store failure ${error.code}: ${error.message}`, error.cause ?? error),
    Effect.fail(
      error.code === "DATABASE_UNAVAILABLE"
        ? new Problem.HttpProblem({
            status: 503,
            code: "STORE_UNAVAILABLE",
            message: "The Portal's database is busy or unavailable. Try again in a moment.",
            retryAfterSeconds: RETRY_AFTER_SECONDS
          })
        : internalError()
    )
  )

/** Answer an effect's refusals and store failures as problems. */
export const answer = <A, R>(effect: Effect.Effect<A, PortalError | PortalStoreError, R>): Effect.Effect<A, Problem.HttpProblem, R> =>
  Effect.catchAll(effect, (error) => (error._tag === "PortalStoreError" ? fromStore(error) : Effect.fail(fromPortal(error))))
