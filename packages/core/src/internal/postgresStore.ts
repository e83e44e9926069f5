/** PostgreSQL LicenseStore: the Hub's schema as versioned migrations, one server-side function per write, LISTEN/NOTIFY wakeups. */
import { randomBytes } from "node:crypto"
import { Clock, Data, Deferred, Duration, Effect, Either, Option, Ref, type Scope, Stream } from "effect"
import * as Cap from "../Cap.js"
import {
  type AdminAccount,
  type AdmitOutcome,
  type AuditRecord,
  type CapLease,
  type Change,
  type ChangeTopic,
  type Credential,
  type CullOutcome,
  type HeartbeatOutcome,
  type LeasedPrincipal,
  type LicenseStore,
  newNodeId,
  type NodeRecord,
  type PostgresOptions,
  type Principal,
  type Store,
  StoreError,
  type StoredLicense,
  type UsagePoint,
  type ValidationRecord
} from "../LicenseStore.js"
import { limitOf, num, numOrNull, type PostgresError, type Row, str, strOrNull } from "../Postgres.js"
import * as Postgres from "../Postgres.js"

/** The channel every change is announced on (payload: its sequence number) and the listeners' own pings travel on. */
const CHANNEL = "exekra_changes"
/** `pg_advisory_xact_lock` key of schema upgrades ("EXKR"): nodes starting together upgrade one after the other. */
const MIGRATION_LOCK = 0x45584b52

/**
 * Schema steps; step `i` takes the schema from version `i` to `i + 1` (`exekra_migrations` records each). Append only:
 * a shipped step never changes, because databases in the field have already run it.
 *
 * Every write that other nodes must notice is one function call, so it is one statement: one round trip, atomic on
 * its own, and an acquisition holds its cap's row lock only while the server runs the function, never across the
 * network.
 */
