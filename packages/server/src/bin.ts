#!/usr/bin/env node
/** Entry point of the `exekra-license` executable: it loads the dispatcher only, which loads the command asked for. */
import { main } from "./cli/main.js"

// A promise rather than top-level await: no module of the package uses top-level await, so `require()` loads any of them.
main(process.argv).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
