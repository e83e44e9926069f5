/** @exekra/server: the Hub license server, the reference Portal and the CLI. */
export * as Cli from "./cli/main.js"
export * as LicenseRuntime from "./LicenseRuntime.js"
export * as Passwords from "./Passwords.js"
export * as ReferencePortal from "./portal/ReferencePortal.js"
export * as AdminAuth from "./AdminAuth.js"
export * as DevKit from "./DevKit.js"
export * as Http from "./http/index.js"
export * as Hub from "./Hub.js"
