// The Hub's pages in Debian's Chromium (playwright-core): activation, its errors, sign-in, live updates, renewal, a limited cap, the cap diagrams, and a Hub mounted under /license in a host; saves screenshots.
import { existsSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Envelope, Signer } from "@exekra/core"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { payload, strangerKey, vendorKey } from "../fixtures.js"
import { activate, apiToken, currentLicense, daysFromNow, EMAIL, PASSWORD, startHub, startMountedHub, type TestHub } from "./hub.js"

// The functions passed to page.evaluate and friends run in the browser; this file is type-checked
// without the DOM library, so the little they touch is declared here, for this module only.
declare const document: {
  querySelector(selectors: string): { readonly textContent: string | null } | null
  readonly activeElement: { closest(selectors: string): unknown; readonly tagName: string } | null
  addEventListener(
    type: "securitypolicyviolation",
    listener: (event: { readonly violatedDirective: string; readonly blockedURI: string; readonly sourceFile: string; readonly lineNumber: number }) => void
  ): void
}
declare const window: { noReload?: boolean; __reportViolation: (text: string) => void }
declare const navigator: { readonly clipboard: { readText(): Promise<string> } }

const CHROMIUM = "/usr/bin/chromium"
/** Screenshots for the README and for review; `test/artifacts/` at the repository root is git-ignored. */
const ARTIFACTS = fileURLToPath(new URL("../../../../test/artifacts/", import.meta.url))

let browser: Browser

/**
 * A screenshot of a live region for the artifacts. The page redraws such a region when an event arrives, and a redraw
 * between finding the element and drawing it detaches it: then it is taken again (the assertions are elsewhere).
 */
const shoot = async (locator: { readonly screenshot: (options: { readonly path: string }) => Promise<unknown> }, path: string): Promise<void> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await locator.screenshot({ path })
      return
    } catch (error) {
      if (attempt === 3 || !String(error).includes("not attached")) throw error
    }
  }
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: the browser tests need Debian's chromium package (apt-get install chromium).`)
  }
  mkdirSync(ARTIFACTS, { recursive: true })
  // Playwright refuses --user-data-dir with launch(): it gives every launch a fresh temporary profile of its own.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
})

afterAll(async () => {
  await browser?.close()
})

/** A page in a fresh context that records Content-Security-Policy violations and script errors, which every test expects none of. */
interface Tab {
  readonly page: Page
  readonly context: BrowserContext
  readonly problems: Array<string>
  readonly close: () => Promise<void>
}

