// make_corpus DIR: writes the fuzz targets' seed corpora under DIR (one
// directory per target, tests/fuzz/corpus in the repository) from real
// stores: the CLI tests' bank store (tests/tools/bank_store.h) and a store
// of unusual events and snapshots (no tags, many tags, empty and large
// payloads, long type names), both written with a fixed clock so that the
// corpora are reproducible. Existing files in the target directories are
// replaced. See tests/fuzz/README.md.
#include <fmt/format.h>
#include <lmdb.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "journal/envelope_generated.h"
#include "journal/record.h"
#include "memoir/store.h"
#include "snapshot/snapshot_record.h"
#include "storage/bytes.h"
#include "storage/checksum.h"
#include "tools/bank_store.h"

namespace memoir {
namespace {

namespace fs = std::filesystem;
using internal::Checksum;
using internal::GetBig64;
using internal::PutLittle64;

class FixedClock : public Clock {
 public:
  int64_t NowNanos() override { return now_ += 1'000'000'007; }

 private:
  int64_t now_ = 1'714'564'800'000'000'000;  // 2024-05-01T12:00:00Z
};

void Check(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.ToString());
}

std::unique_ptr<Store> OpenStore(const std::string& path) {
  StoreOptions o;
  o.durability = Durability::kNone;
  o.clock = std::make_shared<FixedClock>();
  auto store = Store::Open(path, o);
  Check(store.status());
  return std::move(store).value();
}

void WriteOddities(const std::string& path) {
  std::unique_ptr<Store> store = OpenStore(path);
  Journal& j = store->journal();
  std::string binary;
  for (int i = 0; i < 3000; ++i) binary.push_back(static_cast<char>(i * 7));
  std::vector<std::string> many_tags;
  for (int i = 0; i < 6; ++i) many_tags.push_back(fmt::format("tag-{}", i));
  Check(j.Append("odd", Expected::Any(), {{"Empty", "", 1, {}}}).status());
  Check(j.Append("odd", Expected::Any(),
                 {{std::string(255, 'T'), "x", 7, many_tags}})
            .status());
  Check(j.Append("odd", Expected::Any(), {{"Blob", binary, 2, {"blob"}}})
            .status());
  Check(j.Append("odd", Expected::Any(),
                 {{"Text",
                   "tab\there\nnewline \x1b[31mred\x1b[0m caf\xc3\xa9",
                   1,
                   {"t\xc3\xa9g"}}})
            .status());
  Check(j.Append("other", Expected::Any(),
                 {{"A", "1", 1, {"b"}}, {"B", "22", 1, {"b"}}})
            .status());
  // Layout 2: ids, causation, correlation and metadata, with and without
  // tags.
  EventData with_ids{"Linked", "abc", 1, {"t"}};
  with_ids.id = Uuid{0x0190f5b27c1e7a3dULL, 0x9b1f3c2d4e5f6a7bULL};
  with_ids.causation_id = Uuid{1, 2};
  with_ids.correlation_id = Uuid{3, 4};
  with_ids.metadata = std::string("user=7\0trace", 12);
  EventData id_only{"IdOnly", "", 1, {}};
  id_only.id = Uuid{5, 6};
  Check(j.Append("linked", Expected::Any(), {with_ids}).status());
  Check(j.Append("linked", Expected::Any(), {id_only}).status());
  Check(store->snapshots().Save("odd", 1, {"Empty", 1, ""}));
  Check(store->snapshots().Save("odd", 3, {"Blob", 3, binary.substr(0, 2000)}));
  Check(store->snapshots().Save("other", 2, {std::string(255, 'S'), 1, "s"}));
  Check(store->snapshots().Save("linked", 2,
                                {"Linked", 1, "s", std::string("m\0eta", 5)}));
  Check(store->Close());
}

// A record as earlier versions wrote events: through a FlatBufferBuilder,
// not in the canonical layout, so the verifier path has seeds too.
std::string BuilderEventRecord() {
  flatbuffers::FlatBufferBuilder b;
  auto type = b.CreateString("Deposited");
  auto payload = b.CreateVector(reinterpret_cast<const uint8_t*>("abc"), 3);
  auto tags = b.CreateVectorOfStrings({"bank", "legacy"});
  auto env = fb::CreateEventEnvelope(b, 3, 2, 11, 1'714'564'800'000'000'000,
                                     type, 1, payload, tags);
  b.Finish(env, fb::EventEnvelopeIdentifier());
  std::string record(8, '\0');
  record.append(reinterpret_cast<const char*>(b.GetBufferPointer()),
                b.GetSize());
  PutLittle64(record.data(), Checksum(record.data() + 8, record.size() - 8));
  return record;
}

// Every (key, value) of the named databases of a closed store.
using Table = std::vector<std::pair<std::string, std::string>>;
std::map<std::string, Table> Dump(const std::string& path) {
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
      mdb_env_open(env, path.c_str(), MDB_RDONLY, 0600) != 0) {
    throw std::runtime_error("cannot open " + path);
  }
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0) {
    throw std::runtime_error("cannot read " + path);
  }
  std::map<std::string, Table> out;
  for (const char* name :
       {"log", "snapshots", "streams", "stream_index", "tag_index", "names"}) {
    MDB_dbi dbi;
    if (mdb_dbi_open(txn, name, 0, &dbi) != 0) continue;
    MDB_cursor* cur = nullptr;
    mdb_cursor_open(txn, dbi, &cur);
    MDB_val k, v;
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
      out[name].emplace_back(
          std::string(static_cast<const char*>(k.mv_data), k.mv_size),
          std::string(static_cast<const char*>(v.mv_data), v.mv_size));
    }
    mdb_cursor_close(cur);
  }
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return out;
}

