// Vitest config for mutation testing: only the suites of the packages Stryker mutates (core, machines).
import { defaultServerConditions, defineConfig } from "vite"

const conditions = ["@exekra/source", ...defaultServerConditions]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/core/test/**/*.test.ts", "packages/machines/test/**/*.test.ts"],
    // Real-network and wall-clock suites say nothing about a mutant and only slow each run down.
    exclude: ["**/node_modules/**", "**/dist/**", "packages/core/test/PortalClient.test.ts"],
    pool: "forks",
    testTimeout: 60_000
  }
})
