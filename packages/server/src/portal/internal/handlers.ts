/** Handlers of the Portal API: each maps a request to one PortalAuth or Licensing call and back; the authorization middleware. */
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { Clock, Context, Duration, Effect, Layer } from "effect"
import { clientAddress, HubHttpOptions } from "../../http/HubHttpOptions.js"
import * as Cookies from "../../http/internal/cookies.js"
import * as RequestAuth from "../../http/internal/requestAuth.js"
import * as Problem from "../../http/Problem.js"
import { Licensing } from "../Licensing.js"
import { Api, cookieName, CurrentCaller, PortalAuthorization, sessionCookie } from "../PortalApi.js"
import { type Caller, type Handover, PortalAuth } from "../PortalAuth.js"
import * as PortalError from "../PortalError.js"
import { type Account, PortalStore } from "../PortalStore.js"
import * as ReferencePortal from "../ReferencePortal.js"
import { answer, fromPortal, fromStore } from "./problems.js"

/** The Portal's public base URL (invite links and licenses' `portalUrl` are built on it). */
export class PortalBaseUrl extends Context.Tag("@exekra/server/portal/PortalBaseUrl")<PortalBaseUrl, string>() {}

/** The authorization middleware over PortalAuth: the Hub's credential resolution and same-origin rule, with the Portal's cookie. */
export const authorizationLayer: Layer.Layer<PortalAuthorization, never, PortalAuth> = Layer.effect(
  PortalAuthorization,
  Effect.map(PortalAuth, (auth) =>
    PortalAuthorization.of(
      RequestAuth.make({
        cookieName,
        product: "Portal",
        authenticate: (secret) => answer(Effect.map(auth.authenticate(secret), (caller) => ({ caller, secret })))
      })
    )
  )
)

/** An account as the API shows it: never its password hash. */
export const accountJson = (account: Account) => ({
  accountId: account.accountId,
  email: account.email,
  name: account.name,
  role: account.role,
  customerId: account.customerId,
  mustChangePassword: account.mustChangePassword,
  createdAt: account.createdAt
})

/** The caller, unless it must first replace a one-time password. */
export const activeCaller = Effect.flatMap(CurrentCaller, ({ caller }) =>
  caller.kind === "session" && caller.account.mustChangePassword
    ? Effect.fail(
        fromPortal(PortalError.make("PASSWORD_CHANGE_REQUIRED", "Choose your own password first: PUT /api/session/password with your current (one-time) password and a new one."))
      )
    : Effect.succeed(caller)
)

/** The caller, if it is vendor staff (a staff session or an API token). */
export const staffCaller = Effect.flatMap(activeCaller, (caller) =>
  caller.role === "staff" ? Effect.succeed(caller) : Effect.fail(fromPortal(PortalError.make("STAFF_ONLY", "Only the vendor's staff may do this.")))
)

/** The wire form of a handover: the invite as a link on this Portal. */
export const handoverJson = (handover: Handover, baseUrl: string) => ({
  account: accountJson(handover.account),
  inviteUrl: handover.invite === null ? null : `${baseUrl}/invite/${handover.invite.token}`,
  inviteExpiresAt: handover.invite?.expiresAt ?? null,
  temporaryPassword: handover.temporaryPassword
})

const HealthLive = HttpApiBuilder.group(Api, "health", (handlers) => handlers.handle("health", () => Effect.succeed({ status: "ok" as const })))

