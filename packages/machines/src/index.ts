/** @exekra/machines: the cap, activation and validation machines, their evaluation, diagrams and timelines. */
export * from "./evaluate.js"
export * from "./capMachine.js"
export * from "./validationMachine.js"
export * from "./activationMachine.js"
export * from "./leaseMachine.js"
export * from "./diagram.js"
export * from "./timeline.js"
