// memoir-bench --backend postgres: memoir's PostgreSQL store against raw
// libpq doing the same inserts and reads on the same server, in the same
// run, and beside memoir's LMDB store under the same load.
//
// append: the producers of the LMDB append scenario (MemoirLoad) write to a
// PostgreSQL store; each round then runs the raw baseline, one connection
// inserting the same events (position, stream, seq, type, payload) into a
// table with the same keys, in transactions of the events memoir committed
// per group in that round, one INSERT ... SELECT FROM unnest() per
// transaction; then memoir's LMDB store under the same producers.
// replay: one stream of N events read back by memoir's Scan and by the same
// paged, binary, REPEATABLE READ query on the raw table.
#include "memoir/postgres.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "bench.h"
#include "memoir_load.h"

namespace memoir::bench {
namespace {

// A libpq connection for the baseline; statements fail as kIOError.
class RawConn {
 public:
  static Result<std::unique_ptr<RawConn>> Open(const std::string& uri) {
    PGconn* c = PQconnectdb(uri.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(c);
      PQfinish(c);
      return Status::IOError("raw libpq: " + msg);
    }
    return std::unique_ptr<RawConn>(new RawConn(c));
  }
  ~RawConn() { PQfinish(c_); }
  Status Exec(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    return Check(r, sql);
  }
  // Binary parameters and results.
  Status Exec(const std::string& sql, const std::vector<std::string>& params,
              const std::vector<Oid>& types, PGresult** out = nullptr) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const std::string& p : params) {
      values.push_back(p.data());
      lengths.push_back(static_cast<int>(p.size()));
      formats.push_back(1);
    }
    PGresult* r = PQexecParams(c_, sql.c_str(), static_cast<int>(params.size()),
                               types.data(), values.data(), lengths.data(),
                               formats.data(), 1);
    if (out != nullptr && PQresultStatus(r) == PGRES_TUPLES_OK) {
      *out = r;
      return Status::OK();
    }
    return Check(r, sql);
  }

 private:
  explicit RawConn(PGconn* c) : c_(c) {}
  Status Check(PGresult* r, const std::string& sql) {
    const ExecStatusType st = PQresultStatus(r);
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Status::OK();
    return Status::IOError(fmt::format("raw libpq: {} ({})", msg, sql));
  }
  PGconn* c_;
};

void Put32(std::string* out, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  const char b[4] = {char(u >> 24), char(u >> 16), char(u >> 8), char(u)};
  out->append(b, 4);
}

void Put64(std::string* out, int64_t v) {
  Put32(out, static_cast<int32_t>(static_cast<uint64_t>(v) >> 32));
  Put32(out, static_cast<int32_t>(v & 0xffffffff));
}

// A one-dimensional binary array of `n` elements of `oid`, whose element
// bytes `each(i, out)` appends.
template <typename F>
std::string Array(Oid oid, size_t n, F each) {
  std::string out;
  Put32(&out, 1);
  Put32(&out, 0);
  Put32(&out, static_cast<int32_t>(oid));
  Put32(&out, static_cast<int32_t>(n));
  Put32(&out, 1);
  std::string element;
  for (size_t i = 0; i < n; ++i) {
    element.clear();
    each(i, &element);
    Put32(&out, static_cast<int32_t>(element.size()));
    out += element;
  }
  return out;
}

std::string Uri(const Options& options) { return options.postgres; }

std::string SchemaName(const char* what) {
  return fmt::format("bench_{}_{}", what, getpid());
}

// The raw baseline's table, in its own schema.
Status CreateRawTable(RawConn& c, const std::string& schema) {
  return c.Exec(fmt::format(
      "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}; CREATE TABLE "
      "{0}.events (position bigint PRIMARY KEY, stream text COLLATE \"C\" NOT "
      "NULL, seq bigint NOT NULL, ts_ns bigint NOT NULL, type text NOT NULL, "
      "payload bytea NOT NULL, UNIQUE (stream, seq))",
      schema));
}

