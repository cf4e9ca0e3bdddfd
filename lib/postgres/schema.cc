#include "postgres/schema.h"

#include <fmt/format.h>

#include <string>
#include <utility>

namespace memoir::internal::pg {
namespace {

// {s} is the schema, {ch} the notification channel, {now} the creation
// time. Tables:
// - meta: one row; the format version and the position counter. The
//   counter row is locked by every commit that writes events, after its
//   stream rows, until it commits: positions are granted in commit order,
//   so a reader never sees position p+1 before p.
// - streams: one row per stream ever written; stream_id is StreamInfo::id.
//   creation numbers the streams in the order their creating commits
//   committed (granted with positions, under the counter row's lock), for
//   listing in creation order: stream_id is granted at insert, before the
//   lock, so two writers' new streams may commit in the other order.
//   fillfactor leaves room for HOT updates of the row every append changes
//   (no column an append updates is indexed).
// - events: one row per event, keyed by position; (stream_id, seq) unique.
//   Type names and tags are bytes (bytea), as in an LMDB store: any bytes
//   an append accepts, NUL and invalid UTF-8 included, round-trip.
//   tags holds the event's tags, each followed by a NUL byte; crc is
//   memoir's checksum of the event's content (postgres_store.cc).
// - event_tags: the tag index, (tag, position).
// - snapshots: one row per snapshot, keyed by (stream_id, seq).
constexpr const char* kTables = R"sql(
CREATE SCHEMA {s};
CREATE TABLE {s}.meta (
  id int PRIMARY KEY CHECK (id = 1),
  format_version int NOT NULL,
  last_position bigint NOT NULL,
  last_creation bigint NOT NULL,
  created_ns bigint NOT NULL);
INSERT INTO {s}.meta VALUES (1, {version}, 0, 0, {now});
CREATE TABLE {s}.streams (
  stream_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  head bigint NOT NULL DEFAULT 0,
  deleted_to bigint NOT NULL DEFAULT 0,
  event_count bigint NOT NULL DEFAULT 0,
  deleted boolean NOT NULL DEFAULT false,
  created_ns bigint NOT NULL,
  last_write_ns bigint NOT NULL,
  metadata bytea,
  metadata_crc bigint,
  creation bigint UNIQUE) WITH (fillfactor = 70);
CREATE TABLE {s}.events (
  position bigint PRIMARY KEY,
  stream_id bigint NOT NULL,
  seq bigint NOT NULL,
  ts_ns bigint NOT NULL,
  type bytea NOT NULL,
  schema_version int NOT NULL,
  payload bytea NOT NULL,
  tags bytea NOT NULL,
  event_id uuid,
  causation_id uuid,
  correlation_id uuid,
  metadata bytea NOT NULL,
  crc bigint NOT NULL,
  UNIQUE (stream_id, seq));
CREATE INDEX ON {s}.events (stream_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX ON {s}.events (type, position);
CREATE TABLE {s}.event_tags (
  tag bytea NOT NULL,
  position bigint NOT NULL,
  PRIMARY KEY (tag, position));
CREATE INDEX ON {s}.event_tags (position);
CREATE TABLE {s}.snapshots (
  stream_id bigint NOT NULL,
  seq bigint NOT NULL,
  ts_ns bigint NOT NULL,
  type bytea NOT NULL,
  schema_version int NOT NULL,
  payload bytea NOT NULL,
  metadata bytea NOT NULL,
  crc bigint NOT NULL,
  PRIMARY KEY (stream_id, seq));
)sql";

// One group commit: every request of the writer's batch, each stream at
// most once, in one call and one transaction. Per request it returns a
// status (schema.h, AppendStatus), the stream's head, and where its events
// landed (or, for a repeat, where they landed the first time).
//
// Requests (1..n): kind 0 appends r_nevents events, kind 1 saves a snapshot
// at seq r_expect; r_expect is otherwise -1 (Any), -2 (Exists) or the exact
// head; r_group > 0 ties the requests of one AppendMulti; r_snap indexes
// s_* (0: no snapshot); r_first_id is the first event's id (null: none).
// Events (1..m): e_req is the request, e_k the index within it. Tags
// (t_tag, t_event) index the events.
constexpr const char* kAppendFunction = R"sql(
CREATE FUNCTION {s}.append(
  p_now bigint, p_window bigint, r_kind int[], r_stream text[],
  r_group int[], r_expect bigint[], r_nevents int[], r_off int[],
  r_snap int[], r_first_id uuid[],
  e_req int[], e_k int[], e_type bytea[], e_schema int[], e_payload bytea[],
  e_tags bytea[], e_id uuid[], e_cause uuid[], e_corr uuid[],
  e_meta bytea[], e_crc bigint[], t_tag bytea[], t_event int[],
  s_type bytea[], s_schema int[], s_payload bytea[], s_meta bytea[],
  s_crc bigint[],
  OUT o_status int[], OUT o_head bigint[], OUT o_seq bigint[],
  OUT o_pos bigint[])
-- Every table access here is by key. The function's plans are cached per
-- connection, and one made while a table was nearly empty (a new store)
-- chose sequential scans that stayed after the table grew: 3,700 appends/s
-- instead of 24,000 with 10,000 streams, until an ANALYZE replanned.
SET enable_seqscan = off
-- Built-in names resolve in pg_catalog whatever the caller's search_path.
SET search_path = pg_catalog, pg_temp
LANGUAGE plpgsql AS $fn$
DECLARE
  n int := coalesce(cardinality(r_stream), 0);
  sid bigint[] := array_fill(0::bigint, ARRAY[n]);
  w_seq bigint[] := array_fill(0::bigint, ARRAY[n]);
  w_pos bigint[] := array_fill(0::bigint, ARRAY[n]);
  hd bigint[];
  dt bigint[];
  del boolean[];
  created text[];
  failed int[];
  locked bigint;
  i int;
  j int;
  total bigint := 0;
  base bigint;
  found_seq bigint;
  found_pos bigint;
  lo bigint;
  cbase bigint;
  nc bigint;
  stored uuid[];
  wanted uuid[];
BEGIN
  o_status := array_fill(0, ARRAY[n]);
  o_head := array_fill(0::bigint, ARRAY[n]);
  o_seq := array_fill(0::bigint, ARRAY[n]);
  o_pos := array_fill(0::bigint, ARRAY[n]);
  IF n = 0 THEN
    RETURN;
  END IF;
  -- One lock order for every writer on every host: the existing streams by
  -- id, then new streams by name, then the position counter.
  PERFORM 1 FROM {s}.streams WHERE name = ANY (r_stream)
    ORDER BY stream_id FOR UPDATE;
  GET DIAGNOSTICS locked = ROW_COUNT;
  WITH ins AS (
    INSERT INTO {s}.streams (name, created_ns, last_write_ns)
    SELECT d.x, p_now, p_now FROM (SELECT DISTINCT x FROM unnest(r_stream) x) d
    WHERE NOT EXISTS (SELECT 1 FROM {s}.streams WHERE name = d.x)
    ORDER BY d.x
    ON CONFLICT (name) DO NOTHING
    RETURNING name)
  SELECT coalesce(array_agg(name), '{}') INTO created FROM ins;
  -- Streams another writer created meanwhile (its insert committed while
  -- ours waited on the name): lock them too. (The writer names each
  -- stream at most once per call.)
  IF locked + cardinality(created) < n THEN
    PERFORM 1 FROM {s}.streams WHERE name = ANY (r_stream)
      AND NOT (name = ANY (created)) ORDER BY stream_id FOR UPDATE;
  END IF;
  -- Every request's stream row, in request order, in one statement.
  SELECT array_agg(s.stream_id ORDER BY r.i), array_agg(s.head ORDER BY r.i),
         array_agg(s.deleted_to ORDER BY r.i),
         array_agg(s.deleted ORDER BY r.i)
    INTO sid, hd, dt, del
    FROM unnest(r_stream) WITH ORDINALITY AS r(name, i)
    JOIN {s}.streams s ON s.name = r.name;

