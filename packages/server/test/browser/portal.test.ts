// The seed's flows end to end in Debian's Chromium: the vendor issues on the Customer Portal, the customer downloads from the Licenses page and activates a real Hub; renewal, the offline (bound) file and a trial. Saves screenshots.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Envelope, type Keys } from "@exekra/core"
import * as Hub from "@exekra/server/Hub"
import { Effect, Exit, Scope } from "effect"
import { type Browser, type BrowserContext, chromium, type Download, type Page } from "playwright-core"
import { inDays, startPortal, type TestPortal } from "../portal/helpers.js"

const CHROMIUM = "/usr/bin/chromium"
/** Screenshots for the README and for review; `test/artifacts/` at the repository root is git-ignored. */
const ARTIFACTS = fileURLToPath(new URL("../../../../test/artifacts/", import.meta.url))

const VENDOR_PASSWORD = "vendor staff password 2027"
const CUSTOMER_PASSWORD = "customer chosen password 9"
const HUB_PASSWORD = "hub admin password for acme"
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
/** A `YYYY-MM-DD` date as the Hub's and the Portal's pages write it: "12 March 2027". */
const spoken = (date: string): string => {
  const d = new Date(`${date}T00:00:00Z`)
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`
}

let browser: Browser
let portal: TestPortal
const hubs: Array<{ readonly close: () => Promise<void> }> = []

beforeAll(async () => {
  // Fails, not skips: the flows are the point of this file.
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}: the browser tests need Debian's chromium package (apt-get install chromium).`)
  mkdirSync(ARTIFACTS, { recursive: true })
  // Playwright gives every launch a fresh temporary --user-data-dir of its own (it refuses one in `args`).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
  portal = await startPortal()
})

afterAll(async () => {
  await browser?.close()
  for (const hub of hubs) await hub.close()
  await portal?.close()
})

/** A Hub as `serve` runs it (Hub.start on 127.0.0.1, port 0), trusting the Portal's key. */
const startHub = async (publicKey: Keys.PublicKey) => {
  const dataDir = mkdtempSync(join(tmpdir(), "exekra-portal-hub-"))
  const scope = Effect.runSync(Scope.make())
  const running = await Effect.runPromise(
    Scope.extend(Hub.start({ dataDir, host: "127.0.0.1", port: 0, publicKeys: [publicKey], version: "1.4.2-e2e" }), scope)
  )
  const hub = {
    ...running,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
  hubs.push(hub)
  return hub
}

/** A fresh browser context (its own cookies) that records CSP violations and script errors; none are expected. */
const openTab = async (): Promise<{ readonly page: Page; readonly context: BrowserContext; readonly problems: Array<string> }> => {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  const problems: Array<string> = []
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`)
  })
  page.on("pageerror", (error) => problems.push(`script error: ${error.message}`))
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`)
    void dialog.dismiss()
  })
  return { page, context, problems }
}

const submit = async (page: Page, button: string) => {
  // A form re-rendered at the same URL leaves nothing else to wait on.
  await Promise.all([page.waitForNavigation(), page.click(button)])
}
const text = async (page: Page, selector: string) => (await page.textContent(selector))?.replace(/\s+/g, " ").trim() ?? ""
const path = (page: Page) => new URL(page.url()).pathname
const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })

/** WCAG basics every Portal page keeps: a language, a title naming the Portal, one h1, a label for every control. */
const checkPage = async (page: Page) => {
  const facts = (await page.evaluate(`(() => ({
    lang: document.documentElement.lang,
    title: document.title,
    h1: document.querySelectorAll("h1").length,
    unlabelled: [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
      .filter((el) => !(el.id && document.querySelector('label[for="' + el.id + '"]')) && !el.getAttribute("aria-label"))
      .map((el) => el.outerHTML)
  }))()`)) as { lang: string; title: string; h1: number; unlabelled: Array<string> }
  expect(facts.lang).toBe("en")
  expect(facts.title).toMatch(/ · Exekra Customer Portal$/)
  expect(facts.h1).toBe(1)
  expect(facts.unlabelled).toEqual([])
}

/** Click a download link; the file's text. */
const download = async (page: Page, selector: string): Promise<{ readonly text: string; readonly name: string }> => {
  const [file]: [Download, void] = await Promise.all([page.waitForEvent("download"), page.click(selector)])
  const saved = await file.path()
  return { text: readFileSync(saved, "utf8"), name: file.suggestedFilename() }
}

/** Sign in at the Portal's `/` (one page for staff and customers). */
const signIn = async (page: Page, email: string, password: string) => {
  await page.goto(`${portal.url}/`)
  expect(await page.title()).toBe("Sign in · Exekra Customer Portal")
  await page.fill("#sign-in-email", email)
  await page.fill("#sign-in-password", password)
  await submit(page, "form[action='/sign-in'] button[type=submit]")
}

