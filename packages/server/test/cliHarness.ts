// Runs the built `exekra-license` binary as a user would, capturing its output and exit code.
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

/** Path of the built CLI entry point (`npm test` builds before running the suites). */
export const binPath = fileURLToPath(new URL("../dist/bin.js", import.meta.url))

/** What one CLI invocation printed and returned. */
export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Run `exekra-license ...args` in `cwd`. */
export const runCli = (args: ReadonlyArray<string>, cwd: string): Promise<CliResult> =>
  new Promise((resolve) => {
    execFile(process.execPath, [binPath, ...args], { cwd, env: { ...process.env, NO_COLOR: "1" } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
    })
  })
