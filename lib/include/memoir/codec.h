// Codecs for events and states: PodCodec (trivially copyable values),
// BytesCodec (raw bytes as a std::string) and VariantCodec (several event
// types as one std::variant). memoir/actor.h includes this header and
// describes what a codec is; memoir/flatbuffers_codec.h adds FlatBuffers
// tables.
#ifndef MEMOIR_CODEC_H_
#define MEMOIR_CODEC_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "memoir/journal.h"
#include "memoir/snapshot_store.h"

namespace memoir {

// A string usable as a template argument: PodCodec<T, "TypeName">.
template <size_t N>
struct FixedString {
  constexpr FixedString(const char (&s)[N]) {  // NOLINT(runtime/explicit)
    std::copy_n(s, N, chars);
  }
  constexpr std::string_view view() const { return {chars, N - 1}; }
  char chars[N];
};

// Codec for trivially copyable values: the payload is the object's bytes.
// Decode checks the type name, version and size.
template <typename T, FixedString kType, uint32_t kVersion = 1>
struct PodCodec {
  static_assert(std::is_trivially_copyable_v<T>,
                "PodCodec<T> stores the bytes of T, so T must be trivially "
                "copyable and hold no pointers. For a type with std::string, "
                "std::vector or other owning members, use BytesCodec for a "
                "plain std::string, memoir::FlatBufferCodec "
                "(memoir/flatbuffers_codec.h) for a FlatBuffers table, or "
                "write your own codec: Encode and Decode for events, "
                "EncodeState and Decode for state (see the top of "
                "memoir/actor.h)");
  using Value = T;
  static constexpr std::string_view kTypeName = kType.view();
  static constexpr uint32_t kSchemaVersion = kVersion;
  static std::string Bytes(const T& value) {
    std::string out(sizeof(T), '\0');
    std::memcpy(out.data(), &value, sizeof(T));
    return out;
  }
  static T FromBytes(std::string_view type, uint32_t version,
                     std::string_view payload) {
    if (type != kType.view() || version != kVersion ||
        payload.size() != sizeof(T)) {
      throw std::runtime_error("PodCodec<" + std::string(kType.view()) +
                               "> cannot read type '" + std::string(type) +
                               "' version " + std::to_string(version) + " of " +
                               std::to_string(payload.size()) + " bytes");
    }
    T value;
    std::memcpy(&value, payload.data(), sizeof(T));
    return value;
  }
  // As an event codec.
  static EventData Encode(const T& value) {
    return EventData{std::string(kType.view()), Bytes(value), kVersion, {}};
  }
  static T Decode(std::string_view type, uint32_t version,
                  std::string_view payload) {
    return FromBytes(type, version, payload);
  }
  // As a state codec.
  static SnapshotData EncodeState(const T& value) {
    return SnapshotData{std::string(kType.view()), kVersion, Bytes(value)};
  }
};

// Codec for raw bytes (std::string): the payload is the string itself.
template <FixedString kType, uint32_t kVersion = 1>
struct BytesCodec {
  static EventData Encode(const std::string& value) {
    return EventData{std::string(kType.view()), value, kVersion, {}};
  }
  static SnapshotData EncodeState(const std::string& value) {
    return SnapshotData{std::string(kType.view()), kVersion, value};
  }
  static std::string Decode(std::string_view type, uint32_t version,
                            std::string_view payload) {
    if (type != kType.view() || version != kVersion) {
      throw std::runtime_error("BytesCodec<" + std::string(kType.view()) +
                               "> cannot read type '" + std::string(type) +
                               "' version " + std::to_string(version));
    }
    return std::string(payload);
  }
};

// Several event types as one std::variant, each stored under its own codec's
// type name: Encode picks the codec of the alternative held, Decode the
// codec whose type name the stored event carries; Decode throws
// std::runtime_error for a type no codec has. Each codec needs Value,
// kTypeName, kSchemaVersion, Bytes and FromBytes (PodCodec here and
// FlatBufferCodec in memoir/flatbuffers_codec.h have them). This header
// does not depend on FlatBuffers.
template <typename... Codecs>
struct VariantCodec {
  using Value = std::variant<typename Codecs::Value...>;

  static EventData Encode(const Value& value) {
    return EncodeAt(value, std::index_sequence_for<Codecs...>{});
  }
  static Value Decode(std::string_view type, uint32_t version,
                      std::string_view payload) {
    return DecodeAt(type, version, payload,
                    std::index_sequence_for<Codecs...>{});
  }

 private:
  template <size_t... I>
  static EventData EncodeAt(const Value& value, std::index_sequence<I...>) {
    EventData out;
    (void)((value.index() == I
                ? (out = EventData{std::string(Codecs::kTypeName),
                                   Codecs::Bytes(std::get<I>(value)),
                                   Codecs::kSchemaVersion,
                                   {}},
                   true)
                : false) ||
           ...);
    return out;
  }
  template <size_t... I>
  static Value DecodeAt(std::string_view type, uint32_t version,
                        std::string_view payload, std::index_sequence<I...>) {
    std::optional<Value> out;
    (void)((type == Codecs::kTypeName
                ? (out.emplace(std::in_place_index<I>,
                               Codecs::FromBytes(type, version, payload)),
                   true)
                : false) ||
           ...);
    if (!out) {
      throw std::runtime_error("no codec for event type '" + std::string(type) +
                               "'");
    }
    return std::move(*out);
  }
};

}  // namespace memoir

#endif  // MEMOIR_CODEC_H_
