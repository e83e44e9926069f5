// Load profiles of the concurrency and crash suites: CI sizes by default, the full sizes under EXEKRA_SOAK=1 (npm run soak).
import { randomInt } from "node:crypto"

/** True under `npm run soak` (EXEKRA_SOAK=1, the switch the other fault suites read too): the full sizes of issue 7. */
export const soak = process.env.EXEKRA_SOAK === "1"

/**
 * The seed of this run's PRNGs: `SEED=n` to replay a run, otherwise fresh and printed with every figure,
 * so a failure names the seed that reproduces its choices (timings still vary).
 */
export const seed: number = process.env.SEED !== undefined && process.env.SEED !== "" ? Number(process.env.SEED) >>> 0 : randomInt(2 ** 31)

/** Pick the CI or the soak value. */
export const sized = <A>(ci: A, full: A): A => (soak ? full : ci)

/** Print one compact line of figures, the form the README quotes. */
export const report = (suite: string, figures: Readonly<Record<string, string | number | boolean>>): void => {
  const fields = Object.entries(figures).map(([k, v]) => `${k}=${v}`)
  console.log(`[${suite}] ${soak ? "soak" : "ci"} seed=${seed} ${fields.join(" ")}`)
}

/** Milliseconds since `t0`, rounded, for the figures. */
export const since = (t0: number): number => Math.round(performance.now() - t0)
