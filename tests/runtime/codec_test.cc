// The codec helpers: round trips, and bytes they must refuse.
#include <doctest/doctest.h>

#include <string>

#include "codec_test_generated.h"
#include "memoir/actor.h"
#include "memoir/flatbuffers_codec.h"

namespace memoir {
namespace {

using NoteCodec = FlatBufferCodec<codec_test::NoteT, "Note", 2>;
using TallyCodec = FlatBufferCodec<codec_test::TallyT, "Tally">;
using Both = VariantCodec<NoteCodec, TallyCodec>;

TEST_CASE("a FlatBuffers codec round-trips a table and names its type") {
  codec_test::NoteT note;
  note.text = "hello";
  note.stars = 4;
  EventData e = NoteCodec::Encode(note);
  CHECK(e.type == "Note");
  CHECK(e.schema_version == 2);
  codec_test::NoteT back = NoteCodec::Decode(e.type, 2, e.payload);
  CHECK(back.text == "hello");
  CHECK(back.stars == 4);
  SnapshotData s = TallyCodec::EncodeState(codec_test::TallyT{});
  CHECK(s.type == "Tally");
}

TEST_CASE(
    "a FlatBuffers codec refuses bytes that fail the verifier, another "
    "type or another version") {
  codec_test::NoteT note;
  note.text = std::string(100, 'x');
  std::string bytes = NoteCodec::Bytes(note);
  CHECK_THROWS_WITH_AS(NoteCodec::Decode("Note", 2, bytes.substr(0, 10)),
                       doctest::Contains("verifier"), std::runtime_error);
  std::string damaged = bytes;
  damaged[0] = static_cast<char>(0xff);  // root offset far outside
  CHECK_THROWS_AS(NoteCodec::Decode("Note", 2, damaged), std::runtime_error);
  CHECK_THROWS_WITH_AS(NoteCodec::Decode("Note", 1, bytes),
                       doctest::Contains("version 1"), std::runtime_error);
  CHECK_THROWS_AS(NoteCodec::Decode("Tally", 2, bytes), std::runtime_error);
}

TEST_CASE(
    "a variant codec stores each alternative under its own type and "
    "decodes by type") {
  codec_test::TallyT tally;
  tally.count = 3;
  tally.names = {"a", "b"};
  EventData e = Both::Encode(Both::Value(tally));
  CHECK(e.type == "Tally");
  Both::Value v = Both::Decode(e.type, e.schema_version, e.payload);
  REQUIRE(std::holds_alternative<codec_test::TallyT>(v));
  CHECK(std::get<codec_test::TallyT>(v).names.size() == 2);
  CHECK_THROWS_WITH_AS(Both::Decode("Other", 1, e.payload),
                       doctest::Contains("no codec for event type 'Other'"),
                       std::runtime_error);
}

TEST_CASE("the plain codecs check type, version and size") {
  using Pod = PodCodec<int64_t, "N">;
  EventData e = Pod::Encode(42);
  CHECK(Pod::Decode("N", 1, e.payload) == 42);
  CHECK_THROWS_AS(Pod::Decode("N", 1, e.payload.substr(1)), std::runtime_error);
  CHECK_THROWS_AS(Pod::Decode("M", 1, e.payload), std::runtime_error);
  using Bytes = BytesCodec<"Raw", 3>;
  CHECK(Bytes::Decode("Raw", 3, "abc") == "abc");
  CHECK_THROWS_AS(Bytes::Decode("Raw", 2, "abc"), std::runtime_error);
}

}  // namespace
}  // namespace memoir
