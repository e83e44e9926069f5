// The shared Sqlite module on its own: migrations, transactions that roll back, and errors that name the file and the owner.
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Sqlite } from "@exekra/core"
import { Cause, Data, Effect, Exit } from "effect"
import { holdWriteLock } from "./support/holdWriteLock.js"

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

const addNote = (db: Sqlite.Database, text: string) => db.atomic("add a note", db.run("INSERT INTO notes (text) VALUES (?)", [text]))

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

  it.effect("accepts a busy timeout of 0 ms and refuses negative or fractional ones, saying what it got", () =>
    Effect.gen(function* () {
      const db = yield* open(freshFile(), [v1], { busyTimeoutMs: 0 })
      yield* addNote(db, "no waiting")
      expect(yield* texts(db)).toEqual(["no waiting"])
      for (const busyTimeoutMs of [-1, 1.5]) {
        const error = yield* Effect.flip(Effect.scoped(open(freshFile(), [v1], { busyTimeoutMs })))
        expect(error).toMatchObject({
          code: "DATABASE_FAILED",
          message: `busyTimeoutMs must be a non-negative whole number of milliseconds, got ${busyTimeoutMs}.`
        })
      }
    }).pipe(Effect.scoped))

  it.effect("reports a write lock held by another connection past busyTimeoutMs as DATABASE_UNAVAILABLE", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const db = yield* open(filename, [v1], { busyTimeoutMs: 20 })
      const error = yield* Effect.flip(Effect.scoped(Effect.zipRight(holdWriteLock(filename), addNote(db, "blocked"))))
      expect(error).toMatchObject({
        _tag: "SqliteError",
        code: "DATABASE_UNAVAILABLE",
        message:
          `The notes database at ${filename} could not add a note (SQLITE_BUSY: database is locked). ` +
          "Another process held the database lock for more than 20 ms; retry, or raise busyTimeoutMs."
      })
      // Once the other connection lets go, the same write succeeds.
      yield* addNote(db, "after")
      expect(yield* texts(db)).toEqual(["after"])
    }).pipe(Effect.scoped))

  it.effect("reports a database that refuses writes (SQLITE_READONLY) as DATABASE_UNAVAILABLE", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const db = yield* open(filename)
      yield* db.locked("make the connection read-only", db.exec("PRAGMA query_only = 1"))
      const error = yield* Effect.flip(addNote(db, "refused"))
      expect(error).toMatchObject({
        code: "DATABASE_UNAVAILABLE",
        message:
          `The notes database at ${filename} could not add a note (SQLITE_READONLY: attempt to write a readonly database). ` +
          "Check free disk space and the permissions of the file and its directory."
      })
    }).pipe(Effect.scoped))

  it.effect("reports a full database (SQLITE_FULL) as DATABASE_UNAVAILABLE", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const db = yield* open(filename)
      yield* db.locked("cap the file size", db.exec("PRAGMA max_page_count = 2"))
      const error = yield* Effect.flip(db.atomic("add a large note", db.run("INSERT INTO notes (text) VALUES (?)", ["x".repeat(100_000)])))
      expect(error).toMatchObject({
        code: "DATABASE_UNAVAILABLE",
        message:
          `The notes database at ${filename} could not add a large note (SQLITE_FULL: database or disk is full). ` +
          "Check free disk space and the permissions of the file and its directory."
      })
      expect(yield* texts(db)).toEqual([])
    }).pipe(Effect.scoped))

  it.effect("reports a file that is not a database as DATABASE_CORRUPT while configuring it", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      writeFileSync(filename, "these are someone's notes, not a database\n".repeat(100))
      const error = yield* Effect.flip(Effect.scoped(open(filename)))
      expect(error).toMatchObject({
        code: "DATABASE_CORRUPT",
        message:
          `The notes database at ${filename} could not configure the database (SQLITE_NOTADB: file is not a database). ` +
          "The file is damaged or is not an Exekra database; restore it from a backup."
      })
    }))

  it.effect("reports a damaged page (SQLITE_CORRUPT) as DATABASE_CORRUPT, naming what was being read", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      yield* Effect.scoped(Effect.flatMap(open(filename), (db) => addNote(db, "soon unreadable")))
      // Page 2 is the notes table's root page; 0xff bytes are no valid b-tree page.
      const fd = openSync(filename, "r+")
      writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, 4096)
      closeSync(fd)
      const db = yield* open(filename)
      const error = yield* Effect.flip(texts(db))
      expect(error).toMatchObject({
        code: "DATABASE_CORRUPT",
        message:
          `The notes database at ${filename} could not list notes (SQLITE_CORRUPT: database disk image is malformed). ` +
          "The file is damaged or is not an Exekra database; restore it from a backup."
      })
    }).pipe(Effect.scoped))

  it.effect("reports a failing migration as DATABASE_FAILED and leaves the schema version where it was", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const error = yield* Effect.flip(Effect.scoped(open(filename, [v1, "ALTER TABLE nowhere ADD COLUMN tag TEXT"])))
      expect(error).toMatchObject({
        code: "DATABASE_FAILED",
        message:
          `The notes database at ${filename} could not upgrade the database schema (SQLITE_ERROR: no such table: nowhere). ` +
          "This is unexpected: keep the database file and report the error."
      })
      const db = yield* open(filename)
      expect(yield* db.locked("read the version", db.get<{ user_version: number }>("PRAGMA user_version"))).toEqual({ user_version: 1 })
    }).pipe(Effect.scoped))

  it.effect("atomic reports only the body's error when SQLite already rolled the transaction back itself", () =>
    Effect.gen(function* () {
      const db = yield* open(freshFile())
      yield* addNote(db, "a")
      // INSERT OR ROLLBACK ends the transaction on a conflict, so atomic's own ROLLBACK finds none: not a second failure.
      const exit = yield* Effect.exit(
        db.atomic(
          "add a duplicate note",
          Effect.zipRight(
            db.run("INSERT INTO notes (text) VALUES ('b')"),
            db.run("INSERT OR ROLLBACK INTO notes (text) VALUES ('a')").pipe(Effect.catchAll(() => new Refused({ why: "duplicate" })))
          )
        )
      )
      expect(exit).toEqual(Exit.fail(new Refused({ why: "duplicate" })))
      expect(Cause.failures(Exit.isFailure(exit) ? exit.cause : Cause.empty)).toHaveLength(1)
      expect(yield* texts(db)).toEqual(["a"])
    }).pipe(Effect.scoped))

  // Regression (issue 16, "hub.sqlite is 0644 today and holds password hashes"): the files were created with the
  // process umask, readable by every local user.
  describe("file modes", () => {
    const mode = (file: string) => statSync(file).mode & 0o777
    /** Run with the usual umask 022, under which SQLite on its own creates 0644 files. */
    const withUmask022 = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(Effect.sync(() => process.umask(0o022)), () => effect, (previous) => Effect.sync(() => void process.umask(previous)))

    it.effect("a new database and its -wal and -shm files are owner-only (0600)", () =>
      withUmask022(
        Effect.gen(function* () {
          const filename = freshFile()
          const db = yield* open(filename)
          yield* addNote(db, "secret")
          // In WAL mode the -wal and -shm files exist while a connection is open.
          expect([filename, `${filename}-wal`, `${filename}-shm`].map((f) => [f, existsSync(f) ? mode(f) : "missing"])).toEqual(
            [filename, `${filename}-wal`, `${filename}-shm`].map((f) => [f, 0o600])
          )
        }).pipe(Effect.scoped)
      ))

    it.effect("an existing database written 0644 by an earlier release, and its -wal and -shm, are restricted to 0600 when opened", () =>
      withUmask022(
        Effect.gen(function* () {
          const filename = freshFile()
          yield* Effect.scoped(Effect.flatMap(open(filename), (db) => addNote(db, "before")))
          for (const file of [filename, `${filename}-wal`, `${filename}-shm`]) {
            if (!existsSync(file)) writeFileSync(file, "")
            chmodSync(file, 0o644)
          }
          const db = yield* open(filename)
          expect(yield* texts(db)).toEqual(["before"])
          expect([filename, `${filename}-wal`, `${filename}-shm`].map(mode)).toEqual([0o600, 0o600, 0o600])
        }).pipe(Effect.scoped)
      ))

    it.effect(":memory: databases touch no file", () =>
      Effect.gen(function* () {
        const db = yield* open(":memory:")
        yield* addNote(db, "a")
        expect(existsSync(":memory:")).toBe(false)
      }).pipe(Effect.scoped))
  })
})
