// Cold start of an example host: spawn it on a fresh data directory, time until its first HTTP answer, read its
// resident memory (RSS) then (idle) and after a burst of gated requests (loaded), and stop it.
// Usage: node bench/cold-start.mjs [example] [requests]   (default express-hub, 1000); prints one JSON line.
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../", import.meta.url))
const example = process.argv[2] ?? "express-hub"
const requests = Number(process.argv[3] ?? 1000)
const dataDir = mkdtempSync(join(tmpdir(), "exekra-cold-"))
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024

const started = performance.now()
const child = spawn(process.execPath, [join(root, "examples", example, "server.mjs")], {
  env: { ...process.env, PORT: "0", DATA_DIR: dataDir, NODE_OPTIONS: "" },
  stdio: ["ignore", "pipe", "inherit"]
})
try {
  const url = await new Promise((resolve, reject) => {
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match) resolve(match[1])
    })
    child.once("exit", (code) => reject(new Error(`${example} exited with ${code}: ${output}`)))
  })
  const health = await fetch(`${url}/license/api/health`)
  await health.arrayBuffer()
  const firstAnswerMs = performance.now() - started
  const idleRssMiB = rssMiB(child.pid)

  // Loaded: activate with the dev kit's demo license, then a burst of gated requests (acquire, then checks).
  const post = (path, headers, body) =>
    fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: body && JSON.stringify(body) })
  const license = readFileSync(join(dataDir, "dev", "demo-trial.lic"), "utf8")
  await (await post("/license/api/activation", {}, { license, email: "admin@example.com", password: "a sturdy passphrase 42" })).arrayBuffer()
  for (let i = 0; i < requests; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, requests - i) }, async (_, j) => (await post("/runners", { "x-runner-id": `r${(i + j) % 5}` })).arrayBuffer())
    )
  }
  const loadedRssMiB = rssMiB(child.pid)
  console.log(JSON.stringify({ example, firstAnswerMs: Math.round(firstAnswerMs), idleRssMiB: Math.round(idleRssMiB), loadedRssMiB: Math.round(loadedRssMiB), requests }))
} finally {
  child.kill("SIGKILL")
  rmSync(dataDir, { recursive: true, force: true })
}
