/** OpenAPI post-processing shared by the Hub's and the Portal's APIs: every error response is `application/problem+json`, without the platform's decode error. */
import * as Problem from "../Problem.js"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const decodeErrorRef = "#/components/schemas/HttpApiDecodeError"

/** An error response's content as problem+json, without the platform's decode error (whose place `decodeErrorDescription` describes). */
const asProblem = (response: Record<string, unknown>, decodeErrorDescription: string): Record<string, unknown> => {
  const content = response["content"]
  if (!isRecord(content) || !isRecord(content["application/json"])) return response
  const { "application/json": json, ...others } = content
  const schema = isRecord(json) ? json["schema"] : undefined
  const members = (isRecord(schema) && Array.isArray(schema["anyOf"]) ? schema["anyOf"] : [schema]).filter(
    (member: unknown) => !(isRecord(member) && member["$ref"] === decodeErrorRef)
  )
  const hadDecodeError = isRecord(schema) && Array.isArray(schema["anyOf"]) && schema["anyOf"].length !== members.length
  return {
    ...response,
    ...(hadDecodeError ? { description: decodeErrorDescription } : {}),
    content: { ...others, [Problem.contentType]: { schema: members.length === 1 ? members[0] : { anyOf: members } } }
  }
}

/**
 * `HttpApi.make` declares the platform's `HttpApiDecodeError` (a plain JSON body) on every route, but the Hub and the
 * Portal answer decode errors as problems (the request middleware does): the document is corrected to say what the
 * wire carries. A response that listed the decode error gets `decodeErrorDescription` as its description. For
 * `OpenApi.annotations({ transform })`.
 */
export const problemsOnly =
  (decodeErrorDescription: string) =>
  (spec: Record<string, unknown>): Record<string, unknown> => {
    const paths = isRecord(spec["paths"]) ? spec["paths"] : {}
    const fixedPaths = Object.fromEntries(
      Object.entries(paths).map(([path, item]) => [
        path,
        !isRecord(item)
          ? item
          : Object.fromEntries(
              Object.entries(item).map(([method, operation]) => {
                if (!isRecord(operation) || !isRecord(operation["responses"])) return [method, operation]
                const responses = Object.fromEntries(
                  Object.entries(operation["responses"]).map(([status, response]) => [
                    status,
                    Number(status) >= 400 && isRecord(response) ? asProblem(response, decodeErrorDescription) : response
                  ])
                )
                return [method, { ...operation, responses }]
              })
            )
      ])
    )
    const components = isRecord(spec["components"]) ? spec["components"] : {}
    const schemas = isRecord(components["schemas"]) ? components["schemas"] : {}
    const { HttpApiDecodeError: _decodeError, Issue: _issue, PropertyKey: _propertyKey, ...kept } = schemas
    return { ...spec, paths: fixedPaths, components: { ...components, schemas: kept } }
  }
