// The pages over HTTP without a browser: the escaping template helper, redirects, security headers, CSRF, escaped licensee names, the cap diagrams, and every URL under the prefix of a mounted Hub.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Cap, LicenseStore } from "@exekra/core"
import { capMachine, describeMachine } from "@exekra/machines"
import { createLicenseHandler } from "@exekra/server/LicenseHandler"
import * as Csrf from "@exekra/server/pages/Csrf"
import { html, join, trusted } from "@exekra/server/pages/Html"
import * as Hub from "@exekra/server/Hub"
import { capDiagram, makeDrawer } from "@exekra/server/pages/internal/diagram"
import { diagramFigure } from "@exekra/server/pages/internal/stateDiagram"
import * as Pages from "@exekra/server/pages/Pages"
import { Effect, ManagedRuntime } from "effect"
import { activate, apiToken, currentLicense, EMAIL, HOST_HOME, type MountedHub, PASSWORD, startHub, startMountedHub, type TestHub } from "./browser/hub.js"
import { vendorKey } from "./fixtures.js"

describe("html template helper", () => {
  it("escapes every interpolation: a licensee named <script> is text", () => {
    const name = `<script>alert(1)</script>`
    expect(html`<p>${name}</p>`.value).toBe("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>")
  })

  it("escapes quotes, so a value cannot leave its attribute", () => {
    expect(html`<a title="${`" onmouseover="alert(1)`}">x</a>`.value).toBe('<a title="&quot; onmouseover=&quot;alert(1)">x</a>')
    expect(html`<a title='${"' x='y"}'>x</a>`.value).toBe("<a title='&#39; x=&#39;y'>x</a>")
  })

  it("keeps nested markup and trusted markup, renders lists, and drops null, undefined and booleans", () => {
    const items = ["a&b", "<c>"].map((s) => html`<li>${s}</li>`)
    expect(html`<ul>${items}</ul>${null}${undefined}${false}${true}${0}`.value).toBe("<ul><li>a&amp;b</li><li>&lt;c&gt;</li></ul>0")
    expect(html`${trusted("<svg></svg>")}`.value).toBe("<svg></svg>")
    expect(join(["<x>", html`<y/>`], ", ").value).toBe("&lt;x&gt;, <y/>")
  })
})

describe("CSRF tokens", () => {
  it("derives a stable per-session token that differs between sessions", () => {
    expect(Csrf.forSession("a")).toBe(Csrf.forSession("a"))
    expect(Csrf.forSession("a")).not.toBe(Csrf.forSession("b"))
    expect(Csrf.forSession("a")).not.toContain("a".repeat(3))
  })

  it("matches only equal, present tokens", () => {
    const token = Csrf.newToken()
    expect(Csrf.matches(token, token)).toBe(true)
    expect(Csrf.matches(token, `${token}x`)).toBe(false)
    expect(Csrf.matches(token, undefined)).toBe(false)
    expect(Csrf.matches(undefined, token)).toBe(false)
    expect(Csrf.matches("", "")).toBe(false)
  })
})

