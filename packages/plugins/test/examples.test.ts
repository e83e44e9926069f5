// The runnable examples, each started as an operator would (built packages, PORT and DATA_DIR) and exercised over HTTP.
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const PASSWORD = "a sturdy passphrase 42"

interface Running {
  readonly url: string
  readonly dataDir: string
  readonly stop: () => Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const started: Array<{ readonly child: ChildProcess; readonly dataDir: string }> = []
afterEach(() => {
  for (const { child, dataDir } of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    rmSync(dataDir, { recursive: true, force: true })
  }
})

/** Start `examples/<name>/server.mjs` on a free port with a fresh data directory; resolve once it prints its URL. */
const start = (name: string): Promise<Running> => {
  const dataDir = mkdtempSync(join(tmpdir(), `exekra-${name}-`))
  // The examples run on the built packages (no @exekra/source condition): `npm test` builds first.
  const child = spawn(process.execPath, [join(root, "examples", name, "server.mjs")], {
    cwd: root,
    env: { ...process.env, PORT: "0", DATA_DIR: dataDir, NODE_OPTIONS: "" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  started.push({ child, dataDir })
  let output = ""
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })))
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match !== null) {
        resolve({
          url: match[1]!,
          dataDir,
          stop: () => {
            child.kill("SIGTERM")
            return exited
          }
        })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    void exited.then((status) => reject(new Error(`${name} exited (${JSON.stringify(status)}) before listening:\n${output}`)))
  })
}

const post = (url: string, headers: Record<string, string> = {}, body?: unknown) =>
  fetch(url, {
    method: "POST",
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body)
  })

const codeOf = async (response: Response) => ((await response.json()) as { code: string }).code

describe.each(["express-hub", "fastify-hub", "hono-hub", "node-http-hub"])("examples/%s", (name) => {
  it("serves the Hub under /license, gates its three routes by the license, and exits cleanly on SIGTERM", { timeout: 90_000 }, async () => {
    const { url, dataDir, stop } = await start(name)
    expect(await (await fetch(`${url}/license/api/health`)).json()).toEqual({ status: "ok" })

    // Before activation every cap is unactivated.
    const early = await post(`${url}/runners`, { "x-runner-id": "r1" })
    expect(early.status).toBe(403)
    expect(early.headers.get("content-type")).toMatch(/^application\/problem\+json/)
    expect(await codeOf(early)).toBe("CAP_UNACTIVATED")

    // Activate through the mounted Hub with the demo trial license the dev kit wrote.
    const license = readFileSync(join(dataDir, "dev", "demo-trial.lic"), "utf8")
    expect((await post(`${url}/license/api/activation`, {}, { license, email: "admin@example.com", password: PASSWORD })).status).toBe(201)

    const runner = await post(`${url}/runners`, { "x-runner-id": "r1", "x-runner-name": "Runner one" })
    expect(runner.status).toBe(201)
    expect(await runner.json()).toEqual({ runner: "r1", used: 1 })
    expect((await post(`${url}/runners`, { "x-runner-id": "r1" })).status).toBe(200)

    const seat = await post(`${url}/studio/sessions`, { "x-user-id": "dev-1" })
    expect(seat.status).toBe(201)
    expect(await seat.json()).toMatchObject({ user: "dev-1" })

    // Attended users are granted by the admin through the Hub API; the product only checks them.
    expect(await codeOf(await post(`${url}/attended/runs`, { "x-user-id": "alice" }))).toBe("PRINCIPAL_NOT_ADMITTED")
    const { token } = (await (await post(`${url}/license/api/session`, {}, { email: "admin@example.com", password: PASSWORD })).json()) as { token: string }
    expect((await post(`${url}/license/api/caps/attended/principals`, { authorization: `Bearer ${token}` }, { id: "alice" })).status).toBe(201)
    const run = await post(`${url}/attended/runs`, { "x-user-id": "alice" })
    expect(run.status).toBe(202)
    expect(await run.json()).toMatchObject({ user: "alice" })

    const listed = (await (await fetch(`${url}/license/api/caps/unattended/principals`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      principals: ReadonlyArray<{ id: string; name: string | null }>
    }
    expect(listed.principals.map((p) => [p.id, p.name])).toEqual([["r1", "Runner one"]])
    const released = await fetch(`${url}/runners/r1`, { method: "DELETE" })
    expect(await released.json()).toEqual({ runner: "r1", released: true })

    expect(await stop()).toEqual({ code: 0, signal: null })
  })
})