const SessionLive = HttpApiBuilder.group(Api, "session", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* PortalAuth
    const settings = yield* HubHttpOptions
    return handlers
      .handle("signIn", ({ payload, request }) =>
        Effect.gen(function* () {
          const session = yield* auth.signIn(payload.email, payload.password, clientAddress(request, settings))
          const now = yield* Clock.currentTimeMillis
          yield* HttpApiBuilder.securitySetCookie(sessionCookie, session.token, {
            ...(yield* Cookies.attributes(request, settings)),
            maxAge: Duration.millis(Math.max(0, session.expiresAt - now))
          })
          return { token: session.token, expiresAt: session.expiresAt, account: accountJson(session.account) }
        }).pipe(answer)
      )
      .handle("whoami", () =>
        Effect.map(CurrentCaller, ({ caller }) => ({ account: caller.kind === "session" ? accountJson(caller.account) : null, token: caller.kind === "api" ? caller.name : null }))
      )
      .handle("changePassword", ({ payload }) =>
        Effect.gen(function* () {
          const { caller, secret } = yield* CurrentCaller
          if (caller.kind !== "session") return yield* PortalError.make("UNAUTHORIZED", "An API token has no password. Sign in as a person to change a password.")
          const account = yield* auth.changePassword(caller.account, payload.currentPassword, payload.newPassword, secret)
          return { account: accountJson(account) }
        }).pipe(answer)
      )
      .handle("signOut", ({ request }) =>
        Effect.gen(function* () {
          const { secret } = yield* CurrentCaller
          yield* auth.signOut(secret)
          const options = yield* Cookies.attributes(request, settings)
          yield* HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(HttpServerResponse.expireCookie(response, cookieName, options)))
        }).pipe(answer)
      )
  })
)

const InvitesLive = HttpApiBuilder.group(Api, "invites", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* PortalAuth
    const settings = yield* HubHttpOptions
    return handlers.handle("accept", ({ payload, request }) =>
      Effect.map(auth.acceptInvite(payload.token, payload.password, clientAddress(request, settings)), (session) => ({
        token: session.token,
        expiresAt: session.expiresAt,
        account: accountJson(session.account)
      })).pipe(answer)
    )
  })
)

const CustomersLive = HttpApiBuilder.group(Api, "customers", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* PortalAuth
    const licensing = yield* Licensing
    const store = yield* PortalStore
    const baseUrl = yield* PortalBaseUrl
    const userOf = (customerId: string, accountId: string) =>
      Effect.flatMap(store.getAccount(accountId), (account) =>
        account === undefined || account.customerId !== customerId
          ? Effect.fail(PortalError.make("ACCOUNT_NOT_FOUND", `Customer ${customerId} has no user ${accountId}. Read the customer to see its users.`))
          : Effect.succeed(account)
      )
    return handlers
      .handle("list", () => Effect.zipRight(staffCaller, answer(Effect.map(licensing.listCustomers, (customers) => ({ customers })))))
      .handle("create", ({ payload }) => Effect.flatMap(staffCaller, (caller) => answer(licensing.createCustomer(payload.name, caller.actor))))
      .handle("get", ({ path }) =>
        Effect.flatMap(staffCaller, (caller) =>
          answer(
            Effect.all({
              customer: licensing.getCustomer(path.customerId),
              users: Effect.map(store.listAccounts({ customerId: path.customerId }), (all) => all.map(accountJson)),
              licenses: licensing.list(caller, { customerId: path.customerId })
            })
          )
        )
      )
      .handle("addUser", ({ path, payload }) =>
        Effect.flatMap(staffCaller, (caller) =>
          answer(
            Effect.gen(function* () {
              const customer = yield* licensing.getCustomer(path.customerId)
              const handover = yield* auth.createAccount(
                { email: payload.email, name: payload.name ?? "", role: "customer", customerId: customer.customerId },
                payload.handover ?? "invite",
                caller.actor
              )
              return handoverJson(handover, baseUrl)
            })
          )
        )
      )
      .handle("resetUser", ({ path, payload }) =>
        Effect.flatMap(staffCaller, (caller) =>
          answer(
            Effect.gen(function* () {
              yield* userOf(path.customerId, path.accountId)
              return handoverJson(yield* auth.resetAccount(path.accountId, payload.handover ?? "invite", caller.actor), baseUrl)
            })
          )
        )
      )
  })
)

