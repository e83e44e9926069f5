// Packaging (DESIGN §10): `npm pack` every package, install the tarballs into an empty app outside the repository,
// compile a strict NodeNext TypeScript Express 5 server using createHub + licenseGate, and run it (and a CommonJS twin).
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Keys, Signer } from "@exekra/core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const run = promisify(execFile)
const root = fileURLToPath(new URL("../../", import.meta.url))
const PACKAGES = ["core", "machines", "plugins", "server"] as const
const PASSWORD = "a sturdy passphrase 42"
const EMAIL = "admin@vendor.example"
const LIMIT = 3

/** The child processes' environment: none of npm's lifecycle variables (a child npm must not act on this repository). */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== "INIT_CWD" && name !== "NODE_OPTIONS"))

/** The version the repository itself installed, so the app's install is served from the npm cache. */
const installedVersion = (name: string): string => (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version

interface Packed {
  readonly name: string
  readonly filename: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<{ readonly path: string }>
}

// The product a vendor writes: TypeScript, strict, NodeNext; the Hub in ten lines, the gate on its own route.
const serverTs = `import type { AddressInfo } from "node:net"
import { AdmissionError, createHub } from "@exekra/server"
import { licenseGate } from "@exekra/plugins/express"
import express from "express"

const hub = await createHub({ dataDir: process.env["DATA_DIR"] ?? "./data", publicKeys: [process.env["PUBLIC_KEY"] ?? "public.key"], version: "1.0.0" })
const app = express()
app.use("/license", hub.handler)
app.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: (req) => req.get("x-runner-id") }), (req, res) => {
  const admitted = req.license
  res.status(201).json({ runner: admitted?.principal, used: admitted?.operation === "acquire" ? admitted.used : null })
})
app.post("/direct/:id", async (req, res) => {
  try {
    const acquired = await hub.acquire("developer", req.params.id)
    res.status(201).json(acquired)
  } catch (error) {
    if (!(error instanceof AdmissionError)) throw error
    res.status(403).json({ code: error.code, cap: error.cap })
  }
})
app.get("/check/:id", (req, res) => {
  const answer = hub.check("unattended", req.params.id)
  res.status(answer.allowed ? 200 : 403).json(answer)
})
const server = app.listen(0, "127.0.0.1", () => console.log(\`listening on http://127.0.0.1:\${(server.address() as AddressInfo).port}\`))
process.once("SIGTERM", () => {
  server.close()
  server.closeAllConnections()
  void hub.close()
})
`

// The same product as a CommonJS file: require() of the ESM packages (Node >= 20.19), no build step.
const serverCjs = `const { createHub } = require("@exekra/server")
const { licenseGate } = require("@exekra/plugins/express")
const express = require("express")

createHub({ dataDir: process.env.DATA_DIR, publicKeys: [process.env.PUBLIC_KEY], version: "1.0.0" }).then((hub) => {
  const app = express()
  app.use("/license", hub.handler)
  app.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: (req) => req.get("x-runner-id") }), (req, res) => {
    res.status(201).json({ runner: req.license.principal, used: req.license.used })
  })
  const server = app.listen(0, "127.0.0.1", () => console.log("listening on http://127.0.0.1:" + server.address().port))
  process.once("SIGTERM", () => {
    server.close()
    server.closeAllConnections()
    hub.close()
  })
})
`

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2023"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    types: ["node"],
    rootDir: "src",
    outDir: "dist"
  },
  include: ["src"]
}

const work = mkdtempSync(join(tmpdir(), "exekra-packaging-"))
const tarballs = join(work, "tarballs")
const app = join(work, "app")
const children: Array<ChildProcess> = []
let packed: ReadonlyArray<Packed> = []

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  rmSync(work, { recursive: true, force: true })
})

beforeAll(async () => {
  mkdirSync(tarballs)
  mkdirSync(join(app, "src"), { recursive: true })
  const workspaces = PACKAGES.flatMap((name) => ["--workspace", `packages/${name}`])
  const pack = await run("npm", ["pack", ...workspaces, "--pack-destination", tarballs, "--json"], { cwd: root, env: cleanEnv(), maxBuffer: 16 << 20 })
  packed = JSON.parse(pack.stdout) as ReadonlyArray<Packed>

  const dependency = (name: string) => `file:${join(tarballs, packed.find((p) => p.name === `@exekra/${name}`)!.filename)}`
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify(
      {
        name: "vendor-app",
        private: true,
        type: "module",
        dependencies: { ...Object.fromEntries(PACKAGES.map((name) => [`@exekra/${name}`, dependency(name)])), express: installedVersion("express") },
        devDependencies: { "@types/express": installedVersion("@types/express"), "@types/node": installedVersion("@types/node") },
        // npm 11 runs no dependency's install script unless allowed: sqlite3 builds its native module from source.
        allowScripts: { sqlite3: true, "@parcel/watcher": false, "msgpackr-extract": false }
      },
      null,
      2
    )
  )
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))
  writeFileSync(join(app, "src", "server.ts"), serverTs)
  writeFileSync(join(app, "server.cjs"), serverCjs)
  // Third-party packages come from the npm cache the repository's own install filled.
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: app, env: cleanEnv(), maxBuffer: 16 << 20 })
}, 600_000)

