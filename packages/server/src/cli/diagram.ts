/** `exekra-license diagram`: draw a machine (cap, activation, validation or lease) as Mermaid, DOT or SVG, from its definition. */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { activationMachine, capMachine, leaseMachine, toDot, toMermaid, toSvg, validationMachine } from "@exekra/machines"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { descriptions } from "./commands.js"

const machines = { cap: capMachine, activation: activationMachine, validation: validationMachine, lease: leaseMachine } as const

const machine = Args.choice(
  Object.keys(machines).map((name) => [name, name as keyof typeof machines] as const),
  { name: "MACHINE" }
).pipe(Args.withDefault("cap" as const), Args.withDescription("Which machine to draw: cap (default), activation, validation or lease (a principal's lease)."))

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
).pipe(Command.withDescription(descriptions.diagram))
