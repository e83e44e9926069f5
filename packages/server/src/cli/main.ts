/** The `exekra-license` command line: the root command and how failures reach stderr. */
import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { diagram } from "./diagram.js"
import { inspect } from "./inspect.js"
import { issue } from "./issue.js"
import { keygen } from "./keygen.js"
import { portal } from "./portal.js"
import { serve } from "./serve.js"
import { timeline } from "./timeline.js"

/** Version printed by `--version` and reported in validation pings. */
export const VERSION = "0.1.0"

/** The root command with every subcommand. */
export const command = Command.make("exekra-license").pipe(
  Command.withDescription("Issue, inspect and serve Exekra licenses."),
  Command.withSubcommands([keygen, issue, inspect, serve(VERSION), portal, diagram, timeline])
)

const cli = Command.run(command, { name: "exekra-license", version: VERSION })

/**
 * Run the CLI on `argv` (as `process.argv`) and return the process exit code. Failures that
 * carry a stable code print `CODE: sentence` on stderr; parse errors are reported by @effect/cli.
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  cli(argv).pipe(
    Effect.as(0),
    Effect.catchAll((error) =>
      Effect.as("code" in error && "message" in error ? Console.error(`${String(error.code)}: ${String(error.message)}`) : Effect.void, 1)
    ),
    Effect.provide(NodeContext.layer)
  )
