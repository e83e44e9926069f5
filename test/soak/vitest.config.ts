// Soak profile (`npm run soak`): the concurrency and crash suites at the full sizes of issue 7, and the cluster suites at
// those of issue 12, one file at a time.
import { fileURLToPath } from "node:url"
import { defaultServerConditions, defineConfig } from "vite"

// Like the workspace config: tests run on the TypeScript sources; the child processes run the build.
const conditions = ["@exekra/source", ...defaultServerConditions]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    name: "soak",
    root: fileURLToPath(new URL("..", import.meta.url)),
    include: ["concurrency.test.ts", "crash.test.ts", "badInput.test.ts", "fuzz.test.ts", "cluster/*.test.ts"],
    // EXEKRA_SOAK=1 selects the full sizes (test/support/profile.ts); SEED and EXEKRA_SCRATCH pass through.
    env: { EXEKRA_SOAK: "1" },
    pool: "forks",
    // One file at a time: the figures are each suite's own, not two suites fighting over two cores.
    fileParallelism: false,
    testTimeout: 1_800_000,
    hookTimeout: 120_000
  }
})
