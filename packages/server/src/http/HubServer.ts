/** Serving the Hub API: the handlers layer, the server layer for any HttpServer, and a fetch-style handler. */
import { HttpApi, HttpApiBuilder, type HttpRouter, type HttpServer } from "@effect/platform"
import type { LicenseStore } from "@exekra/core"
import { Effect, Layer } from "effect"
import type { AdminAuth } from "../AdminAuth.js"
import type { LicenseRuntime } from "../LicenseRuntime.js"
import * as Authorization from "./Authorization.js"
import { Api, openApiPath } from "./HubApi.js"
import * as HubHttpOptions from "./HubHttpOptions.js"
import * as Pages from "../pages/Pages.js"
import * as handlers from "./internal/handlers.js"
import * as requestProblems from "./internal/requestProblems.js"

/** What the API is built on. */
export type Requirements = LicenseRuntime | LicenseStore.LicenseStore | AdminAuth

/**
 * The implemented API: every handler, the authorization middleware, the request middleware (body
 * limit, problems for everything the handlers do not type) and the OpenAPI document. Settings come
 * from `HubHttpOptions` (its defaults unless provided).
 */
export const HubApiLive: Layer.Layer<HttpApi.Api, never, Requirements> = Layer.mergeAll(
  HttpApiBuilder.middleware(Api, Effect.map(HubHttpOptions.HubHttpOptions, (settings) => requestProblems.middleware(settings))),
  HttpApiBuilder.middlewareOpenApi({ path: openApiPath })
).pipe(Layer.provideMerge(HttpApiBuilder.api(Api).pipe(Layer.provide(handlers.groups), Layer.provide(Authorization.layer))))

/** The API and the admin pages, served together. */
export const HubWithPages: Layer.Layer<HttpApi.Api, never, Requirements> = Layer.merge(HubApiLive, Pages.layer)

const withSettings = (options: Partial<HubHttpOptions.Settings>) =>
  Layer.provide(Layer.succeed(HubHttpOptions.HubHttpOptions, HubHttpOptions.make(options)))

/**
 * Serve the Hub API on the `HttpServer` in context, with the OpenAPI document at `/api/openapi.json`.
 *
 * @example
 * import { createServer } from "node:http"
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { makeHubServer } from "./HubServer.js"
 *
 * // Provide LicenseRuntime, LicenseStore and AdminAuth, then launch.
 * export const server = makeHubServer({ trustProxy: false }).pipe(
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 8080, host: "127.0.0.1" }))
 * )
 */
export const makeHubServer = <R = never>(
  options: Partial<HubHttpOptions.Settings> = {},
  /** More routes on the API's router (`HttpApiBuilder.Router.use`), e.g. `Metrics.route`. */
  routes: Layer.Layer<never, never, R> = Layer.empty as Layer.Layer<never, never, R>
): Layer.Layer<never, never, HttpServer.HttpServer | HttpRouter.HttpRouter.DefaultServices | Requirements | R> =>
  HttpApiBuilder.serve().pipe(Layer.provide(Layer.merge(HubWithPages, routes)), withSettings(options))

/** `makeHubServer()` with the default settings. */
export const layer = makeHubServer()

/**
 * A fetch-style handler `(Request) => Promise<Response>` over the given dependencies, for hosts
 * that are not an Effect `HttpServer` (call `dispose` when done).
 */
export const makeWebHandler = <E>(
  dependencies: Layer.Layer<Requirements | HttpRouter.HttpRouter.DefaultServices, E>,
  options: Partial<HubHttpOptions.Settings> = {}
): { readonly handler: (request: Request) => Promise<Response>; readonly dispose: () => Promise<void> } =>
  HttpApiBuilder.toWebHandler(Layer.provideMerge(HubWithPages, dependencies).pipe(withSettings(options)))
