// Effect HttpRouter adapter with the real @effect/platform router, served as a web handler: the shared suite and Effect idioms.
import { HttpApp, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { License, licenseGate, mountLicenseHub, PluginOptionsError } from "@exekra/plugins/effect"
import { createLicenseHandler } from "@exekra/server/LicenseHandler"
import { Cause, Data, Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { makeHub, type TestHub } from "./helpers.js"
import { adapterSuite, type Host, hubSuite } from "./suite.js"

class PrincipalExploded extends Data.TaggedError("PrincipalExploded")<{ readonly message: string }> {}

const respond = (status: number) => Effect.map(License, (license) => HttpServerResponse.unsafeJson({ license }, { status }))
const header = (name: string) => (request: HttpServerRequest.HttpServerRequest) => request.headers[name]

// The host's error path: every failure and defect becomes `{ hostError, code }` with the error's statusCode.
const hostErrors = <E, R>(app: HttpApp.Default<E, R>) =>
  Effect.catchAllCause(app, (cause) => {
    const error = Cause.squash(cause) as { message?: string; code?: string; statusCode?: number; _tag?: string }
    const status = error._tag === "RouteNotFound" ? 404 : (error.statusCode ?? 500)
    return Effect.succeed(HttpServerResponse.unsafeJson({ hostError: error.message, code: error.code }, { status }))
  })

const serve = (app: HttpApp.Default<never, never>, onClose: () => Promise<void>): Host => {
  const handler = HttpApp.toWebHandler(app)
  return {
    request: (method, path, init = {}) => handler(new Request(`http://effect.local${path}`, { method, headers: init.headers, body: init.body })),
    close: onClose
  }
}

const makeHost = async ({ runtime, services }: TestHub): Promise<Host> => {
  const hub = createLicenseHandler(services, { prefix: "/license" })
  const enforcer = runtime
  const router = HttpRouter.empty.pipe(
    HttpRouter.post("/runners", licenseGate({ enforcer, cap: "unattended", operation: "acquire", principal: header("x-runner-id") })(respond(201))),
    HttpRouter.del("/runners/:id", licenseGate({ enforcer, cap: "unattended", operation: "release", principal: () => Effect.map(HttpRouter.params, (p) => p["id"]) })(respond(200))),
    HttpRouter.get("/runners/work", licenseGate({ enforcer, cap: "unattended", operation: "check", principal: header("x-runner-id") })(respond(200))),
    HttpRouter.post("/studio/sessions", licenseGate({ enforcer, cap: "developer", operation: "acquire", principal: header("x-user-id") })(respond(201))),
    HttpRouter.post("/attended/users", licenseGate({ enforcer, cap: "attended", operation: "acquire", principal: header("x-user-id") })(respond(201))),
    HttpRouter.post(
      "/custom/runners",
      licenseGate({
        enforcer,
        cap: "unattended",
        operation: "acquire",
        principal: header("x-runner-id"),
        onDenied: (error) => Effect.succeed(HttpServerResponse.unsafeJson({ refused: error.code }, { status: 429 }))
      })(respond(201))
    ),
    HttpRouter.get(
      "/boom",
      licenseGate({ enforcer, cap: "unattended", operation: "check", principal: () => Effect.fail(new PrincipalExploded({ message: "principal exploded" })) })(respond(200))
    ),
    HttpRouter.get("/open", Effect.succeed(HttpServerResponse.unsafeJson({ ok: true }))),
    mountLicenseHub(hub)
  )
  return serve(hostErrors(router), hub.dispose)
}

adapterSuite("Effect HttpRouter", makeHost)

hubSuite("Effect HttpRouter", async (hub) => {
  const router = HttpRouter.empty.pipe(
    HttpRouter.post("/runners", licenseGate({ hub, cap: "unattended", operation: "acquire", principal: header("x-runner-id") })(respond(201))),
    HttpRouter.get("/runners/work", licenseGate({ hub, cap: "unattended", operation: "check", principal: header("x-runner-id") })(respond(200))),
    HttpRouter.post("/runners/heartbeat", licenseGate({ hub, cap: "unattended", operation: "heartbeat", principal: header("x-runner-id") })(respond(200))),
    mountLicenseHub(hub.handler)
  )
  return serve(hostErrors(router), async () => undefined)
})

describe("Effect HttpRouter specifics", () => {
  const hubs: Array<TestHub> = []
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.dispose()
  })

  it("gates a whole router with HttpRouter.use and provides the License tag; a throwing principal is a defect, not a crash", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    const gate = licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "acquire", principal: header("x-runner-id") })
    const router = HttpRouter.empty.pipe(
      HttpRouter.post("/a", Effect.map(License, (l) => HttpServerResponse.unsafeJson({ at: "a", principal: l.principal }))),
      HttpRouter.post("/b", Effect.map(License, (l) => HttpServerResponse.unsafeJson({ at: "b", principal: l.principal }))),
      HttpRouter.use(gate)
    )
    const host = serve(hostErrors(router), async () => undefined)
    expect(await (await host.request("POST", "/a", { headers: { "x-runner-id": "r1" } })).json()).toEqual({ at: "a", principal: "r1" })
    expect(await (await host.request("POST", "/b", { headers: { "x-runner-id": "r2" } })).json()).toEqual({ at: "b", principal: "r2" })
    expect((await host.request("POST", "/b", { headers: { "x-runner-id": "r3" } })).status).toBe(403)

    const throwing = HttpRouter.empty.pipe(
      HttpRouter.get(
        "/t",
        licenseGate({
          enforcer: hub.runtime,
          cap: "unattended",
          operation: "check",
          principal: () => {
            throw new Error("thrown, not failed")
          }
        })(respond(200))
      )
    )
    const defect = await serve(hostErrors(throwing), async () => undefined).request("GET", "/t")
    expect(defect.status).toBe(500)
    expect(await defect.json()).toMatchObject({ hostError: "thrown, not failed" })
  })

  it("validates options at definition and refuses to mount a Hub without a prefix", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    expect(() => licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "check", principal: header("x"), extra: 1 } as never)).toThrow(/unknown option "extra"/)
    const rootHandler = createLicenseHandler(hub.services, { prefix: "" })
    expect(() => mountLicenseHub(rootHandler)).toThrow(PluginOptionsError)
    await rootHandler.dispose()
  })

  it("check decides a plain principal at once and an Effect principal in its Effect, alike: admitted, refused, onDenied, a missing principal", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    await hub.services.runPromise(hub.runtime.acquire("unattended", "r1"))
    const options = { enforcer: hub.runtime, cap: "unattended", operation: "check" } as const
    const refused = (error: { readonly code: string }) => Effect.succeed(HttpServerResponse.unsafeJson({ refused: error.code }, { status: 429 }))
    const router = HttpRouter.empty.pipe(
      HttpRouter.get("/plain", licenseGate({ ...options, principal: header("x-runner-id") })(respond(200))),
      HttpRouter.get("/effect", licenseGate({ ...options, principal: (request) => Effect.succeed(request.headers["x-runner-id"]) })(respond(200))),
      HttpRouter.get("/plain/custom", licenseGate({ ...options, principal: header("x-runner-id"), onDenied: refused })(respond(200))),
      HttpRouter.get("/effect/custom", licenseGate({ ...options, principal: (request) => Effect.succeed(request.headers["x-runner-id"]), onDenied: refused })(respond(200)))
    )
    const host = serve(hostErrors(router), async () => undefined)
    const answer = async (path: string, runner?: string) => {
      const response = await host.request("GET", path, { headers: runner === undefined ? {} : { "x-runner-id": runner } })
      return [response.status, await response.json()]
    }
    for (const path of ["/plain", "/effect"]) {
      expect(await answer(path, "r1")).toEqual([200, { license: { operation: "check", cap: "unattended", principal: "r1" } }])
      expect(await answer(path, "ghost")).toEqual([403, expect.objectContaining({ code: "PRINCIPAL_NOT_ADMITTED", status: 403 })])
      expect(await answer(`${path}/custom`, "ghost")).toEqual([429, { refused: "PRINCIPAL_NOT_ADMITTED" }])
      expect(await answer(path)).toEqual([400, expect.objectContaining({ code: "PRINCIPAL_MISSING" })])
      expect(await answer(path, "not/an id")).toEqual([400, expect.objectContaining({ code: "PRINCIPAL_INVALID" })])
    }
  })

  // The gate adds License to the fiber's context itself rather than through Effect.provideService (issue 16: that
  // was most of a check's cost): what runs after the gated handler, however the handler ended, must not see it.
  it("License is provided to the gated handler only: not after it succeeds, fails, dies or is interrupted", async () => {
    const hub = await makeHub()
    hubs.push(hub)
    await hub.services.runPromise(hub.runtime.acquire("unattended", "r1"))
    const request = HttpServerRequest.fromWeb(new Request("http://effect.local/", { headers: { "x-runner-id": "r1" } }))
    const after = <E>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, License>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const before = yield* Effect.serviceOption(License)
          const exit = yield* Effect.exit(restore(gate(handler)))
          const afterwards = yield* Effect.serviceOption(License)
          return { before: before._tag, exit: exit._tag, afterwards: afterwards._tag }
        })
      ).pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, request))
    const gate = licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "check", principal: header("x-runner-id") })
    const inside = Effect.map(License, (license) => HttpServerResponse.unsafeJson({ principal: license.principal }))
    const outcomes = await Promise.all(
      [
        inside,
        Effect.zipRight(License, Effect.fail(new PrincipalExploded({ message: "handler failed" }))),
        Effect.zipRight(License, Effect.die("handler died")),
        Effect.zipRight(License, Effect.interrupt)
      ].map((handler) => Effect.runPromise(after(handler)))
    )
    expect(outcomes).toEqual([
      { before: "None", exit: "Success", afterwards: "None" },
      { before: "None", exit: "Failure", afterwards: "None" },
      { before: "None", exit: "Failure", afterwards: "None" },
      { before: "None", exit: "Failure", afterwards: "None" }
    ])
    // And the acquire path (an Effect per request) does the same.
    const acquire = licenseGate({ enforcer: hub.runtime, cap: "unattended", operation: "acquire", principal: header("x-runner-id") })
    const afterAcquire = Effect.gen(function* () {
      const exit = yield* Effect.exit(acquire(Effect.zipRight(License, Effect.fail(new PrincipalExploded({ message: "handler failed" })))))
      return { exit: exit._tag, afterwards: (yield* Effect.serviceOption(License))._tag }
    }).pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, request))
    expect(await Effect.runPromise(afterAcquire)).toEqual({ exit: "Failure", afterwards: "None" })
  })
})
