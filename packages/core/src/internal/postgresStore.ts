/** PostgreSQL LicenseStore (placeholder until the implementation lands). */
import { Effect, type Scope } from "effect"
import { type LicenseStore, type PostgresOptions, StoreError } from "../LicenseStore.js"

/** Connect and migrate. */
export const make = (options: PostgresOptions): Effect.Effect<LicenseStore.Service, StoreError, Scope.Scope> =>
  Effect.fail(new StoreError({ code: "STORE_FAILED", message: `PostgreSQL is not supported yet (${options.url}).` }))
