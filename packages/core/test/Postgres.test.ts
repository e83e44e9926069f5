// The shared Postgres module's row decoders: typed columns read by field name, and a row they cannot read is DATABASE_CORRUPT naming the column.
import { describe, expect, it } from "@effect/vitest"
import { Postgres } from "@exekra/core"
import { Effect, Either } from "effect"
import { displayUrl, freshDatabase, sqlAt } from "./support/postgres.js"

const toNote = Postgres.decoder({
  noteId: Postgres.text,
  createdAt: Postgres.integer,
  author: Postgres.nullable(Postgres.text),
  pinned: Postgres.boolean,
  tags: Postgres.textArray,
  kind: Postgres.textAs<"memo" | "todo">()
})

const row = { note_id: "n1", created_at: "1767225600000", author: null, pinned: false, tags: ["a", "b"], kind: "memo" }

describe("Postgres decoders", () => {
  it("read each field from its snake_case column, bigints sent as text as numbers, NULL as null", () => {
    expect(toNote(row)).toEqual(Either.right({ noteId: "n1", createdAt: 1767225600000, author: null, pinned: false, tags: ["a", "b"], kind: "memo" }))
    expect(Either.map(toNote({ ...row, created_at: 42, author: "ada" }), (n) => [n.createdAt, n.author])).toEqual(Either.right([42, "ada"]))
  })

  it("fail naming the first column that is missing or of another type, by its kind and never its value", () => {
    const failure = (bad: Record<string, unknown>) => Either.match(toNote(bad), { onLeft: (error) => error, onRight: () => undefined })
    const { created_at: _, ...missing } = row
    expect(failure(missing)).toEqual(new Postgres.ColumnError({ column: "created_at", expected: "an integer", found: "missing" }))
    expect(failure({ ...row, created_at: "12abc" })).toMatchObject({ column: "created_at", expected: "an integer", found: "text" })
    expect(failure({ ...row, created_at: 1.5 })).toMatchObject({ column: "created_at", found: "a number" })
    expect(failure({ ...row, note_id: null })).toMatchObject({ column: "note_id", expected: "text", found: "NULL" })
    expect(failure({ ...row, author: 7 })).toMatchObject({ column: "author", expected: "text or NULL", found: "a number" })
    expect(failure({ ...row, pinned: "t" })).toMatchObject({ column: "pinned", expected: "a boolean", found: "text" })
    expect(failure({ ...row, tags: ["a", 1] })).toMatchObject({ column: "tags", expected: "a list of text", found: "a list" })
  })

  it.scoped("a row the decoder cannot read fails the read with DATABASE_CORRUPT, naming the database, the operation and the column", () =>
    Effect.gen(function* () {
      const test = yield* freshDatabase()
      const db = yield* Postgres.open({
        url: test.url,
        applicationName: "notes",
        migrations: ["CREATE TABLE notes (note_id text PRIMARY KEY, created_at bigint NOT NULL, author text, pinned boolean NOT NULL, tags text[] NOT NULL, kind text NOT NULL)"],
        migrationsTable: "notes_migrations",
        migrationLock: 0x4e4f5445,
        describe: "notes database",
        owner: "notebook",
        whileUnreachable: "retry later"
      })
      const select = "SELECT note_id, created_at, author, pinned, tags, kind FROM notes ORDER BY note_id"
      yield* db.exec("add a note", "INSERT INTO notes VALUES ('n1', 1767225600000, NULL, false, ARRAY['a'], 'memo')")
      expect(yield* db.rows("list the notes", select, [], toNote)).toEqual([{ noteId: "n1", createdAt: 1767225600000, author: null, pinned: false, tags: ["a"], kind: "memo" }])
      expect(yield* db.row("read a note", `${select} LIMIT 1`, [], toNote)).toMatchObject({ noteId: "n1" })
      expect(yield* db.row("read a note", "SELECT note_id FROM notes WHERE false", [], toNote)).toBeUndefined()

      // Altered outside the notebook: a column made nullable and emptied.
      yield* sqlAt(test.url, "ALTER TABLE notes ALTER COLUMN kind DROP NOT NULL")
      yield* sqlAt(test.url, "INSERT INTO notes VALUES ('n2', 1, 'ada', true, ARRAY[]::text[], NULL)")
      const error = yield* Effect.flip(db.rows("list the notes", select, [], toNote))
      expect(error.code).toBe("DATABASE_CORRUPT")
      expect(error.message).toBe(
        `The notes database at ${displayUrl(test.url)} could not list the notes (column kind holds NULL, not text). ` +
          "Its data was changed outside the notebook, or is damaged: restore it from a backup."
      )
    }))
})
