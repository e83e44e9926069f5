/** A small HTML template helper: every interpolation is escaped unless it is already `Html` (markup built here, or marked trusted). */

/** A piece of markup that is safe to insert as it is. Build it with `html` or, for trusted markup, `trusted`. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

/** What may be interpolated: markup, text (escaped), numbers, nothing (`null`, `undefined`, `false`), or lists of these. */
export type Interpolation = Html | string | number | boolean | null | undefined | ReadonlyArray<Interpolation>

const ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }

/** Escape text for HTML element content and quoted attribute values. */
export const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)

const render = (value: Interpolation): string => {
  if (value instanceof Html) return value.value
  if (Array.isArray(value)) return (value as ReadonlyArray<Interpolation>).map(render).join("")
  // Booleans render as nothing so that `${condition && html`…`}` reads naturally.
  if (value === null || value === undefined || typeof value === "boolean") return ""
  return escape(String(value))
}

/**
 * Tagged template for markup: the literal parts are kept, every interpolated value is escaped.
 *
 * @example
 * import { html } from "./Html.js"
 *
 * const name = "<script>alert(1)</script>"
 * // <p>Licensed to &lt;script&gt;alert(1)&lt;/script&gt;</p>
 * export const line = html`<p>Licensed to ${name}</p>`.value
 */
export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Interpolation>): Html => {
  let out = strings[0] ?? ""
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "")
  })
  return new Html(out)
}

/** Mark markup as safe without escaping; only for markup the Hub generated itself (e.g. SVG from the machines package). */
export const trusted = (markup: string): Html => new Html(markup)

/** Join pieces of markup with an optional (trusted) separator. */
export const join = (parts: ReadonlyArray<Interpolation>, separator = ""): Html => new Html(parts.map(render).join(separator))