const migrations: ReadonlyArray<string> = [
  `
  CREATE TABLE exekra_meta (
    id integer PRIMARY KEY CHECK (id = 1),
    installation_id text,
    high_water bigint NOT NULL DEFAULT 0,
    pruned_through bigint NOT NULL DEFAULT 0
  );
  INSERT INTO exekra_meta (id) VALUES (1);

  -- The change log's counter. Its row lock, held to commit, hands sequence numbers out in commit order.
  CREATE TABLE exekra_change_seq (id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL DEFAULT 0) WITH (fillfactor = 20);
  INSERT INTO exekra_change_seq (id) VALUES (1);
  CREATE TABLE exekra_changes (
    seq bigint PRIMARY KEY,
    topic text NOT NULL,
    cap text,
    key text,
    node text NOT NULL
  );

  CREATE TABLE exekra_licenses (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text text NOT NULL,
    fingerprint text NOT NULL,
    license_id text NOT NULL,
    issued_at bigint NOT NULL,
    stored_at bigint NOT NULL,
    installed boolean NOT NULL DEFAULT false
  );
  -- At most one installed license: the row replaceLicense compares and swaps.
  CREATE UNIQUE INDEX exekra_licenses_installed ON exekra_licenses (installed) WHERE installed;
  CREATE TABLE exekra_pending_license (
    id integer PRIMARY KEY CHECK (id = 1),
    text text NOT NULL,
    fingerprint text NOT NULL,
    license_id text NOT NULL,
    issued_at bigint NOT NULL,
    stored_at bigint NOT NULL
  );
  CREATE TABLE exekra_admin (
    id integer PRIMARY KEY CHECK (id = 1),
    email text NOT NULL,
    password_hash text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE exekra_credentials (
    token_hash text PRIMARY KEY,
    ord bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL CHECK (kind IN ('session', 'api')),
    name text,
    created_at bigint NOT NULL,
    expires_at bigint
  );
  CREATE INDEX exekra_credentials_kind ON exekra_credentials (kind, created_at, ord);

  -- One row per cap: its lock serialises acquisitions, and used counts its active principals exactly.
  CREATE TABLE exekra_caps (
    cap text PRIMARY KEY CHECK (cap IN ('unattended', 'developer', 'attended')),
    used integer NOT NULL DEFAULT 0 CHECK (used >= 0)
  ) WITH (fillfactor = 20);
  INSERT INTO exekra_caps (cap) VALUES ('unattended'), ('developer'), ('attended');
  CREATE TABLE exekra_principals (
    cap text NOT NULL CHECK (cap IN ('unattended', 'developer', 'attended')),
    id text NOT NULL,
    -- Insertion order, kept when a record is reactivated: breaks ties of admitted_at.
    ord bigint GENERATED ALWAYS AS IDENTITY,
    name text,
    status text NOT NULL CHECK (status IN ('active', 'deactivated')),
    admitted_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (cap, id)
  );
  CREATE INDEX exekra_principals_order ON exekra_principals (cap, admitted_at, ord);

  CREATE TABLE exekra_validation (
    id integer PRIMARY KEY CHECK (id = 1),
    last_attempt_at bigint,
    last_success_at bigint,
    failing_since bigint,
    last_error text,
    last_status text CHECK (last_status IN ('valid', 'revoked', 'unknown')),
    consecutive_failures integer NOT NULL,
    next_attempt_at bigint
  );
  CREATE TABLE exekra_snapshots (key text PRIMARY KEY, ord bigint GENERATED ALWAYS AS IDENTITY, json text NOT NULL);
  CREATE TABLE exekra_audit (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at bigint NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    cap text,
    principal text,
    code text,
    detail text
  );
  CREATE TABLE exekra_usage (
    cap text NOT NULL CHECK (cap IN ('unattended', 'developer', 'attended')),
    day text NOT NULL,
    peak integer NOT NULL,
    PRIMARY KEY (cap, day)
  );
  CREATE TABLE exekra_attempts (key text PRIMARY KEY, start bigint NOT NULL, attempts integer NOT NULL);
  CREATE TABLE exekra_leases (name text PRIMARY KEY, holder text NOT NULL, until bigint NOT NULL);
  CREATE TABLE exekra_nodes (
    id text PRIMARY KEY,
    version text NOT NULL,
    started_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    applied_seq bigint NOT NULL
  );

  -- Append one change per key (NULL for changes about no principal) and announce the last sequence number.
  CREATE FUNCTION exekra_append_changes(p_topic text, p_cap text, p_keys text[], p_node text) RETURNS bigint
  LANGUAGE plpgsql AS $$
  DECLARE
    v_count integer := cardinality(p_keys);
    v_last bigint;
  BEGIN
    IF v_count = 0 THEN RETURN NULL; END IF;
    UPDATE exekra_change_seq SET seq = seq + v_count WHERE id = 1 RETURNING seq INTO v_last;
    INSERT INTO exekra_changes (seq, topic, cap, key, node)
      SELECT v_last - v_count + k.n, p_topic, p_cap, k.key, p_node FROM unnest(p_keys) WITH ORDINALITY AS k (key, n);
    PERFORM pg_notify('exekra_changes', v_last::text);
    RETURN v_last;
  END $$;

  CREATE FUNCTION exekra_install_license(p_text text, p_fingerprint text, p_license_id text, p_issued_at bigint, p_stored_at bigint, p_node text)
  RETURNS void LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE exekra_licenses SET installed = false WHERE installed;
    INSERT INTO exekra_licenses (text, fingerprint, license_id, issued_at, stored_at, installed)
      VALUES (p_text, p_fingerprint, p_license_id, p_issued_at, p_stored_at, true);
    PERFORM exekra_append_changes('license', NULL, ARRAY[NULL::text], p_node);
  END $$;

  -- The meta row's lock serialises license swaps, so a second writer with the same expectation sees the first's result.
  CREATE FUNCTION exekra_replace_license(p_expected text, p_text text, p_fingerprint text, p_license_id text, p_issued_at bigint, p_stored_at bigint, p_node text)
  RETURNS boolean LANGUAGE plpgsql AS $$
  DECLARE v_current text;
  BEGIN
    PERFORM 1 FROM exekra_meta WHERE id = 1 FOR UPDATE;
    SELECT fingerprint INTO v_current FROM exekra_licenses WHERE installed;
    IF v_current IS DISTINCT FROM p_expected THEN RETURN false; END IF;
    PERFORM exekra_install_license(p_text, p_fingerprint, p_license_id, p_issued_at, p_stored_at, p_node);
    RETURN true;
  END $$;

  CREATE FUNCTION exekra_activate(p_text text, p_fingerprint text, p_license_id text, p_issued_at bigint, p_stored_at bigint,
                                  p_email text, p_password_hash text, p_created_at bigint, p_node text)
  RETURNS boolean LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM 1 FROM exekra_meta WHERE id = 1 FOR UPDATE;
    IF EXISTS (SELECT 1 FROM exekra_admin) THEN RETURN false; END IF;
    PERFORM exekra_install_license(p_text, p_fingerprint, p_license_id, p_issued_at, p_stored_at, p_node);
    INSERT INTO exekra_admin (id, email, password_hash, created_at) VALUES (1, p_email, p_password_hash, p_created_at);
    PERFORM exekra_append_changes('admin', NULL, ARRAY[NULL::text], p_node);
    RETURN true;
  END $$;

  CREATE FUNCTION exekra_set_pending(p_text text, p_fingerprint text, p_license_id text, p_issued_at bigint, p_stored_at bigint, p_node text)
  RETURNS void LANGUAGE plpgsql AS $$
  BEGIN
    IF p_text IS NULL THEN
      DELETE FROM exekra_pending_license;
      IF NOT FOUND THEN RETURN; END IF;
    ELSE
      INSERT INTO exekra_pending_license (id, text, fingerprint, license_id, issued_at, stored_at)
        VALUES (1, p_text, p_fingerprint, p_license_id, p_issued_at, p_stored_at)
        ON CONFLICT (id) DO UPDATE SET text = EXCLUDED.text, fingerprint = EXCLUDED.fingerprint, license_id = EXCLUDED.license_id,
          issued_at = EXCLUDED.issued_at, stored_at = EXCLUDED.stored_at;
    END IF;
    PERFORM exekra_append_changes('pending', NULL, ARRAY[NULL::text], p_node);
  END $$;

  CREATE FUNCTION exekra_raise_high_water(p_t bigint, p_node text) RETURNS bigint
  LANGUAGE plpgsql AS $$
  DECLARE v_mark bigint;
  BEGIN
    UPDATE exekra_meta SET high_water = p_t WHERE id = 1 AND high_water < p_t RETURNING high_water INTO v_mark;
    IF FOUND THEN
      PERFORM exekra_append_changes('clock', NULL, ARRAY[NULL::text], p_node);
      RETURN v_mark;
    END IF;
    SELECT high_water INTO v_mark FROM exekra_meta WHERE id = 1;
    RETURN v_mark;
  END $$;

  CREATE FUNCTION exekra_put_validation(p_last_attempt_at bigint, p_last_success_at bigint, p_failing_since bigint, p_last_error text,
                                        p_last_status text, p_consecutive_failures integer, p_next_attempt_at bigint, p_node text)
  RETURNS void LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO exekra_validation (id, last_attempt_at, last_success_at, failing_since, last_error, last_status, consecutive_failures, next_attempt_at)
      VALUES (1, p_last_attempt_at, p_last_success_at, p_failing_since, p_last_error, p_last_status, p_consecutive_failures, p_next_attempt_at)
      ON CONFLICT (id) DO UPDATE SET last_attempt_at = EXCLUDED.last_attempt_at, last_success_at = EXCLUDED.last_success_at,
        failing_since = EXCLUDED.failing_since, last_error = EXCLUDED.last_error, last_status = EXCLUDED.last_status,
        consecutive_failures = EXCLUDED.consecutive_failures, next_attempt_at = EXCLUDED.next_attempt_at;
    PERFORM exekra_append_changes('validation', NULL, ARRAY[NULL::text], p_node);
  END $$;

  -- An upsert keeps the row's ord, and with it the listing order.
  CREATE FUNCTION exekra_put_credential(p_token_hash text, p_kind text, p_name text, p_created_at bigint, p_expires_at bigint, p_node text)
  RETURNS void LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO exekra_credentials (token_hash, kind, name, created_at, expires_at) VALUES (p_token_hash, p_kind, p_name, p_created_at, p_expires_at)
      ON CONFLICT (token_hash) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at;
    PERFORM exekra_append_changes('credential', NULL, ARRAY[NULL::text], p_node);
  END $$;

  CREATE FUNCTION exekra_delete_credential(p_token_hash text, p_node text) RETURNS void
  LANGUAGE plpgsql AS $$
  BEGIN
    DELETE FROM exekra_credentials WHERE token_hash = p_token_hash;
    IF FOUND THEN PERFORM exekra_append_changes('credential', NULL, ARRAY[NULL::text], p_node); END IF;
  END $$;

  -- Decide a batch of acquisitions of one cap in order, each against the count the earlier ones left, holding the
  -- cap's row lock from the first decision to the commit.
  CREATE FUNCTION exekra_admit(p_cap text, p_ids text[], p_names text[], p_ceiling double precision, p_now bigint, p_node text)
  RETURNS TABLE (o_index integer, o_tag text, o_name text, o_admitted_at bigint, o_updated_at bigint, o_used integer)
  LANGUAGE plpgsql AS $$
  DECLARE
    v_used integer;
    v_start integer;
    v_admitted text[] := '{}';
    v_found boolean;
    v_status text;
    v_name text;
    v_admitted_at bigint;
    v_updated_at bigint;
  BEGIN
    SELECT c.used INTO v_used FROM exekra_caps c WHERE c.cap = p_cap FOR NO KEY UPDATE;
    IF NOT FOUND THEN RAISE EXCEPTION 'unknown cap %', p_cap USING ERRCODE = 'check_violation'; END IF;
    v_start := v_used;
    FOR i IN 1 .. coalesce(cardinality(p_ids), 0) LOOP
      SELECT p.status, p.name, p.admitted_at, p.updated_at INTO v_status, v_name, v_admitted_at, v_updated_at
        FROM exekra_principals p WHERE p.cap = p_cap AND p.id = p_ids[i];
      v_found := FOUND;
      IF v_found AND v_status = 'active' THEN
        RETURN QUERY SELECT i, 'AlreadyAdmitted'::text, v_name, v_admitted_at, v_updated_at, v_used;
      ELSIF v_used >= p_ceiling THEN
        RETURN QUERY SELECT i, 'Full'::text, NULL::text, NULL::bigint, NULL::bigint, v_used;
      ELSE
        v_name := coalesce(p_names[i], v_name);
        INSERT INTO exekra_principals AS p (cap, id, name, status, admitted_at, updated_at)
          VALUES (p_cap, p_ids[i], v_name, 'active', p_now, p_now)
          ON CONFLICT (cap, id) DO UPDATE SET name = EXCLUDED.name, status = 'active', admitted_at = EXCLUDED.admitted_at, updated_at = EXCLUDED.updated_at;
        v_used := v_used + 1;
        v_admitted := v_admitted || p_ids[i];
        RETURN QUERY SELECT i, 'Admitted'::text, v_name, p_now, p_now, v_used;
      END IF;
    END LOOP;
    IF v_used <> v_start THEN
      UPDATE exekra_caps SET used = v_used WHERE cap = p_cap;
      PERFORM exekra_append_changes('principal', p_cap, v_admitted, p_node);
    END IF;
  END $$;

  -- Releases and deactivations lock the cap row first, as acquisitions do, so the two never wait on each other in a cycle.
  CREATE FUNCTION exekra_release(p_cap text, p_id text, p_node text) RETURNS boolean
  LANGUAGE plpgsql AS $$
  DECLARE v_status text;
  BEGIN
    PERFORM 1 FROM exekra_caps WHERE cap = p_cap FOR NO KEY UPDATE;
    DELETE FROM exekra_principals WHERE cap = p_cap AND id = p_id RETURNING status INTO v_status;
    IF NOT FOUND THEN RETURN false; END IF;
    IF v_status = 'active' THEN UPDATE exekra_caps SET used = used - 1 WHERE cap = p_cap; END IF;
    PERFORM exekra_append_changes('principal', p_cap, ARRAY[p_id], p_node);
    RETURN true;
  END $$;

  CREATE FUNCTION exekra_deactivate(p_cap text, p_id text, p_now bigint, p_node text) RETURNS boolean
  LANGUAGE plpgsql AS $$
  DECLARE v_status text;
  BEGIN
    PERFORM 1 FROM exekra_caps WHERE cap = p_cap FOR NO KEY UPDATE;
    SELECT status INTO v_status FROM exekra_principals WHERE cap = p_cap AND id = p_id;
    IF NOT FOUND THEN RETURN false; END IF;
    IF v_status = 'active' THEN
      UPDATE exekra_principals SET status = 'deactivated', updated_at = p_now WHERE cap = p_cap AND id = p_id;
      UPDATE exekra_caps SET used = used - 1 WHERE cap = p_cap;
    END IF;
    PERFORM exekra_append_changes('principal', p_cap, ARRAY[p_id], p_node);
    RETURN true;
  END $$;
  `,
  // Principal leases (DESIGN §12): a cap's lease setting, and per principal its last heartbeat and, once expired,
  // when it was culled. An expired principal holds no slot. Every decision that changes a count holds the cap's row
  // lock, as acquisitions do; a plain renewal only touches the principal's row.
  `
  ALTER TABLE exekra_principals DROP CONSTRAINT exekra_principals_status_check;
  ALTER TABLE exekra_principals ADD CONSTRAINT exekra_principals_status_check CHECK (status IN ('active', 'deactivated', 'expired'));
  ALTER TABLE exekra_principals ADD COLUMN heartbeat_at bigint, ADD COLUMN culled_at bigint;
  UPDATE exekra_principals SET heartbeat_at = admitted_at;
  ALTER TABLE exekra_principals ALTER COLUMN heartbeat_at SET NOT NULL;
  CREATE TABLE exekra_cap_leases (
    cap text PRIMARY KEY CHECK (cap IN ('unattended', 'developer', 'attended')),
    lease_seconds integer NOT NULL CHECK (lease_seconds >= 60),
    revive_seconds integer NOT NULL CHECK (revive_seconds >= 0),
    since bigint NOT NULL
  );

  -- An admission (or readmission) starts the principal's lease.
  CREATE OR REPLACE FUNCTION exekra_admit(p_cap text, p_ids text[], p_names text[], p_ceiling double precision, p_now bigint, p_node text)
  RETURNS TABLE (o_index integer, o_tag text, o_name text, o_admitted_at bigint, o_updated_at bigint, o_used integer)
  LANGUAGE plpgsql AS $$
  DECLARE
    v_used integer;
    v_start integer;
    v_admitted text[] := '{}';
    v_found boolean;
    v_status text;
    v_name text;
    v_admitted_at bigint;
    v_updated_at bigint;
  BEGIN
    SELECT c.used INTO v_used FROM exekra_caps c WHERE c.cap = p_cap FOR NO KEY UPDATE;
    IF NOT FOUND THEN RAISE EXCEPTION 'unknown cap %', p_cap USING ERRCODE = 'check_violation'; END IF;
    v_start := v_used;
    FOR i IN 1 .. coalesce(cardinality(p_ids), 0) LOOP
      SELECT p.status, p.name, p.admitted_at, p.updated_at INTO v_status, v_name, v_admitted_at, v_updated_at
        FROM exekra_principals p WHERE p.cap = p_cap AND p.id = p_ids[i];
      v_found := FOUND;
      IF v_found AND v_status = 'active' THEN
        RETURN QUERY SELECT i, 'AlreadyAdmitted'::text, v_name, v_admitted_at, v_updated_at, v_used;
      ELSIF v_used >= p_ceiling THEN
        RETURN QUERY SELECT i, 'Full'::text, NULL::text, NULL::bigint, NULL::bigint, v_used;
      ELSE
        v_name := coalesce(p_names[i], v_name);
        INSERT INTO exekra_principals AS p (cap, id, name, status, admitted_at, updated_at, heartbeat_at, culled_at)
          VALUES (p_cap, p_ids[i], v_name, 'active', p_now, p_now, p_now, NULL)
          ON CONFLICT (cap, id) DO UPDATE SET name = EXCLUDED.name, status = 'active', admitted_at = EXCLUDED.admitted_at,
            updated_at = EXCLUDED.updated_at, heartbeat_at = EXCLUDED.heartbeat_at, culled_at = NULL;
        v_used := v_used + 1;
        v_admitted := v_admitted || p_ids[i];
        RETURN QUERY SELECT i, 'Admitted'::text, v_name, p_now, p_now, v_used;
      END IF;
    END LOOP;
    IF v_used <> v_start THEN
      UPDATE exekra_caps SET used = v_used WHERE cap = p_cap;
      PERFORM exekra_append_changes('principal', p_cap, v_admitted, p_node);
    END IF;
  END $$;

  -- Deactivating keeps the record (an expired one stops being expired); only an active one frees a slot.
  CREATE OR REPLACE FUNCTION exekra_deactivate(p_cap text, p_id text, p_now bigint, p_node text) RETURNS boolean
  LANGUAGE plpgsql AS $$
  DECLARE v_status text;
  BEGIN
    PERFORM 1 FROM exekra_caps WHERE cap = p_cap FOR NO KEY UPDATE;
    SELECT status INTO v_status FROM exekra_principals WHERE cap = p_cap AND id = p_id;
    IF NOT FOUND THEN RETURN false; END IF;
    UPDATE exekra_principals SET updated_at = CASE WHEN status = 'active' THEN p_now ELSE updated_at END, status = 'deactivated', culled_at = NULL
      WHERE cap = p_cap AND id = p_id;
    IF v_status = 'active' THEN UPDATE exekra_caps SET used = used - 1 WHERE cap = p_cap; END IF;
    PERFORM exekra_append_changes('principal', p_cap, ARRAY[p_id], p_node);
    RETURN true;
  END $$;

  CREATE FUNCTION exekra_set_cap_lease(p_cap text, p_lease_seconds integer, p_revive_seconds integer, p_now bigint, p_node text) RETURNS void
  LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM 1 FROM exekra_caps WHERE cap = p_cap FOR NO KEY UPDATE;
    IF p_lease_seconds IS NULL THEN
      DELETE FROM exekra_cap_leases WHERE cap = p_cap;
    ELSE
      INSERT INTO exekra_cap_leases (cap, lease_seconds, revive_seconds, since) VALUES (p_cap, p_lease_seconds, p_revive_seconds, p_now)
        ON CONFLICT (cap) DO UPDATE SET lease_seconds = EXCLUDED.lease_seconds, revive_seconds = EXCLUDED.revive_seconds, since = EXCLUDED.since;
    END IF;
    PERFORM exekra_append_changes('settings', p_cap, ARRAY[NULL::text], p_node);
  END $$;

  -- A heartbeat: renew an active lease that has not ended; otherwise cull it as of its end, then revive it within the
  -- revive window if a slot is free. One row: the outcome and the principal as it is afterwards.
  CREATE FUNCTION exekra_heartbeat(p_cap text, p_id text, p_ceiling double precision, p_now bigint, p_node text)
  RETURNS TABLE (o_tag text, o_name text, o_status text, o_admitted_at bigint, o_updated_at bigint, o_heartbeat_at bigint, o_culled_at bigint, o_used integer)
  LANGUAGE plpgsql AS $$
  DECLARE
    v_lease exekra_cap_leases%ROWTYPE;
    v_leased boolean;
    r exekra_principals%ROWTYPE;
    v_used integer;
    v_end bigint;
    v_changed text[] := '{}';
    v_tag text;
  BEGIN
    SELECT * INTO v_lease FROM exekra_cap_leases WHERE cap = p_cap;
    v_leased := FOUND;
    -- The common case changes no count, so it takes no cap lock: the row's own lock orders it against a cull.
    UPDATE exekra_principals p SET heartbeat_at = p_now
      WHERE p.cap = p_cap AND p.id = p_id AND p.status = 'active'
        AND (NOT v_leased OR greatest(p.heartbeat_at, v_lease.since) + v_lease.lease_seconds * 1000::bigint > p_now)
      RETURNING * INTO r;
    IF FOUND THEN
      RETURN QUERY SELECT 'Renewed'::text, r.name, r.status, r.admitted_at, r.updated_at, r.heartbeat_at, r.culled_at,
        (SELECT c.used FROM exekra_caps c WHERE c.cap = p_cap);
      RETURN;
    END IF;
    SELECT c.used INTO v_used FROM exekra_caps c WHERE c.cap = p_cap FOR NO KEY UPDATE;
    SELECT * INTO v_lease FROM exekra_cap_leases WHERE cap = p_cap;
    v_leased := FOUND;
    SELECT * INTO r FROM exekra_principals p WHERE p.cap = p_cap AND p.id = p_id;
    IF NOT FOUND OR r.status = 'deactivated' THEN
      RETURN QUERY SELECT 'NotAdmitted'::text, NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, v_used;
      RETURN;
    END IF;
    IF r.status = 'active' THEN
      v_end := CASE WHEN v_leased THEN greatest(r.heartbeat_at, v_lease.since) + v_lease.lease_seconds * 1000::bigint END;
      IF v_end IS NULL OR v_end > p_now THEN
        -- Renewable after all (the lease changed while this waited for the cap).
        UPDATE exekra_principals SET heartbeat_at = p_now WHERE cap = p_cap AND id = p_id;
        RETURN QUERY SELECT 'Renewed'::text, r.name, r.status, r.admitted_at, r.updated_at, p_now, r.culled_at, v_used;
        RETURN;
      END IF;
      UPDATE exekra_principals SET status = 'expired', updated_at = v_end, culled_at = v_end WHERE cap = p_cap AND id = p_id;
      r.status := 'expired';
      r.updated_at := v_end;
      r.culled_at := v_end;
      v_used := v_used - 1;
      v_changed := v_changed || p_id;
    END IF;
    IF NOT v_leased OR p_now > coalesce(r.culled_at, r.updated_at) + v_lease.revive_seconds * 1000::bigint THEN
      v_tag := 'Lapsed';
    ELSIF v_used >= p_ceiling THEN
      v_tag := 'Full';
    ELSE
      UPDATE exekra_principals SET status = 'active', admitted_at = p_now, updated_at = p_now, heartbeat_at = p_now, culled_at = NULL
        WHERE cap = p_cap AND id = p_id;
      r.status := 'active';
      r.admitted_at := p_now;
      r.updated_at := p_now;
      r.heartbeat_at := p_now;
      r.culled_at := NULL;
      v_used := v_used + 1;
      v_changed := v_changed || p_id;
      v_tag := 'Revived';
    END IF;
    IF cardinality(v_changed) > 0 THEN
      UPDATE exekra_caps SET used = v_used WHERE cap = p_cap;
      PERFORM exekra_append_changes('principal', p_cap, v_changed, p_node);
    END IF;
    RETURN QUERY SELECT v_tag, r.name, r.status, r.admitted_at, r.updated_at, r.heartbeat_at, r.culled_at, v_used;
  END $$;

  -- Cull every active principal of a leased cap whose lease ended at or before p_now, as of that end. Row 0 says
  -- how many are active afterwards and when the next lease ends; rows 1.. are the culled, in admission order.
  CREATE FUNCTION exekra_cull(p_cap text, p_now bigint, p_node text)
  RETURNS TABLE (o_index bigint, o_id text, o_name text, o_admitted_at bigint, o_heartbeat_at bigint, o_culled_at bigint, o_used integer, o_next_end_at bigint)
  LANGUAGE plpgsql AS $$
  DECLARE
    v_lease exekra_cap_leases%ROWTYPE;
    v_used integer;
    v_ids text[];
    v_names text[];
    v_admitted bigint[];
    v_heartbeats bigint[];
    v_ends bigint[];
    v_next bigint;
  BEGIN
    SELECT c.used INTO v_used FROM exekra_caps c WHERE c.cap = p_cap FOR NO KEY UPDATE;
    SELECT * INTO v_lease FROM exekra_cap_leases WHERE cap = p_cap;
    IF FOUND THEN
      WITH gone AS (
        UPDATE exekra_principals p
          SET status = 'expired',
              updated_at = greatest(p.heartbeat_at, v_lease.since) + v_lease.lease_seconds * 1000::bigint,
              culled_at = greatest(p.heartbeat_at, v_lease.since) + v_lease.lease_seconds * 1000::bigint
          WHERE p.cap = p_cap AND p.status = 'active' AND greatest(p.heartbeat_at, v_lease.since) + v_lease.lease_seconds * 1000::bigint <= p_now
          RETURNING p.id, p.name, p.admitted_at, p.heartbeat_at, p.culled_at, p.ord
      )
      SELECT array_agg(g.id ORDER BY g.admitted_at, g.ord), array_agg(g.name ORDER BY g.admitted_at, g.ord),
             array_agg(g.admitted_at ORDER BY g.admitted_at, g.ord), array_agg(g.heartbeat_at ORDER BY g.admitted_at, g.ord),
             array_agg(g.culled_at ORDER BY g.admitted_at, g.ord)
        INTO v_ids, v_names, v_admitted, v_heartbeats, v_ends FROM gone g;
      IF cardinality(v_ids) > 0 THEN
        v_used := v_used - cardinality(v_ids);
        UPDATE exekra_caps SET used = v_used WHERE cap = p_cap;
        PERFORM exekra_append_changes('principal', p_cap, v_ids, p_node);
      END IF;
      SELECT min(greatest(p.heartbeat_at, v_lease.since) + v_lease.lease_seconds * 1000::bigint) INTO v_next
        FROM exekra_principals p WHERE p.cap = p_cap AND p.status = 'active';
    END IF;
    RETURN QUERY
      SELECT 0::bigint, NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint, v_used, v_next
      UNION ALL
      SELECT g.n, g.id, g.name, g.admitted_at, g.heartbeat_at, g.culled_at, v_used, v_next
        FROM unnest(v_ids, v_names, v_admitted, v_heartbeats, v_ends) WITH ORDINALITY AS g (id, name, admitted_at, heartbeat_at, culled_at, n);
  END $$;
  `,
  // API token names are unique across every node: the index decides a race between two nodes creating one name.
  `
  CREATE UNIQUE INDEX exekra_credentials_api_name ON exekra_credentials (name) WHERE kind = 'api';
  CREATE FUNCTION exekra_add_api_token(p_token_hash text, p_name text, p_created_at bigint, p_node text) RETURNS boolean
  LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO exekra_credentials (token_hash, kind, name, created_at, expires_at) VALUES (p_token_hash, 'api', p_name, p_created_at, NULL)
      ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN RETURN false; END IF;
    PERFORM exekra_append_changes('credential', NULL, ARRAY[NULL::text], p_node);
    RETURN true;
  END $$;
  `
]

