/** CSRF protection of the pages' form posts: a token derived from the session, and a double-submit cookie before sign-in. */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"

/** Name of the hidden form field that carries the token. */
export const fieldName = "csrf"

/** Cookie of the double-submit token used by the forms shown before sign-in (activation, sign-in). */
export const cookieName = "exekra_csrf"

// Domain separation: the same session secret must never yield the same MAC for another purpose.
const LABEL = "exekra-pages-csrf/v1"

/**
 * The token of a signed-in session: an HMAC keyed by the session secret. The secret lives only in the
 * HttpOnly cookie, so another site can neither read nor compute the token; the token reveals nothing
 * about the secret; and it survives a Hub restart, as the session does.
 */
export const forSession = (sessionSecret: string): string => createHmac("sha256", sessionSecret).update(LABEL).digest("base64url")

/** A fresh random token for the double-submit cookie. */
export const newToken = (): string => randomBytes(32).toString("base64url")

/** Whether the presented token equals the expected one, in constant time; false when either is missing. */
export const matches = (expected: string | undefined, presented: string | undefined): boolean => {
  if (expected === undefined || presented === undefined || expected.length === 0) return false
  const a = Buffer.from(expected, "utf8")
  const b = Buffer.from(presented, "utf8")
  return a.length === b.length && timingSafeEqual(a, b)
}
