// Exekra Hub pages: progressive enhancement only. Every action also works as a plain form post without this script.
"use strict"
;(() => {
  const body = document.body
  // The path the Hub is mounted at ("" at the root, "/license" inside a host app): the server checked it is a path.
  const base = /^(\/[^/\\]+)*$/.test(body.dataset.base || "") ? body.dataset.base || "" : ""
  const labels = (() => {
    try {
      return JSON.parse(body.dataset.stateLabels || "{}")
    } catch (error) {
      console.error("Unreadable state labels", error)
      return {}
    }
  })()

  // ---- copy buttons (the installation id) ---------------------------------------------------------

  const copyText = async (text) => {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text)
    // Plain http on a LAN address is no secure context: fall back to a selection the browser copies.
    const area = document.createElement("textarea")
    area.value = text
    area.setAttribute("readonly", "")
    area.className = "visually-hidden"
    document.body.append(area)
    area.select()
    const copied = document.execCommand("copy")
    area.remove()
    if (!copied) throw new Error("copy refused")
  }

  const enableCopyButtons = (root) => {
    for (const button of root.querySelectorAll("button[data-copy]")) button.hidden = false
  }

  document.addEventListener("click", async (event) => {
    const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null
    if (button === null) return
    const source = document.getElementById(button.dataset.copy || "")
    const status = button.parentElement ? button.parentElement.querySelector("[data-copy-status]") : null
    if (source === null) return
    try {
      await copyText(source.textContent.trim())
      if (status) status.textContent = "Copied to the clipboard."
    } catch (error) {
      console.warn("Copy failed", error)
      const range = document.createRange()
      range.selectNodeContents(source)
      const selection = window.getSelection()
      selection.removeAllRanges()
      selection.addRange(range)
      if (status) status.textContent = "Selected: press Ctrl+C (or ⌘C) to copy."
    }
  })

  // ---- live updates from GET /api/events ----------------------------------------------------------

  const byCap = (cap, field) => document.querySelectorAll(`[data-cap="${CSS.escape(cap)}"][data-field="${field}"]`)

  const setBar = (svg, status) => {
    const scale = Math.max(status.ceiling, status.used, status.limit, 1)
    const pct = (n) => ((Math.max(0, n) / scale) * 100).toFixed(2)
    const set = (selector, x, width) => {
      const rect = svg.querySelector(selector)
      if (rect === null) return
      rect.setAttribute("x", x)
      rect.setAttribute("width", width)
    }
    set(".bar-fill", "0", pct(Math.min(status.used, status.limit)))
    set(".bar-overage", pct(status.limit), pct(Math.min(status.used, status.ceiling) - status.limit))
    set(".bar-over", pct(status.ceiling), pct(status.used - status.ceiling))
  }

  /** Apply one cap's status at once: badge, usage numbers, bar and the diagram's highlighted state. */
  const applyStatus = (status) => {
    const cap = status.cap
    for (const badge of byCap(cap, "badge")) {
      badge.dataset.state = status.state
      badge.textContent = labels[status.state] || status.state
    }
    for (const el of byCap(cap, "used")) el.textContent = String(status.used)
    for (const el of byCap(cap, "limit")) el.textContent = String(status.limit)
    for (const el of byCap(cap, "over")) el.hidden = !status.overLimit
    for (const el of byCap(cap, "state-label")) el.textContent = labels[status.state] || status.state
    for (const svg of byCap(cap, "bar")) setBar(svg, status)
    for (const figure of byCap(cap, "diagram")) {
      figure.dataset.state = status.state
      // The full drawing has every state: move its highlight. The compact one shows the old state's ways out
      // until the card is fetched again (refresh), so it is marked stale meanwhile.
      const now = figure.querySelector("[data-drawn-for]")
      if (now !== null) now.toggleAttribute("data-stale", now.dataset.drawnFor !== status.state)
      for (const full of figure.querySelectorAll(".diagram-full")) {
        for (const node of full.querySelectorAll(".node[data-state]")) node.classList.toggle("current", node.dataset.state === status.state)
        const svg = full.querySelector("svg")
        const label = svg ? svg.getAttribute("aria-label") : null
        if (label !== null) svg.setAttribute("aria-label", label.replace(/the current state is .*$/, `the current state is ${labels[status.state] || status.state}.`))
      }
    }
  }

  const differsFromPage = (summary) =>
    Object.values((summary && summary.caps) || {}).some((status) => {
      const used = byCap(status.cap, "used")[0]
      const badge = byCap(status.cap, "badge")[0]
      return (used !== undefined && used.textContent !== String(status.used)) || (badge !== undefined && badge.dataset.state !== status.state)
    })

  const applySummary = (summary) => {
    if (summary && summary.caps) for (const status of Object.values(summary.caps)) applyStatus(status)
  }

  // Everything else (dates, grace text, banners, lists) is rendered by the server: fetch this page
  // again and swap the regions marked data-live, except one the admin is working in.
  let refreshTimer = 0
  let refreshing = false
  let refreshAgain = false
  let stopped = false

  const preserveOpen = (from, to) => {
    const before = from.querySelectorAll("details")
    to.querySelectorAll("details").forEach((details, i) => {
      if (before[i]) details.open = before[i].open
    })
  }

  const refresh = async () => {
    if (refreshing) {
      refreshAgain = true
      return
    }
    refreshing = true
    try {
      const response = await fetch(window.location.pathname, { headers: { accept: "text/html" }, credentials: "same-origin" })
      if (new URL(response.url).pathname !== window.location.pathname) {
        // Redirected (the session ended): stop, and say so.
        stopped = true
        setLive("Signed out: reload the page.", false)
        return
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html")
      for (const region of document.querySelectorAll("[data-live]")) {
        const replacement = fresh.querySelector(`[data-live="${CSS.escape(region.dataset.live)}"]`)
        if (replacement === null) continue
        const focused = document.activeElement
        const hasFocus = region.contains(focused) && focused !== document.body
        // A region the admin is typing in stays as it is. A disclosure's summary holds nothing typed: swap the
        // region and give the focus to the same summary in the new one.
        if (hasFocus && !(focused instanceof HTMLElement && focused.tagName === "SUMMARY")) continue
        const summaryIndex = hasFocus ? Array.prototype.indexOf.call(region.querySelectorAll("summary"), focused) : -1
        preserveOpen(region, replacement)
        region.replaceWith(document.adoptNode(replacement))
        const summary = summaryIndex < 0 ? undefined : replacement.querySelectorAll("summary")[summaryIndex]
        if (summary) summary.focus()
      }
    } catch (error) {
      console.warn("Could not refresh the page's live regions", error)
    } finally {
      refreshing = false
      if (refreshAgain) {
        refreshAgain = false
        scheduleRefresh()
      }
    }
  }

  const scheduleRefresh = () => {
    if (stopped) return
    window.clearTimeout(refreshTimer)
    refreshTimer = window.setTimeout(refresh, 150)
  }

  const liveStatus = document.querySelector("[data-live-status]")
  const setLive = (text, connected) => {
    if (liveStatus === null) return
    liveStatus.hidden = false
    liveStatus.textContent = text
    liveStatus.toggleAttribute("data-connected", connected)
  }

  const connect = () => {
    if (!("EventSource" in window) || !body.hasAttribute("data-live-events")) return
    const source = new EventSource(`${base}/api/events`)
    let snapshots = 0
    source.addEventListener("error", () => {
      // EventSource reconnects on its own unless the server refused (e.g. the session ended).
      if (source.readyState === EventSource.CLOSED) setLive("Live updates stopped: reload the page.", false)
      else setLive("Reconnecting…", false)
    })
    source.addEventListener("message", (message) => {
      let event
      try {
        event = JSON.parse(message.data)
      } catch (error) {
        console.warn("Unreadable event", error)
        return
      }
      switch (event._tag) {
        case "Snapshot": {
          // A snapshot opens every stream: the first normally matches the page (unless something changed
          // while it loaded); a later one follows a reconnect, when changes may have been missed.
          const stale = ++snapshots > 1 || differsFromPage(event.summary)
          applySummary(event.summary)
          if (stale) scheduleRefresh()
          // Only now is the stream subscribed for certain: from here on no change goes unseen.
          setLive("Live", true)
          break
        }
        case "CapStateChanged":
        case "UsageChanged":
          applyStatus(event.status)
          scheduleRefresh()
          break
        case "LicenseChanged":
          applySummary(event.summary)
          scheduleRefresh()
          break
        case "ValidationChanged":
          scheduleRefresh()
          break
      }
    })
    window.addEventListener("pagehide", () => source.close())
  }

  // ---- forms that apply without leaving the page --------------------------------------------------

  const focusAfterSwap = () => {
    const target = document.querySelector("[data-error-summary], [data-notice]") || document.getElementById("main")
    if (target) target.focus()
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-enhance")) return
    event.preventDefault()
    const button = form.querySelector("button[type=submit]")
    if (button) {
      button.disabled = true
      button.setAttribute("aria-busy", "true")
    }
    try {
      // Send the body the way the browser would: url-encoded unless the form asks for multipart (file uploads).
      const data = new FormData(form)
      const payload = form.enctype === "multipart/form-data" ? data : new URLSearchParams(data)
      const response = await fetch(form.action, { method: "POST", body: payload, credentials: "same-origin" })
      const type = response.headers.get("content-type") || ""
      if (!type.startsWith("text/html")) {
        // Only the API's limits answer otherwise (e.g. 413 for an oversized upload): show their sentence.
        const problem = type.includes("json") ? await response.json() : { detail: await response.text() }
        throw new Error(problem.detail || `The Hub answered ${response.status}.`)
      }
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html")
      const main = fresh.getElementById("main")
      const current = document.getElementById("main")
      if (main === null || current === null) throw new Error("The Hub's answer had no page content.")
      current.replaceWith(document.adoptNode(main))
      document.title = fresh.title
      const url = new URL(response.url)
      // Keep the address free of one-time notices, so a reload does not repeat them.
      window.history.replaceState(null, "", url.pathname + url.hash)
      enableCopyButtons(document)
      focusAfterSwap()
    } catch (error) {
      console.warn("Submitting without a reload failed", error)
      if (button) {
        button.disabled = false
        button.removeAttribute("aria-busy")
      }
      let status = form.querySelector("[data-form-status]")
      if (status === null) {
        status = document.createElement("p")
        status.className = "field-error"
        status.setAttribute("role", "alert")
        status.dataset.formStatus = ""
        form.append(status)
      }
      status.textContent = error instanceof Error ? error.message : "The request failed. Try again."
    }
  })

  enableCopyButtons(document)
  connect()
})()