const openTab = async (options: { readonly javaScript?: boolean } = {}): Promise<Tab> => {
  const context = await browser.newContext({ javaScriptEnabled: options.javaScript ?? true, viewport: { width: 1280, height: 900 } })
  const problems: Array<string> = []
  // Reported from the page's own listener (with JavaScript) and from the console (always): both name the blocked resource.
  await context.exposeBinding("__reportViolation", (_source, text: string) => {
    problems.push(`CSP: ${text}`)
  })
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__reportViolation(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`)
    })
  })
  const page = await context.newPage()
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`)
  })
  page.on("pageerror", (error) => problems.push(`script error: ${error.message}`))
  // An injected <script> would most likely show itself as a dialog.
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`)
    void dialog.dismiss()
  })
  return { page, context, problems, close: () => context.close() }
}

/** Run a test body with a hub and a tab, then check that nothing was blocked or thrown. */
const withTab = async (hub: TestHub, options: { readonly javaScript?: boolean }, body: (page: Page) => Promise<void>) => {
  const tab = await openTab(options)
  try {
    await body(tab.page)
    expect(tab.problems).toEqual([])
  } finally {
    await tab.close()
    await hub.close()
  }
}

/** Submit a form with a full page load (a plain post): wait for that navigation, even to the same URL. */
const submit = async (page: Page, button: string) => {
  // waitForNavigation is deprecated for most uses, but a form re-rendered at the same URL leaves nothing else to wait on.
  await Promise.all([page.waitForNavigation(), page.click(button)])
}

const signIn = async (page: Page, hub: TestHub) => {
  await page.goto(`${hub.url}/`)
  expect(new URL(page.url()).pathname).toBe("/sign-in")
  await page.fill("#sign-in-email", EMAIL)
  await page.fill("#sign-in-password", PASSWORD)
  await submit(page, "form[action='/sign-in'] button[type=submit]")
  expect(new URL(page.url()).pathname).toBe("/")
}

const text = async (page: Page, selector: string) => (await page.textContent(selector))?.replace(/\s+/g, " ").trim() ?? ""

const register = async (hub: TestHub, token: string, cap: string, id: string, name?: string) => {
  const response = await fetch(`${hub.url}/api/caps/${cap}/principals`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ id, name })
  })
  expect(response.status).toBe(201)
}

/** The .lic file with its envelope's JSON changed (the signature no longer matters to what is tested). */
const withEnvelope = (license: string, change: (json: Record<string, unknown>) => void): string => {
  const lines = license.trim().split("\n")
  const json = JSON.parse(Buffer.from(lines.slice(1, -1).join(""), "base64").toString("utf8")) as Record<string, unknown>
  change(json)
  return [Envelope.BEGIN, Buffer.from(JSON.stringify(json)).toString("base64"), Envelope.END, ""].join("\n")
}

const tampered = (): string =>
  withEnvelope(currentLicense(), (json) => {
    const bytes = Buffer.from(String(json["payload"]), "base64url")
    bytes[10] = bytes[10]! ^ 0x01
    json["payload"] = bytes.toString("base64url")
  })

describe("activation screen", () => {
  it("shows the installation id, and each activation error as a sentence next to its field, without JavaScript", async () => {
    const hub = await startHub()
    await withTab(hub, { javaScript: false }, async (page) => {
      await page.goto(`${hub.url}/`)
      expect(new URL(page.url()).pathname).toBe("/activate")
      expect(await text(page, "#installation-id")).toBe(hub.installationId)
      await page.screenshot({ path: `${ARTIFACTS}activation.png`, fullPage: true })

      const cases: ReadonlyArray<{
        readonly what: string
        readonly file: string | null
        readonly email?: string
        readonly password?: string
        readonly confirm?: string
        readonly field: "license" | "email" | "password" | "confirm"
        readonly says: string
      }> = [
        { what: "no file", file: null, field: "license", says: "Choose the license file (.lic)" },
        { what: "not a license", file: "hello, world", field: "license", says: "not a readable Exekra license" },
        { what: "a file over 64 KiB", file: "A".repeat(70 * 1024), field: "license", says: "larger than 64 KiB" },
        { what: "an unknown format version", file: withEnvelope(currentLicense(), (j) => (j["v"] = 2)), field: "license", says: "format version 2 is not supported" },
        { what: "an unknown algorithm", file: withEnvelope(currentLicense(), (j) => (j["alg"] = "rsa")), field: "license", says: "signed with an algorithm this Hub does not accept" },
        { what: "a tampered file", file: tampered(), field: "license", says: "signature does not match its contents" },
        { what: "a stranger's key", file: Signer.sign(payload(), strangerKey), field: "license", says: "signed with a key this Hub does not trust" },
        {
          what: "a payload naming another key",
          file: Signer.signBytes(new TextEncoder().encode(JSON.stringify({ ...payload(), kid: strangerKey.kid })), vendorKey),
          field: "license",
          says: "key named inside the license differs"
        },
        { what: "an invalid payload", file: Signer.signBytes(new TextEncoder().encode('{"hello":1}'), vendorKey), field: "license", says: "its contents are invalid" },
        {
          what: "another installation's license",
          file: currentLicense({ installationId: "inst_0000000000000000000000000a" }),
          field: "license",
          says: `bound to installation inst_0000000000000000000000000a, but this Hub is ${hub.installationId}`
        },
        { what: "a license not valid yet", file: currentLicense({ notBefore: daysFromNow(10) }), field: "license", says: "This license is valid from" },
        {
          what: "an expired license",
          file: currentLicense({
            caps: { unattended: { limit: 1, expiresAt: daysFromNow(-5) }, developer: { limit: 1, expiresAt: daysFromNow(-2) } }
          }),
          field: "license",
          says: "Every capacity in this license expired"
        },
        { what: "a wrong email", file: currentLicense(), email: "someone@else.example", field: "email", says: "The admin email must be the email the license was issued to" },
        { what: "a weak password", file: currentLicense(), password: "short", confirm: "short", field: "password", says: "at least 12 characters" },
        { what: "a mistyped confirmation", file: currentLicense(), confirm: `${PASSWORD}!`, field: "confirm", says: "The two passwords differ" }
      ]
      for (const c of cases) {
        if (c.file !== null) await page.setInputFiles("#activate-license", { name: "license.lic", mimeType: "application/octet-stream", buffer: Buffer.from(c.file) })
        await page.fill("#activate-email", c.email ?? EMAIL)
        await page.fill("#activate-password", c.password ?? PASSWORD)
        await page.fill("#activate-confirm", c.confirm ?? c.password ?? PASSWORD)
        await submit(page, "form[action='/activate'] button[type=submit]")
        expect(new URL(page.url()).pathname, c.what).toBe("/activate")
        expect(await text(page, `#activate-${c.field}-error`), c.what).toContain(c.says)
        expect(await page.getAttribute(`#activate-${c.field}`, "aria-invalid"), c.what).toBe("true")
        expect(await text(page, ".error-summary"), c.what).toContain(c.says)
        // The email the admin typed stays; only the file has to be chosen again.
        expect(await page.inputValue("#activate-email"), c.what).toBe(c.email ?? EMAIL)
      }
      const status = (await (await fetch(`${hub.url}/api/activation`)).json()) as { activated: boolean }
      expect(status.activated).toBe(false)
    })
  }, 60_000) // fifteen form posts: longer than one interaction, though each takes a fraction of a second

  it("activates with a good file as a plain form post, then signs in, all without JavaScript", async () => {
    const hub = await startHub()
    await withTab(hub, { javaScript: false }, async (page) => {
      await page.goto(`${hub.url}/activate`)
      await page.setInputFiles("#activate-license", { name: "acme.lic", mimeType: "application/octet-stream", buffer: Buffer.from(currentLicense()) })
      await page.fill("#activate-email", EMAIL.toUpperCase())
      await page.fill("#activate-password", PASSWORD)
      await page.fill("#activate-confirm", PASSWORD)
      await submit(page, "form[action='/activate'] button[type=submit]")
      expect(new URL(page.url()).pathname).toBe("/sign-in")
      expect(await text(page, "[data-notice]")).toContain("The Hub is activated")
      await page.fill("#sign-in-email", EMAIL)
      await page.fill("#sign-in-password", PASSWORD)
      await submit(page, "form[action='/sign-in'] button[type=submit]")
      expect(await text(page, "h1")).toBe("Dashboard")
      expect(await text(page, "[data-licensee]")).toBe("Acme Corp")
    })
  })
  it("copies the installation id with the Copy button (a script-only nicety)", async () => {
    const hub = await startHub()
    await withTab(hub, {}, async (page) => {
      await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: hub.url })
      await page.goto(`${hub.url}/activate`)
      await page.click("button[data-copy='installation-id']")
      await page.waitForSelector("[data-copy-status]:has-text('Copied to the clipboard.')")
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(hub.installationId)
    })
  })
})

