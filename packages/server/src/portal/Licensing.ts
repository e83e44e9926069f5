/** Licensing: the vendor's side of the seed — customers, licenses issued, renewed, bound and revoked (each a signed file), one trial per customer, and what each caller may see. */
import { randomBytes } from "node:crypto"
import { Cap, Envelope, Installation, type Keys, License, Signer } from "@exekra/core"
import { Clock, Context, Effect, Either, Layer, ParseResult, Schema } from "effect"
import type { Caller } from "./PortalAuth.js"
import * as PortalError from "./PortalError.js"
import { type Customer, type LicenseRecord, type LicenseRevision, PortalStore, PortalStoreError, type RecordedPing } from "./PortalStore.js"

type Failure = PortalError.PortalError | PortalStoreError

/** One cap's terms as the vendor enters them: dates as `YYYY-MM-DD` (midnight UTC) or ISO-8601 UTC. */
export interface CapTerms {
  readonly limit: number
  readonly expiresAt: string
  readonly graceDays?: number | undefined
  readonly overagePercent?: number | undefined
  readonly onLimited?: License.OnLimited | undefined
}

/** What a new license grants; `issuedAt`, `licenseId` and `kid` are the Portal's to set. */
export interface LicenseTerms {
  readonly type: "production" | "trial"
  /** The licensee; `name` defaults to the customer's name. The Hub admin must activate with `email`. */
  readonly issuedTo: { readonly name?: string | undefined; readonly email: string }
  readonly caps: Partial<Record<Cap.Cap, CapTerms>>
  readonly expiryWarningDays?: number | undefined
  readonly gracePeriodDays?: number | undefined
  /** Default: optional, every 24 hours, to this Portal. */
  readonly validation?: { readonly required: boolean; readonly intervalHours: number; readonly portalUrl?: string | undefined } | undefined
  /** Bind the file to one Hub installation (offline activation); default unbound. */
  readonly installationId?: string | undefined
}

/** What a renewal changes: caps given are merged into the current ones (`null` removes a cap); the rest stays. */
export interface Renewal {
  readonly caps?: Partial<Record<Cap.Cap, Partial<CapTerms> | null>> | undefined
  readonly expiryWarningDays?: number | undefined
  readonly gracePeriodDays?: number | undefined
  readonly validation?: LicenseTerms["validation"]
}

/** The trial every customer may take once. */
export interface TrialTemplate {
  /** Default 30. */
  readonly days: number
  /** Default 0. */
  readonly graceDays: number
  readonly limits: Readonly<Record<Cap.Cap, number>>
}

/** The default trial template: 30 days, grace 0, a few of each. */
export const defaultTrial: TrialTemplate = { days: 30, graceDays: 0, limits: { unattended: 2, developer: 2, attended: 5 } }

/** The state of one cap of a license, as the Licenses page shows it. */
export type CapState = "active" | "expiring" | "grace" | "expired"

/** A cap of a license as the Portal shows it. */
export interface CapView {
  readonly cap: Cap.Cap
  readonly limit: number
  readonly expiresAt: number
  readonly graceDays: number
  readonly graceEndsAt: number
  readonly overagePercent: number
  readonly onLimited: License.OnLimited
  readonly state: CapState
}

/** What the Hub last reported for a license. */
export interface Posture {
  readonly lastPingAt: number
  readonly installationId: string
  readonly version: string
  readonly status: RecordedPing["status"]
}

/** A license as pages and the API show it. */
export interface LicenseView {
  readonly licenseId: string
  readonly customerId: string
  readonly customerName: string
  readonly type: "production" | "trial"
  /** `revoked` wins; else `expired` once every cap is past its grace. */
  readonly state: "active" | "revoked" | "expired"
  readonly issuedTo: { readonly name: string; readonly email: string }
  readonly installationId: string | null
  readonly issuedAt: number
  readonly revision: number
  readonly createdAt: number
  readonly revokedAt: number | null
  readonly expiryWarningDays: number
  readonly gracePeriodDays: number
  readonly validation: { readonly required: boolean; readonly intervalHours: number; readonly portalUrl: string | null }
  readonly caps: ReadonlyArray<CapView>
  readonly posture: Posture | null
}

/** Licensing options. */
export interface Options {
  /** The vendor's signing key. */
  readonly signingKey: Keys.PrivateKey
  /** The Portal's base URL, written into licenses as their validation `portalUrl` unless the terms name one. */
  readonly publicUrl?: string | undefined
  readonly trial?: TrialTemplate | undefined
}