// The raw append: one INSERT of `batch` events per transaction, streams
// round-robin, positions and seqs counted here.
class RawPgAppender {
 public:
  RawPgAppender(RawConn* c, std::string schema, const Options& options)
      : c_(c),
        schema_(std::move(schema)),
        payload_(options.payload, 'x'),
        heads_(options.streams, 0) {
    names_.resize(options.streams);
    for (size_t i = 0; i < names_.size(); ++i) {
      names_[i] = fmt::format("stream-{:05}", i);
    }
  }
  Result<RunResult> Run(size_t batch, double seconds) {
    const std::string sql = fmt::format(
        "INSERT INTO {}.events SELECT * FROM unnest($1::bigint[], "
        "$2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bytea[])",
        schema_);
    RunResult out;
    auto start = std::chrono::steady_clock::now();
    while (SecondsSince(start) < seconds) {
      std::vector<size_t> streams(batch);
      std::vector<int64_t> seqs(batch);
      for (size_t i = 0; i < batch; ++i) {
        streams[i] = next_stream_++ % names_.size();
        seqs[i] = static_cast<int64_t>(++heads_[streams[i]]);
      }
      const int64_t base = static_cast<int64_t>(position_);
      const int64_t now = 1;
      std::vector<std::string> params = {
          Array(20, batch,
                [&](size_t i, std::string* e) {
                  Put64(e, base + 1 + static_cast<int64_t>(i));
                }),
          Array(25, batch,
                [&](size_t i, std::string* e) { *e = names_[streams[i]]; }),
          Array(20, batch,
                [&](size_t i, std::string* e) { Put64(e, seqs[i]); }),
          Array(20, batch, [&](size_t, std::string* e) { Put64(e, now); }),
          Array(25, batch, [&](size_t, std::string* e) { *e = "Bench"; }),
          Array(17, batch, [&](size_t, std::string* e) { *e = payload_; })};
      Status s = c_->Exec(sql, params, {1016, 1009, 1016, 1016, 1009, 1001});
      if (!s.ok()) return s;
      position_ += batch;
      out.events += batch;
      ++out.transactions;
    }
    out.seconds = SecondsSince(start);
    return out;
  }

 private:
  RawConn* c_;
  std::string schema_;
  std::string payload_;
  std::vector<std::string> names_;
  std::vector<uint64_t> heads_;
  size_t next_stream_ = 0;
  uint64_t position_ = 0;
};

StoreOptions PgStoreOptions(const Options& options) {
  StoreOptions o;
  o.durability = options.durability;
  return o;
}

