// Shared test setup: a vendor key, licenses dated around the real clock, Hub services on an in-memory store, and hubs from createHub.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Installation, Keyring, Keys, LicenseStore, PortalClient, Signer, Verifier } from "@exekra/core"
import { createHub, type EmbeddedHub } from "@exekra/server"
import * as AdminAuth from "@exekra/server/AdminAuth"
import * as LicenseRuntime from "@exekra/server/LicenseRuntime"
import { Effect, Layer, ManagedRuntime } from "effect"

export const vendorKey = Keys.privateKeyFromSeed(new Uint8Array(32).fill(61))
export const EMAIL = "admin@acme.example"
export const PASSWORD = "correct horse battery staple"

const DAY = 86_400_000
/** An ISO-8601 UTC timestamp `days` from now, whole seconds. */
export const fromNow = (days: number): string => new Date(Math.floor((Date.now() + days * DAY) / 1000) * 1000).toISOString().replace(".000Z", "Z")

/**
 * The license the adapter suites run on: 2 Runners and 5 Developer seats, active for a year; Attended
 * expired 40 days ago with 14 days of grace, so `limited`. Activation accepts it because not every cap expired.
 */
export const standardLicense = (): string =>
  Signer.sign(
    {
      licenseId: "lic_plugins",
      type: "production",
      issuedTo: { name: "Acme Corp", email: EMAIL },
      issuedAt: fromNow(-60),
      caps: {
        unattended: { limit: 2, expiresAt: fromNow(365) },
        developer: { limit: 5, expiresAt: fromNow(365) },
        attended: { limit: 3, expiresAt: fromNow(-40) }
      },
      gracePeriodDays: 14,
      validation: { required: false, intervalHours: 24 }
    },
    vendorKey
  )

// No test here talks to a Portal: the licenses name none and validation is optional.
const noPortal = Layer.succeed(
  PortalClient.PortalClient,
  PortalClient.PortalClient.of({ validate: () => Effect.fail(new PortalClient.PortalError({ code: "PORTAL_UNREACHABLE", message: "No Portal in these tests." })) })
)

/** The Hub's services (runtime, store, auth) over a fresh in-memory store: what `Hub.services` builds, minus SQLite. */
export const servicesLayer = () => {
  const base = Layer.mergeAll(Verifier.layerNodeCrypto(Keyring.make([vendorKey.publicKey])), noPortal, Installation.layer)
  return Layer.mergeAll(LicenseRuntime.layer({ version: "test" }), AdminAuth.layer()).pipe(
    Layer.provideMerge(base),
    Layer.provideMerge(LicenseStore.layerMemory)
  )
}

/** Services, the runtime they hold, and how to close them. */
export interface TestHub {
  readonly services: ManagedRuntime.ManagedRuntime<LicenseRuntime.LicenseRuntime | LicenseStore.LicenseStore | AdminAuth.AdminAuth, LicenseStore.StoreError>
  readonly runtime: LicenseRuntime.LicenseRuntime.Service
  readonly dispose: () => Promise<void>
}

/** A Hub activated with `license` (the standard one unless given), or left unactivated with `null`. */
export const makeHub = async (license: string | null = standardLicense()): Promise<TestHub> => {
  const services = ManagedRuntime.make(servicesLayer())
  const runtime = await services.runPromise(LicenseRuntime.LicenseRuntime)
  if (license !== null) await services.runPromise(runtime.activate({ license, email: EMAIL, password: PASSWORD }))
  return { services, runtime, dispose: () => services.dispose() }
}

/** A hub from `createHub` (the Promise API) on a fresh SQLite file, activated with the standard license through its handler. */
export const makeEmbeddedHub = async (): Promise<{ readonly hub: EmbeddedHub; readonly dispose: () => Promise<void> }> => {
  const dataDir = mkdtempSync(join(tmpdir(), "exekra-plugins-hub-"))
  // Runners hold a ten-minute lease, so the heartbeat gate has something to renew.
  const hub = await createHub({ dataDir, publicKeys: [vendorKey.publicKey], version: "test", leases: { unattended: { leaseSeconds: 600 } } })
  const activated = await hub.handler.fetch(
    new Request("http://hub.local/license/api/activation", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ license: standardLicense(), email: EMAIL, password: PASSWORD })
    })
  )
  if (activated.status !== 201) throw new Error(`activation failed: ${activated.status} ${await activated.text()}`)
  return {
    hub,
    dispose: async () => {
      await hub.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}
