// Single bit flips inside stored event and snapshot values: every one is
// detected, by the library and by `memoir verify`, naming the stream and
// seq of the damaged record. A second test flips bits in events above the
// last index flush (as after a crash), where no index says whose a record
// is (see there).
//
// The store is written once; the file offset of every stored value is
// found through a read-only LMDB map of data.mdb (a value's address minus
// the map's, which /proc/self/maps gives: mdb_env_info's me_mapaddr is
// only set for MDB_FIXEDMAP). Each trial flips one bit of data.mdb in place,
// cycling over the values with a seeded choice of bit, checks, and flips it
// back. The store stays open read-only across trials: its map is of the same
// file, so it sees each flip as a reader in another process would.
//
// Trials alternate between event and snapshot values (there are fewer
// snapshots). MEMOIR_BITFLIPS sets the number of flips (2,000 by default,
// 300 under AddressSanitizer; the "long" ctest label runs 10,000),
// MEMOIR_BITFLIP_SEED the seed; the second test makes a quarter as many.
// `memoir verify` runs on one flip in 4 (it is a process per run).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "memoir/inspect.h"
#include "memoir/store.h"
#include "support/temp_dir.h"
#ifdef MEMOIR_CLI
#include "tools/cli_runner.h"
#endif

namespace memoir {
namespace {

constexpr int kStreams = 6;
constexpr int kEventsPerStream = 30;
constexpr int kCliEvery = 4;
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kDefaultFlips = 300;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr uint64_t kDefaultFlips = 300;
#else
constexpr uint64_t kDefaultFlips = 2000;
#endif
#else
constexpr uint64_t kDefaultFlips = 2000;
#endif

class StepClock : public Clock {
 public:
  int64_t NowNanos() override { return now_ += 1'000'003; }

 private:
  int64_t now_ = 1'714'564'800'000'000'000;
};

std::string StreamName(int s) { return "account-" + std::to_string(s); }

// Payloads of many sizes: a few bytes to several KiB (the largest go to
// LMDB overflow pages), from a seeded generator.
std::string Payload(std::mt19937_64& rng, size_t size) {
  std::string p(size, '\0');
  for (char& c : p) c = static_cast<char>(rng());
  return p;
}

void WriteStore(const std::string& path) {
  StoreOptions o;
  o.durability = Durability::kNone;
  o.clock = std::make_shared<StepClock>();
  auto store = Store::Open(path, o);
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  std::mt19937_64 rng(42);
  static constexpr size_t kSizes[] = {0, 7, 40, 200, 1000, 3000, 6000};
  for (int seq = 1; seq <= kEventsPerStream; seq += 3) {
    for (int s = 0; s < kStreams; ++s) {
      // Batches of three events: a stream's events lie in runs of the log.
      std::vector<EventData> batch;
      for (int k = 0; k < 3; ++k) {
        std::vector<std::string> tags;
        if ((seq + k) % 2 == 0) tags = {"even", StreamName(s)};
        batch.push_back({"Event" + std::to_string(k),
                         Payload(rng, kSizes[(seq + k + s) % 7]), 1, tags});
      }
      REQUIRE(j.Append(StreamName(s), Expected::Any(), batch).ok());
    }
  }
  for (int s = 0; s < kStreams; ++s) {
    for (uint64_t seq : {10, 20, 30}) {
      REQUIRE((*store)
                  ->snapshots()
                  .Save(StreamName(s), seq,
                        {"Account", 1, Payload(rng, kSizes[(seq + s) % 7])})
                  .ok());
    }
  }
  REQUIRE((*store)->Close().ok());
}

// A stored value: what it is, and where its bytes lie in data.mdb.
struct Value {
  bool snapshot = false;
  std::string stream;
  uint64_t seq = 0;
  uint64_t position = 0;  // of an event
  size_t offset = 0;
  size_t size = 0;
};

uint64_t Big64(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | b[i];
  return v;
}

// Where data.mdb of `path` is mapped in this process, from /proc/self/maps.
const char* MapOf(const std::string& path) {
  const std::string file =
      std::filesystem::canonical(path + "/data.mdb").string();
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    // start-end perms offset dev inode path
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, name;
    in >> range >> perms >> offset >> dev >> inode >> name;
    if (name == file && std::stoull(offset, nullptr, 16) == 0) {
      return reinterpret_cast<const char*>(
          std::stoull(range.substr(0, range.find('-')), nullptr, 16));
    }
  }
  return nullptr;
}

// Reads a closed store through LMDB directly, read-only, with the map's
// address to turn value addresses into file offsets.
class RawStore {
 public:
  explicit RawStore(const std::string& path) {
    REQUIRE(mdb_env_create(&env_) == 0);
    REQUIRE(mdb_env_set_maxdbs(env_, 32) == 0);
    REQUIRE(mdb_env_open(env_, path.c_str(), MDB_RDONLY, 0600) == 0);
    REQUIRE(mdb_env_info(env_, &info_) == 0);
    map_ = MapOf(path);
    REQUIRE(map_ != nullptr);
    REQUIRE(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn_) == 0);
  }
  ~RawStore() {
    mdb_txn_abort(txn_);
    mdb_env_close(env_);
  }
  RawStore(const RawStore&) = delete;
  RawStore& operator=(const RawStore&) = delete;

