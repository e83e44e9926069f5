// Vitest workspace: one project per package plus the cross-package suites in test/.
import { defaultServerConditions, defineConfig } from "vite"
import { configDefaults } from "vitest/config"

// Tests run on the TypeScript sources of the workspace packages, not on their build output.
const conditions = ["@exekra/source", ...defaultServerConditions]

const project = (name: string, root: string) => ({
  extends: true as const,
  test: { name, root, include: ["test/**/*.test.ts"] }
})

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    exclude: [...configDefaults.exclude, "**/dist/**"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      project("core", "packages/core"),
      project("machines", "packages/machines"),
      project("plugins", "packages/plugins"),
      project("server", "packages/server"),
      { extends: true as const, test: { name: "e2e", root: "test", include: ["**/*.test.ts"] } }
    ]
  }
})
