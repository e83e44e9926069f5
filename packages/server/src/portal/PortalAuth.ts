/** PortalAuth: who may use the Customer Portal — staff and customer accounts, sign-in with a per-client rate limit, sessions, invite links, one-time passwords and the vendor's API tokens. */
import { randomBytes, randomUUID } from "node:crypto"
import { Clock, Context, Duration, Effect, Layer } from "effect"
import { hashSecret } from "../AdminAuth.js"
import * as SignInLimit from "../internal/signInLimit.js"
import * as Passwords from "../Passwords.js"
import * as PortalError from "./PortalError.js"
import { type Account, type Credential, PortalStore, type PortalStoreError, type Role } from "./PortalStore.js"

/** Who is calling: a signed-in account, or the vendor's CRM with an API token (which acts as staff). */
export type Caller =
  | { readonly kind: "session"; readonly account: Account; readonly role: Role; readonly actor: string }
  | { readonly kind: "api"; readonly name: string; readonly role: "staff"; readonly actor: string }

/** A new session; `token` is the secret, shown once. */
export interface Session {
  readonly token: string
  readonly expiresAt: number
  readonly account: Account
}

/** A one-time secret handed to a person: an invite link's token or a temporary password. */
export interface Handover {
  readonly account: Account
  /** The invite token (for `/invite/<token>`), when the account was created with an invite. */
  readonly invite: { readonly token: string; readonly expiresAt: number } | null
  /** The one-time password, when one was set; it must be changed at the first sign-in. */
  readonly temporaryPassword: string | null
}

/** Tuning of sessions, invites and the sign-in rate limit. */
export interface Options {
  /** How long a session lasts (default 12 hours). */
  readonly sessionTtl?: Duration.DurationInput
  /** How long an invite link works (default 7 days). */
  readonly inviteTtl?: Duration.DurationInput
  /** Sign-in attempts a client may make per window (default 5). */
  readonly maxAttempts?: number
  /** The rate-limit window, from the client's first attempt (default 15 minutes). */
  readonly attemptWindow?: Duration.DurationInput
}

/** Accounts, sessions and tokens of the Portal. */
export class PortalAuth extends Context.Tag("@exekra/server/PortalAuth")<PortalAuth, PortalAuth.Service>() {}

type Failure = PortalError.PortalError | PortalStoreError

export declare namespace PortalAuth {
  /** The service's interface. */
  export interface Service {
    /** Check an email (case-insensitive) and password; `client` keys the rate limit and the audit line. */
    readonly signIn: (email: string, password: string, client: string) => Effect.Effect<Session, Failure>
    /** Resolve a session or API token secret; `UNAUTHORIZED` for unknown or expired ones. */
    readonly authenticate: (secret: string) => Effect.Effect<Caller, Failure>
    /** End the session whose secret this is. */
    readonly signOut: (secret: string) => Effect.Effect<void, PortalStoreError>
    /** Replace a signed-in account's password after checking its current one; other sessions of the account end. */
    readonly changePassword: (account: Account, current: string, next: string, keepSecret: string) => Effect.Effect<Account, Failure>
    /** Create an account with an invite link (default) or a temporary password. */
    readonly createAccount: (
      input: { readonly email: string; readonly name: string; readonly role: Role; readonly customerId: string | null },
      handover: "invite" | "temporary-password",
      actor: string
    ) => Effect.Effect<Handover, Failure>
    /** Give an existing account a new invite link or temporary password (a forgotten password); its sessions end. */
    readonly resetAccount: (accountId: string, handover: "invite" | "temporary-password", actor: string) => Effect.Effect<Handover, Failure>
    /** The account an invite token is for, without using it; `INVITE_INVALID` if used or expired. */
    readonly inviteAccount: (token: string) => Effect.Effect<Account, Failure>
    /** Use an invite: set the account's own password and sign it in. */
    readonly acceptInvite: (token: string, password: string, client: string) => Effect.Effect<Session, Failure>
    /** With no staff account yet, create the first one with a one-time password (printed once by the caller); otherwise nothing. */
    readonly bootstrap: (email: string) => Effect.Effect<{ readonly email: string; readonly password: string } | null, Failure>
    readonly createApiToken: (name: string, actor: string) => Effect.Effect<{ readonly token: string; readonly name: string; readonly createdAt: number }, Failure>
    readonly listApiTokens: Effect.Effect<ReadonlyArray<{ readonly name: string; readonly createdAt: number }>, PortalStoreError>
    readonly revokeApiToken: (name: string, actor: string) => Effect.Effect<void, Failure>
  }
}

