// A JSON client over node:http with a keep-alive agent: bounded sockets, and every failure as a value.
import { Agent, type IncomingHttpHeaders, request as httpRequest } from "node:http"

/** A response (with its headers: 503s carry Retry-After), or the transport error that replaced it (a killed server, a refused connection). */
export type Reply =
  | { readonly _tag: "Response"; readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: unknown }
  | { readonly _tag: "TransportError"; readonly message: string }

export interface Client {
  readonly url: string
  readonly send: (method: string, path: string, body?: unknown) => Promise<Reply>
  /** Close the agent's sockets. */
  readonly close: () => void
}

/** How a client authenticates and behaves. */
export interface Options {
  /** Sent as a bearer token. */
  readonly token?: string
  /** Sent as the Cookie header, with `Sec-Fetch-Site: same-origin` as a browser on the Hub's own pages sends. */
  readonly cookie?: string
  /** At most this many connections (default 100). */
  readonly sockets?: number
  /** A request with no answer after this long ends as a transport error (default: none). */
  readonly timeoutMs?: number
}

/** A client of the Hub at `url`. */
export const make = (url: string, options: Options = {}): Client => {
  // Idle sockets close after 1 s, well before the server's keep-alive timeout (5 s): reusing a socket the
  // server is closing at that moment fails with ECONNRESET, a client-side race, not a server fault.
  const agent = new Agent({ keepAlive: true, maxSockets: options.sockets ?? 100, timeout: 1_000 })
  const target = new URL(url)
  const send = (method: string, path: string, body?: unknown): Promise<Reply> =>
    new Promise((resolve) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
      const headers: Record<string, string> = { accept: "application/json" }
      if (payload !== undefined) {
        headers["content-type"] = "application/json"
        headers["content-length"] = String(payload.length)
      }
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
      if (options.cookie !== undefined) {
        headers.cookie = options.cookie
        // A cookie-authenticated change must come from the Hub's own origin (what a browser on its pages sends).
        headers["sec-fetch-site"] = "same-origin"
      }
      const req = httpRequest({ host: target.hostname, port: target.port, method, path, headers, agent }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("error", (e) => resolve({ _tag: "TransportError", message: e.message }))
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let parsed: unknown = text
          try {
            parsed = text === "" ? null : JSON.parse(text)
          } catch {
            // Keep the text: a non-JSON body is itself a finding the caller reports.
          }
          resolve({ _tag: "Response", status: res.statusCode ?? 0, headers: res.headers, body: parsed })
        })
      })
      if (options.timeoutMs !== undefined) {
        const ms = options.timeoutMs
        req.setTimeout(ms, () => req.destroy(new Error(`no answer within ${ms / 1000} s`)))
      }
      req.on("error", (e) => resolve({ _tag: "TransportError", message: e.message }))
      req.end(payload)
    })
  return { url, send, close: () => agent.destroy() }
}

/** The field `key` of a JSON object body, if there is one. */
export const field = (body: unknown, key: string): unknown =>
  typeof body === "object" && body !== null && key in body ? (body as Record<string, unknown>)[key] : undefined

/** A one-line description of a reply, for failure messages. */
export const describe = (reply: Reply): string =>
  reply._tag === "TransportError" ? `transport error: ${reply.message}` : `${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`
