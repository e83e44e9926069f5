/** The sign-in limit the Hub and the Portal share: attempts per client address within a window, counted in their stores. */
import { Clock, Effect } from "effect"

/** A client over the limit: how long it must wait, the sentence saying so, and whether this is its first refusal. */
export interface Lockout {
  readonly retryAfterSeconds: number
  readonly message: string
  /** The attempt just past the limit: the one to audit, so a flood of refusals does not flood the audit log. */
  readonly first: boolean
}

/**
 * Count an attempt from `client` before its password is checked, so parallel guesses cannot slip past the limit;
 * null while the client is within `maxAttempts` per `windowMs`, else its lockout.
 */
export const count = <E>(
  countAttempt: (key: string, now: number, windowMs: number) => Effect.Effect<{ readonly attempts: number; readonly start: number }, E>,
  client: string,
  windowMs: number,
  maxAttempts: number
): Effect.Effect<Lockout | null, E> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const counted = yield* countAttempt(`sign-in:${client}`, now, windowMs)
    if (counted.attempts <= maxAttempts) return null
    const retryAfterSeconds = Math.max(1, Math.ceil((counted.start + windowMs - now) / 1000))
    return {
      retryAfterSeconds,
      message: `Too many sign-in attempts from this address. Try again in ${Math.ceil(retryAfterSeconds / 60)} minute(s).`,
      first: counted.attempts === maxAttempts + 1
    }
  })