  FOR i IN 1..n LOOP
    o_head[i] := hd[i];
    IF del[i] THEN
      o_status[i] := 2;
      CONTINUE;
    END IF;
    IF r_kind[i] = 1 THEN
      IF r_stream[i] = ANY (created) THEN
        o_status[i] := 6;
      ELSIF r_expect[i] > hd[i] THEN
        o_status[i] := 7;
      END IF;
      CONTINUE;
    END IF;
    -- A request with ids that the stream holds already is a repeat (the
    -- whole sequence, at consecutive seqs) or, in part, a conflict. Where
    -- to look: an exact expectation that no longer holds points at the
    -- seqs after it; Any and Exists search the newest p_window events.
    IF r_first_id[i] IS NOT NULL THEN
      found_seq := NULL;
      lo := NULL;
      wanted := e_id[r_off[i] + 1 : r_off[i] + r_nevents[i]];
      IF r_expect[i] >= 0 THEN
        IF hd[i] > r_expect[i] AND r_expect[i] + 1 > dt[i] THEN
          found_seq := r_expect[i] + 1;
        END IF;
      ELSIF p_window > 0 THEN
        lo := greatest(dt[i] + 1, hd[i] - p_window + 1, 1);
        -- The newest copy: a retry repeats the latest append.
        SELECT seq INTO found_seq FROM {s}.events
          WHERE stream_id = sid[i] AND event_id = r_first_id[i]
            AND seq >= lo
          ORDER BY seq DESC LIMIT 1;
      END IF;
      IF found_seq IS NOT NULL THEN
        SELECT array_agg(event_id ORDER BY seq), min(position)
          INTO stored, found_pos FROM {s}.events
          WHERE stream_id = sid[i] AND seq >= found_seq
            AND seq < found_seq + r_nevents[i];
        IF stored[1] IS NOT DISTINCT FROM r_first_id[i] THEN
          IF stored = wanted THEN
            o_status[i] := 3;
            o_seq[i] := found_seq;
            o_pos[i] := found_pos;
          ELSE
            o_status[i] := 4;
          END IF;
          CONTINUE;
        END IF;
      ELSIF lo IS NOT NULL AND r_nevents[i] > 1 THEN
        -- Not a repeat, unless a later event of the request is stored.
        IF EXISTS (SELECT 1 FROM {s}.events
                   WHERE stream_id = sid[i] AND seq >= lo
                     AND event_id = ANY (wanted[2:])) THEN
          o_status[i] := 4;
          CONTINUE;
        END IF;
      END IF;
    END IF;
    IF (r_expect[i] = -2 AND hd[i] = 0)
       OR (r_expect[i] >= 0 AND hd[i] <> r_expect[i]) THEN
      o_status[i] := 1;
    END IF;
  END LOOP;

