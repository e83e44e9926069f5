// Shared test fixtures: a vendor key, license files issued with it, and the runtime's layers.
import { Installation, Keyring, Keys, LicenseStore, PortalClient, Signer, Verifier } from "@exekra/core"
import { Effect, Layer, Option, Ref } from "effect"
import { LicenseRuntime } from "@exekra/server"

/** The vendor's signing key in tests (fixed, so files are reproducible). */
export const vendorKey = Keys.privateKeyFromSeed(new Uint8Array(32).fill(42))
/** A key the Hub does not trust. */
export const strangerKey = Keys.privateKeyFromSeed(new Uint8Array(32).fill(43))
export const keyring = Keyring.make([vendorKey.publicKey])

/** Epoch ms of an ISO date. */
export const at = (iso: string): number => Date.parse(iso)
/** Days as ms. */
export const days = (n: number): number => n * 86_400_000

/** A payload with sensible defaults; every field can be overridden. */
export const payload = (over: Partial<Signer.Issuable> = {}): Signer.Issuable => ({
  licenseId: "lic_test",
  type: "production",
  issuedTo: { name: "Acme Corp", email: "admin@acme.example" },
  issuedAt: "2027-01-01T00:00:00Z",
  caps: {
    unattended: { limit: 3, expiresAt: "2027-07-01T00:00:00Z" },
    developer: { limit: 2, expiresAt: "2027-07-01T00:00:00Z" },
    attended: { limit: 2, expiresAt: "2027-09-01T00:00:00Z" }
  },
  expiryWarningDays: 30,
  gracePeriodDays: 14,
  validation: { required: false, intervalHours: 24 },
  ...over
})

/** A license file signed by the vendor key. */
export const licenseFile = (over: Partial<Signer.Issuable> = {}): string => Signer.sign(payload(over), vendorKey)

/** A good admin password for the fixture license. */
export const password = "correct horse battery staple"

/**
 * A Portal double for time-driven tests: answers as the test says, never sleeping. Its `serverTime` is the test
 * clock's time, unless `serverTime` holds an instant to report instead (a Portal whose clock differs from the Hub's).
 */
export const scriptedPortal = (
  answer: Ref.Ref<"up" | "down">,
  pings: Ref.Ref<ReadonlyArray<PortalClient.ValidationRequest>>,
  serverTime?: Ref.Ref<Option.Option<number>>
) =>
  Layer.succeed(
    PortalClient.PortalClient,
    PortalClient.PortalClient.of({
      validate: (_url, request) =>
        Effect.gen(function* () {
          yield* Ref.update(pings, (all) => [...all, request])
          if ((yield* Ref.get(answer)) === "down") {
            return yield* new PortalClient.PortalError({ code: "PORTAL_UNREACHABLE", message: "connection refused" })
          }
          const override = serverTime === undefined ? Option.none<number>() : yield* Ref.get(serverTime)
          const time = Option.isSome(override) ? override.value : yield* Effect.clockWith((c) => c.currentTimeMillis)
          return { status: "valid" as const, serverTime: new Date(time) }
        })
    })
  )

/**
 * The heartbeat of runtimes under a TestClock that moves by months: the TestClock runs every beat on the way, a few
 * milliseconds each, so an hourly one would make a simulated year take minutes. The heartbeat has its own tests.
 */
export const SIMULATION_HEARTBEAT_MS = 365 * 86_400_000

/** The runtime over a given store and Portal, with the fixture keyring. */
export const runtimeLayer = (
  store: Layer.Layer<LicenseStore.LicenseStore, LicenseStore.StoreError>,
  portal: Layer.Layer<PortalClient.PortalClient>,
  portalUrl?: string
) => {
  const base = Layer.mergeAll(Verifier.layerNodeCrypto(keyring), portal)
  const withStore = Layer.provideMerge(Installation.layer, store)
  return LicenseRuntime.layer({ version: "test", portalUrl, heartbeatMs: SIMULATION_HEARTBEAT_MS }).pipe(Layer.provideMerge(Layer.merge(base, withStore)))
}
