// Scratch directories for databases: on tmpfs when there is one, removed when the suite ends.
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * Where databases go: `EXEKRA_SCRATCH` if set, else /dev/shm when writable, else the OS temp dir.
 * tmpfs makes each commit's fsync free, so thousands of admissions fit the CI budget; the locking,
 * WAL and crash behaviour under test are the same (a SIGKILL, unlike a power cut, loses nothing the
 * kernel already has). Set EXEKRA_SCRATCH=/var/tmp to measure on a disk.
 */
export const root: string = (() => {
  const configured = process.env.EXEKRA_SCRATCH
  if (configured !== undefined && configured !== "") return configured
  try {
    accessSync("/dev/shm", constants.W_OK)
    return "/dev/shm"
  } catch {
    return tmpdir()
  }
})()

const made: Array<string> = []

/** A fresh directory under `root`; `cleanup` removes every one made so far. */
export const dir = (prefix: string): string => {
  const path = mkdtempSync(join(root, `exekra-${prefix}-`))
  made.push(path)
  return path
}

export const cleanup = (): void => {
  for (const path of made.splice(0)) rmSync(path, { recursive: true, force: true })
}
