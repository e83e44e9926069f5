/** The runtime's read models: a cap's status, the validation posture and the license summary, from machine snapshots. */
import type { Cap, Verifier } from "@exekra/core"
import { type CapSnapshot, nextDeadline, type ValidationSnapshot } from "@exekra/machines"
import type { CapStatus, LicenseSummary, ValidationPosture } from "../LicenseRuntime.js"

/** A cap as the License page and API show it, from its machine snapshot and its usage. */
export const capStatus = (cap: Cap.Cap, snapshot: CapSnapshot, used: number, lease: CapStatus["lease"]): CapStatus => {
  const license = snapshot.context.license
  const limit = license?.limit ?? 0
  return {
    cap,
    state: snapshot.value,
    reason: snapshot.context.reason,
    limit,
    ceiling: license?.ceiling ?? 0,
    used,
    overage: Math.max(0, used - limit),
    overLimit: license !== null && used > license.ceiling,
    expiresAt: license?.expiresAt ?? null,
    grace: snapshot.context.graceEndsAt === null ? null : { reason: snapshot.context.reason, endsAt: snapshot.context.graceEndsAt },
    limitedSince: snapshot.context.limitedSince,
    nextChangeAt: nextDeadline(snapshot.context),
    onLimited: license?.onLimited ?? "refuse-new",
    lease
  }
}

/** The phone-home posture of an installed license; `portalUrl` is where pings go, if anywhere. */
export const validationPosture = (installed: Verifier.VerifiedLicense, validation: ValidationSnapshot, portalUrl: string | null): ValidationPosture => {
  const c = validation.context
  return {
    required: installed.payload.validation.required,
    intervalHours: installed.payload.validation.intervalHours,
    portalUrl,
    lastAttemptAt: c.lastSuccessAt === null && c.failingSince === null ? null : Math.max(c.lastSuccessAt ?? 0, c.failingSince ?? 0),
    lastSuccessAt: c.lastSuccessAt,
    failingSince: c.failingSince,
    lastError: c.lastError,
    lastStatus: c.lastStatus,
    nextAttemptAt: portalUrl === null ? null : c.nextAttemptAt
  }
}

/** What `GET /api/license` returns. */
export const licenseSummary = (facts: {
  readonly installationId: string
  readonly installed: Verifier.VerifiedLicense | null
  readonly pending: Verifier.VerifiedLicense | null
  readonly posture: ValidationPosture | null
  readonly caps: Readonly<Record<Cap.Cap, CapStatus>>
  readonly now: number
  /** The latest time seen, `now` included. */
  readonly latest: number
}): LicenseSummary => {
  const { installed, pending } = facts
  const p = installed?.payload
  return {
    activated: installed !== null,
    installationId: facts.installationId,
    license:
      p === undefined || installed === null
        ? null
        : {
            licenseId: p.licenseId,
            type: p.type,
            issuedTo: { name: p.issuedTo.name, email: p.issuedTo.email },
            installationId: p.installationId ?? null,
            issuedAt: p.issuedAt.getTime(),
            notBefore: p.notBefore?.getTime() ?? null,
            fingerprint: installed.fingerprint
          },
    pending: pending === null ? null : { licenseId: pending.payload.licenseId, notBefore: pending.payload.notBefore?.getTime() ?? 0 },
    validation: facts.posture,
    clock: { now: facts.now, highWater: facts.latest, skewMs: facts.latest - facts.now },
    caps: facts.caps
  }
}