describe("the License page's cap diagram", () => {
  const model = describeMachine(capMachine)
  it.effect("shows, in every state, only that state's transitions out in the compact drawing, names them in text, and keeps the full drawing", () =>
    Effect.gen(function* () {
      const draw = yield* makeDrawer
      for (const state of Cap.states) {
        const diagram = capDiagram("developer", state, yield* draw(state))
        const markup = diagramFigure(diagram).value
        const compact = /<div class="diagram-compact">([\s\S]*?)<\/div>\n<div class="diagram-next">/.exec(markup)?.[1] ?? ""
        const full = /<div class="diagram-full-body">([\s\S]*?)<\/div>\n<\/details>/.exec(markup)?.[1] ?? ""
        const out = model.edges.filter((e) => e.from === state)
        expect([...compact.matchAll(/class="edge" data-from="([^"]+)" data-to="([^"]+)"/g)].map((m) => `${m[1]}→${m[2]}`), state).toEqual(
          out.map((e) => `${e.from}→${e.to}`)
        )
        expect(compact, state).toMatch(new RegExp(`class="node current" data-state="${state}"`))
        expect(compact.match(/class="node current"/g), state).toHaveLength(1)
        expect(full.match(/class="edge" data-from=/g), state).toHaveLength(model.edges.length)
        expect(full, state).toMatch(new RegExp(`class="node current" data-state="${state}"`))
        // The text alternative names the current state and every state it can go to, in the figure's own text too.
        expect(diagram.next).toEqual(out.map((e) => e.to))
        const list = /<ul class="next-states"[^>]*>([\s\S]*?)<\/ul>/.exec(markup)?.[1] ?? ""
        expect([...list.matchAll(/data-state="([^"]+)"/g)].map((m) => m[1]), state).toEqual(diagram.next)
        expect(markup, state).toContain(`data-field="state-label">`)
        // The disclosure is a native <details>: its summary is in the tab order and opens with Enter or Space.
        expect(markup, state).toMatch(/<details class="diagram-full">\n<summary>Full state diagram<span class="visually-hidden"> of Developer seats<\/span>/)
      }
    })
  )
})

/** A cookie jar of one: the cookies a response set, as a Cookie header. */
const cookiesOf = (response: Response): string =>
  response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .join("; ")

const hiddenToken = (page: string): string => {
  const match = /name="csrf" value="([^"]+)"/.exec(page)
  if (match === null) throw new Error("no CSRF field on the page")
  return match[1]!
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields)

