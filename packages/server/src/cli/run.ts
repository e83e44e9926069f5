/** Running `exekra-license` commands with @effect/cli on Node: the root over the loaded subcommands, and how failures reach stderr. */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { ROOT_DESCRIPTION, type Subcommand, VERSION } from "./commands.js"

/** The root command over the given subcommands (the one run, or all of them). */
export const root = (subcommands: readonly [Subcommand, ...Array<Subcommand>]) =>
  Command.make("exekra-license").pipe(Command.withDescription(ROOT_DESCRIPTION), Command.withSubcommands(subcommands))

const hasCode = (error: unknown): error is { readonly code: unknown; readonly message: unknown } =>
  typeof error === "object" && error !== null && "code" in error && "message" in error

/**
 * Run `command` on `argv` (as `process.argv`) and return the process exit code. Failures that carry a stable code
 * print `CODE: sentence` on stderr; parse errors are reported by @effect/cli.
 */
export const run = (command: ReturnType<typeof root>, version: string, argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Command.run(command, { name: "exekra-license", version })(argv).pipe(
    Effect.as(0),
    Effect.catchAll((error) => Effect.as(hasCode(error) ? Console.error(`${String(error.code)}: ${String(error.message)}`) : Effect.void, 1)),
    Effect.provide(NodeContext.layer)
  )

/** {@link run} as the process's main fiber: SIGINT / SIGTERM interrupt it (so `serve` closes cleanly), its code is the exit code. */
export const runMain = (command: ReturnType<typeof root>, version: string, argv: ReadonlyArray<string>): void =>
  NodeRuntime.runMain(
    Effect.flatMap(run(command, version, argv), (code) =>
      Effect.sync(() => {
        process.exitCode = code
      })
    )
  )

/** Run one command as the process's main fiber, under a root that has only it. */
export const launch = (command: Subcommand, argv: ReadonlyArray<string>): void => runMain(root([command]), VERSION, argv)
