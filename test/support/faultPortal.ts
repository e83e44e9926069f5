// A Portal on 127.0.0.1:0 that can be switched between answering well and each way a Portal fails: down, refusing, hanging, 500s, garbage, a wrong serverTime.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"

/** How the Portal behaves for the next requests. */
export type FaultMode =
  /** `{ status: "valid", serverTime: now }`, `now` being what the test last set (its clock). */
  | "up"
  /** Nothing listens on the port: connections are refused. */
  | "down"
  /** Accepts the connection, then resets it without answering. */
  | "refuse"
  /** Reads the request and answers only when the mode changes. */
  | "hang"
  | "http500"
  /** 200 with an HTML page. */
  | "garbage"
  /** 200 with JSON of the wrong shape. */
  | "wrongShape"
  /** 200 with a serverTime that is not a timestamp. */
  | "badTime"
  /** 200, valid, with a serverTime this far from `now` (ms, negative: behind). */
  | { readonly skewMs: number }

/** A switchable fault Portal. */
export interface FaultPortal {
  readonly url: string
  readonly mode: FaultMode
  /** The Portal's idea of the time (epoch ms) for `up` answers; the test keeps it at or behind its own clock. */
  now: number
  /** Requests received so far (a refused connection is not one). */
  readonly received: () => number
  /** Requests read and not answered (hang mode) whose connection is still open. */
  readonly hanging: () => number
  /** Switch to `mode`, listening again or closing the port as needed. */
  readonly set: (mode: FaultMode) => Effect.Effect<void>
}

const json = (res: ServerResponse, status: number, body: string) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(body)
}

/** Start a fault Portal in `mode`; it closes, hanging connections included, with the scope. */
export const faultPortal = (mode: FaultMode, now: number): Effect.Effect<FaultPortal, never, Scope.Scope> =>
  Effect.gen(function* () {
    let received = 0
    const hung = new Set<ServerResponse>()
    const state: { mode: FaultMode; now: number } = { mode, now }
    /** Answer one request as `m` says (a hanging one is kept until the mode changes). */
    const respond = (res: ServerResponse, m: FaultMode) => {
      if (m === "hang") {
        hung.add(res)
        res.on("close", () => hung.delete(res))
      } else if (m === "down" || m === "refuse") res.socket?.destroy()
      else if (m === "http500") json(res, 500, JSON.stringify({ error: "boom" }))
      else if (m === "garbage") {
        res.writeHead(200, { "content-type": "text/html" })
        res.end("<html><body>Portal maintenance</body></html>")
      } else if (m === "wrongShape") json(res, 200, JSON.stringify({ ok: true, time: state.now }))
      else if (m === "badTime") json(res, 200, JSON.stringify({ status: "valid", serverTime: "yesterday" }))
      else {
        const skew = typeof m === "object" ? m.skewMs : 0
        json(res, 200, JSON.stringify({ status: "valid", serverTime: new Date(state.now + skew).toISOString() }))
      }
    }
    const server = createServer((req: IncomingMessage, res) => {
      if (state.mode === "refuse") {
        req.socket.destroy()
        return
      }
      req.resume()
      req.on("end", () => {
        received++
        respond(res, state.mode)
      })
    })
    const listen = (port: number) =>
      Effect.async<number>((resume) => {
        server.listen(port, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
      })
    const close = Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
    const port = yield* listen(0)
    if (mode === "down") yield* close
    yield* Effect.addFinalizer(() => (server.listening ? close : Effect.void))
    const portal: FaultPortal = {
      url: `http://127.0.0.1:${port}`,
      get mode() {
        return state.mode
      },
      get now() {
        return state.now
      },
      set now(t: number) {
        state.now = t
      },
      received: () => received,
      hanging: () => hung.size,
      set: (next) =>
        Effect.gen(function* () {
          state.mode = next
          // A Portal that stops hanging answers what it held, as its new self.
          if (next !== "hang") for (const res of [...hung]) respond(res, next)
          hung.clear()
          if (next === "down" && server.listening) yield* close
          if (next !== "down" && !server.listening) yield* listen(port)
        })
    }
    return portal
  })
