// Bundle the light `exekra-license` commands into one minified module, so that they start without resolving and
// compiling hundreds of modules (`inspect` took ~14× a bare `node -e 0`, mostly loading effect, @effect/cli
// and what they import). Run after `tsc -b` (the root `build` script does): it reads packages/server/dist and writes
// packages/server/dist/cli/bundled/, which ships in the tarball (packages/server's `prepack` bundles again, so a
// tarball never carries a bundle older than the build). The CLI (cli/main.ts) runs a command from its bundle
// when the bundle is there and no build changed its sources since; otherwise from the unbundled modules.
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

// The light commands, whose start-up is most of their run. Not `serve` and `portal` (they read page assets relative
// to their modules and run for long anyway), nor `diagram` and `timeline` (@exekra/machines, and Graphviz's wasm).
const COMMANDS = ["inspect", "keygen", "issue"]

// `--quiet` (as `prepack` runs it): `npm pack --json` prints its report on stdout, which a log line would corrupt.
const quiet = process.argv.includes("--quiet")
const root = fileURLToPath(new URL("../", import.meta.url))
const cli = join(root, "packages/server/dist/cli")
const out = join(cli, "bundled")

/** Write through a temporary file and a rename, so that a CLI starting meanwhile never reads half a bundle. */
const writeAtomically = (path, contents) => {
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, contents)
  renameSync(temporary, path)
}

mkdirSync(out, { recursive: true })
// One bundle for the three: they share nearly all their code (effect, @effect/cli, core), so three bundles would ship
// the same half megabyte three times for no faster start.
const FILE = "light.js"
const result = await esbuild.build({
  // The bundle exports each command under its name, and the runner; cli/main.ts calls `launch(commands[name], argv)`.
  stdin: {
    contents: `${COMMANDS.map((name) => `export { ${name} } from "./${name}.js"`).join("\n")}\nexport { launch } from "./run.js"\n`,
    resolveDir: cli,
    sourcefile: "light.entry.js",
    loader: "js"
  },
  bundle: true,
  minify: true,
  // Error classes print their own names (`String(error)`, defects), as they do unbundled.
  keepNames: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Native and optional modules stay out; none of these commands reaches them.
  external: ["sqlite3", "pg-native", "@hpcc-js/wasm-graphviz"],
  // Bundled CommonJS code calls `require` for Node's built-ins.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  outfile: join(out, FILE),
  write: false,
  metafile: true,
  logLevel: "warning"
})
for (const file of result.outputFiles) writeAtomically(file.path, file.contents)
// A build of a workspace package the bundle drew on makes it stale: that package's tsbuildinfo is the witness.
const packages = new Set(
  Object.values(result.metafile.outputs)
    .flatMap((output) => Object.entries(output.inputs).filter(([, used]) => used.bytesInOutput > 0).map(([input]) => input))
    .map((input) => /^packages\/([^/]+)\/dist\//.exec(relative(root, resolve(root, input)).split(sep).join("/"))?.[1])
    .filter((pkg) => pkg !== undefined)
)
// URLs relative to the manifest, as cli/main.ts resolves them.
const builds = [...packages].sort().map((pkg) => relative(out, join(root, "packages", pkg, "dist", ".tsbuildinfo")).split(sep).join("/"))
const manifest = Object.fromEntries(COMMANDS.map((name) => [name, { file: FILE, builds }]))
const bytes = result.outputFiles.reduce((sum, file) => sum + file.contents.length, 0)
if (!quiet) console.log(`bundled ${COMMANDS.join(", ")}: ${relative(root, join(out, FILE))} (${(bytes / 1024).toFixed(0)} KiB; from ${[...packages].sort().join(", ")})`)
writeAtomically(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`)
// Bundles an earlier layout left (one per command) would otherwise ship in the tarball.
for (const name of readdirSync(out)) if (name !== FILE && name !== "manifest.json") rmSync(join(out, name), { force: true })
