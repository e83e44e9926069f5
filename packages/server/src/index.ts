/** @exekra/server: the Hub license server (and `createHub`, its Promise API), the reference Portal and the CLI. */
export {
  type Acquired,
  AdmissionError,
  type CheckResult,
  createHub,
  type EmbeddedHub,
  type HttpOptions,
  HubCallError,
  type HubEvent,
  type HubHandler,
  HubOptionsError,
  type HubOptions,
  type LicenseSummary,
  type Principal,
  type PublicKeyInput,
  StoreError
} from "./createHub.js"
export { createLicenseHandler } from "./LicenseHandler.js"
export * as Cli from "./cli/main.js"
export * as LicenseRuntime from "./LicenseRuntime.js"
export * as LicenseHandler from "./LicenseHandler.js"
export * as Passwords from "./Passwords.js"
export * as ReferencePortal from "./portal/ReferencePortal.js"
export * as CustomerPortal from "./portal/CustomerPortal.js"
export * as AdminAuth from "./AdminAuth.js"
export * as DevKit from "./DevKit.js"
export * as Http from "./http/index.js"
export * as Hub from "./Hub.js"
export * as Pages from "./pages/Pages.js"
export * as Cluster from "./cluster/Cluster.js"
export * as ChangeFeed from "./cluster/ChangeFeed.js"