Status RunPostgresAppend(const Options& options, Report& report) {
  const std::string uri = Uri(options);
  PostgresOptions pg;
  pg.schema = SchemaName("memoir");
  (void)DropPostgresStore(uri, pg.schema);
  Result<std::unique_ptr<Store>> pg_store =
      OpenPostgres(uri, PgStoreOptions(options), pg);
  if (!pg_store.ok()) return pg_store.status().WithContext("memoir-postgres");
  struct DropAtEnd {
    std::string uri, schema;
    ~DropAtEnd() { (void)DropPostgresStore(uri, schema); }
  } drop_memoir{uri, pg.schema};
  Result<std::unique_ptr<RawConn>> raw = RawConn::Open(uri);
  if (!raw.ok()) return raw.status();
  const std::string raw_schema = SchemaName("raw");
  if (Status s = CreateRawTable(**raw, raw_schema); !s.ok()) return s;
  if (options.durability != Durability::kSync) {
    if (Status s = (*raw)->Exec("SET synchronous_commit = off"); !s.ok()) {
      return s;
    }
  }
  RawPgAppender raw_appender(raw->get(), raw_schema, options);
  const std::string lmdb_dir = options.dir + "/append-memoir-lmdb";
  Result<std::unique_ptr<Store>> lmdb = OpenStore(lmdb_dir, options.durability);
  if (!lmdb.ok()) return lmdb.status();

  MemoirLoad memoir_pg(pg_store->get(), options);
  MemoirLoad memoir_lmdb(lmdb->get(), options);
  const size_t rounds = std::max<size_t>(1, options.rounds);
  const double slice = options.seconds / rounds;
  Series raw_series{"raw-libpq", {}, {}};
  std::vector<double> pg_rates, lmdb_rates, groups, lmdb_over_pg;
  for (size_t r = 0; r < rounds; ++r) {
    Result<MemoirLoad::Slice> s = memoir_pg.Run(slice, 0);
    if (!s.ok()) return s.status().WithContext("memoir-postgres");
    const double rate = s->events / s->seconds;
    const double group = s->commits > 0 ? double(s->requests) / s->commits : 0;
    const size_t batch =
        std::max<size_t>(1, std::lround(group * options.events_per_append));
    Result<RunResult> base = raw_appender.Run(batch, slice);
    if (!base.ok()) return base.status();
    Result<MemoirLoad::Slice> l = memoir_lmdb.Run(slice, 0);
    if (!l.ok()) return l.status().WithContext("memoir-lmdb");
    const double lmdb_rate = l->events / l->seconds;
    raw_series.Add(rate, base->rate());
    pg_rates.push_back(rate);
    lmdb_rates.push_back(lmdb_rate);
    groups.push_back(group);
    lmdb_over_pg.push_back(rate > 0 ? lmdb_rate / rate : 0);
    report.Note(fmt::format(
        "round {}/{}: memoir-postgres {:.0f} ev/s in groups of {:.1f}; "
        "raw-libpq {:.0f} ev/s at {} events per transaction; memoir-lmdb "
        "{:.0f} ev/s",
        r + 1, rounds, rate, group, base->rate(), batch, lmdb_rate));
  }
  const std::string metric(DurabilityName(options.durability));
  report.Row("pg-append", "memoir-postgres", metric, Median(pg_rates), "ev/s",
             "memoir_postgres_events_per_s");
  report.Row("pg-append", "memoir-postgres", "avg group", Median(groups),
             "req/txn", "avg_group");
  ReportSeries(report, "pg-append", raw_series, metric, "");
  report.Row("pg-append", "memoir-lmdb", metric, Median(lmdb_rates), "ev/s",
             "memoir_lmdb_events_per_s");
  report.Row("pg-append", "memoir-lmdb/memoir-postgres", metric,
             Median(lmdb_over_pg), "x", "ratio_lmdb_over_postgres");
  report.Note(fmt::format(
      "pg-append: {} producers over {} streams, {} B payloads; median of {} "
      "rounds of {:.2f} s",
      options.producers, options.streams, options.payload, rounds, slice));
  (void)(*raw)->Exec(fmt::format("DROP SCHEMA {} CASCADE", raw_schema));
  if (Status s = (*lmdb)->Close(); !s.ok()) return s;
  RemoveAll(lmdb_dir);
  return Status::OK();
}

