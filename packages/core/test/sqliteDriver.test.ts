// sqlite3 is an optional peer of @exekra/core: the native driver loads when a database first opens, never with the
// package, and an application without it gets a store error that says what to install.
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"

const run = promisify(execFile)
// Inside the package, so that the script resolves @exekra/core (and effect) as an application beside it would.
const dir = mkdtempSync(join(fileURLToPath(new URL("../", import.meta.url)), ".test-sqlite-driver-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Runs in a child process on the built package, as an application would: prints what it saw as JSON.
const script = `
import { createRequire } from "node:module"
import { Effect, Either } from "effect"
const core = await import("@exekra/core")
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes("/node_modules/sqlite3/"))
const afterImport = loaded()
const opened = await Effect.runPromise(Effect.either(Effect.scoped(core.Sqlite.open({ filename: process.argv[2], migrations: [], describe: "test database", owner: "Test" }))))
console.log(JSON.stringify({ afterImport, afterOpen: loaded(), opened: Either.isRight(opened) ? "ok" : { code: opened.left.code, message: opened.left.message } }))
`

const runScript = async (hooks: ReadonlyArray<string>) => {
  const file = join(dir, "app.mjs")
  writeFileSync(file, script)
  const { stdout } = await run(process.execPath, [...hooks, file, join(dir, `db-${hooks.length}.sqlite`)], { cwd: process.cwd() })
  return JSON.parse(stdout.trim().split("\n").pop()!) as { afterImport: boolean; afterOpen: boolean; opened: "ok" | { code: string; message: string } }
}

describe("the sqlite3 driver", { timeout: 60_000 }, () => {
  it("is not loaded by importing @exekra/core, only when a database opens", async () => {
    expect(await runScript([])).toEqual({ afterImport: false, afterOpen: true, opened: "ok" })
  })

  it("missing, opening a database fails with DATABASE_UNAVAILABLE saying to install sqlite3 (or use PostgreSQL)", async () => {
    // A resolve hook that finds no sqlite3, as in an application that did not install the optional peer.
    const hook = join(dir, "no-sqlite3.mjs")
    writeFileSync(
      hook,
      `export async function resolve(specifier, context, next) {\n  if (specifier === "sqlite3") throw Object.assign(new Error("Cannot find package 'sqlite3'"), { code: "ERR_MODULE_NOT_FOUND" })\n  return next(specifier, context)\n}\n`
    )
    const register = join(dir, "register.mjs")
    writeFileSync(register, `import { register } from "node:module"\nregister(${JSON.stringify(pathToFileURL(hook).href)})\n`)
    const result = await runScript(["--import", pathToFileURL(register).href])
    expect(result.afterImport).toBe(false)
    expect(result.opened).toMatchObject({ code: "DATABASE_UNAVAILABLE" })
    expect((result.opened as { message: string }).message).toMatch(/sqlite3 module is not installed.*npm install sqlite3.*postgres:\/\//)
  })
})
