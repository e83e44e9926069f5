/** The API's outermost middleware: body limits, and every failure the handlers do not type answered as a problem. */
import {
  HttpApiError,
  HttpApp,
  HttpIncomingMessage,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
  Multipart
} from "@effect/platform"
import { IncomingMessage } from "node:http"
import { Cause, Duration, Effect, Exit, Option, ParseResult } from "effect"
import type * as HubHttpOptions from "../HubHttpOptions.js"
import * as Problem from "../Problem.js"

/** The first issue of a parse error as `path: message`, short enough for a problem's detail. */
export const decodeIssue = (error: ParseResult.ParseError): string => {
  const [first] = ParseResult.ArrayFormatter.formatErrorSync(error)
  return first === undefined ? "invalid value" : formatIssue(first.path, first.message)
}

const formatIssue = (path: ReadonlyArray<PropertyKey>, message: string): string =>
  `${path.length === 0 ? "" : `${path.map(String).join(".")}: `}${message}`.slice(0, 300)

// The Hub's large bodies are uploads of the wrong file; the Portal takes no files, so it names no .lic.
const tooLarge = (maxBytes: number, product: string) =>
  Problem.make(
    413,
    "PAYLOAD_TOO_LARGE",
    product === "Hub"
      ? `The request body is larger than ${Math.floor(maxBytes / 1024)} KiB. A license file is at most 64 KiB: check that you chose the .lic file.`
      : `The request body is larger than ${Math.floor(maxBytes / 1024)} KiB, the most the ${product} accepts. Send a smaller request.`
  )

// @effect/platform-node reports an exceeded MaxBodySize as this error inside a RequestError.
const isBodyLimit = (cause: unknown): boolean => cause instanceof Error && cause.message === "maxBytes exceeded"

/** The problem of a failed body read on the `product`'s server ("Hub" or "Portal"). */
export const fromRequestError = (error: HttpServerError.RequestError, maxBytes: number, product = "Hub"): Problem.HttpProblem =>
  isBodyLimit(error.cause)
    ? tooLarge(maxBytes, product)
    : error.cause instanceof SyntaxError
      ? Problem.make(400, "INVALID_REQUEST", "The request body is not valid JSON.")
      : Problem.make(400, "INVALID_REQUEST", "The request body could not be read. Send it again.")

const isReachedLimit = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && (cause as { readonly _tag?: unknown })._tag === "ReachedLimit"

const uploadTooLarge = () =>
  Problem.make(413, "PAYLOAD_TOO_LARGE", "The upload is larger than the Hub accepts. A license file is at most 64 KiB: check that you chose the .lic file.")

const unreadableForm = () => Problem.make(400, "INVALID_REQUEST", "The multipart body could not be read. Send it again as multipart/form-data.")

/** The problem of a multipart body that broke a limit or could not be parsed. */
export const fromMultipartError = (error: Multipart.MultipartError): Problem.HttpProblem => {
  switch (error.reason) {
    case "FileTooLarge":
    case "FieldTooLarge":
    case "BodyTooLarge":
      return uploadTooLarge()
    case "TooManyParts":
      return Problem.make(400, "INVALID_REQUEST", "The form has too many parts. Send only `license` and, for activation, `email` and `password`.")
    case "InternalError":
      // A file part read whole (`contentEffect`) gets the parser's limit error as its own stream error, and
      // @effect/platform-node reports that as an InternalError carrying multipasta's `ReachedLimit`.
      return isReachedLimit(error.cause) ? uploadTooLarge() : unreadableForm()
    case "Parse":
      return unreadableForm()
  }
}

const isMultipartError = (u: unknown): u is Multipart.MultipartError =>
  typeof u === "object" && u !== null && Multipart.ErrorTypeId in u

// multipasta reports a multipart Content-Type without a usable boundary from its constructor, before anyone listens
// for errors: Node throws it as ERR_UNHANDLED_ERROR carrying { _tag: "InvalidBoundary" }, a defect that was a 500.
const isMissingBoundary = (u: unknown): boolean =>
  u instanceof Error &&
  (u as { readonly code?: unknown }).code === "ERR_UNHANDLED_ERROR" &&
  (u as { readonly context?: { readonly _tag?: unknown } }).context?._tag === "InvalidBoundary"

/** The problem of a failure that escaped the handlers, or none when it is not one we translate. */
const translate = (error: unknown, maxBytes: number, product: string): Problem.HttpProblem | undefined => {
  if (error instanceof Problem.HttpProblem) return error
  if (error instanceof HttpApiError.HttpApiDecodeError) {
    const [first] = error.issues
    return Problem.make(400, "INVALID_REQUEST", `The request does not match the API: ${first === undefined ? error.message : formatIssue(first.path, first.message)}.`)
  }
  if (HttpServerError.isServerError(error)) {
    if (error._tag === "RouteNotFound") {
      const path = error.request.url.split("?")[0]!.slice(0, 200)
      return Problem.make(404, "NOT_FOUND", `There is no route ${error.request.method} ${path}. The API is described at /api/openapi.json.`)
    }
    if (error._tag === "RequestError") return fromRequestError(error, maxBytes, product)
  }
  if (isMultipartError(error)) return fromMultipartError(error)
  if (isMissingBoundary(error)) {
    return Problem.make(400, "INVALID_REQUEST", "The multipart body could not be read: its Content-Type has no boundary. Send it as multipart/form-data with a boundary, or as JSON.")
  }
  return undefined
}

