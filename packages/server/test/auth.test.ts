// AdminAuth on an in-memory store: sign-in and its per-client rate limit on TestClock, sessions, API tokens, and what is stored.
import { describe, expect, it } from "@effect/vitest"
import { LicenseStore } from "@exekra/core"
import { AdminAuth, hashSecret, layer } from "@exekra/server/AdminAuth"
import * as Passwords from "@exekra/server/Passwords"
import { Duration, Effect, Either, Fiber, Layer, TestClock } from "effect"

const EMAIL = "admin@acme.example"
const PASSWORD = "correct horse battery staple"
const NOW = Date.parse("2026-06-01T00:00:00Z")

/** A store with an admin account (the license itself plays no part in authentication). */
const storeWithAdmin = Effect.gen(function* () {
  const store = yield* LicenseStore.makeMemory
  const stored = { text: "lic", fingerprint: "fp", licenseId: "lic_acme", issuedAt: 0, storedAt: 0 }
  yield* store.activate(stored, { email: EMAIL, passwordHash: yield* Passwords.hash(PASSWORD), createdAt: 0 })
  return store
})

/** Run with AdminAuth over a fresh store, at NOW on the TestClock. */
const withAuth = <A, E>(f: (auth: AdminAuth.Service, store: LicenseStore.LicenseStore.Service) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(NOW)
    const store = yield* storeWithAdmin
    const auth = yield* AdminAuth.pipe(Effect.provide(layer().pipe(Layer.provide(Layer.succeed(LicenseStore.LicenseStore, store)))))
    return yield* f(auth, store)
  })

const codeOf = <A>(effect: Effect.Effect<A, { readonly code: string }>) =>
  Effect.map(Effect.either(effect), (result) => (Either.isLeft(result) ? result.left.code : "ok"))