// Column lists in the order the decoders below read them.
const LICENSE = "text, fingerprint, license_id, issued_at, stored_at"
const PRINCIPAL = "cap, id, name, status, admitted_at, updated_at"
const LEASED = `${PRINCIPAL}, heartbeat_at, culled_at`
const CAP_LEASE = "cap, lease_seconds, revive_seconds, since"
const CREDENTIAL = "token_hash, kind, name, created_at, expires_at"
const VALIDATION = "last_attempt_at, last_success_at, failing_since, last_error, last_status, consecutive_failures, next_attempt_at"
const AUDIT = "at, actor, action, outcome, cap, principal, code, detail"
const NODE = "id, version, started_at, last_seen_at, applied_seq"

// Each decoder reads the columns named after its fields (`createdAt` reads `created_at`), bigints as numbers.
const { decoder, integer, nullable, text, textAs } = Postgres
type Decoder<A> = Postgres.Decoder<A>

const toLicense: Decoder<StoredLicense> = decoder({ text, fingerprint: text, licenseId: text, issuedAt: integer, storedAt: integer })
const principal = { cap: textAs<Cap.Cap>(), id: text, name: nullable(text), status: textAs<Principal["status"]>(), admittedAt: integer, updatedAt: integer }
const toPrincipal: Decoder<Principal> = decoder(principal)
const toLeased: Decoder<LeasedPrincipal> = decoder({ ...principal, heartbeatAt: integer, culledAt: nullable(integer) })
const toCapLease: Decoder<CapLease> = decoder({ cap: textAs<Cap.Cap>(), leaseSeconds: integer, reviveSeconds: integer, since: integer })
const toCredential: Decoder<Credential> = decoder({
  tokenHash: text,
  kind: textAs<Credential["kind"]>(),
  name: nullable(text),
  createdAt: integer,
  expiresAt: nullable(integer)
})
const toValidation: Decoder<ValidationRecord> = decoder({
  lastAttemptAt: nullable(integer),
  lastSuccessAt: nullable(integer),
  failingSince: nullable(integer),
  lastError: nullable(text),
  lastStatus: nullable(textAs<NonNullable<ValidationRecord["lastStatus"]>>()),
  consecutiveFailures: integer,
  nextAttemptAt: nullable(integer)
})
const toAudit: Decoder<AuditRecord> = decoder({
  at: integer,
  actor: text,
  action: text,
  outcome: textAs<AuditRecord["outcome"]>(),
  cap: nullable(textAs<Cap.Cap>()),
  principal: nullable(text),
  code: nullable(text),
  detail: nullable(text)
})
const toNode: Decoder<NodeRecord> = decoder({ id: text, version: text, startedAt: integer, lastSeenAt: integer, appliedSeq: integer })
const toChange: Decoder<Change> = decoder({ seq: integer, topic: textAs<ChangeTopic>(), cap: nullable(textAs<Cap.Cap>()), key: nullable(text), node: text })
const toAdmin: Decoder<AdminAccount> = decoder({ email: text, passwordHash: text, createdAt: integer })
const toUsage: Decoder<UsagePoint> = decoder({ cap: textAs<Cap.Cap>(), day: text, peak: integer })
const toSnapshot = decoder({ key: text, json: text })
const toLease = decoder({ holder: text, until: integer })
const toPruned = decoder({ prunedThrough: integer })
/** A row of the change log's page: the pruning mark, and a change unless the page is empty (NULL seq). */
const toChangePage: Decoder<{ readonly prunedThrough: number; readonly change: Change | null }> = (r) =>
  Either.all({ prunedThrough: Either.map(toPruned(r), (p) => p.prunedThrough), change: r.seq === null || r.seq === undefined ? Either.right(null) : toChange(r) })

