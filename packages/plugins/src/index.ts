/** @exekra/plugins: license enforcement for host servers (one gate, thin adapters per host) and the embeddable Hub handler. */
export * as Gate from "./Gate.js"
export * as LicenseHandler from "./LicenseHandler.js"
export { createLicenseHandler } from "./LicenseHandler.js"
export { PluginOptionsError, PrincipalError } from "./PluginError.js"