describe("pages on a fresh Hub", () => {
  let hub: TestHub
  beforeAll(async () => {
    hub = await startHub()
  })
  afterAll(() => hub.close())

  it("/ redirects to the activation screen, which shows the installation id with strict security headers", async () => {
    const home = await fetch(`${hub.url}/`, { redirect: "manual" })
    expect(home.status).toBe(303)
    expect(home.headers.get("location")).toBe("/activate")
    const page = await fetch(`${hub.url}/activate`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(page.headers.get("content-security-policy")).toBe(Pages.contentSecurityPolicy)
    expect(page.headers.get("x-content-type-options")).toBe("nosniff")
    expect(page.headers.get("cache-control")).toBe("no-store")
    const cookie = page.headers.getSetCookie().find((c) => c.startsWith(`${Csrf.cookieName}=`))
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Strict/i)
    const body = await page.text()
    expect(body).toContain(hub.installationId)
    // No inline script, style element or style attribute anywhere: the CSP would block them.
    expect(body).not.toMatch(/<script(?![^>]*\bsrc=)/)
    expect(body).not.toMatch(/<style|\sstyle=/)
  })

  it("refuses an activation post without the form token, or with another, with 403 and changes nothing", async () => {
    const page = await fetch(`${hub.url}/activate`)
    const cookie = cookiesOf(page)
    const token = hiddenToken(await page.text())
    const post = (headers: Record<string, string>, csrf: string | undefined) => {
      const body = new FormData()
      body.append("license", new Blob([currentLicense()]), "acme.lic")
      body.append("email", EMAIL)
      body.append("password", PASSWORD)
      body.append("confirm", PASSWORD)
      if (csrf !== undefined) body.append("csrf", csrf)
      return fetch(`${hub.url}/activate`, { method: "POST", body, headers, redirect: "manual" })
    }
    const missing = await post({ cookie }, undefined)
    expect(missing.status).toBe(403)
    expect(await missing.text()).toContain("This form has expired")
    expect((await post({ cookie }, Csrf.newToken())).status).toBe(403)
    // A token without its cookie is what a forged cross-site post looks like.
    expect((await post({}, token)).status).toBe(403)
    const status = (await (await fetch(`${hub.url}/api/activation`)).json()) as { activated: boolean }
    expect(status.activated).toBe(false)
  })

  it("serves the stylesheet and script with their types, immutable when versioned", async () => {
    const page = await (await fetch(`${hub.url}/activate`)).text()
    const css = /href="(\/assets\/app\.css\?v=[0-9a-f]+)"/.exec(page)?.[1]
    const js = /src="(\/assets\/app\.js\?v=[0-9a-f]+)"/.exec(page)?.[1]
    expect(css).toBeDefined()
    expect(js).toBeDefined()
    const cssResponse = await fetch(`${hub.url}${css}`)
    expect(cssResponse.headers.get("content-type")).toBe("text/css; charset=utf-8")
    expect(cssResponse.headers.get("cache-control")).toContain("immutable")
    expect(await cssResponse.text()).toContain(".badge")
    const jsResponse = await fetch(`${hub.url}${js}`)
    expect(jsResponse.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    expect(await jsResponse.text()).toContain("EventSource")
  })
})

describe("pages of an activated Hub", () => {
  let hub: TestHub
  const licensee = `<script>alert(1)</script>`
  beforeAll(async () => {
    hub = await startHub()
    await activate(hub, currentLicense({ issuedTo: { name: licensee, email: EMAIL } }))
  })
  afterAll(() => hub.close())

  /** Sign in through the page form; returns the session cookie. */
  const signIn = async (): Promise<string> => {
    const page = await fetch(`${hub.url}/sign-in`)
    const preSession = cookiesOf(page)
    const response = await fetch(`${hub.url}/sign-in`, {
      method: "POST",
      headers: { cookie: preSession },
      body: form({ email: EMAIL, password: PASSWORD, csrf: hiddenToken(await page.text()) }),
      redirect: "manual"
    })
    expect(response.status).toBe(303)
    expect(response.headers.get("location")).toBe("/")
    const session = response.headers.getSetCookie().find((c) => c.startsWith("exekra_session="))
    expect(session).toMatch(/HttpOnly/i)
    expect(session).toMatch(/SameSite=Strict/i)
    return cookiesOf(response)
  }

  it("sends signed-out visitors to sign-in, and /activate to the Hub", async () => {
    for (const path of ["/", "/license", "/timeline"]) {
      const response = await fetch(`${hub.url}${path}`, { redirect: "manual" })
      expect(response.headers.get("location")).toBe("/sign-in")
    }
    expect((await fetch(`${hub.url}/activate`, { redirect: "manual" })).headers.get("location")).toBe("/")
  })

  it("shows a licensee named <script> as text on the dashboard and the License page", async () => {
    const cookie = await signIn()
    for (const path of ["/", "/license"]) {
      const page = await (await fetch(`${hub.url}${path}`, { headers: { cookie } })).text()
      expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;")
      expect(page).not.toContain(licensee)
    }
  })

  it("draws each cap's state with only its transitions out, the full machine in a disclosure, unique ids, and no style attributes or event handlers", async () => {
    const cookie = await signIn()
    const page = await (await fetch(`${hub.url}/license`, { headers: { cookie } })).text()
    const model = describeMachine(capMachine)
    const next = model.edges.filter((e) => e.from === "active").map((e) => e.to)
    for (const cap of Cap.all) {
      expect(page).toContain(`data-cap="${cap}" data-field="diagram" data-state="active"`)
      // Compact: the current state, its five transitions out and the states they reach; nothing else.
      expect(page).toMatch(new RegExp(`id="${cap}-now-node\\d+" class="node current" data-state="active"`))
      const compactEdges = [...page.matchAll(new RegExp(`id="${cap}-now-edge\\d+" class="edge" data-from="([^"]+)" data-to="([^"]+)"`, "g"))]
      expect(compactEdges.map((m) => m[1])).toEqual(next.map(() => "active"))
      expect(compactEdges.map((m) => m[2])).toEqual(next)
      // Full: every state and transition of the machine, behind a disclosure.
      expect(page.match(new RegExp(`id="${cap}-all-node\\d+" class="node[^"]*" data-state=`, "g"))).toHaveLength(model.states.length)
      expect(page.match(new RegExp(`id="${cap}-all-edge\\d+" class="edge" data-from=`, "g"))).toHaveLength(model.edges.length)
    }
    expect(page.match(/<details class="diagram-full">\n<summary>Full state diagram/g)).toHaveLength(Cap.all.length)
    expect(page).toContain('aria-label="State diagram of Unattended Runners: the current state, Active, and the transitions out of it, to Not licensed, Renewed, Expiring, In grace and Limited."')
    const ids = [...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1])
    expect(new Set(ids).size).toBe(ids.length)
    expect(page).not.toMatch(/\sstyle=|\son[a-z]+=/i)
  })

  it("refuses posts without the session's form token with 403, and accepts them with it", async () => {
    const cookie = await signIn()
    const token = await apiToken(hub)
    await fetch(`${hub.url}/api/caps/unattended/principals`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "runner@one" })
    })
    const page = await (await fetch(`${hub.url}/license`, { headers: { cookie } })).text()
    const csrf = hiddenToken(page)
    const action = `${hub.url}/caps/unattended/principals/${encodeURIComponent("runner@one")}/deactivate`
    const post = (fields: Record<string, string>) => fetch(action, { method: "POST", headers: { cookie }, body: form(fields), redirect: "manual" })
    expect((await post({})).status).toBe(403)
    expect((await post({ csrf: Csrf.newToken() })).status).toBe(403)
    // Another session's token is refused too.
    expect((await post({ csrf: Csrf.forSession("another session") })).status).toBe(403)
    const ok = await post({ csrf })
    expect(ok.status).toBe(303)
    expect(ok.headers.get("location")).toBe("/license?notice=deactivated&cap=unattended#principals-unattended")
    const principals = (await (
      await fetch(`${hub.url}/api/caps/unattended/principals`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { principals: ReadonlyArray<{ id: string; status: string }> }
    expect(principals.principals).toEqual([expect.objectContaining({ id: "runner@one", status: "deactivated" })])
  })

  it("sets a cap's lease with its form (a bad value is shown at its field), lists a culled Runner with its cull time, and turns the lease off", async () => {
    const cookie = await signIn()
    const csrf = hiddenToken(await (await fetch(`${hub.url}/license`, { headers: { cookie } })).text())
    const post = (fields: Record<string, string>) =>
      fetch(`${hub.url}/caps/developer/lease`, { method: "POST", headers: { cookie }, body: form({ csrf, ...fields }), redirect: "manual" })
    const bad = await post({ leaseSeconds: "30", reviveSeconds: "0" })
    expect(bad.status).toBe(422)
    const badPage = await bad.text()
    expect(badPage).toContain("<title>Error: License · Exekra Hub</title>")
    expect(badPage).toContain('href="#lease-developer-seconds"')
    expect(badPage).toMatch(/id="lease-developer-seconds-error">[^\n]*Set leaseSeconds to 60 or more\./)
    expect(badPage).toMatch(/id="lease-developer-seconds"[^>]*value="30"/)
    expect((await post({ leaseSeconds: "", reviveSeconds: "0" })).status).toBe(422)
    const saved = await post({ leaseSeconds: "600", reviveSeconds: "120" })
    expect(saved.status).toBe(303)
    expect(saved.headers.get("location")).toBe("/license?notice=lease-set&cap=developer#cap-developer")
    const page = await (await fetch(`${hub.url}/license?notice=lease-set&cap=developer`, { headers: { cookie } })).text()
    expect(page).toContain("The lease is saved: Developer seats that send no heartbeat for 10 minutes are culled")
    expect(page).toContain("Heartbeat every 10 minutes or be culled; a culled one may come back within 2 minutes.")

    // A seat whose lease ended two minutes ago, culled through a second connection to the Hub's file, as another node would.
    const now = Date.now()
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const other = yield* LicenseStore.makeSqlite({ filename: joinPath(hub.dataDir, Hub.DATABASE_FILE) })
          yield* other.setCapLease("attended", { leaseSeconds: 60, reviveSeconds: 0 }, now - 180_000)
          yield* other.admit("attended", "gone@acme.example", null, 5, now - 180_000)
          expect((yield* other.cull("attended", now)).culled.map((p) => p.culledAt)).toEqual([now - 120_000])
        })
      )
    )
    const listed = await (await fetch(`${hub.url}/license`, { headers: { cookie } })).text()
    expect(listed).toMatch(/data-principal="gone@acme.example"[\s\S]*?Expired<\/span> <span class="hint-inline">\(culled [^)]*2 minutes ago/)
    const off = await post({ off: "1" })
    expect(off.headers.get("location")).toBe("/license?notice=lease-off&cap=developer#cap-developer")
    const token = await apiToken(hub)
    const lease = (await (await fetch(`${hub.url}/api/caps/developer/lease`, { headers: { authorization: `Bearer ${token}` } })).json()) as { lease: unknown }
    expect(lease.lease).toBeNull()
  })

  it("sends a second activation to sign-in, as the API's ALREADY_ACTIVATED", async () => {
    const page = await fetch(`${hub.url}/sign-in`)
    const body = new FormData()
    body.append("license", new Blob([currentLicense()]), "acme.lic")
    body.append("email", EMAIL)
    body.append("password", PASSWORD)
    body.append("confirm", PASSWORD)
    body.append("csrf", hiddenToken(await page.text()))
    const response = await fetch(`${hub.url}/activate`, { method: "POST", body, headers: { cookie: cookiesOf(page) }, redirect: "manual" })
    expect(response.status).toBe(303)
    expect(response.headers.get("location")).toBe("/sign-in?notice=already-activated")
  })

  it("links the usage history export, which the session cookie downloads as CSV", async () => {
    const cookie = await signIn()
    const page = await (await fetch(`${hub.url}/license`, { headers: { cookie } })).text()
    expect(page).toContain('href="/api/usage?format=csv"')
    const csv = await fetch(`${hub.url}/api/usage?format=csv`, { headers: { cookie } })
    expect(csv.status).toBe(200)
    expect(csv.headers.get("content-type")).toContain("text/csv")
    expect(await csv.text()).toMatch(/^day,cap,peak\r\n/)
  })

  it("signs out only with the token, ending the session", async () => {
    const cookie = await signIn()
    const refused = await fetch(`${hub.url}/sign-out`, { method: "POST", headers: { cookie }, body: form({}), redirect: "manual" })
    expect(refused.status).toBe(403)
    const csrf = hiddenToken(await (await fetch(`${hub.url}/`, { headers: { cookie } })).text())
    const out = await fetch(`${hub.url}/sign-out`, { method: "POST", headers: { cookie }, body: form({ csrf }), redirect: "manual" })
    expect(out.headers.get("location")).toBe("/sign-in?notice=signed-out")
    const after = await fetch(`${hub.url}/license`, { headers: { cookie }, redirect: "manual" })
    expect(after.headers.get("location")).toBe("/sign-in?notice=expired")
  })

  it("answers the timeline with the chart, and refuses a malformed date next to its field", async () => {
    const cookie = await signIn()
    const page = await fetch(`${hub.url}/timeline?portalDownFrom=2027-02-01`, { headers: { cookie } })
    expect(page.status).toBe(200)
    const body = await page.text()
    expect(body).toContain("<svg")
    expect(body).toContain("Portal unreachable from 1 February 2027")
    const bad = await fetch(`${hub.url}/timeline?portalDownFrom=tomorrow`, { headers: { cookie } })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('id="portal-down-from-error"')
  })
})