// ---- failures ------------------------------------------------------------------------------------------------------

/** The Postgres module's failure as the store's: the same sentence, the store's code. */
const toStoreError = (e: PostgresError): StoreError =>
  new StoreError({
    code: e.code === "DATABASE_UNAVAILABLE" ? "STORE_UNAVAILABLE" : e.code === "DATABASE_CORRUPT" ? "STORE_CORRUPT" : "STORE_FAILED",
    message: e.message,
    ...(e.cause === undefined ? {} : { cause: e.cause })
  })

// ---- the store -----------------------------------------------------------------------------------------------------

/** Connect, upgrade the schema under a migration lock, and serve the store; the pool closes with the scope. */
export const make = (options: PostgresOptions): Effect.Effect<Store, StoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const nodeId = options.nodeId ?? newNodeId()
    // Connect, with the statement timeout on every connection, and upgrade the schema under the migration lock.
    const db = yield* Effect.mapError(
      Postgres.open({
        url: options.url,
        poolSize: options.poolSize,
        statementTimeoutMs: options.statementTimeoutMs,
        connectTimeoutMs: options.connectTimeoutMs,
        applicationName: `exekra-hub ${nodeId}`,
        migrations,
        migrationsTable: "exekra_migrations",
        migrationLock: MIGRATION_LOCK,
        describe: "license store",
        owner: "Hub",
        whileUnreachable: "the Hub keeps answering checks and retries"
      }),
      toStoreError
    )

    /**
     * One statement. `repeatable`: running it twice has the effect of running it once (reads, upserts, deletes), so
     * it runs again when its connection turns out to be dead; writes that would answer differently or count twice
     * the second time pass false.
     */
    const query = (what: string, text: string, params: ReadonlyArray<unknown> = [], repeatable = true): Effect.Effect<ReadonlyArray<Row>, StoreError> =>
      Effect.mapError(db.query(what, text, params, repeatable), toStoreError)
    const first = (what: string, text: string, params: ReadonlyArray<unknown> = [], repeatable = true): Effect.Effect<Row | undefined, StoreError> =>
      Effect.map(query(what, text, params, repeatable), (rows) => rows[0])
    /** A read's rows, each decoded; one it cannot decode fails with STORE_CORRUPT. */
    const all = <A>(what: string, text: string, params: ReadonlyArray<unknown>, decode: Decoder<A>): Effect.Effect<ReadonlyArray<A>, StoreError> =>
      Effect.mapError(db.rows(what, text, params, decode), toStoreError)
    const maybe = <A>(what: string, text: string, params: ReadonlyArray<unknown>, decode: Decoder<A>): Effect.Effect<Option.Option<A>, StoreError> =>
      Effect.mapError(Effect.map(db.row(what, text, params, decode), Option.fromNullable), toStoreError)
    const exec = (what: string, text: string, params: ReadonlyArray<unknown> = [], repeatable = true) =>
      Effect.asVoid(query(what, text, params, repeatable))

    // Subscribers' wakeups end with the store rather than retrying against a closed pool.
    const closed = yield* Deferred.make<void>()
    yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))

    const admitMany: LicenseStore.Service["admitMany"] = (cap, requests, ceiling, now) =>
      requests.length === 0
        ? Effect.succeed([])
        : Effect.map(
            query(
              requests.length === 1 ? "admit a principal" : "admit principals",
              "SELECT * FROM exekra_admit($1::text, $2::text[], $3::text[], $4::double precision, $5::bigint, $6::text) ORDER BY o_index",
              [cap, requests.map((r) => r.id), requests.map((r) => r.name), ceiling, now, nodeId],
              false
            ),
            (rows) =>
              rows.map((r): AdmitOutcome => {
                const used = num(r.o_used)
                if (r.o_tag === "Full") return { _tag: "Full", used }
                const principal: Principal = {
                  cap,
                  id: requests[num(r.o_index) - 1]!.id,
                  name: strOrNull(r.o_name),
                  status: "active",
                  admittedAt: num(r.o_admitted_at),
                  updatedAt: num(r.o_updated_at)
                }
                return r.o_tag === "Admitted" ? { _tag: "Admitted", principal, used } : { _tag: "AlreadyAdmitted", principal, used }
              })
          )

    const service: Store = {
      engine: "postgres",
      nodeId,

      ensureInstallationId: (candidate) =>
        Effect.map(
          first(
            "record the installation id",
            "UPDATE exekra_meta SET installation_id = coalesce(installation_id, $1::text) WHERE id = 1 RETURNING installation_id",
            [candidate]
          ),
          (row) => strOrNull(row?.installation_id) ?? candidate
        ),

      getLicense: maybe("read the installed license", `SELECT ${LICENSE} FROM exekra_licenses WHERE installed`, [], toLicense),
      replaceLicense: (expected, next) =>
        Effect.map(
          first(
            "replace the installed license",
            "SELECT exekra_replace_license($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, $7::text) AS ok",
            [expected, next.text, next.fingerprint, next.licenseId, next.issuedAt, next.storedAt, nodeId],
            false
          ),
          (row) => row?.ok === true
        ),
      licenseHistory: all("read the license history", `SELECT ${LICENSE} FROM exekra_licenses ORDER BY seq`, [], toLicense),
      getPending: maybe("read the pending license", `SELECT ${LICENSE} FROM exekra_pending_license`, [], toLicense),
      setPending: (license) =>
        exec("store the pending license", "SELECT exekra_set_pending($1::text, $2::text, $3::text, $4::bigint, $5::bigint, $6::text)", [
          license?.text ?? null,
          license?.fingerprint ?? null,
          license?.licenseId ?? null,
          license?.issuedAt ?? null,
          license?.storedAt ?? null,
          nodeId
        ]),

      activate: (license, admin) =>
        Effect.map(
          first(
            "activate the Hub",
            "SELECT exekra_activate($1::text, $2::text, $3::text, $4::bigint, $5::bigint, $6::text, $7::text, $8::bigint, $9::text) AS ok",
            [license.text, license.fingerprint, license.licenseId, license.issuedAt, license.storedAt, admin.email, admin.passwordHash, admin.createdAt, nodeId],
            false
          ),
          (row) => row?.ok === true
        ),
      getAdmin: maybe("read the admin account", "SELECT email, password_hash, created_at FROM exekra_admin", [], toAdmin),

      getHighWater: Effect.map(first("read the time high-water mark", "SELECT high_water FROM exekra_meta WHERE id = 1"), (row) =>
        row === undefined ? 0 : num(row.high_water)
      ),
      raiseHighWater: (t) =>
        Effect.map(first("raise the time high-water mark", "SELECT exekra_raise_high_water($1::bigint, $2::text) AS t", [t, nodeId]), (row) =>
          row === undefined ? t : num(row.t)
        ),

      getValidation: maybe("read the validation record", `SELECT ${VALIDATION} FROM exekra_validation`, [], toValidation),
      putValidation: (r) =>
        exec(
          "store the validation record",
          "SELECT exekra_put_validation($1::bigint, $2::bigint, $3::bigint, $4::text, $5::text, $6::integer, $7::bigint, $8::text)",
          [r.lastAttemptAt, r.lastSuccessAt, r.failingSince, r.lastError, r.lastStatus, r.consecutiveFailures, r.nextAttemptAt, nodeId]
        ),

      putCredential: (c) =>
        exec("store a credential", "SELECT exekra_put_credential($1::text, $2::text, $3::text, $4::bigint, $5::bigint, $6::text)", [
          c.tokenHash,
          c.kind,
          c.name,
          c.createdAt,
          c.expiresAt,
          nodeId
        ]),
      findCredential: (tokenHash) =>
        maybe("read a credential", `SELECT ${CREDENTIAL} FROM exekra_credentials WHERE token_hash = $1::text`, [tokenHash], toCredential),
      addApiToken: (c) =>
        Effect.map(
          first("store an API token", "SELECT exekra_add_api_token($1::text, $2::text, $3::bigint, $4::text) AS added", [c.tokenHash, c.name, c.createdAt, nodeId], false),
          (row) => row?.added === true
        ),
      deleteCredential: (tokenHash) => exec("delete a credential", "SELECT exekra_delete_credential($1::text, $2::text)", [tokenHash, nodeId]),
      listCredentials: (kind) =>
        all("list credentials", `SELECT ${CREDENTIAL} FROM exekra_credentials WHERE kind = $1::text ORDER BY created_at, ord`, [kind], toCredential),

      listPrincipals: (cap) =>
        all("list principals", `SELECT ${PRINCIPAL} FROM exekra_principals WHERE cap = $1::text ORDER BY admitted_at, ord`, [cap], toPrincipal),
      // The per-cap counters are exact: every write of a principal keeps its cap's counter in the same transaction.
      countActive: Effect.map(query("count active principals", "SELECT cap, used FROM exekra_caps"), (rows) => {
        const counts = Object.fromEntries(Cap.all.map((cap) => [cap, 0])) as Record<Cap.Cap, number>
        for (const r of rows) if (Cap.all.includes(r.cap as Cap.Cap)) counts[r.cap as Cap.Cap] = num(r.used)
        return counts
      }),
      admit: (cap, id, name, ceiling, now) => Effect.map(admitMany(cap, [{ id, name }], ceiling, now), (outcomes) => outcomes[0]!),
      admitMany,
      findPrincipals: (cap, ids) =>
        ids.length === 0
          ? Effect.succeed([])
          : all(
              "read principals",
              `SELECT ${PRINCIPAL} FROM exekra_principals WHERE cap = $1::text AND id = ANY($2::text[]) ORDER BY admitted_at, ord`,
              [cap, Array.from(new Set(ids))],
              toPrincipal
            ),
      release: (cap, id) =>
        Effect.map(first("release a principal", "SELECT exekra_release($1::text, $2::text, $3::text) AS ok", [cap, id, nodeId], false), (row) => row?.ok === true),
      deactivate: (cap, id, now) =>
        Effect.map(
          first("deactivate a principal", "SELECT exekra_deactivate($1::text, $2::text, $3::bigint, $4::text) AS ok", [cap, id, now, nodeId], false),
          (row) => row?.ok === true
        ),

      getSnapshots: Effect.map(
        all("read snapshots", "SELECT key, json FROM exekra_snapshots ORDER BY ord", [], toSnapshot),
        (rows) => new Map(rows.map((r) => [r.key, r.json]))
      ),
      putSnapshot: (key, json) =>
        exec(
          "store a snapshot",
          "INSERT INTO exekra_snapshots (key, json) VALUES ($1::text, $2::text) ON CONFLICT (key) DO UPDATE SET json = EXCLUDED.json",
          [key, json]
        ),

      appendAudit: (r) =>
        exec(
          "append to the audit log",
          `INSERT INTO exekra_audit (${AUDIT}) VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text)`,
          [r.at, r.actor, r.action, r.outcome, r.cap, r.principal, r.code, r.detail],
          false
        ),
      // One statement: the lines commit together, and take their sequence numbers in the order given.
      appendAudits: (records) =>
        records.length === 0
          ? Effect.void
          : exec(
              "append to the audit log",
              `INSERT INTO exekra_audit (${AUDIT}) SELECT ${AUDIT} FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) ` +
                `WITH ORDINALITY AS r (${AUDIT}, n) ORDER BY n`,
              [
                records.map((r) => r.at),
                records.map((r) => r.actor),
                records.map((r) => r.action),
                records.map((r) => r.outcome),
                records.map((r) => r.cap),
                records.map((r) => r.principal),
                records.map((r) => r.code),
                records.map((r) => r.detail)
              ],
              false
            ),
      listAudit: ({ limit }) => all("read the audit log", `SELECT ${AUDIT} FROM exekra_audit ORDER BY seq DESC LIMIT $1::bigint`, [limitOf(limit)], toAudit),

      recordUsage: (cap, day, used) =>
        exec(
          "record usage",
          "INSERT INTO exekra_usage (cap, day, peak) VALUES ($1::text, $2::text, $3::integer) " +
            "ON CONFLICT (cap, day) DO UPDATE SET peak = greatest(exekra_usage.peak, EXCLUDED.peak)",
          [cap, day, used]
        ),
      // COLLATE "C": code-unit order whatever the database's collation, as SQLite and the memory store sort.
      usageHistory: all("read the usage history", `SELECT cap, day, peak FROM exekra_usage ORDER BY day COLLATE "C", cap COLLATE "C"`, [], toUsage),

      // One statement, so the page and the pruning mark come from one snapshot. With no change after `after`, the
      // one row has the mark and NULL for the change.
      changesSince: (after, limit) =>
        Effect.map(
          all(
            "read the change log",
            "SELECT m.pruned_through, c.seq, c.topic, c.cap, c.key, c.node FROM exekra_meta m " +
              "LEFT JOIN LATERAL (SELECT * FROM exekra_changes WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint) c ON true " +
              "WHERE m.id = 1 ORDER BY c.seq",
            [after, limitOf(limit)],
            toChangePage
          ),
          (rows) => ({
            changes: rows.flatMap((r) => (r.change === null ? [] : [r.change])),
            gap: rows.length > 0 && after < rows[0]!.prunedThrough
          })
        ),
      latestSeq: Effect.map(first("read the change log", "SELECT seq FROM exekra_change_seq WHERE id = 1"), (row) => (row === undefined ? 0 : num(row.seq))),
      pruneChanges: (through) =>
        exec(
          "prune the change log",
          "WITH upto AS (SELECT least($1::bigint, seq) AS n FROM exekra_change_seq WHERE id = 1), " +
            "gone AS (DELETE FROM exekra_changes WHERE seq <= (SELECT n FROM upto)) " +
            "UPDATE exekra_meta SET pruned_through = greatest(pruned_through, (SELECT n FROM upto)) WHERE id = 1",
          [Math.floor(through)]
        ),
      wakeups: Stream.interruptWhen(wakeups(db, nodeId), Deferred.await(closed)),

      countAttempt: (key, now, windowMs) =>
        Effect.map(
          first(
            "count a sign-in attempt",
            "INSERT INTO exekra_attempts AS a (key, start, attempts) VALUES ($1::text, $2::bigint, 1) ON CONFLICT (key) DO UPDATE SET " +
              "start = CASE WHEN $2::bigint >= a.start + $3::bigint THEN EXCLUDED.start ELSE a.start END, " +
              "attempts = CASE WHEN $2::bigint >= a.start + $3::bigint THEN 1 ELSE a.attempts + 1 END RETURNING start, attempts",
            [key, now, windowMs],
            false
          ),
          (row) => (row === undefined ? { start: now, attempts: 1 } : { start: num(row.start), attempts: num(row.attempts) })
        ),
      clearAttempts: (key) => exec("forget sign-in attempts", "DELETE FROM exekra_attempts WHERE key = $1::text", [key]),

      claimLease: (name, holder, now, ttlMs) =>
        Effect.map(
          query(
            "claim a lease",
            "INSERT INTO exekra_leases AS l (name, holder, until) VALUES ($1::text, $2::text, $3::bigint + $4::bigint) " +
              "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until " +
              "WHERE l.holder = EXCLUDED.holder OR l.until <= $3::bigint RETURNING holder",
            [name, holder, now, ttlMs]
          ),
          (rows) => rows.length > 0
        ),
      releaseLease: (name, holder) =>
        exec("release a lease", "DELETE FROM exekra_leases WHERE name = $1::text AND holder = $2::text", [name, holder]),
      leaseHolder: (name) =>
        maybe("read a lease", "SELECT holder, until FROM exekra_leases WHERE name = $1::text", [name], toLease),

      capLeases: all(
        "read the cap leases",
        `SELECT ${CAP_LEASE} FROM exekra_cap_leases ORDER BY array_position(ARRAY['unattended', 'developer', 'attended'], cap)`,
        [],
        toCapLease
      ),
      setCapLease: (cap, lease, now) =>
        exec("set a cap's lease", "SELECT exekra_set_cap_lease($1::text, $2::integer, $3::integer, $4::bigint, $5::text)", [
          cap,
          lease?.leaseSeconds ?? null,
          lease?.reviveSeconds ?? null,
          now,
          nodeId
        ]),
      listLeased: (cap) =>
        all("list principals", `SELECT ${LEASED} FROM exekra_principals WHERE cap = $1::text ORDER BY admitted_at, ord`, [cap], toLeased),
      heartbeat: (cap, id, ceiling, now) =>
        Effect.map(
          first(
            "record a heartbeat",
            "SELECT * FROM exekra_heartbeat($1::text, $2::text, $3::double precision, $4::bigint, $5::text)",
            [cap, id, ceiling, now, nodeId],
            false
          ),
          (r): HeartbeatOutcome => {
            const used = num(r?.o_used ?? 0)
            if (r === undefined || r.o_tag === "NotAdmitted") return { _tag: "NotAdmitted", used }
            const principal: LeasedPrincipal = {
              cap,
              id,
              name: strOrNull(r.o_name),
              status: str(r.o_status) as Principal["status"],
              admittedAt: num(r.o_admitted_at),
              updatedAt: num(r.o_updated_at),
              heartbeatAt: num(r.o_heartbeat_at),
              culledAt: numOrNull(r.o_culled_at)
            }
            return { _tag: str(r.o_tag) as Exclude<HeartbeatOutcome["_tag"], "NotAdmitted">, principal, used }
          }
        ),
      cull: (cap, now) =>
        Effect.map(
          query("cull principals whose lease ended", "SELECT * FROM exekra_cull($1::text, $2::bigint, $3::text) ORDER BY o_index", [cap, now, nodeId], false),
          (rows): CullOutcome => ({
            culled: rows.slice(1).map((r) => ({
              cap,
              id: str(r.o_id),
              name: strOrNull(r.o_name),
              status: "expired",
              admittedAt: num(r.o_admitted_at),
              updatedAt: num(r.o_culled_at),
              heartbeatAt: num(r.o_heartbeat_at),
              culledAt: num(r.o_culled_at)
            })),
            used: num(rows[0]?.o_used ?? 0),
            nextEndAt: numOrNull(rows[0]?.o_next_end_at)
          })
        ),

      touchNode: (n) =>
        exec(
          "record this node",
          `INSERT INTO exekra_nodes (${NODE}) VALUES ($1::text, $2::text, $3::bigint, $4::bigint, $5::bigint) ON CONFLICT (id) DO UPDATE SET ` +
            "version = EXCLUDED.version, started_at = EXCLUDED.started_at, last_seen_at = EXCLUDED.last_seen_at, applied_seq = EXCLUDED.applied_seq",
          [n.id, n.version, n.startedAt, n.lastSeenAt, n.appliedSeq]
        ),
      listNodes: (since) =>
        all("list the nodes", `SELECT ${NODE} FROM exekra_nodes WHERE last_seen_at >= $1::bigint ORDER BY started_at, id`, [since], toNode)
    }
    return service
  })