describe("signed in", () => {
  it("signs in to the dashboard (trial badge and note, a banner for an expiring cap) and signs out", async () => {
    const hub = await startHub()
    await activate(
      hub,
      currentLicense({
        type: "trial",
        caps: {
          unattended: { limit: 5, expiresAt: daysFromNow(60) },
          developer: { limit: 3, expiresAt: daysFromNow(12) },
          attended: { limit: 10, expiresAt: daysFromNow(60) }
        }
      })
    )
    await withTab(hub, {}, async (page) => {
      await signIn(page, hub)
      expect(await text(page, "[data-trial]")).toContain("not intended for high-risk or business-critical production use")
      const banner = await text(page, "[data-banner='developer']")
      expect(banner).toContain("Developer seats expire on")
      expect(banner).toContain("(in 12 days)")
      expect(banner).toContain("Open the License page")
      expect(await page.getAttribute("[data-banner='developer'] a", "href")).toBe("/license#cap-developer")
      expect(await page.getAttribute(".badge[data-cap='developer']", "data-state")).toBe("expiring")
      expect(await page.$("[data-banner='unattended']")).toBeNull()
      await page.waitForSelector("[data-live-status][data-connected]")
      await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true })
      await submit(page, "form[action='/sign-out'] button[type=submit]")
      expect(new URL(page.url()).pathname).toBe("/sign-in")
      expect(await text(page, "[data-notice]")).toBe("You have signed out.")
      await page.goto(`${hub.url}/license`)
      expect(new URL(page.url()).pathname).toBe("/sign-in")
    })
  })

  it("updates the License page live as Runners register through the API, and releases one without a reload", async () => {
    const hub = await startHub()
    await activate(hub, currentLicense())
    const token = await apiToken(hub)
    await withTab(hub, {}, async (page) => {
      await signIn(page, hub)
      await page.goto(`${hub.url}/license`)
      await page.evaluate(() => (window.noReload = true))
      await page.waitForSelector("[data-live-status][data-connected]")
      expect(await text(page, "[data-cap='unattended'][data-field='used']")).toBe("0")

      await register(hub, token, "unattended", "runner-1", "Build agent 1")
      await register(hub, token, "unattended", "runner-2", "Build agent 2")
      await page.waitForFunction(() => document.querySelector("[data-cap='unattended'][data-field='used']")?.textContent === "2")
      await page.waitForSelector("#principals-unattended [data-principal='runner-2']")
      await register(hub, token, "developer", "dana@acme.example", "Dana Developer")
      await register(hub, token, "attended", "ali@acme.example")
      await page.waitForFunction(() => document.querySelector("[data-cap='attended'][data-field='used']")?.textContent === "1")
      await page.waitForSelector("#principals-attended [data-principal='ali@acme.example']")
      expect(await page.getAttribute(".diagram[data-cap='unattended'] .diagram-compact .node.current", "data-state")).toBe("active")
      expect(await text(page, "#principals-unattended .count")).toBe("2 of 3 in use")
      // Each card draws its state and only the transitions out of it, legibly; the full machine is one click away.
      expect(await page.$$eval(".diagram[data-cap='unattended'] .diagram-compact .edge", (edges) => edges.map((e) => e.getAttribute("data-from")))).toEqual(
        Array(5).fill("active")
      )
      expect(await page.$$eval(".diagram[data-cap='unattended'] .next-states li", (items) => items.map((li) => li.textContent))).toEqual([
        "Not licensed not licensed: refuses all",
        "Renewed just renewed: as active",
        "Expiring expiry approaching: admits, banner",
        "In grace expired or Portal unreachable: admits until grace ends",
        "Limited grace ran out: refuses new admissions"
      ])
      expect(await page.isVisible(".diagram[data-cap='unattended'] .diagram-full svg")).toBe(false)
      const box = await page.locator(".diagram[data-cap='unattended'] .diagram-compact svg").boundingBox()
      // At 1280 px the compact drawing is shown at about its own size (341 × 304 pt), so its 9 pt labels stay readable.
      expect(box?.width).toBeGreaterThan(400)
      await page.screenshot({ path: `${ARTIFACTS}license.png`, fullPage: true })
      await shoot(page.locator("#cap-unattended"), `${ARTIFACTS}license-cap.png`)

      await page.click("#principals-unattended [data-principal='runner-1'] button:has-text('Release')")
      await page.waitForSelector("[data-notice]:has-text('The Runner was released')")
      await page.waitForFunction(() => document.querySelector("[data-cap='unattended'][data-field='used']")?.textContent === "1")
      expect(await page.$("#principals-unattended [data-principal='runner-1']")).toBeNull()
      expect(await page.evaluate(() => window.noReload)).toBe(true)
      const principals = (await (
        await fetch(`${hub.url}/api/caps/unattended/principals`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { principals: ReadonlyArray<{ id: string }> }
      expect(principals.principals.map((p) => p.id)).toEqual(["runner-2"])

      // The full diagram opens from the keyboard; the admin stays on its summary while the page updates below.
      await page.focus("#cap-attended .diagram-full summary")
      await page.keyboard.press("Enter")
      await page.waitForSelector("#cap-attended .diagram-full[open] svg")
      expect(await page.$$("#cap-attended .diagram-full .edge[data-from]")).toHaveLength(30)
      await shoot(page.locator("#cap-attended .diagram"), `${ARTIFACTS}license-diagram-full.png`)

      // A renewal through the API moves the state badges and the diagrams' highlight on this open page.
      const renewed = await fetch(`${hub.url}/api/license`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ license: currentLicense({ issuedAt: daysFromNow(-1) }) })
      })
      expect(renewed.status).toBe(200)
      await page.waitForSelector(".badge[data-cap='attended'][data-state='renewed']")
      // The compact drawing is drawn again for the new state: its transitions out of renewed.
      await page.waitForSelector(".diagram[data-cap='attended'][data-state='renewed'] .diagram-now[data-drawn-for='renewed']:not([data-stale]) .node.current[data-state='renewed']")
      expect(await page.$$eval("#cap-attended .diagram-compact .edge", (edges) => edges.map((e) => e.getAttribute("data-from")))).toEqual(Array(5).fill("renewed"))
      expect(await page.$$(".diagram-compact .node.current")).toHaveLength(3)
      expect(await page.$$(".diagram-full .node.current")).toHaveLength(3)
      expect(await page.getAttribute("#cap-attended .diagram-full .node.current", "data-state")).toBe("renewed")
      // The card was swapped with the disclosure still open and the focus still on its summary.
      expect(await page.$("#cap-attended .diagram-full[open]")).not.toBeNull()
      expect(await page.evaluate(() => document.activeElement?.closest("#cap-attended .diagram-full") !== null && document.activeElement?.tagName === "SUMMARY")).toBe(true)
      expect(await page.evaluate(() => window.noReload)).toBe(true)
    })
  })

  it("applies a renewal upload at once: the caps show renewed without a reload", async () => {
    const hub = await startHub()
    await activate(hub, currentLicense())
    await withTab(hub, {}, async (page) => {
      await signIn(page, hub)
      await page.goto(`${hub.url}/license`)
      await page.waitForSelector("[data-live-status][data-connected]")
      await page.evaluate(() => (window.noReload = true))
      const renewal = currentLicense({
        issuedAt: daysFromNow(-1),
        caps: {
          unattended: { limit: 10, expiresAt: daysFromNow(500) },
          developer: { limit: 5, expiresAt: daysFromNow(500) },
          attended: { limit: 20, expiresAt: daysFromNow(500) }
        }
      })
      await page.setInputFiles("#renewal-license", { name: "renewal.lic", mimeType: "application/octet-stream", buffer: Buffer.from(renewal) })
      await page.click("#renew button[type=submit]")
      await page.waitForSelector(".badge[data-cap='unattended'][data-state='renewed']")
      await page.waitForSelector("[data-notice]:has-text('The new license is installed and applies now')")
      expect(await page.evaluate(() => window.noReload)).toBe(true)
      expect(await text(page, ".badge[data-cap='unattended']")).toBe("Renewed")
      expect(await text(page, "[data-cap='unattended'][data-field='limit']")).toBe("10")
      expect(await page.getAttribute(".diagram[data-cap='unattended'] .diagram-compact .node.current", "data-state")).toBe("renewed")
      expect(new URL(page.url()).search).toBe("")

      // An older file is refused next to the file input, still without a reload.
      await page.setInputFiles("#renewal-license", { name: "old.lic", mimeType: "application/octet-stream", buffer: Buffer.from(currentLicense()) })
      await page.click("#renew button[type=submit]")
      await page.waitForSelector("#renewal-license-error:has-text('before the installed one')")
      expect(await page.evaluate(() => window.noReload)).toBe(true)
    })
  })

  it("shows a limited cap's banner with its reason and what to do, next to caps that are fine", async () => {
    const hub = await startHub()
    await activate(
      hub,
      currentLicense({
        issuedAt: daysFromNow(-100),
        caps: {
          unattended: { limit: 3, expiresAt: daysFromNow(-60) },
          developer: { limit: 2, expiresAt: daysFromNow(200) },
          attended: { limit: 5, expiresAt: daysFromNow(200) }
        },
        gracePeriodDays: 14,
        issuedTo: { name: "<script>alert(1)</script>", email: EMAIL }
      })
    )
    await withTab(hub, {}, async (page) => {
      await signIn(page, hub)
      const banner = await text(page, "[data-banner='unattended']")
      expect(banner).toContain("Unattended Runners are limited since")
      expect(banner).toContain("(46 days ago)")
      expect(banner).toContain("the license expired on")
      expect(banner).toContain("the grace period has ended")
      expect(banner).toContain("No new Runners can be added")
      expect(banner).toContain("upload the new file on the License page")
      expect(await page.getAttribute("[data-banner='unattended']", "role")).toBe("alert")
      expect(await page.$("[data-banner='developer']")).toBeNull()
      expect(await text(page, ".badge[data-cap='unattended']")).toBe("Limited")
      expect(await text(page, ".badge[data-cap='developer']")).toBe("Active")
      // The licensee's name is shown as the text it is, never run.
      expect(await text(page, "[data-licensee]")).toBe("<script>alert(1)</script>")
      await page.goto(`${hub.url}/license`)
      expect(await text(page, "#cap-unattended .state-sentence")).toContain("No new Runners can be added")
      expect(await page.getAttribute(".diagram[data-cap='unattended'] .diagram-compact .node.current", "data-state")).toBe("limited")
      expect(await page.$$eval("#cap-unattended .diagram-compact .edge", (edges) => edges.map((e) => e.getAttribute("data-from")))).toEqual(Array(5).fill("limited"))
    })
  })
})

