/** The pages' static files (one stylesheet, one script), read from the package's `src/pages/assets/` whether running from src or dist. */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { Effect } from "effect"

/** One static file as served. */
export interface Asset {
  readonly path: `/assets/${string}`
  readonly contentType: string
  readonly body: string
  /** Short content hash: the pages link `path?v=<version>`, so a changed file is fetched anew. */
  readonly version: string
}

// This module sits at src/pages/internal/ and, compiled, at dist/pages/internal/: both three levels
// below the package root. tsc copies no non-TS files, so the assets are always read from src/
// (the package ships src/ alongside dist/).
const packageRoot = new URL("../../../", import.meta.url)

const load = (name: string, contentType: string): Effect.Effect<Asset> =>
  Effect.try(() => readFileSync(new URL(`src/pages/assets/${name}`, packageRoot), "utf8")).pipe(
    Effect.map((body): Asset => ({ path: `/assets/${name}`, contentType, body, version: createHash("sha256").update(body).digest("hex").slice(0, 12) })),
    // A missing asset is a broken installation, not a request failure: fail loudly at start.
    Effect.orDieWith((cause) => new Error(`The Hub's page asset ${name} is missing from the package (src/pages/assets/): reinstall the package.`, { cause }))
  )

/** The stylesheet and the script. */
export const loadAll: Effect.Effect<{ readonly css: Asset; readonly js: Asset }> = Effect.all({
  css: load("app.css", "text/css; charset=utf-8"),
  js: load("app.js", "text/javascript; charset=utf-8")
})