/** Audit actor of an account: `staff:<email>` or `customer:<email>`. */
export const actorOfAccount = (account: Account): string => `${account.role}:${account.email}`

/** An email as stored and compared: trimmed and lower-cased. */
export const normaliseEmail = (email: string): string => email.trim().toLowerCase()

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$|^[^\s@]+@localhost$/

/** The email if it is one (normalised), else `EMAIL_INVALID`. */
export const checkEmail = (email: string): Effect.Effect<string, PortalError.PortalError> => {
  const normal = normaliseEmail(email)
  return normal.length <= 254 && EMAIL.test(normal)
    ? Effect.succeed(normal)
    : Effect.fail(PortalError.make("EMAIL_INVALID", `"${email.slice(0, 80)}" is not an email address. Enter one such as ann@acme.example.`))
}

const newSecret = (): string => randomBytes(32).toString("base64url")
const API_TOKEN_PREFIX = "exkp_"
const MAX_SECRET_LENGTH = 256

/** A password nobody chose: 20 random base64url characters (120 bits), acceptable to {@link Passwords.weakness}. */
const generatePassword = (email: string): string => {
  for (;;) {
    const candidate = randomBytes(15).toString("base64url")
    if (Passwords.weakness(candidate, email) === undefined) return candidate
  }
}

const unauthorized = (message = "Sign in, or send an API token as `Authorization: Bearer <token>`.") => PortalError.make("UNAUTHORIZED", message)

