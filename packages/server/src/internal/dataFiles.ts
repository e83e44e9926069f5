/** Owner-only files and folders for the data of a Hub and of the reference Portal: folders 0700, files 0600. */
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs"

/** Mode of a data folder: only its owner may list, enter or change it. */
export const DIRECTORY_MODE = 0o700

/** Mode of a data file: only its owner may read or write it. */
export const FILE_MODE = 0o600

/**
 * Create a data folder and any missing parents as {@link DIRECTORY_MODE}. A folder that already exists keeps its
 * mode: it may be one the admin chose (`--data /srv/exekra`), and the files inside are owner-only anyway.
 * Throws what `mkdirSync` throws.
 */
export const makeDirectory = (path: string): void => {
  mkdirSync(path, { recursive: true, mode: DIRECTORY_MODE })
}

/** Take group and other access off an existing file or folder of ours (one an earlier release created with the umask). */
export const restrict = (path: string): void => {
  const mode = statSync(path).mode & 0o777
  if ((mode & 0o077) !== 0) chmodSync(path, mode & 0o700)
}

/** Write a new data file as {@link FILE_MODE} (the mode applies when the file is created: see {@link restrict}). */
export const writeFile = (path: string, data: string): void => {
  writeFileSync(path, data, { mode: FILE_MODE })
}
