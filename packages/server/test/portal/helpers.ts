// A real Customer Portal for the API and browser tests: SQLite in a temp dir, a fresh vendor key, port 0 on 127.0.0.1; and a small JSON client.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Keys } from "@exekra/core"
import * as CustomerPortal from "@exekra/server/portal/CustomerPortal"
import { Effect, Exit, Schema, Scope } from "effect"

/** A started Portal and how to stop it. */
export interface TestPortal {
  readonly url: string
  readonly dataDir: string
  readonly key: Keys.PrivateKey
  readonly admin: { readonly email: string; readonly password: string }
  readonly running: CustomerPortal.Running
  readonly close: () => Promise<void>
}

/** Start a Portal on 127.0.0.1, port 0, over a fresh data dir and key; `close` stops it and deletes the dir. */
export const startPortal = async (options: Partial<Omit<CustomerPortal.Options, "dataDir" | "signingKey">> = {}): Promise<TestPortal> => {
  const dataDir = mkdtempSync(join(tmpdir(), "exekra-customer-portal-"))
  const key = Keys.generate()
  const scope = Effect.runSync(Scope.make())
  const running = await Effect.runPromise(
    CustomerPortal.start({ host: "127.0.0.1", port: 0, ...options, dataDir: join(dataDir, "portal"), signingKey: key }).pipe(
      Scope.extend(scope),
      Effect.provide(NodeContext.layer)
    )
  )
  if (running.bootstrap === null) throw new Error("a fresh Portal creates its vendor admin")
  return {
    url: running.url,
    dataDir,
    key,
    admin: running.bootstrap,
    running,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/** One HTTP exchange's outcome. */
export interface Reply {
  readonly status: number
  readonly contentType: string | null
  readonly headers: Headers
  readonly body: unknown
  readonly text: string
}

/** The body decoded with one of the API's schemas (so the test also checks the wire shape). */
export const decode = <A, I>(schema: Schema.Schema<A, I>, reply: Reply): A => Schema.decodeUnknownSync(schema)(reply.body)

const ProblemBody = Schema.Struct({ type: Schema.String, title: Schema.String, status: Schema.Number, code: Schema.String, detail: Schema.String })

/** A problem+json body: checks the media type and the shape. */
export const problem = (reply: Reply): typeof ProblemBody.Type => {
  if (reply.contentType !== "application/problem+json") throw new Error(`expected problem+json, got ${reply.contentType}: ${reply.text}`)
  return decode(ProblemBody, reply)
}

const Session = Schema.Struct({ token: Schema.String })
const CustomerId = Schema.Struct({ customerId: Schema.String })
const InviteUrl = Schema.Struct({ inviteUrl: Schema.String })

/** A request to the Portal; JSON in and out. */
export const call = async (
  portal: { readonly url: string },
  method: string,
  path: string,
  options: { readonly token?: string; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
): Promise<Reply> => {
  const response = await fetch(`${portal.url}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...options.headers
    },
    ...(options.body === undefined ? {} : { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) }),
    redirect: "manual"
  })
  const text = await response.text()
  const contentType = response.headers.get("content-type")
  return { status: response.status, contentType, headers: response.headers, text, body: contentType?.includes("json") === true && text !== "" ? JSON.parse(text) : text }
}

/** A strong password for tests. */
export const PASSWORD = "correct horse battery staple"

/** Sign in as the vendor admin, choose a password instead of the one-time one, and return a bearer token. */
export const staffToken = async (portal: TestPortal): Promise<string> => {
  const first = await call(portal, "POST", "/api/session", { body: portal.admin })
  if (first.status !== 200) throw new Error(`staff sign-in failed: ${first.text}`)
  const token = decode(Session, first).token
  const changed = await call(portal, "PUT", "/api/session/password", { token, body: { currentPassword: portal.admin.password, newPassword: PASSWORD } })
  if (changed.status !== 200) throw new Error(`password change failed: ${changed.text}`)
  return token
}

/** Create a customer with one invited user who accepts the invite; the customer id and the user's bearer token. */
export const customerWithUser = async (portal: TestPortal, staff: string, name: string, email: string): Promise<{ readonly customerId: string; readonly token: string }> => {
  const customer = await call(portal, "POST", "/api/customers", { token: staff, body: { name } })
  if (customer.status !== 201) throw new Error(`customer: ${customer.text}`)
  const { customerId } = decode(CustomerId, customer)
  const user = await call(portal, "POST", `/api/customers/${customerId}/users`, { token: staff, body: { email } })
  if (user.status !== 201) throw new Error(`user: ${user.text}`)
  const invite = new URL(decode(InviteUrl, user).inviteUrl).pathname.split("/").pop() ?? ""
  const accepted = await call(portal, "POST", "/api/invites/accept", { body: { token: invite, password: PASSWORD } })
  if (accepted.status !== 200) throw new Error(`invite: ${accepted.text}`)
  return { customerId, token: decode(Session, accepted).token }
}

/** An ISO date `n` days from now (YYYY-MM-DD). */
export const inDays = (n: number): string => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10)

/** The terms of a production license for `email`. */
export const productionTerms = (customerId: string, email: string) => ({
  customerId,
  issuedTo: { email },
  caps: {
    unattended: { limit: 10, expiresAt: inDays(200) },
    developer: { limit: 5, expiresAt: inDays(100) },
    attended: { limit: 20, expiresAt: inDays(300) }
  }
})
