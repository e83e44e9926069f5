/** The `exekra-license` command line: `--help` and `--version` answered at once, and a command run with only its own module loaded. */
import { readFileSync, statSync } from "node:fs"
import { descriptions, isName, load, type Name, names, portalDescriptions, ROOT_DESCRIPTION, type Subcommand, VERSION } from "./commands.js"

export { VERSION } from "./commands.js"

const table = (rows: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join("\n")
}

/** The root help: every command with its description, written without loading any command. */
export const help = (): string =>
  [
    `exekra-license ${VERSION}`,
    "",
    ROOT_DESCRIPTION,
    "",
    "USAGE",
    "",
    "$ exekra-license <command> [options]",
    "",
    "COMMANDS",
    "",
    table(
      names.flatMap((name): ReadonlyArray<readonly [string, string]> =>
        name === "portal"
          ? [[name, descriptions[name]], ...Object.entries(portalDescriptions).map(([sub, text]) => [`portal ${sub}`, text] as const)]
          : [[name, descriptions[name]]]
      )
    ),
    "",
    "OPTIONS",
    "",
    table([
      ["-h, --help", "Show this help; `exekra-license <command> --help` shows a command's options."],
      ["--version", "Show the version of the application."],
      ["--completions sh | bash | fish | zsh", "Generate a completion script for a specific shell."],
      ["--log-level LEVEL", "Minimum log level: all, trace, debug, info, warning, error, fatal or none."],
      ["--wizard", "Start wizard mode for a command."]
    ]),
    ""
  ].join("\n")

const loadAll = async (): Promise<readonly [Subcommand, ...Array<Subcommand>]> => {
  const [first, ...rest] = await Promise.all(names.map((name) => load(name)))
  return [first!, ...rest]
}

/** The root command with every subcommand, as @effect/cli runs it (this loads every command, the Hub's server included). */
export const command = async () => (await import("./run.js")).root(await loadAll())

/** What scripts/bundle-cli.mjs writes beside the bundles: each bundled command's file, and the builds it came from. */
type Manifest = Readonly<Record<string, { readonly file: string; readonly builds: ReadonlyArray<string> } | undefined>>

/**
 * The bundle of command `name` in `dir` (scripts/bundle-cli.mjs writes them after `tsc -b`), or undefined to run the
 * unbundled modules: when there is none, or a build since then (a package's tsbuildinfo newer than the bundle) may
 * have changed what it was made from. An installed package has no tsbuildinfo: its bundles are used as they are.
 */
export const bundleOf = (name: Name, dir: URL = new URL("./bundled/", import.meta.url)): URL | undefined => {
  let manifest: Manifest
  try {
    manifest = JSON.parse(readFileSync(new URL("manifest.json", dir), "utf8")) as Manifest
  } catch {
    return undefined
  }
  const entry = Object.hasOwn(manifest, name) ? manifest[name] : undefined
  if (entry === undefined) return undefined
  const bundle = new URL(entry.file, dir)
  const bundled = statSync(bundle, { throwIfNoEntry: false })
  if (bundled === undefined) return undefined
  for (const build of entry.builds) {
    const built = statSync(new URL(build, dir), { throwIfNoEntry: false })
    if (built !== undefined && built.mtimeMs > bundled.mtimeMs) return undefined
  }
  return bundle
}

/** What the bundle exports: each bundled command under its name, and the runner (cli/run.ts). */
interface Bundle extends Readonly<Partial<Record<Name, Subcommand>>> {
  readonly launch: (command: Subcommand, argv: ReadonlyArray<string>) => void
}

/**
 * Run one command with only its own module (and the runner) loaded: from its bundle when there is a fresh one (one
 * file to compile rather than hundreds), else from the modules. `EXEKRA_CLI_BUNDLE=0` runs the modules always.
 */
const launch = async (name: Name, argv: ReadonlyArray<string>): Promise<void> => {
  const bundle = process.env["EXEKRA_CLI_BUNDLE"] === "0" ? undefined : bundleOf(name)
  if (bundle !== undefined) {
    const bundled = (await import(bundle.href)) as Bundle
    const command = bundled[name]
    if (command !== undefined) return bundled.launch(command, argv)
  }
  const [run, command] = await Promise.all([import("./run.js"), load(name)])
  run.launch(command, argv)
}

/**
 * Run the CLI on `argv` (as `process.argv`), as the `exekra-license` executable does. The root help and the version
 * are answered without loading a command; `exekra-license <command> …` loads that command only (from its bundle for
 * `inspect`, `keygen` and `issue`), so that `inspect` never loads the HTTP server, the pages or Graphviz. Anything else (an unknown command, options before it,
 * `--completions`, `--wizard`) runs the whole command tree, which answers it as before. The process ends when the
 * command does, or on SIGINT / SIGTERM; failures that carry a stable code print `CODE: sentence` and exit 1.
 */
export const main = async (argv: ReadonlyArray<string>): Promise<void> => {
  const args = argv.slice(2)
  const first = args[0]
  if (args.length === 0 || (args.length === 1 && (first === "--help" || first === "-h"))) {
    process.stdout.write(help())
    return
  }
  if (args.length === 1 && first === "--version") {
    process.stdout.write(`${VERSION}\n`)
    return
  }
  if (isName(first) && !args.some((arg) => arg === "--completions" || arg === "--wizard")) return launch(first, argv)
  const [run, subcommands] = await Promise.all([import("./run.js"), loadAll()])
  run.runMain(run.root(subcommands), VERSION, argv)
}