/** Customers and licenses. */
export class Licensing extends Context.Tag("@exekra/server/Licensing")<Licensing, Licensing.Service>() {}

export declare namespace Licensing {
  /** The service's interface. Every change is audited under the caller's actor. */
  export interface Service {
    readonly createCustomer: (name: string, actor: string) => Effect.Effect<Customer, Failure>
    readonly listCustomers: Effect.Effect<ReadonlyArray<Customer>, PortalStoreError>
    readonly getCustomer: (customerId: string) => Effect.Effect<Customer, Failure>
    /** Sign and record a new license for a customer. */
    readonly issue: (customerId: string, terms: LicenseTerms, actor: string) => Effect.Effect<LicenseView, Failure>
    /** Sign a new file with a later `issuedAt` and the merged terms; the licence id stays. */
    readonly renew: (licenseId: string, renewal: Renewal, actor: string) => Effect.Effect<LicenseView, Failure>
    /** Bind an unbound license to a Hub installation: a new file carrying the installation id. */
    readonly bind: (caller: Caller, licenseId: string, installationId: string) => Effect.Effect<LicenseView, Failure>
    readonly revoke: (licenseId: string, actor: string) => Effect.Effect<LicenseView, Failure>
    readonly restore: (licenseId: string, actor: string) => Effect.Effect<LicenseView, Failure>
    /** The customer's one trial from the template, issued to the caller's email. */
    readonly takeTrial: (caller: Caller) => Effect.Effect<LicenseView, Failure>
    /** Licenses the caller may see (staff: all, or one customer's; a customer user: their own), newest first. */
    readonly list: (caller: Caller, filter?: { readonly customerId?: string | undefined }) => Effect.Effect<ReadonlyArray<LicenseView>, Failure>
    /** One license, if the caller may see it; `LICENSE_NOT_FOUND` otherwise (another customer's license is not found either). */
    readonly get: (caller: Caller, licenseId: string) => Effect.Effect<LicenseView, Failure>
    /** The current `.lic` file of a license the caller may see; refused while revoked. */
    readonly file: (caller: Caller, licenseId: string) => Effect.Effect<{ readonly filename: string; readonly text: string; readonly revision: number }, Failure>
    /** Every file of a license, newest first. */
    readonly history: (caller: Caller, licenseId: string) => Effect.Effect<ReadonlyArray<Omit<LicenseRevision, "text">>, Failure>
    readonly trialTemplate: TrialTemplate
    readonly publicKey: Keys.PublicKey
  }
}

const decodePayload = Schema.decodeUnknownEither(Schema.parseJson(License.LicensePayload))
const validatePayload = Schema.decodeUnknownEither(License.LicensePayload, { onExcessProperty: "error", errors: "all" })

const DAY = 86_400_000
const iso = (t: number): string => new Date(t).toISOString().replace(".000Z", "Z")
const wholeSecond = (t: number): number => Math.floor(t / 1000) * 1000

const termsInvalid = (message: string) => PortalError.make("LICENSE_TERMS_INVALID", message)

/** A date the vendor typed: `YYYY-MM-DD` is midnight UTC; anything else must be an ISO-8601 UTC timestamp. */
export const parseDate = (field: string, value: string): Effect.Effect<string, PortalError.PortalError> => {
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value.trim()) ? `${value.trim()}T00:00:00Z` : value.trim()
  return License.isUtcTimestamp(text)
    ? Effect.succeed(iso(Date.parse(text)))
    : Effect.fail(termsInvalid(`${field}: "${value.slice(0, 40)}" is not a date. Use YYYY-MM-DD, such as 2027-03-31.`))
}

const describe = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .slice(0, 3)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.map(String).join(".")}: ${issue.message}`))
    .join("; ")

const checkInstallation = (installationId: string): Effect.Effect<string, PortalError.PortalError> => {
  const id = installationId.trim()
  return Installation.idPattern.test(id)
    ? Effect.succeed(id)
    : Effect.fail(
        PortalError.make(
          "INSTALLATION_ID_INVALID",
          `"${id.slice(0, 60)}" is not an installation id. Copy it from the Hub's activation screen: inst_ and 26 letters or digits.`
        )
      )
}

