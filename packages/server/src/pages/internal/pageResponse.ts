/** How a page request ends, alike on the Hub and the Portal: security headers, HTML, redirect and asset responses, and the failures that end a page with an explanatory page. */
import { type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Data, Effect } from "effect"
import type * as Problem from "../../http/Problem.js"
import type { Html } from "../Html.js"
import type { Asset } from "./assets.js"
import { searchParam } from "./pageRequest.js"

/**
 * The Content-Security-Policy of every page: only the server's own stylesheets and script, no inline script or style
 * (style attributes included), no framing, forms posting only to the server.
 */
export const contentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/** Headers of every page and asset. */
export const securityHeaders = {
  "content-security-policy": contentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin"
}

/** A page. */
export const html = (page: Html, status = 200): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(page.value, {
    status,
    contentType: "text/html; charset=utf-8",
    // Pages show live license data and carry CSRF tokens: never cache them.
    headers: { ...securityHeaders, "cache-control": "no-store" }
  })

/** A 303 to `location`: after a form post the browser follows with a GET (post/redirect/get), so reloading never re-posts. */
export const redirect = (location: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.redirect(location, { status: 303, headers: { ...securityHeaders, "cache-control": "no-store" } })

/** A static file, cached for good when asked for by its `?v=<content hash>` (such a URL never changes content). */
export const asset = (file: Asset): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.ParsedSearchParams> =>
  Effect.map(searchParam("v"), (version) =>
    HttpServerResponse.text(file.body, {
      contentType: file.contentType,
      headers: { ...securityHeaders, "cache-control": version === file.version ? "public, max-age=31536000, immutable" : "no-cache" }
    })
  )

/** Where an error page leads back to. */
export interface Next<Href extends string = string> {
  readonly href: Href
  readonly label: string
}

/** A failure that ends a page request with an explanatory page instead of its normal content. */
export class PageFailure<Href extends string = string> extends Data.TaggedError("PageFailure")<{
  readonly status: number
  readonly title: string
  readonly message: string
  readonly next: Next<Href>
}> {}

/** The server the pages belong to, as its error pages need it. */
export interface Site<Href extends string, R> {
  /** How sentences name it: `"Hub"`, `"Portal"`. */
  readonly name: string
  /** Where its error pages lead back to. */
  readonly home: Next<Href>
  /** The message of the page shown for an unexpected error (a defect), whose details go to the log. */
  readonly unexpected: string
  /** An error page in the site's frame. */
  readonly errorPage: (title: string, message: string, next: Next<Href>) => Effect.Effect<Html, never, R>
}

/** A post without the site's form token for the caller: forged, or from a page older than the session. */
export const expiredForm = <Href extends string, R>(site: Site<Href, R>): PageFailure<Href> =>
  new PageFailure({
    status: 403,
    title: "This form has expired",
    message: `The form did not carry this ${site.name}'s security token, or it came from an older page. Nothing was changed. Go back, reload the page and try again.`,
    next: site.home
  })

/** A refusal or failure of the API's services, as a page. */
export const fromProblem = <Href extends string, R>(site: Site<Href, R>, problem: Problem.HttpProblem): PageFailure<Href> =>
  new PageFailure({
    status: problem.status,
    title: problem.status >= 500 ? `The ${site.name} could not answer` : "The request was refused",
    message: problem.message,
    next: site.home
  })

/** Run a page: failures and refusals become an explanatory page, defects a logged 500 page; interruptions pass. */
export const runner =
  <Href extends string, S>(site: Site<Href, S>) =>
  <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, PageFailure<Href> | Problem.HttpProblem, R>): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | S> =>
    handler.pipe(
      Effect.catchAll((failure) => {
        const f = failure._tag === "PageFailure" ? failure : fromProblem(site, failure)
        return Effect.map(site.errorPage(f.title, f.message, f.next), (page) => html(page, f.status))
      }),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.zipRight(
              Effect.logError(`Unhandled failure in a ${site.name} page`, cause),
              Effect.map(site.errorPage(`The ${site.name} hit an unexpected error`, site.unexpected, site.home), (page) => html(page, 500))
            )
      )
    )