class Corpus {
 public:
  Corpus(const fs::path& root, const std::string& target)
      : dir_(root / target) {
    fs::create_directories(dir_);
    for (const fs::directory_entry& e : fs::directory_iterator(dir_)) {
      if (e.is_regular_file()) fs::remove(e.path());
    }
  }
  ~Corpus() {
    fmt::print("{}: {} inputs, {} bytes\n", dir_.string(), count_, bytes_);
  }
  void Add(std::string_view input) {
    const fs::path file =
        dir_ / fmt::format("{:016x}", Checksum(input.data(), input.size()));
    if (fs::exists(file)) return;
    std::ofstream out(file, std::ios::binary);
    out.write(input.data(), static_cast<std::streamsize>(input.size()));
    if (!out) throw std::runtime_error("cannot write " + file.string());
    ++count_;
    bytes_ += input.size();
  }

 private:
  fs::path dir_;
  size_t count_ = 0, bytes_ = 0;
};

std::string U64(uint64_t v) {
  std::string s(8, '\0');
  PutLittle64(s.data(), v);
  return s;
}

// One cli_printer input (cli_printer_fuzz.cc): a row of `stream`.
std::string PrinterInput(uint8_t flags, const std::string& stream,
                         int64_t timestamp_ns, uint64_t seq, uint64_t position,
                         std::string_view type, uint32_t schema_version,
                         const std::vector<std::string_view>& tags,
                         std::string_view payload) {
  std::string in(1, static_cast<char>(flags));
  in += U64(static_cast<uint64_t>(timestamp_ns)) + U64(seq) + U64(position);
  in += U64(schema_version).substr(0, 4);
  in += static_cast<char>(stream.size()) + stream;
  in += static_cast<char>(std::min<size_t>(type.size(), 255));
  in += type.substr(0, 255);
  in += static_cast<char>(tags.size());
  for (std::string_view t : tags) {
    in += static_cast<char>(t.size());
    in += t;
  }
  in += payload;
  return in;
}

std::string EventRow(uint8_t flags, const std::string& stream,
                     const std::string& value) {
  internal::AlignedScratch scratch;
  internal::DecodedEvent d;
  Check(internal::DecodeEventRecord(value.data(), value.size(), &scratch, &d));
  return PrinterInput(flags, stream, d.timestamp_ns, d.seq, d.position, d.type,
                      d.schema_version, d.tag_list, d.payload);
}

std::string SnapshotRow(uint8_t flags, const std::string& stream,
                        const std::string& key, const std::string& value) {
  internal::AlignedScratch scratch;
  internal::DecodedSnapshot d;
  Check(internal::DecodeSnapshotRecord(value.data(), value.size(),
                                       GetBig64(key.data()),
                                       GetBig64(key.data() + 8), &scratch, &d));
  return PrinterInput(flags, stream, d.timestamp_ns, d.seq, 0, d.type,
                      d.schema_version, {}, d.payload);
}

void Generate(const fs::path& root) {
  const std::string tmp =
      (fs::temp_directory_path() / fmt::format("memoir-corpus-{}", getpid()))
          .string();
  fs::create_directories(tmp);
  {
    std::unique_ptr<Store> bank = OpenStore(tmp + "/bank");
    test::FillBank(*bank);
    Check(bank->Close());
  }
  WriteOddities(tmp + "/odd");

  Corpus events(root, "event_record"), snapshots(root, "snapshot_record"),
      keys(root, "keys"), printer(root, "cli_printer");
  events.Add(BuilderEventRecord());
  int variant = 0;
  for (const char* store : {"bank", "odd"}) {
    std::map<std::string, Table> t = Dump(tmp + "/" + store);
    std::map<uint64_t, std::string> names;
    for (const auto& [name, id] : t["names"]) names[GetBig64(id.data())] = name;

    std::string log_keys(1, '\0'), tail_script(1, '\3');
    for (const auto& [k, v] : t["log"]) {
      events.Add(v);
      log_keys += k;
      // Stream id and tags from the canonical envelope, for the tail.
      const uint64_t id = static_cast<uint8_t>(v[8 + 32]);
      tail_script += std::string{
          '\0', static_cast<char>(id), '\0',
          static_cast<char>(v.find("bank") != std::string::npos ? 1 : 2)};
      tail_script += std::string{'\2', static_cast<char>(id), '\0', '\377'};
      tail_script += std::string{'\3', static_cast<char>(id)};
      static constexpr uint8_t kFlags[] = {5, 4, 1, 6, 0, 7, 2, 3};
      printer.Add(EventRow(kFlags[variant++ % 8], names[id], v));
    }
    tail_script += std::string{'\1', '\3', '\2', '\1', '\0', '\377'};
    keys.Add(log_keys);
    keys.Add(tail_script);
    std::string index_keys(1, '\0');
    for (const auto& [k, v] : t["stream_index"]) index_keys += k;
    keys.Add(index_keys);
    for (const auto& [k, v] : t["streams"]) keys.Add('\1' + v);
    const Table& tags = t["tag_index"];
    for (size_t i = 0; i + 1 < tags.size(); ++i) {
      if (tags[i].first.size() == tags[i + 1].first.size()) {
        keys.Add('\2' + tags[i].first + tags[i + 1].first);
      }
    }
    for (const auto& [k, v] : t["snapshots"]) {
      snapshots.Add(k + v);
      // A snapshot row (flags 8; 16: it passed its checks).
      static constexpr uint8_t kFlags[] = {24 | 5, 24, 24 | 1, 8 | 1};
      printer.Add(
          SnapshotRow(kFlags[variant % 4], names[GetBig64(k.data())], k, v));
      ++variant;
    }
  }
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace memoir

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  try {
    memoir::Generate(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
