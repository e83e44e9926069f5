/** @exekra/plugins: license enforcement for host servers (one gate, thin adapters per host); the Hub itself comes from `@exekra/server`. */
export * as Gate from "./Gate.js"
export type { ClientInfo, HubHandler } from "./HubHandler.js"
export { PluginOptionsError, PrincipalError } from "./PluginError.js"