describe("settings", () => {
  it("follow the Hub's HTTP settings: with secure cookies, the form cookie is Secure", async () => {
    const hub = await startHub({ secureCookies: true })
    try {
      const page = await fetch(`${hub.url}/activate`)
      expect(page.headers.getSetCookie().find((c) => c.startsWith(`${Csrf.cookieName}=`))).toMatch(/;\s*Secure/i)
    } finally {
      await hub.close()
    }
  })
})

describe("sign-in limits", () => {
  let hub: TestHub
  beforeAll(async () => {
    hub = await startHub()
    await activate(hub, currentLicense())
  })
  afterAll(() => hub.close())

  it("says what is wrong, and after too many attempts how long to wait (429, Retry-After)", async () => {
    const page = await fetch(`${hub.url}/sign-in`)
    const cookie = cookiesOf(page)
    const csrf = hiddenToken(await page.text())
    const attempt = () => fetch(`${hub.url}/sign-in`, { method: "POST", headers: { cookie }, body: form({ email: EMAIL, password: "wrong password!", csrf }) })
    const first = await attempt()
    expect(first.status).toBe(401)
    const wrong = await first.text()
    expect(wrong).toContain("The email or password is wrong.")
    expect(wrong).toContain(`value="${EMAIL}"`)
    for (let i = 0; i < 4; i++) await attempt()
    const locked = await attempt()
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(await locked.text()).toContain("Too many sign-in attempts from this address.")
  })
})