/** Build the service over the store in context. */
export const make = (options: Options): Effect.Effect<Licensing.Service, never, PortalStore> =>
  Effect.gen(function* () {
    const store = yield* PortalStore
    const key = options.signingKey
    const trial = options.trial ?? defaultTrial
    // One change of a license at a time in this process; the store's compare-and-set catches other processes.
    const changes = yield* Effect.makeSemaphore(1)

    const read = (text: string, licenseId: string) =>
      Either.match(
        Either.flatMap(Envelope.parse(text), (envelope) => Either.mapLeft(decodePayload(Buffer.from(envelope.payload).toString("utf8")), () => null)),
        {
          onRight: (payload) => Effect.succeed(payload),
          onLeft: () =>
            Effect.fail(
              new PortalStoreError({
                code: "DATABASE_CORRUPT",
                message: `The Portal database holds an unreadable file for license ${licenseId}: restore the database from a backup.`
              })
            )
        }
      )

    const audit = (actor: string, action: string, subject: string | null, detail: string | null = null, outcome: "ok" | "denied" | "failed" = "ok") =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => store.appendAudit({ at, actor, action, outcome, subject, detail }))

    const customerOrFail = (customerId: string) =>
      Effect.flatMap(store.getCustomer(customerId), (customer) =>
        customer === undefined
          ? Effect.fail(PortalError.make("CUSTOMER_NOT_FOUND", `There is no customer ${customerId.slice(0, 80)}. List the customers to see their ids.`))
          : Effect.succeed(customer)
      )

    const notFound = (licenseId: string) =>
      PortalError.make("LICENSE_NOT_FOUND", `There is no license ${licenseId.slice(0, 80)} that you may see. Check the id on the Licenses page.`)

    const capState = (grant: License.CapGrant, payload: License.LicensePayload, now: number): CapState => {
      const expiresAt = grant.expiresAt.getTime()
      if (now < expiresAt - payload.expiryWarningDays * DAY) return "active"
      if (now < expiresAt) return "expiring"
      return now < expiresAt + License.capGraceDays(payload, grant) * DAY ? "grace" : "expired"
    }

    const view = (record: LicenseRecord, customer: Customer | undefined) =>
      Effect.gen(function* () {
        const payload = yield* read(record.current.text, record.licenseId)
        const now = yield* Clock.currentTimeMillis
        const [last] = yield* store.pings({ licenseId: record.licenseId, limit: 1 })
        const caps = Cap.all.flatMap((cap): Array<CapView> => {
          const grant = payload.caps[cap]
          if (grant === undefined) return []
          const graceDays = License.capGraceDays(payload, grant)
          return [
            {
              cap,
              limit: grant.limit,
              expiresAt: grant.expiresAt.getTime(),
              graceDays,
              graceEndsAt: grant.expiresAt.getTime() + graceDays * DAY,
              overagePercent: grant.overagePercent ?? 0,
              onLimited: grant.onLimited ?? "refuse-new",
              state: capState(grant, payload, now)
            }
          ]
        })
        return {
          licenseId: record.licenseId,
          customerId: record.customerId,
          customerName: customer?.name ?? record.customerId,
          type: record.type,
          state: record.revokedAt !== null ? "revoked" : caps.every((c) => c.state === "expired") ? "expired" : "active",
          issuedTo: payload.issuedTo,
          installationId: payload.installationId ?? null,
          issuedAt: payload.issuedAt.getTime(),
          revision: record.current.revision,
          createdAt: record.createdAt,
          revokedAt: record.revokedAt,
          expiryWarningDays: payload.expiryWarningDays,
          gracePeriodDays: payload.gracePeriodDays,
          validation: { required: payload.validation.required, intervalHours: payload.validation.intervalHours, portalUrl: payload.validation.portalUrl ?? null },
          caps,
          posture: last === undefined ? null : { lastPingAt: last.receivedAt, installationId: last.installationId, version: last.version, status: last.status }
        } satisfies LicenseView
      })

    const viewOf = (record: LicenseRecord) => Effect.flatMap(store.getCustomer(record.customerId), (customer) => view(record, customer))

    /** The license if the caller may see it: staff see all, a customer user their customer's. */
    const visible = (caller: Caller, licenseId: string) =>
      Effect.flatMap(store.getLicense(licenseId), (record) =>
        record === undefined || (caller.role === "customer" && caller.kind === "session" && caller.account.customerId !== record.customerId)
          ? Effect.fail(notFound(licenseId))
          : Effect.succeed(record)
      )

    const staffRecord = (licenseId: string) => Effect.flatMap(store.getLicense(licenseId), (record) => (record === undefined ? Effect.fail(notFound(licenseId)) : Effect.succeed(record)))

    /** Validate and sign a payload; the refusal names the first problems of the terms. */
    const sign = (payload: Signer.Issuable): Effect.Effect<string, PortalError.PortalError> =>
      Either.match(validatePayload({ ...payload, kid: key.kid }), {
        onLeft: (error) => Effect.fail(termsInvalid(`The license terms are not valid: ${describe(error)}.`)),
        onRight: () => Effect.succeed(Signer.sign(payload, key))
      })

    const capGrant = (cap: Cap.Cap, terms: CapTerms) =>
      Effect.map(parseDate(`caps.${cap}.expiresAt`, terms.expiresAt), (expiresAt) => ({
        limit: terms.limit,
        expiresAt,
        ...(terms.graceDays === undefined ? {} : { graceDays: terms.graceDays }),
        ...(terms.overagePercent === undefined ? {} : { overagePercent: terms.overagePercent }),
        ...(terms.onLimited === undefined ? {} : { onLimited: terms.onLimited })
      }))

    const validationOf = (validation: LicenseTerms["validation"]) => {
      const portalUrl = validation?.portalUrl ?? options.publicUrl
      return { required: validation?.required ?? false, intervalHours: validation?.intervalHours ?? 24, ...(portalUrl === undefined ? {} : { portalUrl }) }
    }

    const issueRecord = (customer: Customer, terms: LicenseTerms, actor: string, claimTrial: boolean) =>
      Effect.gen(function* () {
        const email = terms.issuedTo.email.trim()
        const caps: Record<string, Signer.Issuable["caps"][Cap.Cap]> = {}
        for (const cap of Cap.all) {
          const given = terms.caps[cap]
          if (given !== undefined) caps[cap] = yield* capGrant(cap, given)
        }
        if (Object.keys(caps).length === 0) return yield* termsInvalid("Grant at least one cap: Unattended Runners, Developer seats or Attended users.")
        const installationId = terms.installationId === undefined || terms.installationId.trim() === "" ? undefined : yield* checkInstallation(terms.installationId)
        const now = yield* Clock.currentTimeMillis
        const issuedAt = wholeSecond(now)
        const licenseId = `lic_${randomBytes(8).toString("hex")}`
        const payload: Signer.Issuable = {
          licenseId,
          type: terms.type,
          issuedTo: { name: terms.issuedTo.name?.trim() || customer.name, email },
          ...(installationId === undefined ? {} : { installationId }),
          issuedAt: iso(issuedAt),
          caps,
          expiryWarningDays: terms.expiryWarningDays ?? License.DEFAULT_WARNING_DAYS,
          gracePeriodDays: terms.gracePeriodDays ?? (terms.type === "trial" ? 0 : License.DEFAULT_GRACE_DAYS),
          validation: validationOf(terms.validation)
        }
        const text = yield* sign(payload)
        const record: Omit<LicenseRecord, "revokedAt"> = {
          licenseId,
          customerId: customer.customerId,
          type: terms.type,
          createdAt: now,
          current: { licenseId, revision: 1, issuedAt, issuedBy: actor, reason: "issued", text }
        }
        const outcome = yield* store.insertLicense(record, { trial: claimTrial })
        if (outcome === "trial-taken") {
          yield* audit(actor, "trial", customer.customerId, "TRIAL_ALREADY_TAKEN", "denied")
          return yield* PortalError.make("TRIAL_ALREADY_TAKEN", `${customer.name} has already taken its trial. Ask the vendor for a production license.`)
        }
        if (outcome === "license-exists") return yield* Effect.dieMessage(`license id ${licenseId} was generated twice`)
        yield* audit(actor, claimTrial ? "trial" : "license-issue", licenseId, `${terms.type} for ${customer.customerId} to ${email}`)
        return yield* view({ ...record, revokedAt: null }, customer)
      })

    /** Sign a new file of `record` from `change(payload)`, with an `issuedAt` later than every earlier file's. */
    const newRevision = (
      record: LicenseRecord,
      reason: LicenseRevision["reason"],
      actor: string,
      change: (payload: Signer.Issuable) => Effect.Effect<Signer.Issuable, PortalError.PortalError>
    ) =>
      Effect.gen(function* () {
        const current = yield* read(record.current.text, record.licenseId)
        const { kid: _kid, ...encoded } = Schema.encodeSync(License.LicensePayload)(current)
        const now = yield* Clock.currentTimeMillis
        const issuedAt = Math.max(wholeSecond(now), record.current.issuedAt + 1000)
        const next = yield* change({ ...encoded, issuedAt: iso(issuedAt) })
        const text = yield* sign(next)
        const revision: LicenseRevision = { licenseId: record.licenseId, revision: record.current.revision + 1, issuedAt, issuedBy: actor, reason, text }
        if (!(yield* store.addRevision(revision))) {
          return yield* PortalError.make("LICENSE_CHANGED", `License ${record.licenseId} was changed by someone else at the same time. Reload it and try again.`)
        }
        return { ...record, current: revision }
      })

    const notRevoked = (record: LicenseRecord) =>
      record.revokedAt === null
        ? Effect.void
        : Effect.fail(PortalError.make("LICENSE_REVOKED", `License ${record.licenseId} is revoked. The vendor must restore it before it can be renewed, bound or downloaded.`))

    const service: Licensing.Service = {
      trialTemplate: trial,
      publicKey: key.publicKey,
      createCustomer: (name, actor) =>
        Effect.gen(function* () {
          const trimmed = name.trim()
          if (trimmed.length === 0 || trimmed.length > 200) return yield* PortalError.make("NAME_INVALID", "Enter the customer's name: 1 to 200 characters.")
          const customer: Customer = { customerId: `cus_${randomBytes(8).toString("hex")}`, name: trimmed, createdAt: yield* Clock.currentTimeMillis, trialLicenseId: null }
          yield* store.createCustomer(customer)
          yield* audit(actor, "customer-create", customer.customerId, trimmed)
          return customer
        }),
      listCustomers: store.listCustomers,
      getCustomer: customerOrFail,
      issue: (customerId, terms, actor) => Effect.flatMap(customerOrFail(customerId), (customer) => issueRecord(customer, terms, actor, false)),
      renew: (licenseId, renewal, actor) =>
        changes.withPermits(1)(
          Effect.gen(function* () {
            const record = yield* staffRecord(licenseId)
            yield* notRevoked(record)
            const renewed = yield* newRevision(record, "renewed", actor, (payload) =>
              Effect.gen(function* () {
                const caps: Record<string, Signer.Issuable["caps"][Cap.Cap]> = { ...payload.caps }
                for (const cap of Cap.all) {
                  const change = renewal.caps?.[cap]
                  if (change === undefined) continue
                  if (change === null) {
                    delete caps[cap]
                    continue
                  }
                  const before = caps[cap]
                  const limit = change.limit ?? before?.limit
                  const expiresAt = change.expiresAt ?? before?.expiresAt
                  if (limit === undefined || expiresAt === undefined) {
                    return yield* termsInvalid(`caps.${cap}: the license does not grant this cap yet, so give both its limit and its expiry.`)
                  }
                  caps[cap] = yield* capGrant(cap, {
                    limit,
                    expiresAt,
                    graceDays: change.graceDays ?? before?.graceDays,
                    overagePercent: change.overagePercent ?? before?.overagePercent,
                    onLimited: change.onLimited ?? before?.onLimited
                  })
                }
                if (Object.keys(caps).length === 0) return yield* termsInvalid("A renewal must leave at least one cap.")
                return {
                  ...payload,
                  caps,
                  ...(renewal.expiryWarningDays === undefined ? {} : { expiryWarningDays: renewal.expiryWarningDays }),
                  ...(renewal.gracePeriodDays === undefined ? {} : { gracePeriodDays: renewal.gracePeriodDays }),
                  ...(renewal.validation === undefined ? {} : { validation: validationOf(renewal.validation) })
                }
              })
            )
            const expiries = Object.entries(renewal.caps ?? {})
              .map(([cap, change]) => (change === null ? `${cap} removed` : `${cap}${change?.limit === undefined ? "" : ` ${change.limit}`}${change?.expiresAt === undefined ? "" : ` until ${change.expiresAt}`}`))
              .join(", ")
            yield* audit(actor, "license-renew", licenseId, `revision ${renewed.current.revision}${expiries === "" ? "" : `: ${expiries}`}`)
            return yield* viewOf(renewed)
          })
        ),
      bind: (caller, licenseId, installationId) =>
        changes.withPermits(1)(
          Effect.gen(function* () {
            const id = yield* checkInstallation(installationId)
            const record = yield* visible(caller, licenseId)
            yield* notRevoked(record)
            const payload = yield* read(record.current.text, licenseId)
            if (payload.installationId === id) return yield* viewOf(record)
            if (payload.installationId !== undefined) {
              return yield* PortalError.make(
                "LICENSE_ALREADY_BOUND",
                `License ${licenseId} is bound to installation ${payload.installationId}. To move it to another Hub, ask the vendor for a new license.`
              )
            }
            const bound = yield* newRevision(record, "bound", caller.actor, (p) => Effect.succeed({ ...p, installationId: id }))
            yield* audit(caller.actor, "license-bind", licenseId, id)
            return yield* viewOf(bound)
          })
        ),
      revoke: (licenseId, actor) =>
        Effect.gen(function* () {
          const record = yield* staffRecord(licenseId)
          const now = yield* Clock.currentTimeMillis
          yield* store.revoke(licenseId, now)
          yield* audit(actor, "license-revoke", licenseId)
          return yield* viewOf({ ...record, revokedAt: record.revokedAt ?? now })
        }),
      restore: (licenseId, actor) =>
        Effect.gen(function* () {
          const record = yield* staffRecord(licenseId)
          yield* store.restore(licenseId, yield* Clock.currentTimeMillis)
          yield* audit(actor, "license-restore", licenseId)
          return yield* viewOf({ ...record, revokedAt: null })
        }),
      takeTrial: (caller) =>
        Effect.gen(function* () {
          if (caller.kind !== "session" || caller.account.customerId === null) {
            return yield* PortalError.make("CUSTOMER_ONLY", "A trial is taken by a customer's user, signed in to the Portal.")
          }
          const customer = yield* customerOrFail(caller.account.customerId)
          if (customer.trialLicenseId !== null) {
            yield* audit(caller.actor, "trial", customer.customerId, "TRIAL_ALREADY_TAKEN", "denied")
            return yield* PortalError.make("TRIAL_ALREADY_TAKEN", `${customer.name} has already taken its trial (${customer.trialLicenseId}). Ask the vendor for a production license.`)
          }
          const licenses = yield* store.listLicenses({ customerId: customer.customerId })
          if (licenses.some((l) => l.type === "production")) {
            return yield* PortalError.make("TRIAL_NOT_AVAILABLE", `${customer.name} already has a production license; a trial is for customers without one.`)
          }
          const now = yield* Clock.currentTimeMillis
          const expiresAt = iso(wholeSecond(now) + trial.days * DAY)
          const caps = Object.fromEntries(
            Cap.all.filter((cap) => trial.limits[cap] > 0).map((cap) => [cap, { limit: trial.limits[cap], expiresAt }] as const)
          ) as Partial<Record<Cap.Cap, CapTerms>>
          return yield* issueRecord(
            customer,
            { type: "trial", issuedTo: { name: customer.name, email: caller.account.email }, caps, gracePeriodDays: trial.graceDays, expiryWarningDays: Math.min(7, trial.days) },
            caller.actor,
            true
          )
        }),
      list: (caller, filter = {}) =>
        Effect.gen(function* () {
          const customerId = caller.role === "customer" && caller.kind === "session" ? caller.account.customerId ?? "" : filter.customerId
          const records = yield* store.listLicenses(customerId === undefined ? {} : { customerId })
          const customers = new Map((yield* store.listCustomers).map((c) => [c.customerId, c]))
          return yield* Effect.forEach(records, (record) => view(record, customers.get(record.customerId)))
        }),
      get: (caller, licenseId) => Effect.flatMap(visible(caller, licenseId), viewOf),
      file: (caller, licenseId) =>
        Effect.gen(function* () {
          const record = yield* visible(caller, licenseId)
          yield* notRevoked(record)
          yield* audit(caller.actor, "license-download", licenseId, `revision ${record.current.revision}`)
          return { filename: `${licenseId}.lic`, text: record.current.text, revision: record.current.revision }
        }),
      history: (caller, licenseId) =>
        Effect.flatMap(visible(caller, licenseId), (record) =>
          Effect.map(store.revisions(record.licenseId), (all) => all.map(({ text: _text, ...rest }) => rest))
        )
    }
    return service
  })

/** The service as a layer over the PortalStore. */
export const layer = (options: Options): Layer.Layer<Licensing, never, PortalStore> => Layer.effect(Licensing, make(options))
