#!/usr/bin/env node
// Launcher of the `exekra-license` CLI: runs the built CLI (dist/bin.js), or says how to build it. Committed, so
// `npm ci` of a fresh clone links the command even before the first build.
import { existsSync } from "node:fs"

const cli = new URL("../dist/bin.js", import.meta.url)
if (existsSync(cli)) {
  import(cli.href).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
} else {
  console.error(
    "exekra-license: the CLI is not built yet (packages/server/dist/bin.js is missing). Run `npm run build` at the repository root, then try again."
  )
  process.exitCode = 1
}
