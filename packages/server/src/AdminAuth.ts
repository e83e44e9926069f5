/** AdminAuth service: admin sign-in with a per-client rate limit, sessions and admin-issued API tokens. */
import { createHash, randomBytes, randomUUID } from "node:crypto"
import { LicenseStore } from "@exekra/core"
import { Clock, Context, Duration, Effect, Layer, Option, Schema } from "effect"
import * as SignInLimit from "./internal/signInLimit.js"
import * as Passwords from "./Passwords.js"

/** Stable codes of authentication failures. */
export const AuthErrorCode = Schema.Literal("UNAUTHORIZED", "INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS", "TOKEN_EXISTS", "TOKEN_NOT_FOUND")
export type AuthErrorCode = typeof AuthErrorCode.Type

/** Authentication or token management was refused; `message` tells the caller what to do. */
export class AuthError extends Schema.TaggedError<AuthError>("@exekra/server/AuthError")("AuthError", {
  code: AuthErrorCode,
  message: Schema.String,
  /** For `TOO_MANY_ATTEMPTS`: seconds until sign-in is allowed again. */
  retryAfterSeconds: Schema.optional(Schema.Int)
}) {}

/** Who an accepted credential belongs to: the admin's session, or an API token by name. */
export interface Principal {
  readonly kind: "session" | "api"
  readonly name: string
}

/** A new sign-in session; `token` is the secret, shown once. */
export interface Session {
  readonly token: string
  readonly expiresAt: number
}

/** An API token as listed: never its secret. */
export interface ApiToken {
  readonly name: string
  readonly createdAt: number
}

/** Tuning of sessions and the sign-in rate limit. */
export interface Options {
  /** How long a session lasts (default 12 hours). */
  readonly sessionTtl?: Duration.DurationInput
  /** Sign-in attempts a client may make per window before it is refused (default 5). */
  readonly maxAttempts?: number
  /** Length of the rate-limit window, counted from the client's first attempt (default 15 minutes). */
  readonly attemptWindow?: Duration.DurationInput
}

/** Admin authentication over the LicenseStore's admin account and credentials table. */
export class AdminAuth extends Context.Tag("@exekra/server/AdminAuth")<AdminAuth, AdminAuth.Service>() {}

export declare namespace AdminAuth {
  /** The service's interface. */
  export interface Service {
    /** Check the admin's email (case-insensitive) and password; `client` keys the rate limit and the audit line. */
    readonly signIn: (email: string, password: string, client: string) => Effect.Effect<Session, AuthError | LicenseStore.StoreError>
    /** Resolve a session or API token secret; fails with `UNAUTHORIZED` for unknown or expired ones. */
    readonly authenticate: (token: string) => Effect.Effect<Principal, AuthError | LicenseStore.StoreError>
    /** End the session whose secret this is; API tokens are left alone (revoke those by name). */
    readonly signOut: (token: string) => Effect.Effect<void, LicenseStore.StoreError>
    /** Issue a non-expiring API token; the returned secret is never stored and cannot be shown again. */
    readonly createApiToken: (name: string, actor: string) => Effect.Effect<ApiToken & { readonly token: string }, AuthError | LicenseStore.StoreError>
    readonly listApiTokens: Effect.Effect<ReadonlyArray<ApiToken>, LicenseStore.StoreError>
    readonly revoke: (name: string, actor: string) => Effect.Effect<void, AuthError | LicenseStore.StoreError>
  }
}

/** SHA-256 (hex) of a secret: the only form in which credentials are stored and looked up. */
export const hashSecret = (secret: string): string => createHash("sha256").update(secret, "utf8").digest("hex")

// 32 random bytes: 256 bits, beyond guessing; base64url so the token travels in headers and cookies unescaped.
const newSecret = (): string => randomBytes(32).toString("base64url")
// API tokens carry a prefix so secret scanners and humans can tell them from session tokens.
const API_TOKEN_PREFIX = "exk_"
// Longer inputs cannot be our tokens: refuse them before hashing attacker-sized strings.
const MAX_TOKEN_LENGTH = 256
// Most credentials remembered as confirmed; past it the memory starts afresh (the store still answers).
const MAX_CACHED = 1024

