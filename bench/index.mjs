// `npm run bench`: every benchmark, each figure printed beside the baseline measured in the same run.
import * as verify from "./verify.mjs"
import { table } from "./measure.mjs"

const rows = [...verify.run()]
table("Exekra license runtime — benchmarks (ops/s; ratios against a baseline measured in this run)", rows)
