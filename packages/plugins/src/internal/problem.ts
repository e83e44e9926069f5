/** RFC 9457 problem bodies in the Hub API's exact form (server/http/Problem.ts), so a host's answers and the Hub's read alike. */

/** Media type of every problem. */
export const contentType = "application/problem+json" as const

/** `{ type, title, status, code, detail }`: the type URN and title derive from the stable code. */
export const body = <S extends number, C extends string>(status: S, code: C, detail: string) => {
  const words = code.toLowerCase().replaceAll("_", " ")
  return { type: `urn:exekra:problem:${code}`, title: words.charAt(0).toUpperCase() + words.slice(1), status, code, detail } as const
}

/** A problem as a Fetch Response. */
export const response = (status: number, code: string, detail: string): Response =>
  new Response(JSON.stringify(body(status, code, detail)), { status, headers: { "content-type": contentType } })
