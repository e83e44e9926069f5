// The issuing CLI end to end: keygen → issue → inspect, tampering, trials and option errors.
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Keys, Signer } from "@exekra/core"
import { Either } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { descriptions, names, portalDescriptions } from "../src/cli/commands.js"
import { bundleOf } from "../src/cli/main.js"
import { binPath, runCli } from "./cliHarness.js"

let dir: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "exekra-cli-"))
  const keygen = await runCli(["keygen", "--out", "keys"], dir)
  expect(keygen.code).toBe(0)
})

// Each case spawns Node processes (about 1.5 s each on a loaded 2-core machine), so cases get room.
describe("exekra-license", { timeout: 120_000 }, () => {
  it("keygen writes PKCS#8 and SPKI PEM files, the private one with mode 0600, and prints the key id", async () => {
    expect(readFileSync(join(dir, "keys/private.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect(readFileSync(join(dir, "keys/public.key"), "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----\n/)
    expect(statSync(join(dir, "keys/private.key")).mode & 0o777).toBe(0o600)
    const again = await runCli(["keygen", "--out", "keys"], dir)
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^FILE_EXISTS: /m)
  })

  it("issue → inspect: the signature holds against the public key", async () => {
    const issued = await runCli(
      ["issue", "--key", "keys/private.key", "--name", "Acme Corp", "--email", "admin@acme.example", "--unattended", "10", "--developer", "5",
        "--expires", "2027-01-31", "--attended-expires", "2027-03-01", "--attended", "2", "--license-id", "lic_acme", "--issued-at", "2026-11-01", "--out", "acme.lic"],
      dir
    )
    expect(issued.stderr).toBe("")
    expect(issued.code).toBe(0)
    const inspected = await runCli(["inspect", "acme.lic", "--public-key", "keys/public.key"], dir)
    expect(inspected.code).toBe(0)
    expect(inspected.stdout).toMatch(/signature: valid \(key [0-9a-f]{16}\)/)
    const payload = JSON.parse(inspected.stdout.slice(0, inspected.stdout.lastIndexOf("}") + 1)) as Record<string, unknown>
    expect(payload).toMatchObject({
      licenseId: "lic_acme",
      type: "production",
      issuedAt: "2026-11-01T00:00:00Z",
      issuedTo: { name: "Acme Corp", email: "admin@acme.example" },
      caps: {
        unattended: { limit: 10, expiresAt: "2027-01-31T00:00:00Z" },
        developer: { limit: 5, expiresAt: "2027-01-31T00:00:00Z" },
        attended: { limit: 2, expiresAt: "2027-03-01T00:00:00Z" }
      },
      gracePeriodDays: 14,
      validation: { required: false, intervalHours: 24 }
    })
  })

  it("a tampered file makes inspect exit 1 with LICENSE_SIGNATURE_INVALID on stderr", async () => {
    const lines = readFileSync(join(dir, "acme.lic"), "utf8").split("\n")
    // Swap two characters inside the payload's base64: still well-formed, no longer what was signed.
    const line = lines[4]!
    lines[4] = line.slice(0, 10) + line[11] + line[10] + line.slice(12)
    expect(lines[4]).not.toBe(line)
    writeFileSync(join(dir, "tampered.lic"), lines.join("\n"))
    const inspected = await runCli(["inspect", "tampered.lic", "--public-key", "keys/public.key"], dir)
    expect(inspected.code).toBe(1)
    expect(inspected.stderr).toMatch(/^LICENSE_(SIGNATURE_INVALID|MALFORMED): /m)
  })

  it("a flipped payload byte is reported as LICENSE_SIGNATURE_INVALID", async () => {
    const text = readFileSync(join(dir, "acme.lic"), "utf8")
    const body = text.trim().split("\n").slice(1, -1).join("")
    const envelope = JSON.parse(Buffer.from(body, "base64").toString("utf8")) as { payload: string }
    const bytes = Buffer.from(envelope.payload, "base64url")
    bytes[20] = bytes[20]! ^ 1
    const tampered = Buffer.from(JSON.stringify({ ...envelope, payload: bytes.toString("base64url") })).toString("base64")
    writeFileSync(join(dir, "flipped.lic"), `-----BEGIN EXEKRA LICENSE-----\n${tampered}\n-----END EXEKRA LICENSE-----\n`)
    const inspected = await runCli(["inspect", "flipped.lic", "--public-key", "keys/public.key"], dir)
    expect(inspected.code).toBe(1)
    expect(inspected.stderr).toMatch(/^LICENSE_SIGNATURE_INVALID: /m)
  })

  it("a file signed by another key is LICENSE_UNKNOWN_KEY", async () => {
    expect((await runCli(["keygen", "--out", "other"], dir)).code).toBe(0)
    const inspected = await runCli(["inspect", "acme.lic", "--public-key", "other/public.key"], dir)
    expect(inspected.code).toBe(1)
    expect(inspected.stderr).toMatch(/^LICENSE_UNKNOWN_KEY: /m)
  })

  it("issue --trial defaults to 30 days, grace 0 and optional validation", async () => {
    const issued = await runCli(["issue", "--key", "keys/private.key", "--name", "T", "--email", "t@t.example", "--attended", "3", "--trial",
      "--issued-at", "2026-11-01T10:00:00Z", "--out", "trial.lic"], dir)
    expect(issued.code).toBe(0)
    const inspected = await runCli(["inspect", "trial.lic"], dir)
    expect(inspected.code).toBe(0)
    expect(inspected.stdout).toMatch(/signature: not checked/)
    const payload = JSON.parse(inspected.stdout.slice(0, inspected.stdout.lastIndexOf("}") + 1)) as Record<string, unknown>
    expect(payload).toMatchObject({
      type: "trial",
      gracePeriodDays: 0,
      validation: { required: false },
      caps: { attended: { limit: 3, expiresAt: "2026-12-01T10:00:00Z" } }
    })
  })

  it("refuses incomplete or invalid options with INVALID_OPTION", async () => {
    const base = ["issue", "--key", "keys/private.key", "--name", "A", "--out", "x.lic"]
    const [noExpiry, noCaps, badDate, badEmail, badKey] = await Promise.all([
      runCli([...base, "--email", "a@b.example", "--unattended", "1"], dir),
      runCli([...base, "--email", "a@b.example", "--expires", "2027-01-01"], dir),
      runCli([...base, "--email", "a@b.example", "--unattended", "1", "--expires", "2027-02-30"], dir),
      runCli([...base, "--email", "nope", "--unattended", "1", "--expires", "2027-02-01"], dir),
      runCli(["issue", "--key", "keys/public.key", "--name", "A", "--email", "a@b.example", "--unattended", "1", "--expires", "2027-02-01", "--out", "x.lic"], dir)
    ])
    expect(noExpiry.code).toBe(1)
    expect(noExpiry.stderr).toMatch(/^INVALID_OPTION: --expires is required/m)
    expect(noCaps.stderr).toMatch(/^INVALID_OPTION: Grant at least one cap/m)
    expect(badDate.stderr).toMatch(/^INVALID_OPTION: --expires 2027-02-30 is not a date/m)
    expect(badEmail.stderr).toMatch(/^INVALID_OPTION: The license would be invalid/m)
    expect(badKey.stderr).toMatch(/^KEY_INVALID: /m)
  })

  it("every command has --help, with its description", async () => {
    const commands = [[], ["keygen"], ["issue"], ["inspect"], ["serve"], ["portal"], ["portal", "revoke"], ["diagram"], ["timeline"]]
    const helps = await Promise.all(commands.map((command) => runCli([...command, "--help"], dir)))
    for (const [i, help] of helps.entries()) {
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(/USAGE/)
      const [name, sub] = commands[i]!
      if (name !== undefined) expect(help.stdout).toContain(sub === "revoke" ? portalDescriptions.revoke : descriptions[name as keyof typeof descriptions])
    }
  })

  it("--version prints the version, and an unknown command is refused by the whole command tree", async () => {
    const [version, unknown] = await Promise.all([runCli(["--version"], dir), runCli(["nope"], dir)])
    expect(version).toEqual({ code: 0, stdout: "0.1.0\n", stderr: "" })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr + unknown.stdout).toMatch(/keygen.*issue.*inspect.*serve.*portal.*diagram.*timeline/s)
  })
})

