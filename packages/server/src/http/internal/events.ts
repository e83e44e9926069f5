/** The live state stream as server-sent events: a snapshot, then one `data:` line per runtime event, with keep-alive comments. */
import { Headers, HttpServerResponse } from "@effect/platform"
import { Deferred, type Duration, Effect, Schema, Stream } from "effect"
import type { LicenseRuntime } from "../../LicenseRuntime.js"
import { HubEvent } from "../HubApi.js"

const encode = Schema.encode(HubEvent)

const frame = (event: typeof HubEvent.Type) => Effect.map(encode(event), (encoded) => `data: ${JSON.stringify(encoded)}\n\n`)

/**
 * The event stream of one client. It ends when the client goes away (the server interrupts it),
 * when the runtime shuts down, or when `shutdown` completes, so closing the server never waits
 * for a dashboard left open.
 */
export const response = (
  runtime: LicenseRuntime.Service,
  keepAlive: Duration.DurationInput,
  shutdown: Deferred.Deferred<void>
): HttpServerResponse.HttpServerResponse => {
  // The snapshot is taken concurrently with subscribing, after yielding once so the subscription is
  // normally in place first: a change racing the snapshot then arrives as an event, never lost.
  const snapshot = Stream.fromEffect(Effect.zipRight(Effect.yieldNow(), runtime.summary)).pipe(
    Stream.mapEffect((summary) => frame({ _tag: "Snapshot", summary }))
  )
  const events = Stream.merge(runtime.events.pipe(Stream.mapEffect(frame)), snapshot)
  const keepAlives = Stream.tick(keepAlive).pipe(Stream.drop(1), Stream.as(": keep-alive\n\n"))
  const body = Stream.merge(events, keepAlives, { haltStrategy: "left" }).pipe(
    Stream.interruptWhen(Deferred.await(shutdown)),
    // A failure mid-stream cannot become a problem response any more: log it and end the stream; the client reconnects.
    Stream.catchAllCause((cause) => Stream.fromEffect(Effect.logError("The event stream failed", cause)).pipe(Stream.drain)),
    Stream.encodeText
  )
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    // `connection: close`: when the stream ends (e.g. at shutdown) the socket closes with it instead of
    // idling in keep-alive, which would hold up the server's close until the client drops it.
    headers: Headers.fromInput({ "cache-control": "no-cache", "x-accel-buffering": "no", connection: "close" })
  })
}
