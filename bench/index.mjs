// `npm run bench`: every benchmark, each figure printed beside the baseline measured in the same run.
import * as cluster from "./cluster.mjs"
import * as hosts from "./hosts.mjs"
import { table } from "./measure.mjs"
import * as runtime from "./runtime.mjs"
import * as verify from "./verify.mjs"

const rows = [...verify.run(), ...(await runtime.run()), ...(await cluster.run()), ...(await hosts.run())]
table("Exekra license runtime — benchmarks (each figure against a baseline measured in this run)", rows)
