// memoir-bench: measures memoir's journal against the storage it is built on
// (raw LMDB) and, when available, RocksDB and SQLite, in the same run.
//
//   memoir-bench [--scenario append|replay|read-all|latency|actors|bisect|
//                            projection|ids|all]
//                [--quick]
//                [--dir DIR] [--producers P] [--streams S]
//                [--events-per-append E] [--payload BYTES]
//                [--durability sync|nometasync|none] [--seconds T]
//                [--events N] [--replay-events N] [--read-all-events N]
//                [--latency-count N] [--rounds R] [--bisect-events N]
//                [--bisect-every K]
//                [--backend lmdb|postgres] [--postgres URI]
//
// With --backend postgres, the append and replay scenarios run on a
// PostgreSQL store (memoir/postgres.h) of the server URI names (or
// MEMOIR_BENCH_POSTGRES), against raw libpq on the same server, and the
// append rounds also run memoir's LMDB store for comparison.
//
// Prints one table row per measurement and, last, one JSON line starting
// with {"memoir_bench":. Exits non-zero on any error.
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "bench.h"

namespace memoir::bench {

std::string_view DurabilityName(Durability d) {
  switch (d) {
    case Durability::kSync:
      return "sync";
    case Durability::kNoMetaSync:
      return "nometasync";
    case Durability::kNone:
      return "none";
  }
  return "?";
}

double Median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t mid = samples.size() / 2;
  return samples.size() % 2 ? samples[mid]
                            : (samples[mid - 1] + samples[mid]) / 2;
}

double Percentile(std::vector<double>& samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  size_t rank = static_cast<size_t>(std::ceil(q * samples.size()));
  return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
}

Report::Section& Report::SectionFor(const std::string& scenario) {
  for (Section& s : sections_) {
    if (s.scenario == scenario) return s;
  }
  sections_.push_back({scenario, {}});
  return sections_.back();
}

void Report::Header() const {
  fmt::print("{:<9} {:<28} {:<10} {:>14}  {}\n", "scenario", "subject",
             "metric", "value", "unit");
  fmt::print("{}\n", std::string(72, '-'));
}

void Report::Row(const std::string& scenario, const std::string& subject,
                 const std::string& metric, double value,
                 const std::string& unit, const std::string& key) {
  int decimals = value >= 1000 ? 0 : (value >= 10 ? 1 : 2);
  fmt::print("{:<9} {:<28} {:<10} {:>14.{}f}  {}\n", scenario, subject, metric,
             value, decimals, unit);
  std::fflush(stdout);
  Field(scenario, key, value);
}

void Report::Field(const std::string& scenario, const std::string& key,
                   double value) {
  SectionFor(scenario).fields.emplace_back(key, value);
}

void Report::Note(const std::string& text) {
  fmt::print("  ({})\n", text);
  std::fflush(stdout);
}

namespace {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  return fmt::format("{:.6g}", v);
}

}  // namespace

std::string Report::Json(const Options& options, bool ok,
                         const std::string& error) const {
  std::string out = fmt::format(
      "{{\"memoir_bench\":{{\"ok\":{},\"error\":{},\"quick\":{},"
      "\"config\":{{\"scenario\":{},\"producers\":{},\"streams\":{},"
      "\"events_per_append\":{},\"payload\":{},\"durability\":{},"
      "\"seconds\":{},\"events\":{},\"replay_events\":{},"
      "\"read_all_events\":{},\"read_all_streams\":{},\"latency_count\":{},"
      "\"rounds\":{},\"rocksdb\":{},\"sqlite\":{}}}",
      ok, JsonString(error), options.quick, JsonString(options.scenario),
      options.producers, options.streams, options.events_per_append,
      options.payload, JsonString(DurabilityName(options.durability)),
      JsonNumber(options.seconds), options.events, options.replay_events,
      options.read_all_events, options.read_all_streams, options.latency_count,
      options.rounds, MEMOIR_BENCH_ROCKSDB != 0, MEMOIR_BENCH_SQLITE != 0);
  for (const Section& section : sections_) {
    out += fmt::format(",{}:{{", JsonString(section.scenario));
    for (size_t i = 0; i < section.fields.size(); ++i) {
      out += fmt::format("{}{}:{}", i ? "," : "",
                         JsonString(section.fields[i].first),
                         JsonNumber(section.fields[i].second));
    }
    out += "}";
  }
  return out + "}}";
}