/** Response headers some problems need: how long to wait, and how to authenticate. */
const problemHeaders = (problem: Problem.HttpProblem): Effect.Effect<void> =>
  problem.retryAfterSeconds !== undefined
    ? HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", String(problem.retryAfterSeconds))))
    : problem.status === 401
      ? HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(HttpServerResponse.setHeader(response, "www-authenticate", 'Bearer realm="exekra"')))
      : Effect.void

const timedOut = (timeout: Duration.DurationInput) =>
  Problem.make(
    408,
    "REQUEST_TIMEOUT",
    `The request was not complete within ${Duration.format(timeout)}: its body stopped arriving, or a multipart form ended early. Send it again.`
  )

/**
 * Keeps the connection of a request whose body is still arriving until the app has answered.
 *
 * @effect/platform-node reads a body counting its bytes and, past the limit (or when the read is interrupted by
 * the timeout), releases it with `IncomingMessage.destroy()`; on a body that is not complete that destroys the
 * socket, so the 413 (or 408) problem is written to a dead connection and the client sees a reset. This happens to
 * chunked bodies only: a body announced over the limit is refused before it is read. Until the app is done,
 * `destroy` is deferred; then, if the body is still unread and an answer is due, the rest of it is drained (read
 * and dropped, never kept) and the answer says `Connection: close`, so the client reads it and the socket closes
 * after it. A client that went away (interruption) gets the destroy as before.
 */
const holdBody = (request: HttpServerRequest.HttpServerRequest) => {
  const source = request.source
  if (!(source instanceof IncomingMessage) || source.complete) return undefined
  let deferred = false
  const destroy = source.destroy
  source.destroy = function (this: IncomingMessage, error?: Error) {
    if (error !== undefined || this.complete || this.socket === null || this.socket.destroyed) return destroy.call(this, error)
    deferred = true
    this.pause()
    return this
  }
  return (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
    Effect.suspend(() => {
      // The instance's own `destroy` shadowed the prototype's: removing it restores Node's behaviour.
      delete (source as { destroy?: unknown }).destroy
      if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) {
        if (deferred) source.destroy()
        return Effect.void
      }
      // Never read (refused before the body was needed): node:http drains it itself and keeps the connection.
      if (source.complete || (!deferred && !source.readableDidRead)) return Effect.void
      source.removeAllListeners("data")
      source.unpipe()
      source.resume()
      return HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(HttpServerResponse.setHeader(response, "connection", "close")))
    })
}

/**
 * Wrap the API: refuse bodies over the limit (by `Content-Length` up front, by counting otherwise), answer 408 past
 * the request timeout, and turn decode errors, unknown routes, unreadable bodies and defects into problems. Typed
 * problems pass through to the API's own encoder, so every error body has one shape.
 */
export const middleware = (settings: Pick<HubHttpOptions.Settings, "maxBodyBytes" | "requestTimeout">, product = "Hub") => (app: HttpApp.Default): HttpApp.Default<Problem.HttpProblem> => {
  const maxBytes = settings.maxBodyBytes
  return Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    // Refusing before reading leaves the body unread; node:http drains it, so the client still gets the answer.
    const declared = Number(request.headers["content-length"] ?? "0")
    if (Number.isFinite(declared) && declared > maxBytes) return yield* tooLarge(maxBytes, product)
    const settle = holdBody(request)
    // The timeout bounds producing the response, not streaming it: the event stream is answered at once.
    const answer = HttpIncomingMessage.withMaxBodySize(app, Option.some(maxBytes)).pipe(
      Effect.timeoutFail({ duration: settings.requestTimeout, onTimeout: () => timedOut(settings.requestTimeout) })
    )
    return yield* settle === undefined ? answer : Effect.onExit(answer, settle)
  }).pipe(
    Effect.catchAllCause((cause): Effect.Effect<never, Problem.HttpProblem> => {
      // A client that went away needs no answer; keep the interruption as it is.
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const failure = Cause.failureOption(cause as Cause.Cause<unknown>)
      const error = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
      const problem = translate(error, maxBytes, product)
      if (problem !== undefined) return Effect.zipRight(problemHeaders(problem), Effect.fail(problem))
      return Effect.zipRight(Effect.logError(`Unhandled failure in the ${product} API`, cause), Effect.fail(Problem.internalError(product)))
    })
  )
}
