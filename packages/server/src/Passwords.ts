/** Admin password hashing with node:crypto scrypt, and the strength rule activation enforces. */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto"
import { Effect } from "effect"

// OWASP-recommended scrypt cost (N=2^15, r=8, p=1): ~50 ms per hash, 32 MiB of memory.
const N = 2 ** 15
const R = 8
const P = 1
const KEY_LENGTH = 32
const MAX_MEM = 64 * 1024 * 1024

const derive = (password: string, salt: Buffer, n: number, r: number, p: number) =>
  Effect.async<Buffer, Error>((resume) => {
    scrypt(password.normalize("NFKC"), salt, KEY_LENGTH, { N: n, r, p, maxmem: MAX_MEM }, (error, key) =>
      resume(error === null ? Effect.succeed(key) : Effect.fail(error))
    )
  })

/** Hash a password as `scrypt$N$r$p$salt$hash` (base64url parts). */
export const hash = (password: string): Effect.Effect<string> =>
  Effect.gen(function* () {
    const salt = randomBytes(16)
    const key = yield* Effect.orDie(derive(password, salt, N, R, P))
    return `scrypt$${N}$${R}$${P}$${salt.toString("base64url")}$${key.toString("base64url")}`
  })

/** Check a password against a stored hash in constant time; false for any malformed hash. */
export const verify = (password: string, stored: string): Effect.Effect<boolean> => {
  const parts = stored.split("$")
  if (parts.length !== 6 || parts[0] !== "scrypt") return Effect.succeed(false)
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4]!, "base64url")
  const expected = Buffer.from(parts[5]!, "base64url")
  if (![n, r, p].every(Number.isSafeInteger) || expected.length !== KEY_LENGTH) return Effect.succeed(false)
  return derive(password, salt, n, r, p).pipe(
    Effect.map((key) => timingSafeEqual(key, expected)),
    Effect.orElseSucceed(() => false)
  )
}

/** Minimum password length for the admin account. */
export const MIN_LENGTH = 12

/** Why a password is refused, or undefined when it is acceptable. */
export const weakness = (password: string, email: string): string | undefined => {
  if (password.length < MIN_LENGTH) return `The password must be at least ${MIN_LENGTH} characters long.`
  if (password.length > 1024) return "The password must be at most 1024 characters long."
  if (new Set(password).size < 5) return "The password repeats too few different characters. Choose a longer, more varied one."
  if (password.toLowerCase().includes(email.split("@")[0]!.toLowerCase()) && email.split("@")[0]!.length >= 4) {
    return "The password must not contain the email's user name."
  }
  return undefined
}
