// The bad-license corpus against the core (Verifier, runtime), the HTTP API of a real Hub and the built CLI: every file refused with its code.
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Envelope, Installation, LicenseStore, PortalClient, Verifier } from "@exekra/core"
import { LicenseRuntime } from "@exekra/server"
import { Effect, Either, Fiber, Layer, TestClock } from "effect"
import { bin } from "./hub.js"
import {
  type BadFile,
  bytesOf,
  corpusDir,
  corpusKeyring,
  corpusNow,
  corpusPassword,
  manifest,
  soak,
  statusOfCode,
  textOf
} from "./support/badCorpus.js"
import { activate, call, type Call, expectProblem, installedLicense, licenseForm, readBody, signIn, startHub } from "./support/badHub.js"

const { context, files } = manifest
const installedFile = context.installed

describe("the bad-license corpus", () => {
  it("has at least 60 files covering every kind of refusal, and is what the generator writes", async () => {
    expect(files.length).toBeGreaterThanOrEqual(60)
    const codes = new Set(files.map((f) => f.code))
    for (const code of [
      "LICENSE_MALFORMED", "LICENSE_TOO_LARGE", "LICENSE_UNSUPPORTED_VERSION", "LICENSE_UNSUPPORTED_ALGORITHM", "LICENSE_UNKNOWN_KEY",
      "LICENSE_SIGNATURE_INVALID", "LICENSE_KEY_MISMATCH", "LICENSE_PAYLOAD_INVALID", "LICENSE_WRONG_INSTALLATION", "LICENSE_ROLLBACK",
      "LICENSE_NOT_YET_VALID", "LICENSE_EXPIRED"
    ]) expect(codes, code).toContain(code)
    // The committed files are exactly what scripts/make-bad-licenses.mjs writes (deterministic: fixed seeds and dates).
    const check = await run(["scripts/make-bad-licenses.mjs", "--check"], fileURLToPath(new URL("..", import.meta.url)))
    expect(check.stderr).toBe("")
    expect(check.code).toBe(0)
  })
})

// ---- core -------------------------------------------------------------------------------------------------

describe("core: Verifier over the corpus key", () => {
  const layers = [
    ["node:crypto", Verifier.make(corpusKeyring, Verifier.nodeCryptoPrimitive())],
    ["tweetnacl", Verifier.make(corpusKeyring, Verifier.tweetnaclPrimitive)]
  ] as const
  for (const [name, verifier] of layers) {
    it(`${name}: each file, as bytes and as text, gets its code; Envelope.parse never throws`, () => {
      for (const f of files) {
        const bytes = bytesOf(f.file)
        const inputs: ReadonlyArray<string | Uint8Array> = [bytes, ...(textOf(f.file) === undefined ? [] : [textOf(f.file)!])]
        for (const input of inputs) {
          expect(() => Envelope.parse(input), f.file).not.toThrow()
          const result = verifier.verifySync(input)
          expect(Either.isLeft(result) ? result.left.code : null, `${f.file} (${typeof input})`).toBe(f.expect.verify)
          if (Either.isLeft(result)) expect(result.left.message.length, f.file).toBeGreaterThan(20)
        }
      }
      for (const v of manifest.valid) expect(Either.isRight(verifier.verifySync(bytesOf(v.file))), v.file).toBe(true)
    })
  }
})

/** A runtime bound to the corpus Hub, on an in-memory store, at the corpus instant; the Portal is never reached. */
const withCorpusRuntime = <A, E>(body: (runtime: LicenseRuntime.LicenseRuntime.Service) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(corpusNow)
    const portal = Layer.succeed(PortalClient.PortalClient, {
      validate: () => Effect.fail(new PortalClient.PortalError({ code: "PORTAL_UNREACHABLE", message: "no Portal" }))
    })
    const layer = LicenseRuntime.layer({ version: "test" }).pipe(
      Layer.provide(
        Layer.mergeAll(
          Verifier.layerNodeCrypto(corpusKeyring),
          portal,
          Layer.succeed(Installation.Installation, { id: context.hubInstallationId })
        )
      ),
      Layer.provide(LicenseStore.layerMemory)
    )
    return yield* Effect.flatMap(LicenseRuntime.LicenseRuntime, body).pipe(Effect.provide(layer))
  })