/**
 * How long an accepted credential is trusted without asking the store again. Bounds how late a sign-out or a revoked
 * token made on another node takes effect here; while the store is unreachable, credentials seen before keep working.
 */
const CREDENTIAL_CACHE_MS = 500

const unauthorized = (message = "Sign in, or send an admin-issued API token as `Authorization: Bearer <token>`.") =>
  new AuthError({ code: "UNAUTHORIZED", message })

/** Build the service over the store in context. */
export const make = (options: Options = {}): Effect.Effect<AdminAuth.Service, never, LicenseStore.LicenseStore> =>
  Effect.gen(function* () {
    const store = yield* LicenseStore.LicenseStore
    const sessionTtl = Duration.toMillis(options.sessionTtl ?? Duration.hours(12))
    const maxAttempts = options.maxAttempts ?? 5
    const window = Duration.toMillis(options.attemptWindow ?? Duration.minutes(15))
    // Checked against when no admin exists or the email is wrong, so a refusal costs one scrypt either way
    // and timing does not reveal whether the email was right.
    const decoyHash = yield* Effect.cached(Passwords.hash(randomUUID()))

    const audit = (record: Omit<LicenseStore.AuditRecord, "at" | "cap" | "principal">) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => store.appendAudit({ ...record, at, cap: null, principal: null }))

    /**
     * Count an attempt before checking it, so parallel guesses cannot slip past the limit. The count lives in the
     * store: five failures across every node of the Hub, not five per node.
     */
    const admitAttempt = (client: string, email: string) =>
      Effect.gen(function* () {
        const lockout = yield* SignInLimit.count((key, now, windowMs) => store.countAttempt(key, now, windowMs), client, window, maxAttempts)
        if (lockout === null) return
        const error = new AuthError({ code: "TOO_MANY_ATTEMPTS", message: lockout.message, retryAfterSeconds: lockout.retryAfterSeconds })
        if (lockout.first) yield* audit({ actor: client, action: "sign-in", outcome: "denied", code: error.code, detail: `as ${email.slice(0, 254)}` })
        return yield* error
      })

    // Accepted credentials by hash, with when the store last confirmed them.
    const confirmed = new Map<string, { readonly credential: LicenseStore.Credential; readonly at: number }>()

    const signIn: AdminAuth.Service["signIn"] = (email, password, client) =>
      Effect.gen(function* () {
        yield* admitAttempt(client, email)
        const admin = yield* store.getAdmin
        const emailMatches = Option.isSome(admin) && admin.value.email.toLowerCase() === email.trim().toLowerCase()
        const hash = Option.isSome(admin) && emailMatches ? admin.value.passwordHash : yield* decoyHash
        const passwordMatches = yield* Passwords.verify(password, hash)
        if (!emailMatches || !passwordMatches) {
          const error = new AuthError({ code: "INVALID_CREDENTIALS", message: "The email or password is wrong. Use the admin email the license was issued to." })
          yield* audit({ actor: client, action: "sign-in", outcome: "failed", code: error.code, detail: `as ${email.slice(0, 254)}` })
          return yield* error
        }
        yield* store.clearAttempts(`sign-in:${client}`)
        const now = yield* Clock.currentTimeMillis
        // Sessions that ran out are removed here rather than by a timer: sign-in is rare and the table small.
        for (const expired of (yield* store.listCredentials("session")).filter((c) => c.expiresAt !== null && c.expiresAt <= now)) {
          yield* store.deleteCredential(expired.tokenHash)
        }
        const token = newSecret()
        const expiresAt = now + sessionTtl
        yield* store.putCredential({ tokenHash: hashSecret(token), kind: "session", name: null, createdAt: now, expiresAt })
        yield* audit({ actor: client, action: "sign-in", outcome: "ok", code: null, detail: `as ${admin.pipe(Option.map((a) => a.email), Option.getOrElse(() => email))}` })
        return { token, expiresAt }
      })

    const authenticate: AdminAuth.Service["authenticate"] = (token) =>
      Effect.gen(function* () {
        if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return yield* unauthorized()
        // Looked up by hash: the secret itself is never compared, so there is no timing to leak.
        const tokenHash = hashSecret(token)
        const now = yield* Clock.currentTimeMillis
        const cached = confirmed.get(tokenHash)
        const fresh = store.findCredential(tokenHash).pipe(
          Effect.tap((result) =>
            Effect.sync(() => {
              if (Option.isNone(result)) return void confirmed.delete(tokenHash)
              if (confirmed.size >= MAX_CACHED) confirmed.clear()
              confirmed.set(tokenHash, { credential: result.value, at: now })
            })
          )
        )
        const found =
          cached !== undefined && now - cached.at < CREDENTIAL_CACHE_MS
            ? Option.some(cached.credential)
            : yield* fresh.pipe(
                // The store is away: a credential it confirmed before still holds, so the Hub keeps answering reads.
                Effect.catchIf(
                  (e) => e.code === "STORE_UNAVAILABLE" && cached !== undefined,
                  () => Effect.succeed(Option.some(cached!.credential))
                )
              )
        if (Option.isNone(found)) return yield* unauthorized()
        const credential = found.value
        if (credential.expiresAt !== null && credential.expiresAt <= now) {
          confirmed.delete(tokenHash)
          yield* store.deleteCredential(tokenHash)
          return yield* unauthorized("Your session has expired. Sign in again.")
        }
        return credential.kind === "session"
          ? { kind: "session" as const, name: "admin" }
          : { kind: "api" as const, name: credential.name ?? "unnamed" }
      })

    const signOut: AdminAuth.Service["signOut"] = (token) =>
      Effect.gen(function* () {
        if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return
        const tokenHash = hashSecret(token)
        const found = yield* store.findCredential(tokenHash)
        if (Option.isNone(found) || found.value.kind !== "session") return
        confirmed.delete(tokenHash)
        yield* store.deleteCredential(tokenHash)
        yield* audit({ actor: "admin", action: "sign-out", outcome: "ok", code: null, detail: null })
      })

    // The store refuses a second token of a name atomically, across every node sharing it.
    const createApiToken: AdminAuth.Service["createApiToken"] = (name, actor) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const token = API_TOKEN_PREFIX + newSecret()
        const added = yield* store.addApiToken({ tokenHash: hashSecret(token), kind: "api", name, createdAt: now, expiresAt: null })
        if (!added) {
          return yield* new AuthError({ code: "TOKEN_EXISTS", message: `An API token named "${name}" already exists. Revoke it first, or choose another name.` })
        }
        yield* audit({ actor, action: "token-create", outcome: "ok", code: null, detail: name })
        return { token, name, createdAt: now }
      })

    const listApiTokens: AdminAuth.Service["listApiTokens"] = Effect.map(store.listCredentials("api"), (all) =>
      all.map((c) => ({ name: c.name ?? "unnamed", createdAt: c.createdAt }))
    )

    // Every token of the name goes, including duplicates an earlier release could create from two nodes at once.
    const revoke: AdminAuth.Service["revoke"] = (name, actor) =>
      Effect.gen(function* () {
        const found = (yield* store.listCredentials("api")).filter((c) => c.name === name)
        if (found.length === 0) {
          return yield* new AuthError({ code: "TOKEN_NOT_FOUND", message: `There is no API token named "${name}". List the tokens to see their names.` })
        }
        for (const token of found) {
          confirmed.delete(token.tokenHash)
          yield* store.deleteCredential(token.tokenHash)
        }
        yield* audit({ actor, action: "token-revoke", outcome: "ok", code: null, detail: name })
      })

    return AdminAuth.of({ signIn, authenticate, signOut, createApiToken, listApiTokens, revoke })
  })

/** The service as a layer over the LicenseStore. */
export const layer = (options?: Options): Layer.Layer<AdminAuth, never, LicenseStore.LicenseStore> => Layer.effect(AdminAuth, make(options))

/** Audit-log actor of a principal: `admin` for sessions, `token:<name>` for API tokens. */
export const actorOf = (principal: Principal): string => (principal.kind === "session" ? "admin" : `token:${principal.name}`)