  MDB_dbi Db(const char* name) {
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn_, name, 0, &dbi) == 0);
    return dbi;
  }
  template <typename F>
  void Walk(const char* db, F&& visit) {
    MDB_cursor* cur = nullptr;
    REQUIRE(mdb_cursor_open(txn_, Db(db), &cur) == 0);
    MDB_val k, v;
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) visit(k, v);
    mdb_cursor_close(cur);
  }
  MDB_val Get(const char* db, MDB_val key) {
    MDB_val v;
    REQUIRE(mdb_get(txn_, Db(db), &key, &v) == 0);
    return v;
  }
  // The value's offset in data.mdb.
  size_t Offset(const MDB_val& v) const {
    const char* at = static_cast<const char*>(v.mv_data);
    REQUIRE(at >= map_);
    REQUIRE(static_cast<size_t>(at - map_) + v.mv_size <= info_.me_mapsize);
    return static_cast<size_t>(at - map_);
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_envinfo info_{};
  MDB_txn* txn_ = nullptr;
  const char* map_ = nullptr;
};

// Every event (through the stream index) and snapshot value of the closed
// store at `path`.
std::vector<Value> FindValues(const std::string& path) {
  RawStore raw(path);
  std::map<uint64_t, std::string> names;
  raw.Walk("names", [&](const MDB_val& k, const MDB_val& v) {
    names[Big64(v.mv_data)].assign(static_cast<const char*>(k.mv_data),
                                   k.mv_size);
  });
  std::vector<Value> values;
  raw.Walk("stream_index", [&](const MDB_val& k, const MDB_val& pos) {
    const MDB_val v = raw.Get("log", pos);
    const auto* kp = static_cast<const char*>(k.mv_data);
    values.push_back(Value{false, names.at(Big64(kp)), Big64(kp + 8),
                           Big64(pos.mv_data), raw.Offset(v), v.mv_size});
  });
  raw.Walk("snapshots", [&](const MDB_val& k, const MDB_val& v) {
    const auto* kp = static_cast<const char*>(k.mv_data);
    values.push_back(Value{true, names.at(Big64(kp)), Big64(kp + 8), 0,
                           raw.Offset(v), v.mv_size});
  });
  return values;
}

// The event records of the closed store at `path` that lie in the log only,
// above its last index flush (as after a crash), and which of them is its
// stream's newest.
std::vector<Value> FindUnindexedValues(const std::string& path,
                                       std::vector<bool>* newest) {
  // Which event each position holds, read before any damage.
  std::map<uint64_t, std::pair<std::string, uint64_t>> events;
  std::map<std::string, uint64_t> heads;
  {
    StoreOptions o;
    o.read_only = true;
    auto store = Store::Open(path, o);
    REQUIRE(store.ok());
    REQUIRE((*store)
                ->journal()
                .ScanAll(0, std::numeric_limits<size_t>::max(),
                         [&](const EventView& e) {
                           events[e.position] = {std::string(e.stream), e.seq};
                           uint64_t& head = heads[std::string(e.stream)];
                           head = std::max(head, e.seq);
                           return true;
                         })
                .ok());
  }
  RawStore raw(path);
  std::string indexed_to_key = "journal.indexed_to";
  const MDB_val meta =
      raw.Get("meta", MDB_val{indexed_to_key.size(), indexed_to_key.data()});
  REQUIRE(meta.mv_size == 8);
  uint64_t indexed_to = 0;
  for (int i = 7; i >= 0; --i) {
    indexed_to =
        indexed_to << 8 | static_cast<const unsigned char*>(meta.mv_data)[i];
  }
  std::vector<Value> values;
  raw.Walk("log", [&](const MDB_val& k, const MDB_val& v) {
    const uint64_t pos = Big64(k.mv_data);
    if (pos <= indexed_to) return;
    const auto& [stream, seq] = events.at(pos);
    values.push_back(Value{false, stream, seq, pos, raw.Offset(v), v.mv_size});
    newest->push_back(seq == heads.at(stream));
  });
  return values;
}

