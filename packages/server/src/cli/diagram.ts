/** `exekra-license diagram`: draw a machine (cap, activation or validation) as Mermaid, DOT or SVG, from its definition. */
import { Args, Command, Options } from "@effect/cli"
import { activationMachine, capMachine, toDot, toMermaid, toSvg, validationMachine } from "@exekra/machines"
import { Console, Effect } from "effect"

const machines = { cap: capMachine, activation: activationMachine, validation: validationMachine } as const

const machine = Args.choice(
  Object.keys(machines).map((name) => [name, name as keyof typeof machines] as const),
  { name: "MACHINE" }
).pipe(Args.withDefault("cap" as const), Args.withDescription("Which machine to draw: cap (default), activation or validation."))

const format = Options.choice("format", ["mermaid", "dot", "svg"]).pipe(
  Options.withDefault("mermaid" as const),
  Options.withDescription("Output format: mermaid (default), dot, or svg laid out by Graphviz.")
)

/** Print a machine's diagram on stdout. */
export const diagram = Command.make("diagram", { machine, format }, ({ machine, format }) =>
  Effect.gen(function* () {
    const logic = machines[machine]
    const text = format === "svg" ? yield* toSvg(logic) : format === "dot" ? toDot(logic) : toMermaid(logic)
    yield* Console.log(text.trimEnd())
  })
).pipe(Command.withDescription("Draw the cap, activation or validation machine (Mermaid, DOT or SVG), generated from the machine itself."))
