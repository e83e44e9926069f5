/** The Portal's stylesheet on top of the Hub's `app.css`: form controls the Hub has no use for, and the license cards. Served as `/assets/portal.css` (no inline styles: the CSP forbids them). */

/** The stylesheet's text. */
export const portalCss = `/* Exekra Customer Portal: additions to the Hub's app.css. */
.field input[type="text"],
.field input[type="number"],
.field select {
  display: block;
  width: 100%;
  max-width: 28rem;
  font: inherit;
  padding: 0.55rem 0.7rem;
  border: 1px solid var(--border-strong);
  border-radius: 7px;
  background: var(--surface);
  color: var(--text);
}
.field input[type="number"] { max-width: 10rem; }
.field select:focus-visible,
.field input[type="checkbox"]:focus-visible { outline: 3px solid var(--focus); outline-offset: 1px; }
.field.has-error select { border-color: var(--danger); border-width: 2px; }
.check label { display: inline; font-weight: 600; margin-left: 0.4rem; }
.check input[type="checkbox"] { width: 1.15rem; height: 1.15rem; vertical-align: middle; }
.cap-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr)); gap: 0 1.25rem; }
.cap-grid fieldset { border: 1px solid var(--border); border-radius: 8px; padding: 0.6rem 0.9rem 0.2rem; margin: 0 0 1rem; }
.cap-grid legend { font-weight: 700; padding: 0 0.3rem; }
.license-card { margin-bottom: 1.5rem; }
.license-card .card-header h2 { margin: 0; font-size: 1.2rem; }
.license-actions { display: flex; flex-wrap: wrap; gap: 1rem 2rem; align-items: flex-end; margin-top: 1rem; }
.license-actions form { margin: 0; }
.secret { font-size: 1.05rem; word-break: break-all; }
.handover { border-left: 4px solid var(--primary); }
.badge[data-license-state="revoked"], .badge[data-cap-state="expired"] { background: #fde8e8; color: #8b1111; border-color: #f3b4b4; }
.badge[data-license-state="expired"] { background: #eef0f3; color: #374151; border-color: #cfd5dd; }
.badge[data-license-state="active"], .badge[data-cap-state="active"] { background: #e7f6ec; color: #14532d; border-color: #a7dcb7; }
.badge[data-cap-state="expiring"] { background: #fff6db; color: #713f12; border-color: #f1d58b; }
.badge[data-cap-state="grace"] { background: #fff0e0; color: #7c2d12; border-color: #f5c08f; }
.nowrap { white-space: nowrap; }
tbody tr:last-child th { border-bottom: 0; }
tbody th { font-weight: 650; }
`