Status RunPostgresReplay(const Options& options, Report& report) {
  const std::string uri = Uri(options);
  const uint64_t n = options.replay_events;
  PostgresOptions pg;
  pg.schema = SchemaName("replay");
  (void)DropPostgresStore(uri, pg.schema);
  StoreOptions so;
  so.durability = Durability::kNone;
  Result<std::unique_ptr<Store>> store = OpenPostgres(uri, so, pg);
  if (!store.ok()) return store.status();
  struct DropAtEnd {
    std::string uri, schema;
    ~DropAtEnd() { (void)DropPostgresStore(uri, schema); }
  } drop_memoir{uri, pg.schema};
  const std::string stream = "replay-stream";
  for (uint64_t written = 0; written < n;) {
    const size_t count =
        static_cast<size_t>(std::min<uint64_t>(1000, n - written));
    Result<AppendResult> r = (*store)->journal().Append(
        stream, Expected::At(written), Events(count, options.payload));
    if (!r.ok()) return r.status().WithContext("memoir Append");
    written += count;
  }
  Result<std::unique_ptr<RawConn>> raw = RawConn::Open(uri);
  if (!raw.ok()) return raw.status();
  const std::string raw_schema = SchemaName("rawreplay");
  if (Status s = CreateRawTable(**raw, raw_schema); !s.ok()) return s;
  const std::string payload(options.payload, 'x');
  if (Status s = (*raw)->Exec(fmt::format(
          "INSERT INTO {}.events SELECT g, 'replay-stream', g, 1, 'Bench', "
          "decode(repeat('78', {}), 'hex') FROM generate_series(1, {}) g",
          raw_schema, options.payload, n));
      !s.ok()) {
    return s;
  }
  // The raw read: memoir's page size (512 rows), binary, in one snapshot.
  auto raw_read = [&]() -> Result<double> {
    auto start = std::chrono::steady_clock::now();
    Status s = (*raw)->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!s.ok()) return s;
    const std::string sql = fmt::format(
        "SELECT position, seq, ts_ns, type, payload FROM {}.events WHERE "
        "stream = $1 AND seq > $2 ORDER BY seq LIMIT 512",
        raw_schema);
    uint64_t after = 0, seen = 0, bytes = 0;
    for (;;) {
      std::string seq;
      Put64(&seq, static_cast<int64_t>(after));
      PGresult* r = nullptr;
      s = (*raw)->Exec(sql, {stream, seq}, {25, 20}, &r);
      if (!s.ok()) return s;
      const int rows = PQntuples(r);
      for (int i = 0; i < rows; ++i) {
        bytes += static_cast<uint64_t>(PQgetlength(r, i, 4));
        ++seen;
      }
      if (rows > 0) {
        const char* v = PQgetvalue(r, rows - 1, 1);
        uint64_t x = 0;
        for (int k = 0; k < 8; ++k) x = (x << 8) | uint8_t(v[k]);
        after = x;
      }
      PQclear(r);
      if (rows < 512) break;
    }
    s = (*raw)->Exec("COMMIT");
    if (!s.ok()) return s;
    if (seen != n || bytes != n * options.payload) {
      return Status::Corruption(
          fmt::format("raw replay read {} events, {} bytes", seen, bytes));
    }
    return n / SecondsSince(start);
  };
  auto memoir_read = [&]() -> Result<double> {
    auto start = std::chrono::steady_clock::now();
    uint64_t seen = 0, bytes = 0;
    Status s = (*store)->journal().Scan(stream, {}, [&](const EventView& e) {
      ++seen;
      bytes += e.payload.size();
      return true;
    });
    if (!s.ok()) return s;
    if (seen != n || bytes != n * options.payload) {
      return Status::Corruption(
          fmt::format("memoir replay read {} events, {} bytes", seen, bytes));
    }
    return n / SecondsSince(start);
  };
  Series series{"raw-libpq", {}, {}};
  std::vector<double> memoir_rates;
  const size_t rounds = std::max<size_t>(1, options.rounds);
  for (size_t r = 0; r < rounds; ++r) {
    Result<double> m = memoir_read();
    if (!m.ok()) return m.status();
    Result<double> b = raw_read();
    if (!b.ok()) return b.status();
    memoir_rates.push_back(*m);
    series.Add(*m, *b);
  }
  (void)(*raw)->Exec(fmt::format("DROP SCHEMA {} CASCADE", raw_schema));
  report.Row("pg-replay", "memoir-postgres", "hot", Median(memoir_rates),
             "ev/s", "memoir_postgres_events_per_s");
  ReportSeries(report, "pg-replay", series, "hot", "");
  report.Field("pg-replay", "events", double(n));
  return Status::OK();
}

}  // namespace

Status RunPostgres(const Options& options, Report& report) {
  if (options.postgres.empty()) {
    return Status::InvalidArgument(
        "--backend postgres needs --postgres URI (or MEMOIR_BENCH_POSTGRES): "
        "a connection string of a server the benchmark may create schemas "
        "in; `bash tools/pg.sh start DIR` starts a throwaway one");
  }
  if (options.scenario == "all" || options.scenario == "append") {
    if (Status s = RunPostgresAppend(options, report); !s.ok()) {
      return s.WithContext("pg-append");
    }
  }
  if (options.scenario == "all" || options.scenario == "replay") {
    if (Status s = RunPostgresReplay(options, report); !s.ok()) {
      return s.WithContext("pg-replay");
    }
  }
  return Status::OK();
}

}  // namespace memoir::bench
