/** Reads a license upload (activation or renewal) from either JSON or multipart/form-data, within the body limit. */
import { type HttpServerError, type HttpServerRequest, Multipart } from "@effect/platform"
import { Effect, Option, ParseResult, Schema, Stream } from "effect"
import * as Problem from "../Problem.js"
import { decodeIssue, fromMultipartError, fromRequestError } from "./requestProblems.js"

/** What a form or JSON body yields before validation: text fields, and file parts as bytes. */
type Fields = Record<string, string | Uint8Array>

/** The license as the runtime takes it: the file's bytes, or its text when sent as JSON or a text field. */
export const LicenseInput = Schema.Union(Schema.String, Schema.Uint8ArrayFromSelf)

// A form has at most the license, email and password; a few spare parts tolerate clients that add a field.
const MAX_PARTS = 8

const unsupported = () =>
  Problem.make(415, "UNSUPPORTED_MEDIA_TYPE", "Send the license as multipart/form-data (a `license` file) or as JSON (`{ \"license\": \"<file text>\" }`).")

const readForm = (request: HttpServerRequest.HttpServerRequest, maxBytes: number): Effect.Effect<Fields, Problem.HttpProblem> =>
  request.multipartStream.pipe(
    Multipart.withLimitsStream({
      maxParts: Option.some(MAX_PARTS),
      maxFieldSize: maxBytes,
      maxFileSize: Option.some(maxBytes),
      maxTotalSize: Option.some(maxBytes)
    }),
    // Parts come in order and a file's content must be read before the next part: fold sequentially.
    Stream.runFoldEffect({} as Fields, (fields, part): Effect.Effect<Fields, Problem.HttpProblem | Multipart.MultipartError> => {
      if (part.key in fields) {
        return Effect.fail(Problem.make(400, "INVALID_REQUEST", `The form has the field \`${part.key}\` twice. Send it once.`))
      }
      return part._tag === "Field"
        ? Effect.succeed({ ...fields, [part.key]: part.value })
        : Effect.map(part.contentEffect, (bytes) => ({ ...fields, [part.key]: bytes }))
    }),
    Effect.mapError((error) => (error instanceof Problem.HttpProblem ? error : fromMultipartError(error)))
  )

const readJson = (request: HttpServerRequest.HttpServerRequest, maxBytes: number): Effect.Effect<unknown, Problem.HttpProblem> =>
  Effect.catchAll(request.json, (error: HttpServerError.RequestError) => Effect.fail(fromRequestError(error, maxBytes)))

/**
 * Read and validate an upload body against `schema` (whose `license` is text or bytes). JSON and
 * multipart are both accepted; anything else is 415. Size limits answer 413, shape errors 400.
 */
export const read = <A, I>(
  request: HttpServerRequest.HttpServerRequest,
  schema: Schema.Schema<A, I>,
  maxBytes: number
): Effect.Effect<A, Problem.HttpProblem> => {
  const contentType = (request.headers["content-type"] ?? "").toLowerCase()
  const body = contentType.startsWith("multipart/form-data")
    ? readForm(request, maxBytes)
    : /^application\/([a-z0-9.+-]+\+)?json\b/.test(contentType)
      ? readJson(request, maxBytes)
      : Effect.fail(unsupported())
  return Effect.flatMap(body, (fields) =>
    Schema.decodeUnknown(schema)(fields).pipe(
      Effect.mapError((error: ParseResult.ParseError) => Problem.make(400, "INVALID_REQUEST", `The upload is incomplete or malformed: ${decodeIssue(error)}.`))
    )
  )
}
