/** Node `(req, res)` ↔ Fetch `Request`/`Response`: build a Request from an IncomingMessage and stream a Response back. */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Readable } from "node:stream"

/** A request body as `fetch` takes it. */
export type Body = NonNullable<RequestInit["body"]>

/** What the socket says about the client, which a Fetch `Request` cannot carry. */
export interface ClientInfo {
  readonly remoteAddress?: string | undefined
  readonly encrypted?: boolean | undefined
}

/** The request's headers, keeping repeated ones; HTTP/2 pseudo-headers are not headers of the request. */
export const headersOf = (req: IncomingMessage): Headers => {
  const headers = new Headers()
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!
    if (!name.startsWith(":")) headers.append(name, raw[i + 1]!)
  }
  return headers
}

// Hosts often parse bodies before any route runs (`app.use(express.json())`): the stream is then spent,
// and what is left is the parsed body. Re-encode what can be re-encoded faithfully; refuse the rest.
const consumedBody = (req: IncomingMessage, contentType: string | null): Body | "unavailable" => {
  const parsed = (req as IncomingMessage & { readonly body?: unknown }).body
  if (typeof parsed === "string") return parsed
  if (parsed instanceof Uint8Array) return new Uint8Array(parsed)
  if (parsed !== undefined && parsed !== null && contentType !== null && /[/+]json\b/i.test(contentType)) return JSON.stringify(parsed)
  return "unavailable"
}

const isSpent = (req: IncomingMessage): boolean => req.readableEnded || req.readableDidRead

/** The body to forward, or "unavailable" when the host consumed it in a form that cannot be restored. */
export const bodyOf = (req: IncomingMessage, headers: Headers): Body | null | "unavailable" => {
  const method = req.method ?? "GET"
  if (method === "GET" || method === "HEAD") return null
  if (isSpent(req)) return consumedBody(req, headers.get("content-type"))
  return Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>
}

/**
 * Write a Fetch Response to a Node response, streaming the body (server-sent events included) and
 * stopping the body when the client goes away.
 */
export const writeResponse = async (response: Response, res: ServerResponse, method: string | undefined): Promise<void> => {
  const headers: Record<string, string | Array<string>> = {}
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers["set-cookie"] = cookies
  if (response.statusText === "") res.writeHead(response.status, headers)
  else res.writeHead(response.status, response.statusText, headers)
  if (response.body === null || method === "HEAD") {
    res.end()
    return
  }
  // An event stream must reach the client now, not when the first chunk fills a buffer.
  if (response.headers.get("content-type")?.startsWith("text/event-stream") === true) res.flushHeaders()
  const reader = response.body.getReader()
  const onClose = () => void reader.cancel().catch(() => undefined)
  res.once("close", onClose)
  try {
    for (;;) {
      const chunk = await reader.read()
      if (chunk.done) break
      if (!res.write(chunk.value)) await new Promise<void>((resolve) => {
        const resume = () => {
          res.off("drain", resume)
          res.off("close", resume)
          resolve()
        }
        res.once("drain", resume)
        res.once("close", resume)
      })
      if (res.destroyed) break
    }
  } finally {
    res.off("close", onClose)
    if (!res.destroyed) res.end()
  }
}
