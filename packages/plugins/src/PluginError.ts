/** Typed failures of the plugins: invalid options at registration, and a request whose principal cannot be read. */
import { Data } from "effect"

/** Gate or handler options were invalid; thrown (or passed to the host's idiom) at registration, never per request. */
export class PluginOptionsError extends Data.TaggedError("PluginOptionsError")<{
  readonly code: "PLUGIN_OPTIONS_INVALID"
  readonly message: string
}> {}

/**
 * `principal(request)` answered no usable id. `statusCode` 400 lets Express and Fastify error handlers answer
 * a client error; the id must be one the Hub API can address (`[A-Za-z0-9._:@+-]{1,256}`).
 */
export class PrincipalError extends Data.TaggedError("PrincipalError")<{
  readonly code: "PRINCIPAL_MISSING" | "PRINCIPAL_INVALID"
  readonly message: string
  readonly statusCode: 400
}> {}
