// `npm run bench`: every benchmark, each figure printed beside the baseline measured in the same run.
import { table } from "./measure.mjs"
import * as runtime from "./runtime.mjs"
import * as verify from "./verify.mjs"

const rows = [...verify.run(), ...(await runtime.run())]
table("Exekra license runtime — benchmarks (each figure against a baseline measured in this run)", rows)
