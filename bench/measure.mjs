// Timing helpers for the benchmark scripts: ops/s over a fixed wall-clock budget, after a warm-up.
import { performance } from "node:perf_hooks"

/** Run `fn` repeatedly for about `ms` milliseconds (after a short warm-up) and return operations per second. */
export const opsPerSecond = (fn, ms = 1000) => {
  const warm = performance.now() + Math.min(200, ms / 4)
  while (performance.now() < warm) fn()
  let n = 0
  const start = performance.now()
  const end = start + ms
  let now = start
  while (now < end) {
    for (let i = 0; i < 64; i++) fn()
    n += 64
    now = performance.now()
  }
  return (n * 1000) / (now - start)
}

/** Format a rate with thousands separators. */
export const rate = (x) => Math.round(x).toLocaleString("en-US")

/** Print rows as an aligned table. */
export const table = (title, rows) => {
  const header = ["figure", "value", "baseline", "ratio"]
  const all = [header, ...rows.map((r) => [r.figure, r.value, r.baseline ?? "", r.ratio ?? ""])]
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)))
  console.log(`\n${title}`)
  for (const [i, r] of all.entries()) {
    console.log(r.map((c, j) => (j === 0 ? String(c).padEnd(widths[j]) : String(c).padStart(widths[j]))).join("  "))
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "))
  }
}
