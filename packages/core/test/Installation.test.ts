// The installation id: created once, stored, and the same after the Hub restarts on the same SQLite file.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Installation, LicenseStore } from "@exekra/core"
import { Effect, Layer } from "effect"

const dir = mkdtempSync(join(tmpdir(), "exekra-installation-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const idWith = (store: Layer.Layer<LicenseStore.LicenseStore, LicenseStore.StoreError>) =>
  Effect.map(Installation.Installation, (i) => i.id).pipe(Effect.provide(Installation.layer.pipe(Layer.provide(store))))

describe("Installation", () => {
  it.effect("generates ids of the documented shape, all different", () =>
    Effect.gen(function* () {
      const ids = yield* Effect.replicateEffect(Installation.generateId, 200)
      for (const id of ids) expect(id).toMatch(/^inst_[0-9a-z]{26}$/)
      for (const id of ids) expect(id).toMatch(Installation.idPattern)
      expect(new Set(ids).size).toBe(ids.length)
    }))

  it.effect("draws every character of an id uniformly from the whole alphabet", () =>
    Effect.gen(function* () {
      // 300 uniform draws from 32 characters miss a given one with probability (31/32)^300 ≈ 7e-5,
      // so every position shows nearly all 32; a bit-packing slip pins some positions to a few.
      const ids = yield* Effect.replicateEffect(Installation.generateId, 300)
      for (let position = 5; position < 31; position++) {
        const seen = new Set(ids.map((id) => id[position]))
        expect(seen.size, `distinct characters at position ${position}`).toBeGreaterThanOrEqual(28)
      }
    }))

  it.effect("creates the id once per store and keeps it", () =>
    Effect.gen(function* () {
      const store = yield* LicenseStore.makeMemory
      const layer = Layer.succeed(LicenseStore.LicenseStore, store)
      const first = yield* idWith(layer)
      expect(yield* idWith(layer)).toBe(first)
      expect(yield* store.ensureInstallationId("inst_other")).toBe(first)
    }))

  it.effect("is stable across a reopened SQLite store", () =>
    Effect.gen(function* () {
      const store = LicenseStore.layerSqlite({ filename: join(dir, "hub.db") })
      const first = yield* idWith(store)
      expect(first).toMatch(Installation.idPattern)
      expect(yield* idWith(store)).toBe(first)
    }))
})
