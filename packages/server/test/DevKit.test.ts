// Which keys a Hub trusts: configured vendor keys (option or EXEKRA_PUBLIC_KEYS), else the dev kit.
import { chmodSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Keys } from "@exekra/core"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit } from "effect"
import * as DevKit from "../src/DevKit.js"

const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const setup = () => {
  const dir = mkdtempSync(join(tmpdir(), "exekra-devkit-"))
  const a = Keys.generate()
  const b = Keys.generate()
  writeFileSync(join(dir, "a.pub"), Keys.publicKeyToPem(a.publicKey))
  writeFileSync(join(dir, "b.pub"), Keys.publicKeyToPem(b.publicKey))
  writeFileSync(join(dir, "bad.pub"), "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
  return { dir, a, b }
}

describe("DevKit.trustedKeys", () => {
  it.effect("reads every configured key file, in order, and creates no dev kit", () =>
    Effect.gen(function* () {
      const { dir, a, b } = setup()
      const trusted = yield* DevKit.trustedKeys(join(dir, "data"), [join(dir, "a.pub"), join(dir, "b.pub")]).pipe(withEnv({}))
      expect(trusted.dev).toBeUndefined()
      expect(trusted.publicKeys.map((k) => k.kid)).toEqual([a.kid, b.kid])
    }))

  it.effect("falls back to EXEKRA_PUBLIC_KEYS (comma-separated, blanks ignored) when no path is given", () =>
    Effect.gen(function* () {
      const { dir, b } = setup()
      const trusted = yield* DevKit.trustedKeys(join(dir, "data")).pipe(withEnv({ EXEKRA_PUBLIC_KEYS: ` ${join(dir, "b.pub")} ,` }))
      expect(trusted.dev).toBeUndefined()
      expect(trusted.publicKeys.map((k) => k.kid)).toEqual([b.kid])
    }))

  it.effect("an unreadable or malformed key file fails with a code naming the file", () =>
    Effect.gen(function* () {
      const { dir } = setup()
      const missing = yield* Effect.exit(DevKit.trustedKeys(dir, [join(dir, "nope.pub")]).pipe(withEnv({})))
      const bad = yield* Effect.exit(DevKit.trustedKeys(dir, [join(dir, "a.pub"), join(dir, "bad.pub")]).pipe(withEnv({})))
      expect(missing).toMatchObject(Exit.fail({ _tag: "TrustedKeyError", code: "FILE_UNREADABLE", path: join(dir, "nope.pub") }))
      expect(bad).toMatchObject(Exit.fail({ _tag: "TrustedKeyError", code: "KEY_INVALID", path: join(dir, "bad.pub") }))
    }))

  it.effect("with nothing configured, trusts the dev key and keeps it across starts", () =>
    Effect.gen(function* () {
      const { dir } = setup()
      const first = yield* DevKit.trustedKeys(join(dir, "data")).pipe(withEnv({}))
      const second = yield* DevKit.trustedKeys(join(dir, "data")).pipe(withEnv({}))
      expect(first.dev?.licensePath).toBe(join(dir, "data", "dev", "demo-trial.lic"))
      expect(first.publicKeys).toEqual([first.dev?.publicKey])
      expect(second.publicKeys[0]?.kid).toBe(first.publicKeys[0]?.kid)
    }))
})

// Regression (issue 16, "data files and folders created with modes 0600 / 0700"): the dev folder and the demo
// license were created with the umask (0755 / 0644), readable by every local user.
describe("DevKit file modes", () => {
  const mode = (path: string) => statSync(path).mode & 0o777
  const withUmask022 = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(Effect.sync(() => process.umask(0o022)), () => effect, (previous) => Effect.sync(() => void process.umask(previous)))
  const files = (data: string) => ["private.key", "public.key", "demo-trial.lic"].map((name) => join(data, "dev", name))

  it.effect("creates the data folder and its dev folder 0700, and the key pair and demo license 0600", () =>
    withUmask022(
      Effect.gen(function* () {
        const { dir } = setup()
        const data = join(dir, "data")
        yield* DevKit.trustedKeys(data).pipe(withEnv({}))
        expect([data, join(data, "dev")].map(mode)).toEqual([0o700, 0o700])
        expect(files(data).map(mode)).toEqual([0o600, 0o600, 0o600])
      })
    ))

  it.effect("restricts a dev folder and files an earlier release left 0755 / 0644, and keeps using its key", () =>
    withUmask022(
      Effect.gen(function* () {
        const { dir } = setup()
        const data = join(dir, "data")
        mkdirSync(data)
        const first = yield* DevKit.trustedKeys(data).pipe(withEnv({}))
        chmodSync(join(data, "dev"), 0o755)
        for (const file of files(data)) chmodSync(file, 0o644)
        const second = yield* DevKit.trustedKeys(data).pipe(withEnv({}))
        expect(second.publicKeys[0]?.kid).toBe(first.publicKeys[0]?.kid)
        expect(mode(join(data, "dev"))).toBe(0o700)
        expect(files(data).map(mode)).toEqual([0o600, 0o600, 0o600])
        // The data folder existed: it is the admin's, its mode is left as it was.
        expect(mode(data)).toBe(0o755)
      })
    ))
})
