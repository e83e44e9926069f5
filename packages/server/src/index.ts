/** @exekra/server: the Hub license server, the reference Portal and the CLI. */
export * as Cli from "./cli/main.js"
export * as LicenseRuntime from "./LicenseRuntime.js"
export * as Passwords from "./Passwords.js"
export * as ReferencePortal from "./portal/ReferencePortal.js"