/** Start a server file of the app with its own data directory and the vendor key; resolve with its URL. */
const start = (args: ReadonlyArray<string>, name: string, publicKey: string): Promise<{ readonly url: string; readonly child: ChildProcess; readonly dataDir: string }> => {
  const dataDir = join(work, `data-${name}`)
  const child = spawn(process.execPath, args, { cwd: app, env: { ...cleanEnv(), DATA_DIR: dataDir, PUBLIC_KEY: publicKey }, stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let output = ""
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s:\n${output}`)), 60_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ url: match[1]!, child, dataDir })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${code} before listening:\n${output}`))
    })
  })
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode })
    else child.once("exit", (code, signal) => resolve({ code, signal }))
  })

const post = (url: string, headers: Record<string, string> = {}, body?: unknown) =>
  fetch(url, {
    method: "POST",
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body)
  })

/** Activate the app's Hub with a license of the test's vendor key, then gate POST /runners to the limit and beyond. */
const exercise = async (url: string, license: string) => {
  expect(await (await fetch(`${url}/license/api/health`)).json()).toEqual({ status: "ok" })
  const early = await post(`${url}/runners`, { "x-runner-id": "r0" })
  expect(early.status).toBe(403)
  expect(((await early.json()) as { code: string }).code).toBe("CAP_UNACTIVATED")
  expect((await post(`${url}/license/api/activation`, {}, { license, email: EMAIL, password: PASSWORD })).status).toBe(201)
  for (let i = 1; i <= LIMIT; i++) {
    const admitted = await post(`${url}/runners`, { "x-runner-id": `r${i}` })
    expect(admitted.status).toBe(201)
    expect(await admitted.json()).toEqual({ runner: `r${i}`, used: i })
  }
  const refused = await post(`${url}/runners`, { "x-runner-id": `r${LIMIT + 1}` })
  expect(refused.status).toBe(403)
  expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/)
  expect(await refused.json()).toEqual({
    type: "urn:exekra:problem:CAP_LIMIT_REACHED",
    title: "Cap limit reached",
    status: 403,
    code: "CAP_LIMIT_REACHED",
    detail: `Unattended Runner limit reached (${LIMIT} of ${LIMIT}). Deregister a Runner or renew with a higher limit.`
  })
}