const codeOf = <A>(effect: Effect.Effect<A, { readonly code: string }>) =>
  Effect.map(Effect.either(effect), (r) => (Either.isLeft(r) ? r.left.code : null))

describe("core: the runtime's activation and renewal", () => {
  it.scoped("activation refuses each file with its code and leaves the Hub unactivated", () =>
    withCorpusRuntime((runtime) =>
      Effect.gen(function* () {
        for (const f of files.filter((f) => f.expect.activation !== null)) {
          const code = yield* codeOf(runtime.activate({ license: bytesOf(f.file), email: context.email, password: corpusPassword }))
          expect(code, f.file).toBe(f.expect.activation)
        }
        expect(yield* runtime.isActivated).toBe(false)
      })
    ))

  // Files refused only as renewals (older than the installed one) activate an empty Hub: the harness can tell acceptance.
  const acceptedAtActivation = [...files.filter((f) => f.expect.activation === null).map((f) => f.file), "valid/bound-to-hub.lic"]
  for (const file of acceptedAtActivation) {
    it.scoped(`activation accepts ${file} on an empty Hub (it is refused only as a renewal)`, () =>
      withCorpusRuntime((runtime) =>
        Effect.gen(function* () {
          const summary = yield* runtime.activate({ license: bytesOf(file), email: context.email, password: corpusPassword })
          expect(summary.activated).toBe(true)
        })
      ))
  }

  it.scoped("renewal refuses each file with its code (or keeps it pending), and the installed license never changes", () =>
    withCorpusRuntime((runtime) =>
      Effect.gen(function* () {
        const installed = yield* runtime.activate({ license: bytesOf(installedFile), email: context.email, password: corpusPassword })
        const fingerprint = installed.license?.fingerprint
        const limits = Object.values(installed.caps).map((c) => c.limit)
        for (const f of files) {
          const result = yield* Effect.either(runtime.install(bytesOf(f.file)))
          if (f.expect.renewal === "staged") {
            expect(Either.isRight(result), f.file).toBe(true)
            expect((yield* runtime.summary).pending, f.file).not.toBeNull()
          } else {
            expect(Either.isLeft(result) ? result.left.code : null, f.file).toBe(f.expect.renewal)
          }
          const now = yield* runtime.summary
          expect(now.license?.fingerprint, f.file).toBe(fingerprint)
          expect(Object.values(now.caps).map((c) => c.limit), f.file).toEqual(limits)
        }
        // The genuine renewal every tampered file came from is installed: refusals above were not the harness failing.
        const renewed = yield* runtime.install(bytesOf("valid/renewal.lic"))
        expect(renewed.license?.fingerprint).not.toBe(fingerprint)
        expect(renewed.caps.unattended.limit).toBe(50)
      })
    ))
})

// ---- HTTP API ---------------------------------------------------------------------------------------------

/** The status and code the API must answer for a file at a stage. */
const expected = (f: BadFile, code: string): { readonly status: number; readonly code: string } =>
  f.http ?? { status: statusOfCode[code as keyof typeof statusOfCode], code }

