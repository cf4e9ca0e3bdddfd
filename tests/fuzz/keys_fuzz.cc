// Fuzz target: the journal's key and row codecs (journal/layout.h,
// storage/bytes.h) and the unindexed tail's index (journal/tail_index.h).
//
// Input: a selector byte, then the bytes for one codec:
//   0  fixed-width keys: log keys (position u64) and stream_index and
//      snapshot keys (stream id u64 ++ seq u64), big-endian. Every 8- and
//      16-byte window decodes and re-encodes to the same bytes, and two
//      keys compare as bytes (LMDB's order) as their numbers compare.
//   1  a stream row (checksum ++ fixed fields ++ name). Decoded as it is and
//      with its checksum recomputed; an accepted row re-encodes to the same
//      bytes (but for flag bits the format does not define) and decodes
//      again to the same row.
//   2  two tag_index keys (tag ++ 0x00 ++ position u64), the halves of the
//      rest. A key that parses as verify.cc parses it re-encodes to the same
//      bytes, and two keys compare as bytes as (tag, position) compares, so
//      a cursor walk from tag ++ 0x00 meets the tag's positions in order.
//   3  a script of operations on a TailIndex (its first 1 KiB), checked
//      against a plain list of entries after every step.
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "journal/layout.h"
#include "journal/stream_row.h"
#include "journal/tail_index.h"
#include "storage/bytes.h"
#include "storage/checksum.h"