describe("packaging", { timeout: 180_000 }, () => {
  const vendor = Keys.generate()
  const day = 86_400_000
  const iso = (t: number) => new Date(Math.floor(t / 1000) * 1000).toISOString().replace(".000Z", "Z")
  const license = Signer.sign(
    {
      licenseId: "lic_packaging",
      type: "production",
      issuedTo: { name: "Vendor's customer", email: EMAIL },
      issuedAt: iso(Date.now() - day),
      caps: { unattended: { limit: LIMIT, expiresAt: iso(Date.now() + 365 * day) }, developer: { limit: 1, expiresAt: iso(Date.now() + 365 * day) } },
      validation: { required: false, intervalHours: 24 }
    },
    vendor
  )
  const publicKey = () => {
    const path = join(work, "vendor-public.key")
    writeFileSync(path, Keys.publicKeyToPem(vendor.publicKey))
    return path
  }

  it("packs dist, types, README and LICENSE: no tests, fixtures, sources or source maps", async () => {
    const sizes = packed.map((p) => `${p.name} ${(p.size / 1024).toFixed(1)} KiB packed, ${(p.unpackedSize / 1024).toFixed(1)} KiB unpacked, ${p.files.length} files`)
    const installed = (await run("du", ["-sk", join(app, "node_modules")])).stdout.split("\t")[0]
    console.log(`tarballs:\n  ${sizes.join("\n  ")}\ninstalled app (all four packages, express, @types): ${(Number(installed) / 1024).toFixed(1)} MiB in node_modules`)
    expect(packed.map((p) => p.name).sort()).toEqual(PACKAGES.map((name) => `@exekra/${name}`))
    for (const p of packed) {
      const paths = p.files.map((f) => f.path)
      expect(paths, p.name).toEqual(expect.arrayContaining(["LICENSE", "README.md", "package.json", "dist/index.js", "dist/index.d.ts"]))
      // Only the server ships more than dist: its launcher and the pages' static files.
      const extra = paths.filter((path) => !path.startsWith("dist/") && !["LICENSE", "README.md", "package.json"].includes(path))
      expect(extra, p.name).toEqual(p.name === "@exekra/server" ? ["bin/exekra-license.js", "src/pages/assets/app.css", "src/pages/assets/app.js"] : [])
      expect(paths.filter((path) => /(^|\/)(test|tests|fixtures|__golden__)\/|\.test\.|\.map$|\.tsbuildinfo$|\.ts$(?<!\.d\.ts)/.test(path)), p.name).toEqual([])
      const manifest = JSON.parse(readFileSync(join(app, "node_modules", p.name, "package.json"), "utf8")) as Record<string, unknown>
      expect(manifest["private"], p.name).toBeUndefined()
      expect(manifest["license"], p.name).toBe("Apache-2.0")
      expect(Object.keys((manifest["exports"] as Record<string, Record<string, string>>)["."]!)[0], p.name).toBe("types")
    }
    // The gates do not pull the Hub in: no dependency of the plugins on the server.
    const plugins = JSON.parse(readFileSync(join(app, "node_modules", "@exekra/plugins", "package.json"), "utf8")) as { dependencies: Record<string, string> }
    expect(Object.keys(plugins.dependencies)).not.toContain("@exekra/server")
  })

  it("declares every import each installed package makes", async () => {
    const dirs = PACKAGES.map((name) => join(app, "node_modules", "@exekra", name))
    const checked = await run(process.execPath, [join(root, "scripts", "check-package-imports.mjs"), ...dirs], { cwd: root, env: cleanEnv() })
    expect(checked.stdout).not.toContain("MISSING")
  })

  it("links the exekra-license command", async () => {
    const version = await run(join(app, "node_modules", ".bin", "exekra-license"), ["--version"], { cwd: app, env: cleanEnv() })
    expect(version.stdout.trim()).toBe("0.1.0")
  })

  it("ships the light commands in one bundle (packed fresh by prepack), and inspect runs from it in the installed app", async () => {
    const server = packed.find((p) => p.name === "@exekra/server")!.files.map((f) => f.path)
    // One bundle for the three light commands (they share nearly all their code), and its manifest.
    expect(server.filter((path) => path.startsWith("dist/cli/bundled/")).sort()).toEqual(["dist/cli/bundled/light.js", "dist/cli/bundled/manifest.json"])
    const file = join(work, "inspect-me.lic")
    writeFileSync(file, license)
    const cli = join(app, "node_modules", ".bin", "exekra-license")
    const bundled = await run(cli, ["inspect", file, "--public-key", publicKey()], { cwd: app, env: cleanEnv() })
    expect(bundled.stdout).toMatch(/signature: valid \(key [0-9a-f]{16}\)/)
    // The same answer from the unbundled modules: the bundle is the same program.
    const modules = await run(cli, ["inspect", file, "--public-key", publicKey()], { cwd: app, env: { ...cleanEnv(), EXEKRA_CLI_BUNDLE: "0" } })
    expect(modules.stdout).toBe(bundled.stdout)
  })

  it("compiles a strict NodeNext TypeScript Express 5 server with createHub + licenseGate; it gates POST /runners to the limit", async () => {
    await run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", app], { cwd: app, env: cleanEnv() }).catch((error: { stdout?: string }) => {
      throw new Error(`tsc failed:\n${error.stdout ?? String(error)}`)
    })
    const { url, child } = await start(["dist/server.js"], "esm", publicKey())
    await exercise(url, license)
    // The Promise API beside the gate: a denial rejects with the AdmissionError class the app imported.
    expect((await post(`${url}/direct/dev-1`)).status).toBe(201)
    expect(await (await post(`${url}/direct/dev-2`)).json()).toEqual({ code: "CAP_LIMIT_REACHED", cap: "developer" })
    expect(await (await fetch(`${url}/check/r1`)).json()).toEqual({ allowed: true })
    child.kill("SIGTERM")
    expect(await exited(child)).toEqual({ code: 0, signal: null })
  })

  it("runs the same server from a CommonJS file: require() of @exekra/server and @exekra/plugins/express", async () => {
    const { url, child } = await start(["server.cjs"], "cjs", publicKey())
    await exercise(url, license)
    child.kill("SIGTERM")
    expect(await exited(child)).toEqual({ code: 0, signal: null })
  })
})
