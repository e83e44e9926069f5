// Cross-package test helpers: run the built CLI binary as a child process and talk to it over HTTP.
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The built `exekra-license` entry point (`npm test` builds first). */
export const bin = fileURLToPath(new URL("../packages/server/dist/bin.js", import.meta.url))

/** A child process running one CLI command, with what it printed so far. */
export interface Child {
  readonly process: ChildProcess
  readonly output: () => string
  /** Resolve with the first match of `pattern` in stdout+stderr, or reject when the process exits first. */
  readonly waitFor: (pattern: RegExp) => Promise<RegExpMatchArray>
  /** Resolves when the process exits by itself or is stopped. */
  readonly exit: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** SIGTERM (or `signal`) and resolve with the exit code and signal. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Start `exekra-license ...args` in `cwd`. */
export const start = (args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = {}): Child => {
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  const listeners = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    output += chunk.toString("utf8")
    for (const l of listeners) l()
  }
  child.stdout.on("data", onData)
  child.stderr.on("data", onData)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  return {
    process: child,
    exit: exited,
    output: () => output,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern)
          if (match !== null) {
            listeners.delete(check)
            resolve(match)
          }
        }
        listeners.add(check)
        check()
        void exited.then(() => reject(new Error(`process exited before printing ${pattern}:\n${output}`)))
      }),
    stop: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    }
  }
}