/** Build the service over the store in context. */
export const make = (options: Options = {}): Effect.Effect<PortalAuth.Service, never, PortalStore> =>
  Effect.gen(function* () {
    const store = yield* PortalStore
    const sessionTtl = Duration.toMillis(options.sessionTtl ?? Duration.hours(12))
    const inviteTtl = Duration.toMillis(options.inviteTtl ?? Duration.days(7))
    const maxAttempts = options.maxAttempts ?? 5
    const window = Duration.toMillis(options.attemptWindow ?? Duration.minutes(15))
    // Checked when the email is unknown, so a refusal costs one scrypt either way and timing does not reveal accounts.
    const decoyHash = yield* Effect.cached(Passwords.hash(randomUUID()))
    const tokenLock = yield* Effect.makeSemaphore(1)

    const audit = (actor: string, action: string, outcome: "ok" | "denied" | "failed", subject: string | null, detail: string | null = null) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => store.appendAudit({ at, actor, action, outcome, subject, detail }))

    const admitAttempt = (client: string, email: string) =>
      Effect.gen(function* () {
        const lockout = yield* SignInLimit.count((key, now, windowMs) => store.countAttempt(key, now, windowMs), client, window, maxAttempts)
        if (lockout === null) return
        const error = PortalError.make("TOO_MANY_ATTEMPTS", lockout.message, lockout.retryAfterSeconds)
        if (lockout.first) yield* audit(client, "sign-in", "denied", null, `as ${email.slice(0, 254)}: ${error.code}`)
        return yield* error
      })

    const startSession = (account: Account) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* store.deleteExpiredCredentials(now)
        const token = newSecret()
        const expiresAt = now + sessionTtl
        yield* store.putCredential({ tokenHash: hashSecret(token), kind: "session", accountId: account.accountId, name: null, createdAt: now, expiresAt })
        return { token, expiresAt, account } satisfies Session
      })

    const signIn: PortalAuth.Service["signIn"] = (email, password, client) =>
      Effect.gen(function* () {
        yield* admitAttempt(client, email)
        const account = yield* store.findAccountByEmail(normaliseEmail(email))
        const hash = account?.passwordHash ?? (yield* decoyHash)
        const matches = yield* Passwords.verify(password, hash)
        if (account === undefined || account.passwordHash === null || !matches) {
          yield* audit(client, "sign-in", "failed", account?.accountId ?? null, `as ${email.slice(0, 254)}`)
          // One sentence for every refusal, so the answer does not reveal which emails have accounts.
          return yield* PortalError.make(
            "INVALID_CREDENTIALS",
            "The email or password is wrong. Check both and try again; if you were invited, open the invite link first to choose your password."
          )
        }
        yield* store.clearAttempts(`sign-in:${client}`)
        const session = yield* startSession(account)
        yield* audit(actorOfAccount(account), "sign-in", "ok", account.accountId, `from ${client}`)
        return session
      })

    const authenticate: PortalAuth.Service["authenticate"] = (secret) =>
      Effect.gen(function* () {
        if (secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return yield* unauthorized()
        const tokenHash = hashSecret(secret)
        const credential = yield* store.findCredential(tokenHash)
        if (credential === undefined || credential.kind === "invite") return yield* unauthorized()
        const now = yield* Clock.currentTimeMillis
        if (credential.expiresAt !== null && credential.expiresAt <= now) {
          yield* store.deleteCredential(tokenHash)
          return yield* unauthorized("Your session has expired. Sign in again.")
        }
        if (credential.kind === "api") {
          const name = credential.name ?? "unnamed"
          return { kind: "api", name, role: "staff", actor: `token:${name}` } satisfies Caller
        }
        const account = credential.accountId === null ? undefined : yield* store.getAccount(credential.accountId)
        if (account === undefined) return yield* unauthorized()
        return { kind: "session", account, role: account.role, actor: actorOfAccount(account) } satisfies Caller
      })

    const signOut: PortalAuth.Service["signOut"] = (secret) =>
      secret.length === 0 || secret.length > MAX_SECRET_LENGTH
        ? Effect.void
        : Effect.gen(function* () {
            const tokenHash = hashSecret(secret)
            const credential = yield* store.findCredential(tokenHash)
            if (credential?.kind !== "session" || credential.accountId === null) return
            yield* store.deleteCredential(tokenHash)
            const account = yield* store.getAccount(credential.accountId)
            yield* audit(account === undefined ? "unknown" : actorOfAccount(account), "sign-out", "ok", credential.accountId)
          })

    const checkPassword = (password: string, email: string) => {
      const weakness = Passwords.weakness(password, email)
      return weakness === undefined ? Effect.void : Effect.fail(PortalError.make("PASSWORD_TOO_WEAK", weakness))
    }

    const changePassword: PortalAuth.Service["changePassword"] = (account, current, next, keepSecret) =>
      Effect.gen(function* () {
        const fresh = yield* store.getAccount(account.accountId)
        if (fresh === undefined) return yield* unauthorized()
        if (fresh.passwordHash === null || !(yield* Passwords.verify(current, fresh.passwordHash))) {
          yield* audit(actorOfAccount(fresh), "password-change", "failed", fresh.accountId, "current password wrong")
          return yield* PortalError.make("PASSWORD_WRONG", "The current password is wrong. Type the password you signed in with.")
        }
        if (next === current) return yield* PortalError.make("PASSWORD_TOO_WEAK", "Choose a password different from the current one.")
        yield* checkPassword(next, fresh.email)
        yield* store.setPassword(fresh.accountId, yield* Passwords.hash(next), false)
        // Every other session of the account ends: whoever knew the old password is signed out.
        const keep = yield* store.findCredential(hashSecret(keepSecret))
        yield* store.deleteCredentialsOf(fresh.accountId, "session")
        if (keep !== undefined) yield* store.putCredential(keep)
        yield* audit(actorOfAccount(fresh), "password-change", "ok", fresh.accountId)
        return { ...fresh, mustChangePassword: false }
      })

    const handOver = (account: Account, handover: "invite" | "temporary-password") =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* store.deleteCredentialsOf(account.accountId, "invite")
        yield* store.deleteCredentialsOf(account.accountId, "session")
        if (handover === "temporary-password") {
          const password = generatePassword(account.email)
          yield* store.setPassword(account.accountId, yield* Passwords.hash(password), true)
          return { account: { ...account, mustChangePassword: true }, invite: null, temporaryPassword: password } satisfies Handover
        }
        const token = newSecret()
        const expiresAt = now + inviteTtl
        yield* store.putCredential({ tokenHash: hashSecret(token), kind: "invite", accountId: account.accountId, name: null, createdAt: now, expiresAt })
        return { account, invite: { token, expiresAt }, temporaryPassword: null } satisfies Handover
      })

    const createAccount: PortalAuth.Service["createAccount"] = (input, handover, actor) =>
      Effect.gen(function* () {
        const email = yield* checkEmail(input.email)
        const name = input.name.trim()
        if (name.length > 200) return yield* PortalError.make("NAME_INVALID", "A name is at most 200 characters.")
        const account: Account = {
          accountId: `acc_${randomBytes(8).toString("hex")}`,
          email,
          name: name === "" ? email : name,
          role: input.role,
          customerId: input.customerId,
          passwordHash: null,
          mustChangePassword: false,
          createdAt: yield* Clock.currentTimeMillis
        }
        if (!(yield* store.createAccount(account))) {
          return yield* PortalError.make("EMAIL_TAKEN", `There is already an account for ${email}. Use another email, or reset that account.`)
        }
        yield* audit(actor, "account-create", "ok", account.accountId, `${account.role} ${email}${account.customerId === null ? "" : ` of ${account.customerId}`}`)
        return yield* handOver(account, handover)
      })

    const resetAccount: PortalAuth.Service["resetAccount"] = (accountId, handover, actor) =>
      Effect.gen(function* () {
        const account = yield* store.getAccount(accountId)
        if (account === undefined) return yield* PortalError.make("ACCOUNT_NOT_FOUND", `There is no account ${accountId}. List the customer's users to see their ids.`)
        yield* audit(actor, "account-reset", "ok", accountId, handover)
        return yield* handOver(account, handover)
      })

    const findInvite = (token: string) =>
      Effect.gen(function* () {
        const invalid = PortalError.make("INVITE_INVALID", "This invite link was used already or has expired. Ask the vendor for a new one, or sign in if you have set your password.")
        if (token.length === 0 || token.length > MAX_SECRET_LENGTH) return yield* invalid
        const credential = yield* store.findCredential(hashSecret(token))
        const now = yield* Clock.currentTimeMillis
        if (credential?.kind !== "invite" || credential.accountId === null || (credential.expiresAt !== null && credential.expiresAt <= now)) return yield* invalid
        const account = yield* store.getAccount(credential.accountId)
        if (account === undefined) return yield* invalid
        return account
      })

    const acceptInvite: PortalAuth.Service["acceptInvite"] = (token, password, client) =>
      Effect.gen(function* () {
        const account = yield* findInvite(token)
        yield* checkPassword(password, account.email)
        // Taken, not read: of two submissions of one link, only one sets the password.
        const taken = yield* store.takeCredential(hashSecret(token))
        if (taken === undefined) return yield* PortalError.make("INVITE_INVALID", "This invite link was used already. Sign in with the password you chose.")
        yield* store.setPassword(account.accountId, yield* Passwords.hash(password), false)
        yield* audit(actorOfAccount(account), "invite-accept", "ok", account.accountId, `from ${client}`)
        return yield* startSession({ ...account, mustChangePassword: false })
      })

    const bootstrap: PortalAuth.Service["bootstrap"] = (email) =>
      Effect.gen(function* () {
        if ((yield* store.listAccounts({ role: "staff" })).length > 0) return null
        const created = yield* createAccount({ email, name: "Vendor admin", role: "staff", customerId: null }, "temporary-password", "portal-start")
        return { email: created.account.email, password: created.temporaryPassword ?? "" }
      })

    const findApiToken = (name: string) => Effect.map(store.listApiTokens, (all) => all.find((c: Credential) => c.name === name))

    const createApiToken: PortalAuth.Service["createApiToken"] = (name, actor) =>
      tokenLock.withPermits(1)(
        Effect.gen(function* () {
          if ((yield* findApiToken(name)) !== undefined) {
            return yield* PortalError.make("TOKEN_EXISTS", `An API token named "${name}" already exists. Revoke it first, or choose another name.`)
          }
          const now = yield* Clock.currentTimeMillis
          const token = API_TOKEN_PREFIX + newSecret()
          yield* store.putCredential({ tokenHash: hashSecret(token), kind: "api", accountId: null, name, createdAt: now, expiresAt: null })
          yield* audit(actor, "token-create", "ok", null, name)
          return { token, name, createdAt: now }
        })
      )

    const revokeApiToken: PortalAuth.Service["revokeApiToken"] = (name, actor) =>
      tokenLock.withPermits(1)(
        Effect.gen(function* () {
          const found = yield* findApiToken(name)
          if (found === undefined) return yield* PortalError.make("TOKEN_NOT_FOUND", `There is no API token named "${name}". List the tokens to see their names.`)
          yield* store.deleteCredential(found.tokenHash)
          yield* audit(actor, "token-revoke", "ok", null, name)
        })
      )

    return PortalAuth.of({
      signIn,
      authenticate,
      signOut,
      changePassword,
      createAccount,
      resetAccount,
      inviteAccount: findInvite,
      acceptInvite,
      bootstrap,
      createApiToken,
      listApiTokens: Effect.map(store.listApiTokens, (all) => all.map((c) => ({ name: c.name ?? "unnamed", createdAt: c.createdAt }))),
      revokeApiToken
    })
  })

/** The service as a layer over the PortalStore. */
export const layer = (options?: Options): Layer.Layer<PortalAuth, never, PortalStore> => Layer.effect(PortalAuth, make(options))
