/** Demo data of `portal --demo` (`npm run portal`): a vendor admin, a customer with one user and a production license, and how to sign in as each. */
import { Clock, Effect } from "effect"
import type { Running } from "./CustomerPortal.js"
import * as PortalError from "./PortalError.js"
import type { PortalStoreError } from "./PortalStore.js"

/** The demo customer's name and its user's email. */
export const DEMO_CUSTOMER = "Acme Corp"
export const DEMO_USER_EMAIL = "ann@acme.example"

/** Who can sign in to the demo, with one-time passwords fresh from this start. */
export interface DemoAccounts {
  readonly staff: { readonly email: string; readonly password: string }
  readonly customer: { readonly email: string; readonly password: string; readonly customerName: string; readonly licenseId: string }
}

const DAY = 86_400_000
const date = (t: number): string => new Date(t).toISOString().slice(0, 10)

/**
 * Create the demo customer, its user and its production license if missing (staggered expiries: Developer seats
 * in 90 days, Unattended Runners in 180, Attended users in 365), and give the vendor admin and the customer user
 * fresh one-time passwords, so every start of the demo prints working credentials.
 */
export const seed = (portal: Running, adminEmail: string): Effect.Effect<DemoAccounts, PortalError.PortalError | PortalStoreError> =>
  Effect.gen(function* () {
    const { auth, licensing, store } = portal.services
    const actor = "demo"
    const staff =
      portal.bootstrap ??
      (yield* Effect.gen(function* () {
        const account = yield* store.findAccountByEmail(adminEmail)
        if (account === undefined) return yield* PortalError.make("ACCOUNT_NOT_FOUND", `The demo's vendor admin ${adminEmail} is missing: start the demo on a fresh --data directory.`)
        const handover = yield* auth.resetAccount(account.accountId, "temporary-password", actor)
        return { email: account.email, password: handover.temporaryPassword ?? "" }
      }))
    const customer = (yield* licensing.listCustomers).find((c) => c.name === DEMO_CUSTOMER) ?? (yield* licensing.createCustomer(DEMO_CUSTOMER, actor))
    const existing = yield* store.findAccountByEmail(DEMO_USER_EMAIL)
    const handover =
      existing === undefined
        ? yield* auth.createAccount({ email: DEMO_USER_EMAIL, name: "Ann Admin", role: "customer", customerId: customer.customerId }, "temporary-password", actor)
        : yield* auth.resetAccount(existing.accountId, "temporary-password", actor)
    const licenses = yield* store.listLicenses({ customerId: customer.customerId })
    const now = yield* Clock.currentTimeMillis
    const licenseId =
      licenses[0]?.licenseId ??
      (yield* licensing.issue(
        customer.customerId,
        {
          type: "production",
          issuedTo: { name: DEMO_CUSTOMER, email: DEMO_USER_EMAIL },
          caps: {
            unattended: { limit: 10, expiresAt: date(now + 180 * DAY) },
            developer: { limit: 5, expiresAt: date(now + 90 * DAY) },
            attended: { limit: 25, expiresAt: date(now + 365 * DAY) }
          }
        },
        actor
      )).licenseId
    return { staff, customer: { email: DEMO_USER_EMAIL, password: handover.temporaryPassword ?? "", customerName: customer.name, licenseId } }
  })