namespace {

constexpr char kUsage[] =
    "usage: memoir-bench [--scenario append|replay|read-all|latency|actors|"
    "projection|ids|"
    "bisect|all]\n"
    "  [--quick] [--dir DIR] [--producers P] [--streams S]\n"
    "  [--events-per-append E] [--payload BYTES]\n"
    "  [--durability sync|nometasync|none] [--seconds T] [--events N]\n"
    "  [--replay-events N] [--read-all-events N] [--latency-count N]\n"
    "  [--rounds R] [--bisect-events N] [--bisect-every K]\n"
    "  [--backend lmdb|postgres] [--postgres URI]\n";

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

// Returns an empty string on success, else what is wrong.
std::string ParseArgs(int argc, char** argv, Options* options) {
  // Quick-mode sizes apply unless a flag sets them explicitly.
  bool set_seconds = false, set_replay = false, set_read_all = false,
       set_latency = false, set_rounds = false, set_bisect = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--quick") {
      options->quick = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") return "help";
    if (i + 1 >= argc) return fmt::format("{} needs a value", flag);
    std::string_view value = argv[++i];
    bool ok = true;
    if (flag == "--scenario") {
      options->scenario = value;
      ok = value == "all" || value == "append" || value == "replay" ||
           value == "read-all" || value == "latency" || value == "actors" ||
           value == "bisect" || value == "projection" || value == "ids";
    } else if (flag == "--backend") {
      options->backend = value;
      ok = value == "lmdb" || value == "postgres";
    } else if (flag == "--postgres") {
      options->postgres = value;
    } else if (flag == "--dir") {
      options->dir = value;
    } else if (flag == "--producers") {
      ok = ParseNumber(value, &options->producers) && options->producers > 0;
    } else if (flag == "--streams") {
      ok = ParseNumber(value, &options->streams) && options->streams > 0;
    } else if (flag == "--events-per-append") {
      ok = ParseNumber(value, &options->events_per_append) &&
           options->events_per_append > 0;
    } else if (flag == "--payload") {
      ok = ParseNumber(value, &options->payload);
    } else if (flag == "--durability") {
      if (value == "sync") {
        options->durability = Durability::kSync;
      } else if (value == "nometasync") {
        options->durability = Durability::kNoMetaSync;
      } else if (value == "none") {
        options->durability = Durability::kNone;
      } else {
        ok = false;
      }
    } else if (flag == "--seconds") {
      ok = ParseNumber(value, &options->seconds) && options->seconds > 0;
      set_seconds = true;
    } else if (flag == "--events") {
      ok = ParseNumber(value, &options->events);
    } else if (flag == "--replay-events") {
      ok = ParseNumber(value, &options->replay_events) &&
           options->replay_events > 0;
      set_replay = true;
    } else if (flag == "--read-all-events") {
      ok = ParseNumber(value, &options->read_all_events) &&
           options->read_all_events > 0;
      set_read_all = true;
    } else if (flag == "--rounds") {
      ok = ParseNumber(value, &options->rounds) && options->rounds > 0;
      set_rounds = true;
    } else if (flag == "--bisect-events") {
      ok = ParseNumber(value, &options->bisect_events) &&
           options->bisect_events >= 3;
      set_bisect = true;
    } else if (flag == "--bisect-every") {
      ok = ParseNumber(value, &options->bisect_every);
    } else if (flag == "--latency-count") {
      ok = ParseNumber(value, &options->latency_count) &&
           options->latency_count > 0;
      set_latency = true;
    } else {
      return fmt::format("unknown flag {}", flag);
    }
    if (!ok) return fmt::format("bad value for {}: {}", flag, value);
  }
  if (options->quick) {
    if (!set_seconds) options->seconds = 1;
    if (!set_replay) options->replay_events = 100000;
    if (!set_read_all) options->read_all_events = 100000;
    if (!set_latency) options->latency_count = 300;
    if (!set_rounds) options->rounds = 3;
    if (!set_bisect) options->bisect_events = 100000;
  }
  return "";
}

// Runs the selected scenarios; returns the first error.
Status RunAll(const Options& options, Report& report) {
  struct Scenario {
    const char* name;
    Status (*run)(const Options&, Report&);
  };
  const Scenario scenarios[] = {
      {"append", RunAppend},         {"replay", RunReplay},
      {"read-all", RunReadAll},      {"latency", RunLatency},
      {"actors", RunActors},         {"bisect", RunBisect},
      {"projection", RunProjection}, {"ids", RunIds}};
  report.Header();
  if (options.backend == "postgres") {
#if MEMOIR_BENCH_POSTGRES
    return RunPostgres(options, report);
#else
    return Status::InvalidArgument(
        "this memoir-bench was built without the PostgreSQL backend");
#endif
  }
  for (const Scenario& s : scenarios) {
    if (options.scenario != "all" && options.scenario != s.name) continue;
    Status status = s.run(options, report);
    if (!status.ok()) return status.WithContext(s.name);
  }
  return Status::OK();
}

int Main(int argc, char** argv) {
  Options options;
  if (const char* uri = std::getenv("MEMOIR_BENCH_POSTGRES")) {
    options.postgres = uri;
  }
  std::string error = ParseArgs(argc, argv, &options);
  if (!error.empty()) {
    if (error != "help") fmt::print(stderr, "memoir-bench: {}\n", error);
    fmt::print(stderr, "{}", kUsage);
    return error == "help" ? 0 : 2;
  }
  // All stores live in a fresh directory under --dir (default /tmp), removed
  // at the end whatever happens.
  std::string parent = options.dir.empty() ? "/tmp" : options.dir;
  std::string pattern = parent + "/memoir-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::string what = fmt::format("cannot create a directory in {}", parent);
    fmt::print(stderr, "memoir-bench: {}\n", what);
    fmt::print("{}\n", Report().Json(options, false, what));
    return 1;
  }
  options.dir = pattern;
  struct RemoveOnExit {
    std::string dir;
    ~RemoveOnExit() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remove_on_exit{pattern};
  fmt::print("memoir-bench: {} in {}{}\n", options.scenario, options.dir,
             options.quick ? " (quick)" : "");
  Report report;
  Status status = RunAll(options, report);
  options.dir = parent;
  if (!status.ok()) {
    fmt::print(stderr, "memoir-bench: {}\n", status.ToString());
  }
  fmt::print("{}\n", report.Json(options, status.ok(),
                                 status.ok() ? "" : status.ToString()));
  return status.ok() ? 0 : 1;
}

}  // namespace
}  // namespace memoir::bench

int main(int argc, char** argv) {
  try {
    return memoir::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "memoir-bench: unexpected exception: {}\n", e.what());
  } catch (...) {
    fmt::print(stderr, "memoir-bench: unexpected exception\n");
  }
  return 1;
}
