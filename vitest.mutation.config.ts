// Vitest config for mutation testing: only the suites of the packages Stryker mutates (core, machines).
import { defaultServerConditions, defineConfig } from "vite"

const conditions = ["@exekra/source", ...defaultServerConditions]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/core/test/**/*.test.ts", "packages/machines/test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    pool: "forks",
    testTimeout: 60_000
  }
})
