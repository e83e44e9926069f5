/** The CLI's commands by name: what each one does, and how to load it, so that running one loads only its own module. */
import type { Command } from "@effect/cli"
import type { NodeContext } from "@effect/platform-node"

/** Version printed by `--version` and reported in validation pings. */
export const VERSION = "0.1.0"

/** What the root command says it is for. */
export const ROOT_DESCRIPTION = "Issue, inspect and serve Exekra licenses."

/** Each command's one-line description: the root help lists them without loading a command, and each command uses its own. */
export const descriptions = {
  keygen: "Create an Ed25519 key pair for signing licenses and print its key id.",
  issue: "Sign a license file for a customer with the vendor's private key.",
  inspect: "Print a license's payload and check its signature against a public key.",
  serve: "Run the Hub license server: activation screen, License page and HTTP API.",
  portal: "Run the Customer Portal (customers, licenses, downloads, trials, validation pings), or administer its data.",
  diagram: "Draw the cap, activation, validation or lease machine (Mermaid, DOT or SVG), generated from the machine itself.",
  timeline: "Show each cap's states over time for a license: expiring, grace and limited at their exact instants."
} as const

/** The subcommands of `portal`, described the same way. */
export const portalDescriptions = {
  revoke: "Revoke a license: the Portal answers `revoked` to its pings from now on.",
  restore: "Lift a revocation: the Portal answers `valid` to the license's pings again.",
  register: "Make a license issued elsewhere (with `issue`) known, so the Portal answers `valid` rather than `unknown`.",
  pings: "Print the validation pings the Portal recorded, newest first.",
  admin: "Create a vendor staff account (`portal admin create --email E`) and print its one-time password."
} as const

/** A command's name. */
export type Name = keyof typeof descriptions

/** Every command, in the order the help lists them. */
export const names = Object.keys(descriptions) as ReadonlyArray<Name>

/** Whether `word` names a command. */
export const isName = (word: string | undefined): word is Name => word !== undefined && Object.hasOwn(descriptions, word)

/**
 * A subcommand of `exekra-license` as its module builds it. Its name and parsed config are `any`, as @effect/cli
 * types subcommand lists: both are read and produced by the command, so no wider type accepts every command.
 */
export type Subcommand = Command.Command<any, NodeContext.NodeContext, unknown, any>

/** Import one command's module (and what it imports: `serve` the HTTP server and pages, `inspect` none of them). */
export const load = (name: Name, version: string = VERSION): Promise<Subcommand> => {
  switch (name) {
    case "keygen":
      return import("./keygen.js").then((m) => m.keygen)
    case "issue":
      return import("./issue.js").then((m) => m.issue)
    case "inspect":
      return import("./inspect.js").then((m) => m.inspect)
    case "serve":
      return import("./serve.js").then((m) => m.serve(version))
    case "portal":
      return import("./portal.js").then((m) => m.portal)
    case "diagram":
      return import("./diagram.js").then((m) => m.diagram)
    case "timeline":
      return import("./timeline.js").then((m) => m.timeline)
  }
}