// `text` says "<what> N" for exactly this N (not N0, N1, ...).
bool NamesNumber(const std::string& text, const std::string& what, uint64_t n) {
  const std::string want = what + " " + std::to_string(n);
  for (size_t at = text.find(want); at != std::string::npos;
       at = text.find(want, at + 1)) {
    const size_t end = at + want.size();
    if (end == text.size() ||
        !std::isdigit(static_cast<unsigned char>(text[end]))) {
      return true;
    }
  }
  return false;
}

bool NamesSeq(const std::string& text, uint64_t seq) {
  return NamesNumber(text, "seq", seq);
}

bool NamesStream(const std::string& text, const std::string& stream) {
  return text.find("'" + stream + "'") != std::string::npos;
}

// The library's view of the damaged value `v`: true when every read that
// touches it reports it, naming stream and seq.
bool LibraryDetects(Store& store, const Value& v) {
  bool detected = true;
  if (!v.snapshot) {
    // Reading the stream stops at the damage with kCorruption.
    Status s = store.journal().Scan(v.stream, {},
                                    [](const EventView&) { return true; });
    const std::string msg(s.message());
    CHECK_MESSAGE(s.IsCorruption(), s.ToString());
    CHECK_MESSAGE(NamesStream(msg, v.stream), msg);
    CHECK_MESSAGE(NamesSeq(msg, v.seq), msg);
    detected =
        s.IsCorruption() && NamesStream(msg, v.stream) && NamesSeq(msg, v.seq);
  } else {
    // Snapshots are skipped and reported, never trusted: a load at that
    // seq finds nothing usable and names it; a listing marks it damaged.
    auto load = store.snapshots().LoadLatest(
        v.stream, {.max_seq = v.seq, .min_seq = v.seq});
    REQUIRE(load.ok());
    const bool skipped = !load->snapshot && load->skipped.size() == 1 &&
                         load->skipped[0].seq == v.seq;
    CHECK(skipped);
    auto list = store.snapshots().List(v.stream);
    REQUIRE(list.ok());
    bool listed_damaged = false;
    for (const SnapshotInfo& info : *list) {
      if (info.seq == v.seq) listed_damaged = !info.checksum_ok;
    }
    CHECK(listed_damaged);
    detected = skipped && listed_damaged;
  }
  // VerifyStore reports exactly this record's stream and seq.
  auto report = VerifyStore(store);
  REQUIRE(report.ok());
  bool verified = false;
  for (const VerifyProblem& p : report->problems) {
    verified |= p.stream == v.stream && p.seq == v.seq;
  }
  CHECK_MESSAGE(verified, "VerifyStore did not name the damaged record");
  return detected && verified;
}

#ifdef MEMOIR_CLI
bool CliDetects(const std::string& path, const Value& v) {
  test::CliResult r = test::RunCli({"verify", path});
  const std::string where =
      "stream '" + v.stream + "' seq " + std::to_string(v.seq);
  bool named = false;
  for (const std::string& line : r.Lines()) {
    named |= line.find(where + " ") != std::string::npos ||
             line.find(where + ":") != std::string::npos;
  }
  CHECK_MESSAGE(r.exit_code == 1, (r.out + r.err));
  CHECK_MESSAGE(named, r.out);
  return r.exit_code == 1 && named;
}
#endif

// Flips bits of data.mdb in place, one at a time, and undoes them.
class Flipper {
 public:
  explicit Flipper(const std::string& path)
      : fd_(::open((path + "/data.mdb").c_str(), O_RDWR)) {
    REQUIRE(fd_ >= 0);
  }
  ~Flipper() { ::close(fd_); }
  Flipper(const Flipper&) = delete;
  Flipper& operator=(const Flipper&) = delete;

