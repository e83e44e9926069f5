/** PortalClient service: the Hub's phone-home to the vendor's Customer Portal (DESIGN §5). */
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Context, Data, Duration, Effect, Layer, Schedule, Schema } from "effect"
import { UtcDate } from "./License.js"

/** Exactly what a validation ping sends: these three fields and nothing else. */
export interface ValidationRequest {
  readonly licenseId: string
  readonly installationId: string
  readonly version: string
}

/** The Portal's answer. */
export const ValidationResponse = Schema.Struct({
  status: Schema.Literal("valid", "revoked", "unknown"),
  serverTime: UtcDate
})
export type ValidationResponse = typeof ValidationResponse.Type

/** Why a ping failed; `code` is stable, `message` is shown on the License page. */
export class PortalError extends Data.TaggedError("PortalError")<{
  readonly code: "PORTAL_UNREACHABLE" | "PORTAL_TIMEOUT" | "PORTAL_HTTP_ERROR" | "PORTAL_BAD_RESPONSE"
  readonly message: string
}> {}

/** Sends validation pings. */
export class PortalClient extends Context.Tag("@exekra/core/PortalClient")<PortalClient, PortalClient.Service>() {}

export declare namespace PortalClient {
  /** The client's interface. */
  export interface Service {
    /** Ping `portalUrl` with exactly the request's three fields. */
    readonly validate: (portalUrl: string, request: ValidationRequest) => Effect.Effect<ValidationResponse, PortalError>
  }
}

/** Client options. */
export interface Options {
  /** Per attempt; a Portal slower than this counts as down. */
  readonly timeout?: Duration.DurationInput
  /** Extra attempts after a failure, with exponential backoff from `retryBase`. */
  readonly retries?: number
  readonly retryBase?: Duration.DurationInput
}

const decodeResponse = HttpClientResponse.schemaBodyJson(ValidationResponse)

// The transport error's own message names only the request; the cause says why (refused, DNS, reset...).
const reasonOf = (e: { readonly message: string; readonly cause?: unknown }): string => {
  const cause = e.cause instanceof Error ? (e.cause.cause instanceof Error ? e.cause.cause : e.cause) : undefined
  const code = cause !== undefined && "code" in cause && typeof cause.code === "string" ? `${cause.code}: ` : ""
  return (cause === undefined ? e.message : `${code}${cause.message}`).slice(0, 200)
}

/** The validation endpoint under a Portal base URL. */
export const endpoint = (portalUrl: string): string => `${portalUrl.replace(/\/+$/, "")}/api/v1/validations`

/** A client over the platform's HttpClient. */
export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const timeout = options.timeout ?? Duration.seconds(10)
    const schedule = Schedule.exponential(options.retryBase ?? Duration.seconds(1)).pipe(
      Schedule.intersect(Schedule.recurs(options.retries ?? 2))
    )
    const attempt = (url: string, request: ValidationRequest) =>
      HttpClientRequest.post(url).pipe(
        HttpClientRequest.bodyUnsafeJson({ licenseId: request.licenseId, installationId: request.installationId, version: request.version }),
        HttpClientRequest.acceptJson,
        client.execute,
        Effect.mapError((e) => new PortalError({ code: "PORTAL_UNREACHABLE", message: `The Portal at ${url} could not be reached (${reasonOf(e)}).` })),
        Effect.flatMap((response) =>
          response.status >= 200 && response.status < 300
            ? decodeResponse(response).pipe(
                Effect.mapError(() => new PortalError({ code: "PORTAL_BAD_RESPONSE", message: "The Portal answered with something that is not a validation result." }))
              )
            : Effect.fail(new PortalError({ code: "PORTAL_HTTP_ERROR", message: `The Portal answered HTTP ${response.status}.` }))
        ),
        Effect.scoped,
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new PortalError({ code: "PORTAL_TIMEOUT", message: `The Portal did not answer within ${Duration.format(timeout)}.` })
        })
      )
    return PortalClient.of({
      validate: (portalUrl, request) => attempt(endpoint(portalUrl), request).pipe(Effect.retry(schedule))
    })
  })

/** The client, needing an HttpClient (for Node: `FetchHttpClient.layer` or `NodeHttpClient.layerUndici`). */
export const layer = (options?: Options): Layer.Layer<PortalClient, never, HttpClient.HttpClient> => Layer.effect(PortalClient, make(options))
