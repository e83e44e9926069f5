/** AdmissionMetrics service: what the runtime reports about admission as it happens, for any metrics backend to count. */
import type { Admission, Cap } from "@exekra/core"
import { Context } from "effect"

/**
 * Receives the runtime's admission outcomes. Optional: a runtime without it reports nothing. Calls are synchronous and
 * must not throw or block (they run on the admission path, `check` included).
 */
export class AdmissionMetrics extends Context.Tag("@exekra/server/AdmissionMetrics")<AdmissionMetrics, AdmissionMetrics.Service>() {}

export declare namespace AdmissionMetrics {
  /** The service's interface. */
  export interface Service {
    /** An acquire, heartbeat or check was refused with `code`. */
    readonly denied: (cap: Cap.Cap, code: Admission.AdmissionErrorCode) => void
    /** An acquisition was answered (admitted or refused) after `seconds`, measured on Effect's Clock. */
    readonly acquired: (cap: Cap.Cap, seconds: number) => void
  }
}