/** Replace a one-time password on the page it leads to. */
const choosePassword = async (page: Page, current: string, next: string) => {
  expect(path(page)).toBe("/account/password")
  await checkPage(page)
  await page.fill("#current-password", current)
  await page.fill("#new-password", next)
  await page.fill("#confirm-password", next)
  await submit(page, "form[action='/account/password'] button[type=submit]")
}

/** The vendor's tab, signed in with its own password (the one-time password replaced once). */
let vendor: Awaited<ReturnType<typeof openTab>> | undefined
const vendorTab = async () => {
  if (vendor !== undefined) return vendor
  vendor = await openTab()
  await signIn(vendor.page, portal.admin.email, portal.admin.password)
  await choosePassword(vendor.page, portal.admin.password, VENDOR_PASSWORD)
  expect(path(vendor.page)).toBe("/customers")
  expect(await text(vendor.page, "[data-notice]")).toContain("Your password is changed")
  return vendor
}

/** As the vendor: create a customer and add a user; the customer page's URL and the handover panel's secret. */
const createCustomer = async (page: Page, name: string, email: string, handover: "invite" | "temporary-password") => {
  await page.goto(`${portal.url}/customers`)
  await page.fill("#customer-name", name)
  await submit(page, "form[action='/customers'] button[type=submit]")
  expect(path(page)).toMatch(/^\/customers\/cus_[0-9a-f]{16}$/)
  const customerUrl = page.url().split("?")[0]!
  await page.fill("#user-email", email)
  await page.selectOption("#user-handover", handover)
  await submit(page, "form[action$='/users'] button[type=submit]")
  expect(await text(page, "[data-handover] h2")).toBe(`Send this to ${email}`)
  const secret = await text(page, handover === "invite" ? "#invite-url" : "#temporary-password")
  return { customerUrl, secret }
}

/** As the vendor, on a customer's page: issue a production license; its id. */
const issue = async (page: Page, customerUrl: string, email: string, caps: { readonly unattended: string; readonly developer: string; readonly attended: string }, installationId = "") => {
  await page.goto(customerUrl)
  await checkPage(page)
  expect(await page.inputValue("#issue-email")).toBe(email)
  await page.selectOption("#issue-type", "production")
  for (const [cap, limit] of [["unattended", "3"], ["developer", "2"], ["attended", "5"]] as const) {
    await page.fill(`#issue-${cap}-limit`, limit)
    await page.fill(`#issue-${cap}-expires`, caps[cap])
  }
  await page.fill("#issue-installation", installationId)
  await submit(page, "form#issue button[type=submit]")
  expect(path(page)).toMatch(/^\/licenses\/lic_[0-9a-f]{16}$/)
  expect(await text(page, "[data-notice]")).toContain("The license is issued and signed")
  return path(page).split("/").pop()!
}