  -- One failed request of an AppendMulti fails all of it.
  -- So does a mix of repeated and new parts: writing the new parts would
  -- apply the request twice in part.
  SELECT array_agg(f.g) INTO failed FROM (
    SELECT x.g FROM unnest(r_group, o_status) AS x(g, s) WHERE x.g > 0
    GROUP BY x.g
    HAVING bool_or(x.s NOT IN (0, 3))
        OR (bool_or(x.s = 0) AND bool_or(x.s = 3))) f;
  IF failed IS NOT NULL THEN
    FOR i IN 1..n LOOP
      IF r_group[i] = ANY (failed) AND o_status[i] = 0 THEN
        o_status[i] := 5;
      END IF;
    END LOOP;
  END IF;

  FOR i IN 1..n LOOP
    IF r_kind[i] = 0 AND o_status[i] = 0 THEN
      total := total + r_nevents[i];
    END IF;
  END LOOP;
  IF total > 0 THEN
    -- The streams this call creates, numbered in request order.
    SELECT count(*) INTO nc FROM unnest(r_stream, o_status) AS x(name, st)
      WHERE x.st = 0 AND x.name = ANY (created);
    UPDATE {s}.meta SET last_position = last_position + total,
      last_creation = last_creation + nc WHERE id = 1
      RETURNING last_position - total, last_creation - nc INTO base, cbase;
    IF nc > 0 THEN
      UPDATE {s}.streams s SET creation = cbase + c.rn
        FROM (SELECT x.name, row_number() OVER (ORDER BY x.i) AS rn
              FROM unnest(r_stream, o_status) WITH ORDINALITY AS x(name, st, i)
              WHERE x.st = 0 AND x.name = ANY (created)) c
        WHERE s.name = c.name;
    END IF;
    FOR i IN 1..n LOOP
      IF r_kind[i] = 0 AND o_status[i] = 0 THEN
        w_seq[i] := o_head[i] + 1;
        w_pos[i] := base + 1;
        o_seq[i] := w_seq[i];
        o_pos[i] := w_pos[i];
        base := base + r_nevents[i];
        o_head[i] := o_head[i] + r_nevents[i];
      END IF;
    END LOOP;
    UPDATE {s}.streams s SET head = s.head + u.k,
      event_count = s.event_count + u.k, last_write_ns = p_now
      FROM unnest(sid, w_seq, r_nevents) AS u(id, first, k)
      WHERE u.first > 0 AND s.stream_id = u.id;
    INSERT INTO {s}.events (position, stream_id, seq, ts_ns, type,
      schema_version, payload, tags, event_id, causation_id, correlation_id,
      metadata, crc)
    SELECT w_pos[x.req] + x.k, sid[x.req], w_seq[x.req] + x.k, p_now, x.type,
      x.sv, x.payload, x.tags, x.id, x.cause, x.corr, x.meta, x.crc
    FROM unnest(e_req, e_k, e_type, e_schema, e_payload, e_tags, e_id,
                e_cause, e_corr, e_meta, e_crc)
      AS x(req, k, type, sv, payload, tags, id, cause, corr, meta, crc)
    WHERE w_seq[x.req] > 0;
    IF coalesce(cardinality(t_tag), 0) > 0 THEN
      INSERT INTO {s}.event_tags (tag, position)
      SELECT t.tag, w_pos[e_req[t.ev]] + e_k[t.ev]
        FROM unnest(t_tag, t_event) AS t(tag, ev)
        WHERE w_seq[e_req[t.ev]] > 0
      ON CONFLICT DO NOTHING;
    END IF;
    -- Delivered at commit, to every listener (a hint: readers read).
    PERFORM pg_notify('{ch}', base::text);
  END IF;

