/** The Hub HTTP API: its definition, handlers, serving layers and error mapping. */
export * as HubApi from "./HubApi.js"
export * as HubServer from "./HubServer.js"
export * as HubHttpOptions from "./HubHttpOptions.js"
export * as Authorization from "./Authorization.js"
export * as Problem from "./Problem.js"
export { Api } from "./HubApi.js"
export { HubApiLive, layer, makeHubServer, makeWebHandler } from "./HubServer.js"