describe("API: a real Hub on 127.0.0.1", () => {
  // Refusals change nothing, so the files go four at a time; the installed license is checked after each batch.
  const CONCURRENCY = 4

  it.scoped("activation (multipart and JSON) refuses each file with its code and status, never 5xx; renewal (PUT /api/license) too, and the installed license never changes", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(corpusNow)
      const hub = yield* startHub({ keyring: corpusKeyring, installationId: context.hubInstallationId })
      const fields = { email: context.email, password: corpusPassword }
      let requests = 0

      /** Both ways of sending a file: its bytes as a multipart file, and (when it is UTF-8) its text in JSON. */
      const bodiesOf = (f: BadFile, extra: Record<string, string>): ReadonlyArray<readonly [string, Call]> => {
        const text = textOf(f.file)
        return [
          ["multipart", { body: licenseForm(bytesOf(f.file), extra) }],
          ...(text === undefined ? [] : [["JSON", { json: { license: text, ...extra } }] as const])
        ]
      }

      yield* Effect.forEach(
        files.filter((f) => f.expect.activation !== null),
        (f) =>
          Effect.forEach(bodiesOf(f, fields), ([how, init]) =>
            Effect.gen(function* () {
              const want = expected(f, f.expect.activation!)
              yield* expectProblem(yield* call(hub, "POST", "/api/activation", init), want.status, want.code, `${f.file} (${how} activation)`)
              requests++
            })
          ),
        { concurrency: CONCURRENCY, discard: true }
      )
      const status = yield* readBody(yield* call(hub, "GET", "/api/activation"))
      expect(status.json).toEqual({ activated: false, installationId: context.hubInstallationId })

      yield* activate(hub, textOf(installedFile)!, context.email, corpusPassword)
      const token = yield* signIn(hub, context.email, corpusPassword)
      const before = yield* installedLicense(hub, token)
      expect(before.license?.licenseId).toBe("lic_corpus")

      for (let i = 0; i < files.length; i += CONCURRENCY) {
        const batch = files.slice(i, i + CONCURRENCY)
        yield* Effect.forEach(
          batch,
          (f) =>
            Effect.forEach(bodiesOf(f, {}), ([how, init]) =>
              Effect.gen(function* () {
                const response = yield* call(hub, "PUT", "/api/license", { ...init, token })
                requests++
                if (f.expect.renewal === "staged") {
                  const { json } = yield* readBody(response)
                  expect(response.status, `${f.file} (${how} renewal)`).toBe(200)
                  expect((json as { pending: unknown }).pending, f.file).not.toBeNull()
                } else {
                  const want = expected(f, f.expect.renewal)
                  yield* expectProblem(response, want.status, want.code, `${f.file} (${how} renewal)`)
                }
              })
            ),
          { concurrency: CONCURRENCY, discard: true }
        )
        const after = yield* installedLicense(hub, token)
        const names = batch.map((f) => f.file)
        expect({ names, license: after.license, caps: after.caps }).toEqual({ names, license: before.license, caps: before.caps })
      }
      // Every refusal is in the audit log as a failed upload or activation, with its code.
      const audit = yield* readBody(yield* call(hub, "GET", "/api/audit?limit=1000", { token }))
      const failed = (audit.json as { records: ReadonlyArray<{ outcome: string; action: string; code: string | null }> }).records.filter((r) => r.outcome === "failed")
      expect(failed.length).toBeGreaterThan(files.length)
      expect(failed.every((r) => r.code?.startsWith("LICENSE_") === true)).toBe(true)
      expect(requests).toBeGreaterThan(3 * files.length)
    }), 180_000)
})

