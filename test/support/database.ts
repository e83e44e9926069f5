// Direct, read-only look at a Hub's hub.sqlite while no server has it open: integrity, installed license, principals.
import type { Cap } from "@exekra/core"
import sqlite3 from "sqlite3"

/** What the file holds, read in one connection. */
export interface Inspection {
  /** `PRAGMA integrity_check`: `["ok"]` for a sound file. */
  readonly integrity: ReadonlyArray<string>
  /** Rows flagged installed: exactly one once activated. */
  readonly installed: ReadonlyArray<{ readonly text: string; readonly fingerprint: string; readonly licenseId: string; readonly issuedAt: number }>
  readonly active: ReadonlySet<string>
}

const all = <R>(db: sqlite3.Database, sql: string, params: ReadonlyArray<string> = []) =>
  new Promise<Array<R>>((resolve, reject) => db.all<R>(sql, params, (e, rows) => (e === null ? resolve(rows) : reject(e))))

/**
 * Open `file` read-only, as left by a killed server: SQLite recovers the WAL index for reading but, read-only,
 * neither checkpoints nor removes the -wal file, so the next server still starts from the crash state.
 */
export const inspect = async (file: string, cap: Cap.Cap): Promise<Inspection> => {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const handle: sqlite3.Database = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (e) => (e === null ? resolve(handle) : reject(e)))
  })
  try {
    const integrity = (await all<{ integrity_check: string }>(db, "PRAGMA integrity_check")).map((r) => r.integrity_check)
    const installed = await all<{ text: string; fingerprint: string; licenseId: string; issuedAt: number }>(
      db,
      "SELECT text, fingerprint, license_id AS licenseId, issued_at AS issuedAt FROM licenses WHERE installed = 1"
    )
    const active = new Set(
      (await all<{ id: string }>(db, "SELECT id FROM principals WHERE cap = ? AND status = 'active'", [cap])).map((r) => r.id)
    )
    return { integrity, installed, active }
  } finally {
    await new Promise<void>((resolve, reject) => db.close((e) => (e === null ? resolve() : reject(e))))
  }
}
