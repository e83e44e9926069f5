/** @exekra/server: the Hub license server, the reference Portal and the CLI. */
export * as Cli from "./cli/main.js"