describe("AdminAuth sign-in", () => {
  it.effect("accepts the admin's email in any case and stores only the session's hash", () =>
    withAuth((auth, store) =>
      Effect.gen(function* () {
        const session = yield* auth.signIn(" Admin@Acme.Example ", PASSWORD, "10.0.0.1")
        expect(session.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
        expect(session.expiresAt).toBe(NOW + 12 * 3600_000)
        const [stored] = yield* store.listCredentials("session")
        expect(stored).toEqual({ tokenHash: hashSecret(session.token), kind: "session", name: null, createdAt: NOW, expiresAt: NOW + 12 * 3600_000 })
        expect(yield* auth.authenticate(session.token)).toEqual({ kind: "session", name: "admin" })
      })
    ))

  it.effect("refuses wrong passwords and emails alike, and refuses everyone before activation", () =>
    Effect.gen(function* () {
      yield* withAuth((auth) =>
        Effect.gen(function* () {
          expect(yield* codeOf(auth.signIn(EMAIL, "wrong password!!", "10.0.0.1"))).toBe("INVALID_CREDENTIALS")
          expect(yield* codeOf(auth.signIn("other@acme.example", PASSWORD, "10.0.0.2"))).toBe("INVALID_CREDENTIALS")
        })
      )
      const empty = yield* LicenseStore.makeMemory
      const auth = yield* AdminAuth.pipe(Effect.provide(layer().pipe(Layer.provide(Layer.succeed(LicenseStore.LicenseStore, empty)))))
      expect(yield* codeOf(auth.signIn(EMAIL, PASSWORD, "10.0.0.1"))).toBe("INVALID_CREDENTIALS")
    }))

  it.effect("allows 5 attempts per client per 15 minutes, counted from the first; other clients are unaffected", () =>
    withAuth((auth) =>
      Effect.gen(function* () {
        for (let i = 0; i < 5; i++) expect(yield* codeOf(auth.signIn(EMAIL, "wrong password!!", "10.0.0.1"))).toBe("INVALID_CREDENTIALS")
        const limited = yield* Effect.flip(auth.signIn(EMAIL, PASSWORD, "10.0.0.1"))
        expect(limited).toMatchObject({ code: "TOO_MANY_ATTEMPTS", retryAfterSeconds: 900 })
        expect(yield* codeOf(auth.signIn(EMAIL, PASSWORD, "10.0.0.2"))).toBe("ok")
        yield* TestClock.adjust(Duration.minutes(15).pipe(Duration.subtract(Duration.seconds(1))))
        expect(yield* Effect.flip(auth.signIn(EMAIL, PASSWORD, "10.0.0.1"))).toMatchObject({ code: "TOO_MANY_ATTEMPTS", retryAfterSeconds: 1 })
        yield* TestClock.adjust(Duration.seconds(1))
        expect(yield* codeOf(auth.signIn(EMAIL, PASSWORD, "10.0.0.1"))).toBe("ok")
      })
    ))

  it.effect("a successful sign-in clears the client's count", () =>
    withAuth((auth) =>
      Effect.gen(function* () {
        for (let i = 0; i < 4; i++) yield* codeOf(auth.signIn(EMAIL, "wrong password!!", "10.0.0.1"))
        expect(yield* codeOf(auth.signIn(EMAIL, PASSWORD, "10.0.0.1"))).toBe("ok")
        for (let i = 0; i < 5; i++) expect(yield* codeOf(auth.signIn(EMAIL, "wrong password!!", "10.0.0.1"))).toBe("INVALID_CREDENTIALS")
      })
    ))

  it.effect("counts parallel guesses before checking them: 20 at once, at most 5 get checked", () =>
    withAuth((auth) =>
      Effect.gen(function* () {
        const codes = yield* Effect.all(
          Array.from({ length: 20 }, () => codeOf(auth.signIn(EMAIL, "wrong password!!", "10.0.0.1"))),
          { concurrency: "unbounded" }
        )
        expect(codes.filter((c) => c === "INVALID_CREDENTIALS")).toHaveLength(5)
        expect(codes.filter((c) => c === "TOO_MANY_ATTEMPTS")).toHaveLength(15)
      })
    ))

  it.effect("audits every checked attempt, and one denial per lockout", () =>
    withAuth((auth, store) =>
      Effect.gen(function* () {
        yield* auth.signIn(EMAIL, PASSWORD, "10.0.0.9")
        for (let i = 0; i < 8; i++) yield* codeOf(auth.signIn(EMAIL, "wrong password!!", "10.0.0.1"))
        const audit = yield* store.listAudit({ limit: 100 })
        expect(audit.map((r) => [r.actor, r.outcome, r.code])).toEqual([
          ["10.0.0.1", "denied", "TOO_MANY_ATTEMPTS"],
          ...Array.from({ length: 5 }, () => ["10.0.0.1", "failed", "INVALID_CREDENTIALS"]),
          ["10.0.0.9", "ok", null]
        ])
        expect(audit.every((r) => r.action === "sign-in")).toBe(true)
        expect(JSON.stringify(audit)).not.toContain("wrong password")
      })
    ))
})

describe("AdminAuth sessions and tokens", () => {
  it.effect("refuses unknown, empty and oversized tokens, and sessions once 12 hours have passed (deleting them)", () =>
    withAuth((auth, store) =>
      Effect.gen(function* () {
        expect(yield* codeOf(auth.authenticate(""))).toBe("UNAUTHORIZED")
        expect(yield* codeOf(auth.authenticate("x".repeat(10_000)))).toBe("UNAUTHORIZED")
        expect(yield* codeOf(auth.authenticate("unknown"))).toBe("UNAUTHORIZED")
        const { token } = yield* auth.signIn(EMAIL, PASSWORD, "10.0.0.1")
        yield* TestClock.adjust(Duration.hours(12).pipe(Duration.subtract(Duration.millis(1))))
        expect(yield* codeOf(auth.authenticate(token))).toBe("ok")
        yield* TestClock.adjust(Duration.millis(1))
        expect(yield* Effect.flip(auth.authenticate(token))).toMatchObject({ code: "UNAUTHORIZED", message: "Your session has expired. Sign in again." })
        expect(yield* store.listCredentials("session")).toEqual([])
      })
    ))

  it.effect("sign-out ends the session; it leaves API tokens alone", () =>
    withAuth((auth) =>
      Effect.gen(function* () {
        const { token } = yield* auth.signIn(EMAIL, PASSWORD, "10.0.0.1")
        const api = yield* auth.createApiToken("ci", "admin")
        yield* auth.signOut(token)
        yield* auth.signOut(api.token)
        expect(yield* codeOf(auth.authenticate(token))).toBe("UNAUTHORIZED")
        expect(yield* auth.authenticate(api.token)).toEqual({ kind: "api", name: "ci" })
      })
    ))

  it.effect("API tokens: secret shown once, stored hashed, never expiring, unique by name, revocable", () =>
    withAuth((auth, store) =>
      Effect.gen(function* () {
        const created = yield* auth.createApiToken("runner-pool", "admin")
        expect(created).toEqual({ token: expect.stringMatching(/^exk_[A-Za-z0-9_-]{43}$/), name: "runner-pool", createdAt: NOW })
        expect(yield* store.listCredentials("api")).toEqual([
          { tokenHash: hashSecret(created.token), kind: "api", name: "runner-pool", createdAt: NOW, expiresAt: null }
        ])
        expect(yield* auth.listApiTokens).toEqual([{ name: "runner-pool", createdAt: NOW }])
        yield* TestClock.adjust(Duration.days(3650))
        expect(yield* auth.authenticate(created.token)).toEqual({ kind: "api", name: "runner-pool" })
        expect(yield* codeOf(auth.createApiToken("runner-pool", "admin"))).toBe("TOKEN_EXISTS")
        yield* auth.revoke("runner-pool", "admin")
        expect(yield* codeOf(auth.authenticate(created.token))).toBe("UNAUTHORIZED")
        expect(yield* codeOf(auth.revoke("runner-pool", "admin"))).toBe("TOKEN_NOT_FOUND")
        const audit = yield* store.listAudit({ limit: 10 })
        expect(audit.map((r) => [r.action, r.actor, r.detail])).toEqual([
          ["token-revoke", "admin", "runner-pool"],
          ["token-create", "admin", "runner-pool"]
        ])
      })
    ))

  it.effect("concurrent creations of one name make one token", () =>
    withAuth((auth) =>
      Effect.gen(function* () {
        const fibers = yield* Effect.forEach([1, 2, 3, 4], () => Effect.fork(codeOf(auth.createApiToken("ci", "admin"))))
        const codes = yield* Fiber.joinAll(fibers)
        expect(codes.filter((c) => c === "ok")).toHaveLength(1)
        expect(yield* auth.listApiTokens).toHaveLength(1)
      })
    ))
})
