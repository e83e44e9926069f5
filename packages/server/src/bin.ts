#!/usr/bin/env node
/** Entry point of the `exekra-license` executable. */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { main } from "./cli/main.js"

NodeRuntime.runMain(
  Effect.flatMap(main(process.argv), (code) =>
    Effect.sync(() => {
      process.exitCode = code
    })
  )
)