const LicensesLive = HttpApiBuilder.group(Api, "licenses", (handlers) =>
  Effect.gen(function* () {
    const licensing = yield* Licensing
    return handlers
      .handle("list", ({ urlParams }) => Effect.flatMap(activeCaller, (caller) => answer(Effect.map(licensing.list(caller, { customerId: urlParams.customerId }), (licenses) => ({ licenses })))))
      .handle("issue", ({ payload }) =>
        Effect.flatMap(staffCaller, (caller) => {
          const { customerId, ...terms } = payload
          return answer(licensing.issue(customerId, terms, caller.actor))
        })
      )
      .handle("get", ({ path }) => Effect.flatMap(activeCaller, (caller) => answer(licensing.get(caller, path.licenseId))))
      .handleRaw("download", ({ path }) =>
        Effect.flatMap(activeCaller, (caller) =>
          answer(
            Effect.map(licensing.file(caller, path.licenseId), (file) =>
              HttpServerResponse.text(file.text, {
                contentType: "text/plain; charset=utf-8",
                headers: {
                  "content-disposition": `attachment; filename="${file.filename}"`,
                  "cache-control": "no-store",
                  "x-content-type-options": "nosniff",
                  "x-license-revision": String(file.revision)
                }
              })
            )
          )
        )
      )
      .handle("history", ({ path }) => Effect.flatMap(activeCaller, (caller) => answer(Effect.map(licensing.history(caller, path.licenseId), (files) => ({ files })))))
      .handle("renew", ({ path, payload }) => Effect.flatMap(staffCaller, (caller) => answer(licensing.renew(path.licenseId, payload, caller.actor))))
      .handle("bind", ({ path, payload }) => Effect.flatMap(activeCaller, (caller) => answer(licensing.bind(caller, path.licenseId, payload.installationId))))
      .handle("revoke", ({ path }) => Effect.flatMap(staffCaller, (caller) => answer(licensing.revoke(path.licenseId, caller.actor))))
      .handle("restore", ({ path }) => Effect.flatMap(staffCaller, (caller) => answer(licensing.restore(path.licenseId, caller.actor))))
      .handle("trial", () => Effect.flatMap(activeCaller, (caller: Caller) => answer(licensing.takeTrial(caller))))
  })
)

const TokensLive = HttpApiBuilder.group(Api, "tokens", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* PortalAuth
    return handlers
      .handle("create", ({ payload }) => Effect.flatMap(staffCaller, (caller) => answer(auth.createApiToken(payload.name, caller.actor))))
      .handle("list", () => Effect.zipRight(staffCaller, answer(Effect.map(auth.listApiTokens, (tokens) => ({ tokens })))))
      .handle("revoke", ({ path }) => Effect.flatMap(staffCaller, (caller) => answer(auth.revokeApiToken(path.name, caller.actor))))
  })
)

const AuditLive = HttpApiBuilder.group(Api, "audit", (handlers) =>
  Effect.gen(function* () {
    const store = yield* PortalStore
    return handlers.handle("list", ({ urlParams }) =>
      Effect.zipRight(staffCaller, answer(Effect.map(store.listAudit({ limit: urlParams.limit ?? 100 }), (records) => ({ records }))))
    )
  })
)

const ValidationLive = HttpApiBuilder.group(Api, "validation", (handlers) =>
  Effect.gen(function* () {
    const store = yield* PortalStore
    return (
      handlers
        // Raw: the reference Portal's handler reads and checks the body itself (exactly three fields, 16 KiB at most).
        .handleRaw("validate", () =>
          ReferencePortal.validate(true).pipe(
            Effect.provideService(PortalStore, store),
            Effect.catchTags({
              PortalProblem: (problem) => Effect.fail(Problem.make(ReferencePortal.problemStatus(problem.code), problem.code, problem.message)),
              PortalStoreError: fromStore,
              HttpBodyError: (e) => Effect.die(e)
            })
          )
        )
        .handle("pings", ({ urlParams }) =>
          Effect.zipRight(
            staffCaller,
            answer(Effect.map(store.pings({ licenseId: urlParams.licenseId, limit: urlParams.limit ?? 1000 }), (pings) => pings.map(ReferencePortal.pingJson)))
          )
        )
    )
  })
)

/** Every group's handlers. */
export const groups = Layer.mergeAll(HealthLive, SessionLive, InvitesLive, CustomersLive, LicensesLive, TokensLive, AuditLive, ValidationLive)