/** Every URL a page emits in an attribute: links, forms, the stylesheet and the script. */
const urlsOf = (page: string): ReadonlyArray<string> => [...page.matchAll(/\s(?:href|action|src)="([^"]*)"/g)].map((m) => m[1]!)

/** Outside the Hub's own paths: an in-page anchor or an inline data URL. */
const isLocal = (url: string) => url.startsWith("#") || url.startsWith("data:")

// Regression: under a prefix (createLicenseHandler, createHub(…).handler, every example), the pages linked, posted and
// redirected to the host's root, so `/license/` sent the admin to the host's own `/activate`.
describe("a Hub mounted under /license in a node:http host", () => {
  let hub: MountedHub
  beforeAll(async () => {
    hub = await startMountedHub({ prefix: "/license" })
  })
  afterAll(() => hub.close())

  it("activates through the form, signs in, and every link, form, asset, redirect and the script's base stay under the prefix", async () => {
    const home = await fetch(`${hub.url}/`, { redirect: "manual" })
    expect(home.status).toBe(303)
    expect(home.headers.get("location")).toBe("/license/activate")
    // The bare prefix is the Hub's root too.
    expect((await fetch(hub.url, { redirect: "manual" })).headers.get("location")).toBe("/license/activate")

    const activation = await fetch(`${hub.url}/activate`)
    const activationPage = await activation.text()
    expect(activationPage).toContain('action="/license/activate"')
    expect(activationPage).toContain('data-base="/license"')
    expect(urlsOf(activationPage).filter((u) => !isLocal(u) && !u.startsWith("/license/"))).toEqual([])
    for (const asset of urlsOf(activationPage).filter((u) => u.startsWith("/license/assets/"))) {
      expect((await fetch(`${hub.origin}${asset}`)).status, asset).toBe(200)
    }

    const body = new FormData()
    body.append("license", new Blob([currentLicense()]), "acme.lic")
    body.append("email", EMAIL)
    body.append("password", PASSWORD)
    body.append("confirm", PASSWORD)
    body.append("csrf", hiddenToken(activationPage))
    const activated = await fetch(`${hub.url}/activate`, { method: "POST", body, headers: { cookie: cookiesOf(activation) }, redirect: "manual" })
    expect(activated.status).toBe(303)
    expect(activated.headers.get("location")).toBe("/license/sign-in?notice=activated")

    for (const path of ["/", "/license", "/timeline"]) {
      expect((await fetch(`${hub.url}${path}`, { redirect: "manual" })).headers.get("location"), path).toBe("/license/sign-in")
    }
    expect((await fetch(`${hub.url}/activate`, { redirect: "manual" })).headers.get("location")).toBe("/license/")

    const signInPage = await fetch(`${hub.url}/sign-in?notice=activated`)
    const signInHtml = await signInPage.text()
    expect(signInHtml).toContain('action="/license/sign-in"')
    const signedIn = await fetch(`${hub.url}/sign-in`, {
      method: "POST",
      headers: { cookie: cookiesOf(signInPage) },
      body: form({ email: EMAIL, password: PASSWORD, csrf: hiddenToken(signInHtml) }),
      redirect: "manual"
    })
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get("location")).toBe("/license/")
    const cookie = cookiesOf(signedIn)

    const token = await apiToken(hub)
    await fetch(`${hub.url}/api/caps/unattended/principals`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "runner-1" })
    })
    for (const path of ["/", "/license", "/timeline"]) {
      const response = await fetch(`${hub.url}${path}`, { headers: { cookie } })
      expect(response.status, path).toBe(200)
      const page = await response.text()
      expect(page, path).toContain('data-base="/license"')
      expect(urlsOf(page).filter((u) => !isLocal(u) && !u.startsWith("/license/")), path).toEqual([])
    }
    const license = await (await fetch(`${hub.url}/license`, { headers: { cookie } })).text()
    for (const url of [
      "/license/",
      "/license/license",
      "/license/timeline",
      "/license/sign-out",
      "/license/caps/unattended/lease",
      "/license/caps/unattended/principals/runner-1/deactivate",
      "/license/api/usage?format=csv"
    ]) {
      expect(urlsOf(license), url).toContain(url)
    }

    const csrf = hiddenToken(license)
    const deactivated = await fetch(`${hub.url}/caps/unattended/principals/runner-1/deactivate`, { method: "POST", headers: { cookie }, body: form({ csrf }), redirect: "manual" })
    expect(deactivated.headers.get("location")).toBe("/license/license?notice=deactivated&cap=unattended#principals-unattended")
    const lease = await fetch(`${hub.url}/caps/unattended/lease`, { method: "POST", headers: { cookie }, body: form({ csrf, off: "1" }), redirect: "manual" })
    expect(lease.headers.get("location")).toBe("/license/license?notice=lease-off&cap=unattended#cap-unattended")
    // An error page's way back is under the prefix too.
    const noCap = await fetch(`${hub.url}/caps/nonsense/lease`, { method: "POST", headers: { cookie }, body: form({ csrf }), redirect: "manual" })
    expect(noCap.status).toBe(404)
    expect(await noCap.text()).toContain('<a class="button primary" href="/license/license">Back to the License page</a>')
    const out = await fetch(`${hub.url}/sign-out`, { method: "POST", headers: { cookie }, body: form({ csrf }), redirect: "manual" })
    expect(out.headers.get("location")).toBe("/license/sign-in?notice=signed-out")
    // The host still answers its own root.
    expect(await (await fetch(`${hub.origin}/`)).text()).toBe(HOST_HOME)
  })
})