describe("API: malformed multipart bodies", () => {
  // Regression: a multipart Content-Type without a boundary was answered 500 INTERNAL_ERROR (multipasta reports it from
  // its constructor, before any listener, so Node throws ERR_UNHANDLED_ERROR); it is a 400 problem now.
  it.scoped("a multipart Content-Type without a boundary is 400 INVALID_REQUEST on every route that reads a body", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(corpusNow)
      const hub = yield* startHub({ keyring: corpusKeyring, installationId: context.hubInstallationId })
      yield* activate(hub, textOf(installedFile)!, context.email, corpusPassword)
      const token = yield* signIn(hub, context.email, corpusPassword)
      for (const [method, path] of [["POST", "/api/activation"], ["POST", "/api/session"], ["PUT", "/api/license"], ["POST", "/api/caps/unattended/principals"], ["POST", "/api/tokens"]] as const) {
        for (const type of ["multipart/form-data", "multipart/form-data; boundary", "multipart/form-data; charset=utf-8"]) {
          const response = yield* call(hub, method, path, { token, body: "--x\r\n", headers: { "content-type": type }, timeoutMs: 10_000 })
          yield* expectProblem(response, 400, "INVALID_REQUEST", `${method} ${path} as ${type}`)
        }
      }
    }), 60_000)

  // A multipart body that ends outside a part (empty, or only an opening delimiter) leaves multipasta 0.2.8 waiting for
  // good: its end() reports neither completion nor an error. The request timeout answers it (on the Effect clock, moved
  // here), on the API and on the pages, so it cannot hold a fiber and a socket until the client gives up.
  it.scoped("a multipart body that ends before its first part is answered 408 at the request timeout", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(corpusNow)
      const hub = yield* startHub({ keyring: corpusKeyring, installationId: context.hubInstallationId })
      const requests = yield* Effect.forEach(
        [["/api/session", ""], ["/api/session", "--b\r\n"], ["/api/activation", "--b\r\n"], ["/activate", "--b\r\n"]] as const,
        ([path, body]) =>
          Effect.fork(Effect.either(call(hub, "POST", path, { body, headers: { "content-type": "multipart/form-data; boundary=b" }, timeoutMs: 20_000 }).pipe(Effect.sandbox)))
      )
      // Let the bodies arrive and the parsers stall (real time: the sockets are real), then pass the timeout.
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 300)))
      yield* TestClock.adjust("30 seconds")
      const answers = yield* Effect.forEach(requests, Fiber.join)
      expect(answers.map((a) => (Either.isRight(a) ? a.right.status : "no answer"))).toEqual([408, 408, 408, 408])
      const first = answers[0]!
      if (Either.isRight(first)) yield* expectProblem(first.right, 408, "REQUEST_TIMEOUT", "truncated multipart")
    }), 30_000)
})

// ---- CLI --------------------------------------------------------------------------------------------------

interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Run node with `args` and collect the exit code and both streams. */
const run = (args: ReadonlyArray<string>, cwd = corpusDir): Promise<Ran> =>
  new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })

// `inspect` knows only what the file itself says: signature and format codes, not the Hub, the installed license or the time.
const inspectable = files.filter((f) => f.expect.verify !== null)
/** A representative subset for CI: one file of each code, and the ones that stress reading (bytes, size, malleability). */
const representative = (): ReadonlyArray<BadFile> => {
  const chosen = new Map<string, BadFile>()
  for (const f of inspectable) if (!chosen.has(f.expect.verify!)) chosen.set(f.expect.verify!, f)
  for (const name of ["not-utf8.lic", "oversized-136k.lic", "sig-malleated.lic"]) {
    const f = inspectable.find((x) => x.file === name)
    if (f !== undefined) chosen.set(name, f)
  }
  return [...chosen.values()]
}

describe("CLI: exekra-license inspect FILE --public-key (the built binary)", () => {
  const subset = soak ? inspectable : representative()
  // Each spawn costs about a second and a half here: CI runs the subset, EXEKRA_SOAK=1 the whole corpus.
  it(`exits 1 with the code on stderr for ${subset.length} of ${inspectable.length} files (${soak ? "the whole corpus: EXEKRA_SOAK=1" : "a representative subset; EXEKRA_SOAK=1 runs all"})`, async () => {
    const results: Array<readonly [BadFile, Ran]> = []
    // Two at a time: the machine has two cores.
    for (let i = 0; i < subset.length; i += 2) {
      const batch = subset.slice(i, i + 2)
      results.push(...(await Promise.all(batch.map(async (f) => [f, await run([bin, "inspect", f.file, "--public-key", manifest.vendorPublicKey])] as const))))
    }
    for (const [f, ran] of results) {
      expect({ file: f.file, code: ran.code }).toEqual({ file: f.file, code: 1 })
      expect(ran.stderr, f.file).toMatch(new RegExp(`^${f.expect.verify}: \\S`, "m"))
      expect(ran.stdout, f.file).not.toMatch(/signature: valid/)
    }
    // The positive control: the genuine file the tampered ones came from.
    const good = await run([bin, "inspect", "valid/renewal.lic", "--public-key", manifest.vendorPublicKey])
    expect(good.code).toBe(0)
    expect(good.stdout).toMatch(/signature: valid/)
  }, soak ? 1_800_000 : 300_000)
})
