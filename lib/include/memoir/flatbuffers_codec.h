// Codecs for actors whose events and state are FlatBuffers tables.
// VariantCodec, which combines them, is in memoir/actor.h (included here),
// so that it is usable without FlatBuffers too.
//
// Opt-in: this header includes <flatbuffers/flatbuffers.h>, so only
// programs that already use FlatBuffers include it (the core headers stay
// free of it). Generate the tables with `flatc --cpp --gen-object-api`.
//
//   // bank.fbs: table Deposited { amount: long; }  table Withdrawn { ... }
//   using DepositedCodec = memoir::FlatBufferCodec<bank::DepositedT,
//                                                  "Deposited">;
//   using WithdrawnCodec = memoir::FlatBufferCodec<bank::WithdrawnT,
//                                                  "Withdrawn">;
//   using EventCodec = memoir::VariantCodec<DepositedCodec, WithdrawnCodec>;
//   // Event = EventCodec::Value = std::variant<DepositedT, WithdrawnT>
//
// Every Decode runs the FlatBuffers verifier on the payload before
// touching it and throws std::runtime_error on bytes it cannot read (the
// runtime turns that into a recovery error naming the seq).
//
// Thread safety: stateless; safe from any thread.
#ifndef MEMOIR_FLATBUFFERS_CODEC_H_
#define MEMOIR_FLATBUFFERS_CODEC_H_

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "memoir/actor.h"

namespace memoir {

// One FlatBuffers table, through its object-API type T (e.g. bank::DepositedT),
// stored under type name kType at schema version kVersion.
template <typename T, FixedString kType, uint32_t kVersion = 1>
struct FlatBufferCodec {
  using Value = T;
  using Table = typename T::TableType;
  static constexpr std::string_view kTypeName = kType.view();
  static constexpr uint32_t kSchemaVersion = kVersion;

  static std::string Bytes(const T& value) {
    flatbuffers::FlatBufferBuilder b(128);
    b.Finish(Table::Pack(b, &value));
    return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()),
                       b.GetSize());
  }
  static T FromBytes(std::string_view type, uint32_t version,
                     std::string_view payload) {
    if (type != kTypeName || version != kVersion) {
      throw std::runtime_error("FlatBufferCodec<" + std::string(kTypeName) +
                               " v" + std::to_string(kVersion) +
                               "> cannot read type '" + std::string(type) +
                               "' version " + std::to_string(version));
    }
    // The verifier asserts on buffers at or over its maximum size.
    if (payload.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
      throw std::runtime_error(std::string(kTypeName) + ": payload too large");
    }
    const auto* data = reinterpret_cast<const uint8_t*>(payload.data());
    flatbuffers::Verifier verifier(data, payload.size());
    if (!verifier.VerifyBuffer<Table>(nullptr)) {
      throw std::runtime_error(std::string(kTypeName) +
                               ": payload fails the FlatBuffers verifier");
    }
    T out;
    flatbuffers::GetRoot<Table>(data)->UnPackTo(&out);
    return out;
  }

  static EventData Encode(const T& value) {
    return EventData{std::string(kTypeName), Bytes(value), kVersion, {}};
  }
  static SnapshotData EncodeState(const T& value) {
    return SnapshotData{std::string(kTypeName), kVersion, Bytes(value)};
  }
  static T Decode(std::string_view type, uint32_t version,
                  std::string_view payload) {
    return FromBytes(type, version, payload);
  }
};

}  // namespace memoir

#endif  // MEMOIR_FLATBUFFERS_CODEC_H_