describe("the prefix header", () => {
  const attempts = ["//evil.example", "https://evil.example", "/\\evil.example", "/a//b", "/a/../b", "evil", "/ok/"]

  it("is ignored by a Hub serving on its own, even one that trusts its proxy: the pages stay at the root", async () => {
    for (const trustProxy of [false, true]) {
      const hub = await startHub({ trustProxy })
      try {
        for (const prefix of [...attempts, "/elsewhere"]) {
          const response = await fetch(`${hub.url}/`, { headers: { "x-forwarded-prefix": prefix }, redirect: "manual" })
          expect(response.headers.get("location"), `${trustProxy} ${prefix}`).toBe("/activate")
          const page = await (await fetch(`${hub.url}/activate`, { headers: { "x-forwarded-prefix": prefix } })).text()
          expect(page).toContain('action="/activate"')
          expect(page).toContain('data-base=""')
        }
      } finally {
        await hub.close()
      }
    }
  })

  it("is the handler's own: a client's is dropped, a trusted proxy's is kept in front only when it is a path", async () => {
    const dataDir = mkdtempSync(joinPath(tmpdir(), "exekra-prefix-"))
    const services = ManagedRuntime.make(Hub.services({ dataDir, publicKeys: [vendorKey.publicKey], version: "test" }))
    const direct = createLicenseHandler(services, { prefix: "/license" })
    const proxied = createLicenseHandler(services, { prefix: "/license", trustProxy: true })
    const root = createLicenseHandler(services, { prefix: "" })
    const location = async (handler: typeof direct, path: string, prefix: string) =>
      (await handler.fetch(new Request(`http://host.local${path}`, { headers: { "x-forwarded-prefix": prefix } }))).headers.get("location")
    try {
      for (const prefix of [...attempts, "/elsewhere"]) expect(await location(direct, "/license/", prefix), prefix).toBe("/license/activate")
      for (const prefix of attempts.slice(0, -1)) expect(await location(proxied, "/license/", prefix), prefix).toBe("/license/activate")
      expect(await location(proxied, "/license/", "/outer")).toBe("/outer/license/activate")
      expect(await location(proxied, "/license/", "/ok/")).toBe("/ok/license/activate")
      expect(await location(root, "/", "/elsewhere")).toBe("/activate")
    } finally {
      await Promise.all([direct.dispose(), proxied.dispose(), root.dispose()])
      await services.dispose()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