  FOR i IN 1..n LOOP
    IF r_snap[i] > 0 AND o_status[i] = 0 THEN
      j := r_snap[i];
      INSERT INTO {s}.snapshots (stream_id, seq, ts_ns, type, schema_version,
        payload, metadata, crc)
      VALUES (sid[i], CASE WHEN r_kind[i] = 1 THEN r_expect[i]
                           ELSE o_head[i] END,
              p_now, s_type[j], s_schema[j], s_payload[j], s_meta[j],
              s_crc[j])
      ON CONFLICT (stream_id, seq) DO UPDATE SET ts_ns = EXCLUDED.ts_ns,
        type = EXCLUDED.type, schema_version = EXCLUDED.schema_version,
        payload = EXCLUDED.payload, metadata = EXCLUDED.metadata,
        crc = EXCLUDED.crc;
    END IF;
  END LOOP;

  -- Streams this call created for requests that failed are never seen.
  IF cardinality(created) > 0 THEN
    DELETE FROM {s}.streams WHERE name = ANY (created) AND head = 0;
  END IF;
END
$fn$;
)sql";

}  // namespace

Status ValidateSchemaName(std::string_view schema) {
  bool ok = !schema.empty() && schema.size() <= 48 &&
            !(schema[0] >= '0' && schema[0] <= '9');
  for (char c : schema) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (ok && schema.substr(0, 3) == "pg_") ok = false;
  if (!ok) {
    return Status::InvalidArgument(fmt::format(
        "PostgreSQL schema name '{}': use 1 to 48 characters of a-z, 0-9 and "
        "'_', not starting with a digit or 'pg_'",
        schema));
  }
  return Status::OK();
}

std::string NotifyChannel(std::string_view schema) {
  return fmt::format("memoir_{}", schema);
}

std::string CreateSql(std::string_view schema, int64_t now_ns) {
  // Plain substitution: the SQL has braces of its own ('{}' arrays).
  std::string sql = std::string(kTables) + kAppendFunction;
  const std::pair<std::string, std::string> subs[] = {
      {"{s}", std::string(schema)},
      {"{ch}", NotifyChannel(schema)},
      {"{now}", std::to_string(now_ns)},
      {"{version}", std::to_string(kFormatVersion)}};
  for (const auto& [from, to] : subs) {
    for (size_t p = sql.find(from); p != std::string::npos;
         p = sql.find(from, p + to.size())) {
      sql.replace(p, from.size(), to);
    }
  }
  return sql;
}

}  // namespace memoir::internal::pg