describe("the Customer Portal in Chromium", () => {
  it("seed: the vendor issues a production license, the customer downloads it and activates a Hub; a renewal with a later Developer expiry reaches the Hub without a restart", async () => {
    const hub = await startHub(portal.key.publicKey)
    const { page: v, problems: vendorProblems } = await vendorTab()
    await checkPage(v)

    // The vendor creates the customer, invites its user and issues a production license (staggered expiries).
    const { customerUrl, secret: inviteUrl } = await createCustomer(v, "Acme Corp", "ann@acme.example", "invite")
    expect(inviteUrl).toMatch(new RegExp(`^${portal.url}/invite/[A-Za-z0-9_-]{43}$`))
    const expiries = { unattended: inDays(200), developer: inDays(60), attended: inDays(300) }
    const licenseId = await issue(v, customerUrl, "ann@acme.example", expiries)
    await checkPage(v)
    await shot(v, "portal-vendor-license")

    // The customer opens the invite, chooses a password, and lands on the Licenses page.
    const { page: c, problems: customerProblems } = await openTab()
    await c.goto(inviteUrl)
    await checkPage(c)
    expect(await text(c, "h1")).toBe("Welcome to the Customer Portal")
    await c.fill("#invite-password", CUSTOMER_PASSWORD)
    await c.fill("#invite-confirm", CUSTOMER_PASSWORD)
    await submit(c, "form[action^='/invite/'] button[type=submit]")
    expect(path(c)).toBe("/licenses")
    await checkPage(c)
    const card = `[data-license="${licenseId}"]`
    expect(await text(c, `${card} h2`)).toBe(`License ${licenseId}`)
    expect(await text(c, `${card} [data-cap="developer"] [data-field="expires"]`)).toContain(spoken(expiries.developer))
    expect(await text(c, `${card} [data-field="posture"]`)).toBe("No validation ping received yet.")
    await shot(c, "portal-licenses")

    // Step 1 of the seed: download the .lic from the Licenses page.
    const first = await download(c, `[data-download="${licenseId}"]`)
    expect(first.name).toBe(`${licenseId}.lic`)
    expect(first.text.startsWith(Envelope.BEGIN)).toBe(true)

    // Steps 2 to 4: upload it on the Hub's activation screen with the licensed email and a new password, then sign in.
    const { page: h, problems: hubProblems } = await openTab()
    await h.goto(`${hub.url}/`)
    expect(path(h)).toBe("/activate")
    await h.setInputFiles("#activate-license", { name: first.name, mimeType: "application/octet-stream", buffer: Buffer.from(first.text) })
    await h.fill("#activate-email", "ann@acme.example")
    await h.fill("#activate-password", HUB_PASSWORD)
    await h.fill("#activate-confirm", HUB_PASSWORD)
    await submit(h, "form[action='/activate'] button[type=submit]")
    expect(path(h)).toBe("/sign-in")
    await h.fill("#sign-in-email", "ann@acme.example")
    await h.fill("#sign-in-password", HUB_PASSWORD)
    await submit(h, "form[action='/sign-in'] button[type=submit]")
    expect(path(h)).toBe("/")
    expect(await text(h, "[data-licensee]")).toBe("Acme Corp")
    await h.goto(`${hub.url}/license`)
    expect(await text(h, "#cap-developer")).toContain(spoken(expiries.developer))
    await shot(h, "portal-hub-activated")

    // Renewal: the vendor moves the Developer expiry later; the other caps keep theirs.
    const renewedDeveloper = inDays(425)
    await v.goto(`${portal.url}/licenses/${licenseId}`)
    await checkPage(v)
    expect(await v.inputValue("#renew-developer-expires")).toBe(expiries.developer)
    await v.fill("#renew-developer-expires", renewedDeveloper)
    await submit(v, "form#renew button[type=submit]")
    expect(await text(v, "[data-notice]")).toContain("The license is renewed")
    expect(await text(v, "#files-title + div tbody tr:first-child")).toContain("renewed")
    await shot(v, "portal-vendor-renewed")

    // The renewed license is on the customer's Licenses page at once; the new file differs and is newer.
    await c.reload()
    expect(await text(c, `${card} [data-cap="developer"] [data-field="expires"]`)).toContain(spoken(renewedDeveloper))
    expect(await text(c, `${card} [data-cap="unattended"] [data-field="expires"]`)).toContain(spoken(expiries.unattended))
    const second = await download(c, `[data-download="${licenseId}"]`)
    expect(second.text).not.toBe(first.text)

    // The Hub's License page takes the new file and shows the new expiry, without a restart.
    await h.goto(`${hub.url}/license`)
    await h.setInputFiles("#renewal-license", { name: second.name, mimeType: "application/octet-stream", buffer: Buffer.from(second.text) })
    await h.click("form[action='/license'] button[type=submit]")
    await h.waitForSelector("[data-notice]")
    expect(await text(h, "#cap-developer")).toContain(spoken(renewedDeveloper))
    expect(await text(h, "#cap-unattended")).toContain(spoken(expiries.unattended))
    await shot(h, "portal-hub-renewed")

    // The Hub's validation ping (the license names this Portal) shows as the posture on the Licenses page.
    const posture = `${card} [data-field="posture"]`
    for (let i = 0; i < 50 && !(await text(c, posture)).includes("Hub version"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      await c.reload()
    }
    expect(await text(c, posture)).toMatch(new RegExp(`^Last validation ping .* from installation ${hub.installationId}, Hub version 1\\.4\\.2-e2e; answered valid\\.$`))

    expect([...vendorProblems, ...customerProblems, ...hubProblems]).toEqual([])
  }, 120_000)

  it("offline: the customer binds a license to a Hub's installation id and activates that Hub with the bound file; a malformed id is refused next to its field", async () => {
    const hub = await startHub(portal.key.publicKey)
    const { page: v } = await vendorTab()
    const { customerUrl, secret: inviteUrl } = await createCustomer(v, "Air-Gapped AG", "olga@airgap.example", "invite")
    const licenseId = await issue(v, customerUrl, "olga@airgap.example", { unattended: inDays(120), developer: inDays(120), attended: inDays(120) })

    // On the air-gapped Hub: the activation screen shows the installation id.
    const { page: h, problems } = await openTab()
    await h.goto(`${hub.url}/activate`)
    const installationId = await text(h, "#installation-id")
    expect(installationId).toBe(hub.installationId)

    // On a connected machine: the customer binds the license to that id and downloads the bound file.
    const { page: c } = await openTab()
    await c.goto(inviteUrl)
    await c.fill("#invite-password", CUSTOMER_PASSWORD)
    await c.fill("#invite-confirm", CUSTOMER_PASSWORD)
    await submit(c, "form[action^='/invite/'] button[type=submit]")
    const bind = `#bind-${licenseId}`
    await c.fill(bind, "inst_not-an-id")
    await submit(c, `form[action='/licenses/${licenseId}/bind'] button[type=submit]`)
    expect(await text(c, ".error-summary")).toContain("is not an installation id")
    expect(await c.getAttribute(bind, "aria-invalid")).toBe("true")
    expect(await text(c, `${bind}-error`)).toContain("Copy it from the Hub's activation screen")
    await checkPage(c)
    await shot(c, "portal-bind-error")
    await c.fill(bind, installationId)
    await submit(c, `form[action='/licenses/${licenseId}/bind'] button[type=submit]`)
    expect(await text(c, "[data-notice]")).toContain("bound to your Hub's installation")
    expect(await text(c, `[data-license="${licenseId}"] [data-field="installation"]`)).toBe(installationId)
    const bound = await download(c, `[data-download="${licenseId}"]`)
    await shot(c, "portal-bound")

    // Transferred to the Hub and uploaded on its activation screen as in online activation.
    await h.setInputFiles("#activate-license", { name: bound.name, mimeType: "application/octet-stream", buffer: Buffer.from(bound.text) })
    await h.fill("#activate-email", "olga@airgap.example")
    await h.fill("#activate-password", HUB_PASSWORD)
    await h.fill("#activate-confirm", HUB_PASSWORD)
    await submit(h, "form[action='/activate'] button[type=submit]")
    expect(path(h)).toBe("/sign-in")
    const summary = (await (await fetch(`${hub.url}/api/activation`)).json()) as { activated: boolean }
    expect(summary.activated).toBe(true)
    expect(problems).toEqual([])
  }, 120_000)

  it("trial: a customer without a license takes one trial (30 days, grace 0), activates a Hub with it; a second trial is refused", async () => {
    const hub = await startHub(portal.key.publicKey)
    const { page: v } = await vendorTab()
    const { secret: temporary } = await createCustomer(v, "Globex", "gil@globex.example", "temporary-password")

    // A temporary password: the customer must choose their own at the first sign-in.
    const { page: c, context, problems } = await openTab()
    await signIn(c, "gil@globex.example", temporary)
    await choosePassword(c, temporary, CUSTOMER_PASSWORD)
    expect(path(c)).toBe("/licenses")
    expect(await text(c, "#trial-title")).toBe("Try Exekra")
    expect(await text(c, "#trial-title + p")).toContain("Take a 30-day trial license (grace 0 days)")
    await shot(c, "portal-trial-offer")
    await submit(c, "form[action='/trial'] button[type=submit]")
    expect(await text(c, "[data-notice]")).toContain("Your trial license is ready")
    expect(await c.$("#trial-title")).toBeNull()
    const licenseId = (await c.getAttribute("[data-license]", "data-license")) ?? ""
    expect(await text(c, `[data-license="${licenseId}"] .card-header`)).toContain("Trial")
    await checkPage(c)
    await shot(c, "portal-trial")

    // A second request, as a script would send it with the same session, is refused with a clear code.
    const again = await context.request.post(`${portal.url}/api/trial`)
    expect(again.status()).toBe(409)
    expect(((await again.json()) as { code: string }).code).toBe("TRIAL_ALREADY_TAKEN")

    // The trial activates a Hub like a production license.
    const trial = await download(c, `[data-download="${licenseId}"]`)
    const { page: h } = await openTab()
    await h.goto(`${hub.url}/activate`)
    await h.setInputFiles("#activate-license", { name: trial.name, mimeType: "application/octet-stream", buffer: Buffer.from(trial.text) })
    await h.fill("#activate-email", "gil@globex.example")
    await h.fill("#activate-password", HUB_PASSWORD)
    await h.fill("#activate-confirm", HUB_PASSWORD)
    await submit(h, "form[action='/activate'] button[type=submit]")
    await h.fill("#sign-in-email", "gil@globex.example")
    await h.fill("#sign-in-password", HUB_PASSWORD)
    await submit(h, "form[action='/sign-in'] button[type=submit]")
    expect(await text(h, "[data-trial]")).toContain("This Hub runs on a trial license")
    await shot(h, "portal-hub-trial")
    expect(problems).toEqual([])
  }, 120_000)
})
