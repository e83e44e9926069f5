// Bench: a Hub runtime's memory, measured in a fresh process so that nothing the other benchmarks allocated is counted.
//
// `node --expose-gc bench/memory.mjs FILE PUBLIC_KEY_PEM` opens the runtime on the Hub database FILE, collects garbage
// and prints its memory as JSON; `measure` runs it and returns that. An RSS read in the benchmark's own process after
// earlier sections moves with whatever the collector happens to return to the system (it printed "+-108 MiB").
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(import.meta.url)

/**
 * Memory of a fresh process holding a runtime open on `filename`, after garbage collection: `rss`, `heapUsed`,
 * `external` (bytes), the peak RSS over its life `maxRss` (bytes), and the principals it loaded.
 */
export const measure = (filename, publicKeyPem) =>
  new Promise((resolve, reject) =>
    execFile(process.execPath, ["--expose-gc", script, filename, publicKeyPem], { maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout))
    )
  )

/** Bytes as MiB, and a difference as a signed MiB figure ("+42 MiB", "−3 MiB"). */
export const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
export const signedMib = (bytes) => `${bytes < 0 ? "−" : "+"}${mib(Math.abs(bytes))}`

const child = async (filename, publicKeyPem) => {
  const { Installation, Keyring, Keys, LicenseStore, PortalClient, Verifier } = await import("@exekra/core")
  const { LicenseRuntime } = await import("@exekra/server")
  const { Effect, Either, Exit, Layer, Scope } = await import("effect")
  const publicKey = Either.getOrThrow(Keys.publicKeyFromPem(publicKeyPem))
  const portalUp = Layer.succeed(
    PortalClient.PortalClient,
    PortalClient.PortalClient.of({ validate: () => Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (t) => ({ status: "valid", serverTime: new Date(t) })) })
  )
  const layer = LicenseRuntime.layer({ version: "bench", heartbeatMs: 365 * 86_400_000 }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(Verifier.layerNodeCrypto(Keyring.make([publicKey])), portalUp, Installation.layer).pipe(
        Layer.provideMerge(LicenseStore.layerSqlite({ filename }))
      )
    )
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const runtime = Effect.runSync(Effect.provide(LicenseRuntime.LicenseRuntime, context))
  const summary = await Effect.runPromise(runtime.summary)
  // Two passes: the first may only queue finalizers that free more on the second.
  globalThis.gc()
  globalThis.gc()
  const { rss, heapUsed, external } = process.memoryUsage()
  // maxRSS is in KiB.
  const maxRss = process.resourceUsage().maxRSS * 1024
  process.stdout.write(JSON.stringify({ rss, heapUsed, external, maxRss, used: summary.caps.unattended.used }))
  await Effect.runPromise(Scope.close(scope, Exit.void))
}

if (process.argv[1] === script) await child(process.argv[2], process.argv[3])