  // Flips bit `bit` of value `v`.
  void Flip(const Value& v, uint64_t bit) {
    at_ = static_cast<off_t>(v.offset + bit / 8);
    REQUIRE(::pread(fd_, &byte_, 1, at_) == 1);
    const auto flipped = static_cast<unsigned char>(byte_ ^ (1u << (bit % 8)));
    REQUIRE(::pwrite(fd_, &flipped, 1, at_) == 1);
  }
  // Undoes the last flip.
  void Undo() { REQUIRE(::pwrite(fd_, &byte_, 1, at_) == 1); }

 private:
  int fd_;
  off_t at_ = 0;
  unsigned char byte_ = 0;
};

// Appends two events to every stream, three times over, in a child that
// then exits without closing the store, as a crash would: the events lie
// above the last index flush, in the log only.
void AppendThenCrash(const std::string& path) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    StoreOptions o;
    o.durability = Durability::kNone;
    auto store = Store::Open(path, o);
    if (!store.ok()) ::_exit(1);
    std::mt19937_64 rng(43);
    for (int round = 0; round < 3; ++round) {
      for (int s = 0; s < kStreams; ++s) {
        std::vector<EventData> batch = {{"Late", Payload(rng, 20), 1, {"late"}},
                                        {"Late", Payload(rng, 700), 1, {}}};
        if (!(*store)
                 ->journal()
                 .Append(StreamName(s), Expected::Any(), batch)
                 .ok()) {
          ::_exit(1);
        }
      }
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

// Every event of the store at `path` as a reader sees it.
struct Event {
  std::string stream;
  uint64_t seq, position;
  std::string type, payload;
  bool operator==(const Event&) const = default;
};
std::vector<Event> AllEvents(const std::string& path) {
  StoreOptions o;
  o.read_only = true;
  auto store = Store::Open(path, o);
  REQUIRE(store.ok());
  std::vector<Event> out;
  Status s = (*store)->journal().ScanAll(
      0, std::numeric_limits<size_t>::max(), [&](const EventView& e) {
        out.push_back({std::string(e.stream), e.seq, e.position,
                       std::string(e.type), std::string(e.payload)});
        return true;
      });
  CHECK_MESSAGE(s.ok(), s.message());
  return out;
}

std::string ReadAll(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

void WriteAll(const std::string& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

uint64_t EnvNumber(const char* name, uint64_t otherwise) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : otherwise;
}

}  // namespace

TEST_CASE(
    "every single bit flip in a stored event or snapshot value is detected "
    "by the library and by memoir verify, naming stream and seq") {
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  WriteStore(path);
  std::vector<Value> kinds[2];  // events, snapshots
  for (Value& v : FindValues(path)) kinds[v.snapshot].push_back(v);
  REQUIRE(kinds[0].size() == kStreams * kEventsPerStream);
  REQUIRE(kinds[1].size() == kStreams * 3);

  const uint64_t flips = EnvNumber("MEMOIR_BITFLIPS", kDefaultFlips);
  const uint64_t seed = EnvNumber("MEMOIR_BITFLIP_SEED", 8);
  std::mt19937_64 rng(seed);
  StoreOptions o;
  o.read_only = true;
  auto store = Store::Open(path, o);
  REQUIRE(store.ok());
  // Before any flip: nothing to report.
  REQUIRE(VerifyStore(**store)->ok());
  Flipper flipper(path);
  uint64_t made = 0, by_library = 0, cli_runs = 0, by_cli = 0;
  size_t event_flips = 0, snapshot_flips = 0;
  for (uint64_t trial = 0; trial < flips; ++trial) {
    const std::vector<Value>& of_kind = kinds[trial % 2];
    const Value& v = of_kind[trial / 2 % of_kind.size()];
    const uint64_t bit = rng() % (v.size * 8);
    CAPTURE(trial);
    CAPTURE(v.stream);
    CAPTURE(v.seq);
    CAPTURE(v.snapshot);
    CAPTURE(bit);
    flipper.Flip(v, bit);
    ++made;
    (v.snapshot ? snapshot_flips : event_flips) += 1;
    by_library += LibraryDetects(**store, v) ? 1 : 0;
#ifdef MEMOIR_CLI
    // One in kCliEvery flips, as many in events as in snapshots.
    if (trial % (2 * kCliEvery) < 2) {
      ++cli_runs;
      by_cli += CliDetects(path, v) ? 1 : 0;
    }
#endif
    flipper.Undo();
  }
  // Every flip was undone: the store is whole again.
  CHECK(VerifyStore(**store)->ok());
  CHECK(by_library == made);
  CHECK(by_cli == cli_runs);
  MESSAGE("bit flips: made ", made, " (", event_flips, " in events, ",
          snapshot_flips, " in snapshots, seed ", seed,
          "), detected by the library ", by_library, ", by memoir verify ",
          by_cli, " (of ", cli_runs, " flips it was run on, 1 in ", kCliEvery,
          ")");
}

// Events above the last index flush (up to StoreOptions::index_flush_events
// of them after a crash) are in the log only: no index says which stream
// and seq a record holds, only the record itself. Damage to a stream's
// newest such event leaves no gap, so readers and verify learn whose it is
// from the record: a single flipped bit is found by trying each (the
// checksum then matches), which proves the claim. Every flip must be
// reported by a reader of its stream and by verify, naming stream and seq,
// and must not stop readers of the other streams.
TEST_CASE(
    "every single bit flip in an event record above the last index flush, "
    "as after a crash, is reported by readers and verify naming stream and "
    "seq") {
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  WriteStore(path);
  AppendThenCrash(path);
  std::vector<bool> newest;
  const std::vector<Value> values = FindUnindexedValues(path, &newest);
  REQUIRE(values.size() == kStreams * 6);

  const uint64_t flips = EnvNumber("MEMOIR_BITFLIPS", kDefaultFlips) / 4;
  std::mt19937_64 rng(EnvNumber("MEMOIR_BITFLIP_SEED", 8) + 1);
  Flipper flipper(path);
  uint64_t made = 0, in_newest = 0, by_verify = 0, cli_runs = 0, by_cli = 0;
  uint64_t named_by_readers = 0, named_by_verify = 0;
  for (uint64_t trial = 0; trial < flips; ++trial) {
    const size_t i = trial % values.size();
    const Value& v = values[i];
    const uint64_t bit = rng() % (v.size * 8);
    CAPTURE(trial);
    CAPTURE(v.stream);
    CAPTURE(v.seq);
    CAPTURE(v.position);
    CAPTURE(bit);
    flipper.Flip(v, bit);
    ++made;
    in_newest += newest[i] ? 1 : 0;
    {
      // Opened after the flip: readers rebuild the tail from the log.
      StoreOptions o;
      o.read_only = true;
      auto store = Store::Open(path, o);
      REQUIRE(store.ok());
      Status s = (*store)->journal().Scan(
          v.stream, {}, [](const EventView&) { return true; });
      const std::string msg(s.message());
      const bool reader_named = s.IsCorruption() &&
                                NamesStream(msg, v.stream) &&
                                NamesSeq(msg, v.seq);
      CHECK_MESSAGE(reader_named, msg);
      named_by_readers += reader_named ? 1 : 0;
      // The damage is proven to be v's: every other stream reads whole.
      for (int other = 0; other < kStreams; ++other) {
        if (StreamName(other) == v.stream) continue;
        Status rest = (*store)->journal().Scan(
            StreamName(other), {}, [](const EventView&) { return true; });
        CHECK_MESSAGE(rest.ok(), rest.message());
      }
      auto report = VerifyStore(**store);
      REQUIRE(report.ok());
      bool at_position = false, named = false;
      for (const VerifyProblem& p : report->problems) {
        at_position |= p.position == v.position;
        named |= p.stream == v.stream && p.seq == v.seq;
      }
      CHECK(at_position);
      CHECK(named);
      by_verify += at_position ? 1 : 0;
      named_by_verify += named ? 1 : 0;
    }
#ifdef MEMOIR_CLI
    // One in kCliEvery flips, shifting by one value per cycle so that
    // every value gets its turn.
    if ((i + trial / values.size()) % kCliEvery == 0) {
      ++cli_runs;
      test::CliResult r = test::RunCli({"verify", path});
      const bool found = r.exit_code == 1 &&
                         NamesNumber(r.out, "position", v.position) &&
                         NamesStream(r.out, v.stream) && NamesSeq(r.out, v.seq);
      CHECK_MESSAGE(found, (r.out + r.err));
      by_cli += found ? 1 : 0;
    }
#endif
    flipper.Undo();
  }
  CHECK(by_verify == made);
  CHECK(named_by_verify == made);
  CHECK(named_by_readers == made);
  CHECK(by_cli == cli_runs);
  MESSAGE("bit flips above the last index flush: made ", made, " (", in_newest,
          " in a stream's newest event); reported naming stream and seq by "
          "a reader of the stream ",
          named_by_readers, ", by VerifyStore ", named_by_verify,
          " (at their position: ", by_verify, "), by memoir verify ", by_cli,
          " (of ", cli_runs, " flips it was run on)");
}

}  // namespace memoir