// ---- wakeups -------------------------------------------------------------------------------------------------------

/** How often a subscribed listener checks that its connection still delivers: it notifies itself and expects to hear it. */
const PING_MS = 2_000
/** Unanswered pings after which the listener counts its connection as lost and subscribes again. */
const MAX_UNANSWERED = 2
/** Pings while subscribing, until the first comes back. */
const SUBSCRIBE_PING_MS = 100
const BACKOFF_MIN_MS = 100
const BACKOFF_MAX_MS = 5_000

/** The listener's pings stopped coming back: its connection is gone, even if nothing said so. */
class ListenerLost extends Data.TaggedError("ListenerLost") {}

/**
 * `LISTEN exekra_changes`, forever: a wakeup per change notification, and one each time the subscription is
 * (re)established, since changes may have been missed meanwhile. A lost connection can be silent, so the listener
 * pings itself on the channel; when its pings stop coming back it subscribes again on a fresh connection, with
 * backoff while the server is away. It never fails.
 */
const wakeups = (db: Postgres.Database, nodeId: string): Stream.Stream<void> =>
  Stream.unwrap(
    Effect.map(Ref.make(0), (failures) => {
      let sessions = 0
      const session = Stream.unwrapScoped(
        Effect.gen(function* () {
          // Unique even between processes misconfigured with one node id: a node must hear its own pings only.
          const token = `ping:${nodeId}:${++sessions}:${randomBytes(4).toString("hex")}`
          const state = yield* Ref.make({ subscribed: false, unanswered: 0 })
          const heard = db.client.listen(CHANNEL).pipe(
            Stream.mapEffect((payload) =>
              payload === token
                ? Ref.modify(state, (s) => [!s.subscribed, { subscribed: true, unanswered: 0 }]).pipe(
                    Effect.tap((first) => (first ? Ref.set(failures, 0) : Effect.void))
                  )
                : Effect.succeed(!payload.startsWith("ping:"))
            ),
            Stream.filter((wake) => wake),
            Stream.as(undefined)
          )
          // pg_notify rather than the client's notify: NOTIFY takes no bind parameters.
          const ping = db.query("ping the change listener", "SELECT pg_notify($1::text, $2::text)", [CHANNEL, token])
          const started = yield* Clock.currentTimeMillis
          const heartbeat = Effect.gen(function* () {
            while (true) {
              const s = yield* Ref.get(state)
              if (!s.subscribed) {
                if ((yield* Clock.currentTimeMillis) - started > db.connectTimeoutMs + PING_MS) return yield* Effect.fail(new ListenerLost())
                yield* ping
                yield* Effect.sleep(Duration.millis(SUBSCRIBE_PING_MS))
                continue
              }
              if (s.unanswered >= MAX_UNANSWERED) return yield* Effect.fail(new ListenerLost())
              yield* Ref.update(state, (x) => ({ ...x, unanswered: x.unanswered + 1 }))
              yield* ping
              yield* Effect.sleep(Duration.millis(PING_MS))
            }
          })
          return Stream.merge(heard, Stream.drain(Stream.fromEffect(heartbeat)))
        })
      )
      const backoff = Effect.flatMap(Ref.getAndUpdate(failures, (n) => n + 1), (n) =>
        Effect.sleep(Duration.millis(Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(n, 16))))
      )
      // Whatever ends a session (lost connection, server away, a failing UNLISTEN on a dead connection), wait and start another.
      return Stream.catchAllCause(session, () => Stream.empty).pipe(Stream.concat(Stream.drain(Stream.fromEffect(backoff))), Stream.forever)
    })
  )
