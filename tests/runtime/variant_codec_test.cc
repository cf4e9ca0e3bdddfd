// VariantCodec without FlatBuffers: this translation unit includes only
// the core actor headers, and fails to compile if they pull FlatBuffers in.
#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>

#include "memoir/actor.h"
#include "memoir/actor_system.h"

#if defined(FLATBUFFERS_H_) || defined(FLATBUFFERS_BASE_H_)
#error "memoir/actor.h must not include FlatBuffers: VariantCodec is core"
#endif

namespace memoir {
namespace {

struct Deposited {
  int64_t amount = 0;
};
struct Renamed {
  char name[16] = {};
};
using DepositedCodec = PodCodec<Deposited, "Deposited">;
using RenamedCodec = PodCodec<Renamed, "Renamed", 3>;
using EventCodec = VariantCodec<DepositedCodec, RenamedCodec>;

TEST_CASE(
    "a variant of plain codecs stores each alternative under its codec's "
    "type and version, and decodes by type, without FlatBuffers") {
  static_assert(
      std::is_same_v<EventCodec::Value, std::variant<Deposited, Renamed>>);
  Renamed renamed;
  renamed.name[0] = 'z';
  EventData e = EventCodec::Encode(EventCodec::Value(renamed));
  CHECK(e.type == "Renamed");
  CHECK(e.schema_version == 3);
  EventCodec::Value back = EventCodec::Decode(e.type, 3, e.payload);
  REQUIRE(std::holds_alternative<Renamed>(back));
  CHECK(std::get<Renamed>(back).name[0] == 'z');

  EventData d = EventCodec::Encode(EventCodec::Value(Deposited{7}));
  CHECK(d.type == "Deposited");
  CHECK(std::get<Deposited>(EventCodec::Decode("Deposited", 1, d.payload))
            .amount == 7);
  // The alternative's own codec still checks version and size.
  CHECK_THROWS_AS(EventCodec::Decode("Renamed", 1, e.payload),
                  std::runtime_error);
  CHECK_THROWS_WITH_AS(EventCodec::Decode("Withdrawn", 1, d.payload),
                       doctest::Contains("no codec for event type 'Withdrawn'"),
                       std::runtime_error);
}

}  // namespace
}  // namespace memoir