namespace memoir {

// RepairStore and `memoir repair`: a record damaged by one flipped bit is
// found by trying each bit (every bit of a record of up to 4 KiB, the first
// 64 bytes of a larger one) and rewritten exactly as it was; the store then
// reads as written, verifies clean and opens for writing again. A flip the
// repair cannot reach is listed and left alone. Each trial starts from the
// undamaged file (a repair moves the record to a new page). A tenth as many
// trials as the other tests make flips; `memoir repair` runs on 1 in 8.
TEST_CASE(
    "a single bit flip in an event record, above or below the last index "
    "flush, is repaired exactly and the store is whole and writable again") {
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  WriteStore(path);
  AppendThenCrash(path);
  std::vector<Value> values;
  for (Value& v : FindValues(path)) {
    if (!v.snapshot) values.push_back(v);
  }
  std::vector<bool> newest;
  for (Value& v : FindUnindexedValues(path, &newest)) values.push_back(v);
  const std::vector<Event> written = AllEvents(path);
  const std::string data = path + "/data.mdb";
  const std::string pristine = ReadAll(data);

  const uint64_t trials = EnvNumber("MEMOIR_BITFLIPS", kDefaultFlips) / 10;
  std::mt19937_64 rng(EnvNumber("MEMOIR_BITFLIP_SEED", 8) + 2);
  uint64_t repaired = 0, left = 0, cli_runs = 0;
  for (uint64_t trial = 0; trial < trials; ++trial) {
    const Value& v = values[trial * 7 % values.size()];
    const uint64_t bit = rng() % (v.size * 8);
    CAPTURE(trial);
    CAPTURE(v.stream);
    CAPTURE(v.seq);
    CAPTURE(v.position);
    CAPTURE(v.size);
    CAPTURE(bit);
    WriteAll(data, pristine);
    {
      Flipper flipper(path);
      flipper.Flip(v, bit);
    }
    const bool reachable = v.size <= 4096 || bit < 64 * 8;
#ifdef MEMOIR_CLI
    if (trial % 8 == 0) {
      ++cli_runs;
      test::CliResult r = test::RunCli({"repair", path});
      const std::string where = "stream '" + v.stream + "' seq " +
                                std::to_string(v.seq) + " (position " +
                                std::to_string(v.position) + ")";
      if (reachable) {
        CHECK_MESSAGE(r.exit_code == 0, (r.out + r.err));
        CHECK_MESSAGE(r.out.find("repaired: " + where) != std::string::npos,
                      r.out);
      } else {
        CHECK_MESSAGE(r.exit_code == 1, (r.out + r.err));
        CHECK_MESSAGE(r.out.find("left: ") != std::string::npos, r.out);
      }
    } else
#endif
    {
      auto report = RepairStore(path);
      REQUIRE_MESSAGE(report.ok(), report.status().message());
      if (reachable) {
        REQUIRE(report->repaired.size() == 1);
        CHECK(report->unrepaired.empty());
        const DamagedRecord& d = report->repaired[0];
        CHECK(d.stream == v.stream);
        CHECK(d.seq == v.seq);
        CHECK(d.position == v.position);
      } else {
        CHECK(report->repaired.empty());
        REQUIRE(report->unrepaired.size() == 1);
        CHECK(report->unrepaired[0].position == v.position);
      }
    }
    if (!reachable) {
      ++left;
      continue;
    }
    ++repaired;
    // Exactly as written, clean, and a writer opens it.
    CHECK(AllEvents(path) == written);
    {
      StoreOptions o;
      o.read_only = true;
      auto store = Store::Open(path, o);
      REQUIRE(store.ok());
      auto report = VerifyStore(**store);
      REQUIRE(report.ok());
      CHECK(report->ok());
    }
    auto writer = Store::Open(path);
    CHECK_MESSAGE(writer.ok(), writer.status().message());
  }
  MESSAGE("repair: ", trials, " single bit flips in event records (",
          values.size(), " records, ", newest.size(),
          " above the last index flush); repaired exactly ", repaired,
          ", out of the repair's reach (past the first 64 bytes of a record "
          "over 4 KiB) and left as they were ",
          left, "; memoir repair ran on ", cli_runs);
}

}  // namespace memoir