// Regression: mounted under a prefix, the pages linked, posted, redirected and opened the event stream at the host's root.
describe("a Hub mounted under /license in a node:http host", () => {
  it("activates, signs in and opens the License page under the prefix, with live updates over the event stream", async () => {
    const hub = await startMountedHub({ prefix: "/license" })
    const token = { value: "" }
    await withTab(hub, {}, async (page) => {
      const requests: Array<string> = []
      page.on("request", (request) => requests.push(new URL(request.url()).pathname))
      await page.goto(`${hub.url}/`)
      expect(new URL(page.url()).pathname).toBe("/license/activate")
      await page.setInputFiles("#activate-license", { name: "acme.lic", mimeType: "application/octet-stream", buffer: Buffer.from(currentLicense()) })
      await page.fill("#activate-email", EMAIL)
      await page.fill("#activate-password", PASSWORD)
      await page.fill("#activate-confirm", PASSWORD)
      await submit(page, "form[action='/license/activate'] button[type=submit]")
      expect(new URL(page.url()).pathname).toBe("/license/sign-in")
      expect(await text(page, "[data-notice]")).toContain("The Hub is activated")
      await page.fill("#sign-in-email", EMAIL)
      await page.fill("#sign-in-password", PASSWORD)
      await submit(page, "form[action='/license/sign-in'] button[type=submit]")
      expect(new URL(page.url()).pathname).toBe("/license/")
      expect(await text(page, "h1")).toBe("Dashboard")

      await Promise.all([page.waitForNavigation(), page.click(".site-nav a:has-text('License')")])
      expect(new URL(page.url()).pathname).toBe("/license/license")
      await page.evaluate(() => (window.noReload = true))
      await page.waitForSelector("[data-live-status][data-connected]")
      token.value = await apiToken(hub)
      await register(hub, token.value, "unattended", "runner-1", "Build agent 1")
      await page.waitForFunction(() => document.querySelector("[data-cap='unattended'][data-field='used']")?.textContent === "1")
      await page.waitForSelector("#principals-unattended [data-principal='runner-1']")

      // A form the script submits in place posts under the prefix too.
      await page.click("#principals-unattended [data-principal='runner-1'] button:has-text('Release')")
      await page.waitForSelector("[data-notice]:has-text('The Runner was released')")
      expect(new URL(page.url()).pathname).toBe("/license/license")
      expect(await page.evaluate(() => window.noReload)).toBe(true)
      // Every request the browser made stayed under the prefix: pages, assets, the event stream and the live refreshes.
      expect(requests.filter((path) => !path.startsWith("/license/"))).toEqual([])
      expect(requests).toContain("/license/api/events")
      await page.screenshot({ path: `${ARTIFACTS}license-mounted.png` })
    })
  })
})