// Regression (issue 16, "CLI start-up: `--help` and `inspect` take ~14× a bare `node -e 0`"): the executable built
// the whole command tree first, and so loaded the Hub's HTTP server, its pages and every command for any of them.
describe("exekra-license start-up loads only what the command needs", { timeout: 120_000 }, () => {
  /** Run the CLI with a module hook that lists every file module it loads (ES and CommonJS); `bundles: false` sets EXEKRA_CLI_BUNDLE=0. */
  const loaded = async (args: ReadonlyArray<string>, { bundles = true }: { readonly bundles?: boolean } = {}) => {
    const log = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`)
    const hooks = join(dir, "hooks.mjs")
    const register = join(dir, "register.mjs")
    writeFileSync(hooks, `import { appendFileSync } from "node:fs"\nexport async function load(url, context, next) {\n  if (url.startsWith("file:")) appendFileSync(process.env.LOADED_LOG, url + "\\n")\n  return next(url, context)\n}\n`)
    // The hook sees every ES module; what require() loaded (a bundle's CommonJS, say) is listed at exit from its cache.
    writeFileSync(
      register,
      `import { appendFileSync } from "node:fs"\nimport { createRequire, register } from "node:module"\nimport { pathToFileURL } from "node:url"\n` +
        `register(${JSON.stringify(pathToFileURL(hooks).href)})\n` +
        `const cjs = createRequire(import.meta.url)("node:module")._cache\n` +
        `process.on("exit", () => { for (const file of Object.keys(cjs)) appendFileSync(process.env.LOADED_LOG, pathToFileURL(file).href + "\\n") })\n`
    )
    const result = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, ["--import", pathToFileURL(register).href, binPath, ...args], { cwd: dir, env: { ...process.env, NO_COLOR: "1", LOADED_LOG: log, EXEKRA_CLI_BUNDLE: bundles ? "" : "0" } }, (error, stdout) =>
        resolve({ code: error === null ? 0 : 1, stdout })
      )
    )
    return { ...result, modules: readFileSync(log, "utf8").trim().split("\n") }
  }
  const server = (modules: ReadonlyArray<string>) => modules.filter((url) => url.includes("/packages/server/dist/")).map((url) => url.replace(/.*\/packages\/server\/dist\//, ""))
  const startupLicense = () => {
    const key = Either.getOrThrow(Keys.privateKeyFromPem(readFileSync(join(dir, "keys/private.key"), "utf8")))
    const license = Signer.sign(
      {
        licenseId: "lic_startup",
        type: "production",
        issuedTo: { name: "Start-up", email: "ops@startup.example" },
        issuedAt: "2026-11-01T00:00:00Z",
        caps: { unattended: { limit: 1, expiresAt: "2027-11-01T00:00:00Z" } },
        validation: { required: false, intervalHours: 24 }
      },
      key
    )
    writeFileSync(join(dir, "startup.lic"), license)
  }

  it("--help lists every command with its description and loads no command, nor effect", async () => {
    const { code, stdout, modules } = await loaded(["--help"])
    expect(code).toBe(0)
    for (const name of names) expect(stdout).toContain(`${name} `)
    for (const text of [...Object.values(descriptions), ...Object.values(portalDescriptions)]) expect(stdout).toContain(text)
    expect(server(modules).sort()).toEqual(["bin.js", "cli/commands.js", "cli/main.js"])
    expect(modules.filter((url) => url.includes("/node_modules/"))).toEqual([])
  })

  it("inspect without its bundle loads its own module, not the HTTP server, the pages, the Portal, SQLite or Graphviz", async () => {
    startupLicense()
    const { code, stdout, modules } = await loaded(["inspect", "startup.lic", "--public-key", "keys/public.key"], { bundles: false })
    expect(code).toBe(0)
    expect(stdout).toMatch(/signature: valid/)
    const ours = server(modules)
    expect(ours).toContain("cli/inspect.js")
    expect(ours.filter((file) => /^(http|pages|portal|cluster)\/|^internal\/runtime|^(Hub|LicenseRuntime|AdminAuth|createHub)\.js$|^cli\/(serve|portal|issue|keygen|diagram|timeline)\.js$/.test(file))).toEqual([])
    expect(modules.filter((url) => /\/node_modules\/(sqlite3|@hpcc-js|pg|@effect\/sql|xstate)\/|NodeHttpServer|\/packages\/(core\/dist\/(LicenseStore|Sqlite|PortalClient)|machines)/.test(url))).toEqual([])
  })

  // Issue 16 again (start-up ≤ 4× `node -e 0`): even its own modules cost `inspect` ~10×, effect and @effect/cli being
  // hundreds of files to resolve and compile; scripts/bundle-cli.mjs (run by `npm run build`) makes each light
  // command one file.
  it("inspect, keygen and issue run from their bundles: the dispatcher and one file, nothing from node_modules", async () => {
    const bundles = new URL("../dist/cli/bundled/", import.meta.url)
    // A `tsc -b` since the last `npm run build` makes the bundles stale (and the CLI would not use them): bundle again.
    if ((["inspect", "keygen", "issue"] as const).some((name) => bundleOf(name, bundles) === undefined)) {
      await new Promise<void>((resolve, reject) =>
        execFile(process.execPath, [fileURLToPath(new URL("../../../scripts/bundle-cli.mjs", import.meta.url))], (error) => (error === null ? resolve() : reject(error)))
      )
    }
    startupLicense()
    const runs = [
      ["inspect", ["inspect", "startup.lic", "--public-key", "keys/public.key"], /signature: valid/],
      ["keygen", ["keygen", "--out", "bundle-keys"], /key id [0-9a-f]{16}/],
      ["issue", ["issue", "--key", "keys/private.key", "--name", "Bundle", "--email", "b@bundle.example", "--unattended", "1", "--expires", "2027-01-31", "--out", "bundle.lic"], /signed with key/]
    ] as const
    for (const [name, args, printed] of runs) {
      const { code, stdout, modules } = await loaded(args)
      expect(code, name).toBe(0)
      expect(stdout, name).toMatch(printed)
      expect(server(modules).sort(), name).toEqual(["bin.js", "cli/bundled/light.js", "cli/commands.js", "cli/main.js"])
      expect(modules.filter((url) => !url.includes("/packages/server/dist/")), name).toEqual([])
    }
  })

  it("a bundle is used while no build is newer than it, and not when there is none", () => {
    const bundles = join(mkdtempSync(join(tmpdir(), "exekra-bundles-")), "dist", "cli", "bundled")
    mkdirSync(bundles, { recursive: true })
    const url = pathToFileURL(`${bundles}/`)
    expect(bundleOf("inspect", url)).toBeUndefined()
    writeFileSync(join(bundles, "manifest.json"), JSON.stringify({ inspect: { file: "inspect.js", builds: ["../../.tsbuildinfo", "../../../../core/dist/.tsbuildinfo"] } }))
    expect(bundleOf("inspect", url)).toBeUndefined()
    writeFileSync(join(bundles, "inspect.js"), "export {}\n")
    const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000)
    utimesSync(join(bundles, "inspect.js"), at(10), at(10))
    // No tsbuildinfo at all (an installed package): the bundle as it is.
    expect(bundleOf("inspect", url)?.href).toBe(new URL("inspect.js", url).href)
    expect(bundleOf("keygen", url)).toBeUndefined()
    writeFileSync(join(bundles, "..", "..", ".tsbuildinfo"), "{}")
    utimesSync(join(bundles, "..", "..", ".tsbuildinfo"), at(5), at(5))
    expect(bundleOf("inspect", url)?.href).toBe(new URL("inspect.js", url).href)
    utimesSync(join(bundles, "..", "..", ".tsbuildinfo"), at(20), at(20))
    expect(bundleOf("inspect", url)).toBeUndefined()
  })
})
