// The shared Sqlite module on its own: migrations, transactions that roll back, and errors that name the file and the owner.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Sqlite } from "@exekra/core"
import { Data, Effect } from "effect"

const dir = mkdtempSync(join(tmpdir(), "exekra-sqlite-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = (): string => join(dir, `db-${++files}.sqlite`)

const v1 = "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)"
const v2 = "ALTER TABLE notes ADD COLUMN tag TEXT"
const open = (filename: string, migrations: ReadonlyArray<string> = [v1], extra: Partial<Sqlite.Options> = {}) =>
  Sqlite.open({ filename, migrations, describe: "notes database", owner: "Notebook", ...extra })

const texts = (db: Sqlite.Database) =>
  Effect.map(db.locked("list notes", db.all<{ text: string }>("SELECT text FROM notes ORDER BY id")), (rows) => rows.map((r) => r.text))

class Refused extends Data.TaggedError("Refused")<{ readonly why: string }> {}

describe("Sqlite", () => {
  it.effect("migrates a new file to the last step and later applies only the steps added since", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      yield* Effect.scoped(Effect.flatMap(open(filename), (db) => db.atomic("add a note", db.run("INSERT INTO notes (text) VALUES (?)", ["first"]))))
      const db = yield* open(filename, [v1, v2])
      expect(yield* db.locked("read the version", db.get<{ user_version: number }>("PRAGMA user_version"))).toEqual({ user_version: 2 })
      expect(yield* db.locked("tag", db.run("UPDATE notes SET tag = 'x'"))).toBe(1)
      expect(yield* db.locked("read the journal mode", db.get("PRAGMA journal_mode"))).toEqual({ journal_mode: "wal" })
    }).pipe(Effect.scoped))

  it.effect("atomic rolls back when its body fails with its own error, and passes that error through", () =>
    Effect.gen(function* () {
      const db = yield* open(freshFile())
      const error = yield* Effect.flip(
        db.atomic("add two notes", Effect.zipRight(db.run("INSERT INTO notes (text) VALUES ('a')"), Effect.fail(new Refused({ why: "changed my mind" }))))
      )
      expect(error).toEqual(new Refused({ why: "changed my mind" }))
      expect(yield* texts(db)).toEqual([])
    }).pipe(Effect.scoped))

  it.effect("atomic rolls back when a later statement fails, reporting it as a SqliteError that says what was done", () =>
    Effect.gen(function* () {
      const db = yield* open(freshFile())
      const error = yield* Effect.flip(
        db.atomic("add two notes", Effect.zipRight(db.run("INSERT INTO notes (text) VALUES ('a')"), db.run("INSERT INTO notes (text) VALUES ('a')")))
      )
      expect(error._tag).toBe("SqliteError")
      expect(error.code).toBe("DATABASE_FAILED")
      expect(error.message).toMatch(/^The notes database at .*db-\d+\.sqlite could not add two notes \(SQLITE_CONSTRAINT: UNIQUE constraint failed/)
      expect(yield* texts(db)).toEqual([])
    }).pipe(Effect.scoped))

  it.effect("serialises concurrent transactions on one connection", () =>
    Effect.gen(function* () {
      const db = yield* open(freshFile())
      yield* Effect.all(
        Array.from({ length: 20 }, (_, i) =>
          db.atomic(
            "add a note if there are fewer than 5",
            Effect.gen(function* () {
              const n = (yield* db.get<{ n: number }>("SELECT count(*) AS n FROM notes"))?.n ?? 0
              yield* Effect.yieldNow()
              if (n < 5) yield* db.run("INSERT INTO notes (text) VALUES (?)", [`n${i}`])
            })
          )
        ),
        { concurrency: "unbounded" }
      )
      expect(yield* texts(db)).toHaveLength(5)
    }).pipe(Effect.scoped))

  it.effect("refuses a file with a newer schema as DATABASE_CORRUPT, naming the owner", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      yield* Effect.scoped(open(filename, [v1, v2]))
      const error = yield* Effect.flip(Effect.scoped(open(filename, [v1])))
      expect(error.code).toBe("DATABASE_CORRUPT")
      expect(error.message).toBe(
        `The notes database at ${filename} has schema version 2, but this Notebook knows versions up to 1: ` +
          "it was written by a newer Exekra release. Upgrade this Notebook, or restore a backup taken before the upgrade."
      )
    }))

  it.effect("reports a file it cannot open as DATABASE_UNAVAILABLE and refuses a bad busy timeout", () =>
    Effect.gen(function* () {
      const filename = join(dir, "missing", "db.sqlite")
      const unavailable = yield* Effect.flip(Effect.scoped(open(filename)))
      expect(unavailable.code).toBe("DATABASE_UNAVAILABLE")
      expect(unavailable.message).toContain(`The notes database at ${filename} could not open the database`)
      expect(unavailable.message).toContain("that the Notebook may read and write it")
      const badTimeout = yield* Effect.flip(Effect.scoped(open(freshFile(), [v1], { busyTimeoutMs: -1 })))
      expect(badTimeout.code).toBe("DATABASE_FAILED")
    }))
})