namespace memoir::internal {
namespace {

int Sign(int v) { return (v > 0) - (v < 0); }

template <typename T>
int Compare(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

void CheckFixedKeys(std::string_view in) {
  for (size_t at = 0; at + 8 <= in.size(); at += 8) {
    const uint64_t v = GetBig64(in.data() + at);
    FUZZ_CHECK(std::string_view(Key64(v).bytes, 8) == in.substr(at, 8));
    if (at + 16 <= in.size()) {
      const uint64_t w = GetBig64(in.data() + at + 8);
      FUZZ_CHECK(std::string_view(Key128(v, w).bytes, 16) == in.substr(at, 16));
      FUZZ_CHECK(Sign(std::memcmp(Key64(v).bytes, Key64(w).bytes, 8)) ==
                 Compare(v, w));
    }
    if (at + 32 <= in.size()) {
      const auto a = std::make_tuple(v, GetBig64(in.data() + at + 8));
      const auto b = std::make_tuple(GetBig64(in.data() + at + 16),
                                     GetBig64(in.data() + at + 24));
      const Key128 ka(std::get<0>(a), std::get<1>(a));
      const Key128 kb(std::get<0>(b), std::get<1>(b));
      FUZZ_CHECK(Sign(std::memcmp(ka.bytes, kb.bytes, 16)) == Compare(a, b));
    }
  }
}

bool SameRow(const StreamRow& a, const StreamRow& b) {
  return a.head == b.head && a.deleted_to == b.deleted_to &&
         a.event_count == b.event_count && a.created_ns == b.created_ns &&
         a.last_write_ns == b.last_write_ns && a.tombstone == b.tombstone &&
         a.name == b.name;
}

void CheckStreamRow(std::string_view bytes) {
  StreamRow row;
  Status s = StreamRow::Decode(bytes, &row);
  FUZZ_CHECK(s.ok() || s.IsCorruption());
  if (!s.ok()) return;
  std::string encoded = row.Encode();
  FUZZ_CHECK(encoded.size() == bytes.size());
  // Flags other than the tombstone (bit 0 of the u32 at 48) are not
  // defined: a decoder ignores them and an encoder writes them as zero.
  std::string expected(bytes);
  expected[49] = expected[50] = expected[51] = 0;
  expected[48] = static_cast<char>(expected[48] & kStreamRowTombstone);
  PutLittle64(expected.data(),
              Checksum(expected.data() + 8, expected.size() - 8));
  FUZZ_CHECK(encoded == expected);
  StreamRow again;
  FUZZ_CHECK(StreamRow::Decode(encoded, &again).ok());
  FUZZ_CHECK(SameRow(row, again));
}

// A tag_index key as journal/verify.cc accepts it.
bool ParseTagKey(std::string_view key, std::string_view* tag, uint64_t* pos) {
  if (key.size() < 10 || key[key.size() - 9] != '\0' ||
      key.substr(0, key.size() - 9).find('\0') != std::string_view::npos) {
    return false;
  }
  *tag = key.substr(0, key.size() - 9);
  *pos = GetBig64(key.data() + key.size() - 8);
  return true;
}

// A tag_index key as journal_index.cc builds it (FlushTags).
std::string TagKey(std::string_view tag, uint64_t pos) {
  std::string k(tag);
  k.push_back('\0');
  AppendBig64(&k, pos);
  return k;
}

int CompareBytes(std::string_view a, std::string_view b) {
  // As LMDB's default comparison: memcmp, then the shorter first.
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c != 0 ? Sign(c) : Compare(a.size(), b.size());
}

void CheckTagKeys(std::string_view in) {
  const std::string_view a = in.substr(0, in.size() / 2);
  const std::string_view b = in.substr(in.size() / 2);
  std::string_view ta, tb;
  uint64_t pa = 0, pb = 0;
  const bool a_ok = ParseTagKey(a, &ta, &pa);
  const bool b_ok = ParseTagKey(b, &tb, &pb);
  if (a_ok) FUZZ_CHECK(TagKey(ta, pa) == a);
  if (b_ok) FUZZ_CHECK(TagKey(tb, pb) == b);
  if (a_ok && b_ok) {
    FUZZ_CHECK(CompareBytes(a, b) ==
               Compare(std::make_tuple(ta, pa), std::make_tuple(tb, pb)));
    // A walk from ta ++ 0x00 stays on ta's keys until it leaves them.
    const std::string prefix = std::string(ta) + '\0';
    FUZZ_CHECK((b.substr(0, prefix.size()) == prefix) == (ta == tb));
  }
}

// The tail check: a plain list of entries as the model.
struct ModelEntry {
  uint64_t stream;
  TailEntry entry;
  unsigned tag_mask;
};

constexpr const char* kTags[] = {"bank", "large", "security", "b"};

class TailCheck {
 public:
  void Run(std::string_view script) {
    size_t i = 0;
    auto next = [&]() -> uint8_t {
      return i < script.size() ? static_cast<uint8_t>(script[i++]) : 0;
    };
    while (i < script.size()) {
      switch (next() % 5) {
        case 0:
          Add(next() % 8, next() % 4, next() & 0xf);
          break;
        case 1:
          Prune(next());
          break;
        case 2:
          CheckCollect(next() % 8, next(), next());
          break;
        case 3:
          CheckLastSeq(next() % 8);
          break;
        case 4:
          if (next() == 0) {
            tail_.Clear();
            model_.clear();
          }
          break;
      }
      CheckWhole();
    }
  }

 private:
  void Add(uint64_t stream, uint64_t gap, unsigned tag_mask) {
    last_position_ += 1 + gap;
    const TailEntry e{++last_seq_[stream], last_position_,
                      static_cast<int64_t>(last_position_ * 1000)};
    std::vector<std::string_view> tags;
    for (unsigned t = 0; t < 4; ++t) {
      if (tag_mask & (1u << t)) tags.push_back(kTags[t]);
    }
    tail_.Add(stream, e, tags);
    model_.push_back({stream, e, tag_mask});
  }

  // A position near the entries', from one byte.
  uint64_t Near(uint8_t b) const {
    return last_position_ >= 128 ? last_position_ - 128 + b : b;
  }

  void Prune(uint8_t b) {
    const uint64_t to = Near(b);
    tail_.PruneTo(to);
    std::erase_if(model_,
                  [&](const ModelEntry& m) { return m.entry.position <= to; });
    indexed_to_ = std::max(indexed_to_, to);
  }

  void CheckCollect(uint64_t stream, uint8_t after_byte, uint8_t bound_byte) {
    const uint64_t after = Near(after_byte), bound = Near(bound_byte);
    std::vector<TailEntry> got{{7, 7, 7}};  // Collect appends
    tail_.Collect(stream, after, bound, &got);
    std::vector<uint64_t> want_positions{7};
    for (const ModelEntry& m : model_) {
      if (m.stream == stream && m.entry.position > after &&
          m.entry.position <= bound) {
        want_positions.push_back(m.entry.position);
      }
    }
    FUZZ_CHECK(got.size() == want_positions.size());
    for (size_t k = 1; k < got.size(); ++k) {
      FUZZ_CHECK(got[k].position == want_positions[k]);
      FUZZ_CHECK(got[k].seq > got[k - 1].seq || k == 1);
    }
  }

  void CheckLastSeq(uint64_t stream) {
    uint64_t seq = 0;
    const bool found = tail_.LastSeq(stream, &seq);
    const ModelEntry* newest = nullptr;
    for (const ModelEntry& m : model_) {
      if (m.stream == stream) newest = &m;
    }
    FUZZ_CHECK(found == (newest != nullptr));
    if (found) FUZZ_CHECK(seq == newest->entry.seq);
  }

  void CheckWhole() {
    FUZZ_CHECK(tail_.count() == model_.size());
    FUZZ_CHECK(tail_.last_position == last_position_);
    FUZZ_CHECK(tail_.indexed_to == indexed_to_);
    std::map<std::string, std::vector<uint64_t>, std::less<>> tags;
    for (const ModelEntry& m : model_) {
      for (unsigned t = 0; t < 4; ++t) {
        if (m.tag_mask & (1u << t)) tags[kTags[t]].push_back(m.entry.position);
      }
    }
    FUZZ_CHECK(tail_.tags == tags);
    size_t streams = 0;
    tail_.ForEachStream([&](uint64_t id) {
      ++streams;
      FUZZ_CHECK(
          std::any_of(model_.begin(), model_.end(),
                      [&](const ModelEntry& m) { return m.stream == id; }));
    });
    std::vector<uint64_t> ids;
    for (const ModelEntry& m : model_) ids.push_back(m.stream);
    std::sort(ids.begin(), ids.end());
    FUZZ_CHECK(
        streams ==
        static_cast<size_t>(std::unique(ids.begin(), ids.end()) - ids.begin()));
  }

  TailIndex tail_;
  std::vector<ModelEntry> model_;
  std::map<uint64_t, uint64_t> last_seq_;
  uint64_t last_position_ = 0;
  uint64_t indexed_to_ = 0;
};

}  // namespace
}  // namespace memoir::internal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace memoir::internal;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      CheckFixedKeys(in);
      break;
    case 1: {
      CheckStreamRow(in);
      if (in.size() >= 8) {
        std::string sealed(in);
        PutLittle64(sealed.data(),
                    Checksum(sealed.data() + 8, sealed.size() - 8));
        CheckStreamRow(sealed);
      }
      break;
    }
    case 2:
      CheckTagKeys(in);
      break;
    case 3:
      // Each step checks the whole index: long scripts would be slow to
      // run and no more telling.
      TailCheck().Run(in.substr(0, 1024));
      break;
  }
  return 0;
}
