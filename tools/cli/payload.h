// Payloads for people: JSON through the application's FlatBuffers schema
// when one is given and the payload verifies as the table its type names,
// otherwise a short preview (format.h).
#ifndef MEMOIR_TOOLS_CLI_PAYLOAD_H_
#define MEMOIR_TOOLS_CLI_PAYLOAD_H_

#include <flatbuffers/idl.h>
#include <flatbuffers/reflection.h>

#include <memory>
#include <string>
#include <string_view>

#include "memoir/result.h"

namespace memoir::cli {

class Schema {
 public:
  // Loads a schema from `path`: FlatBuffers IDL (.fbs, with includes
  // resolved beside it) or a binary schema (.bfbs, as `flatc -b --schema`
  // writes). kInvalidArgument says why it cannot be used.
  static Result<std::unique_ptr<Schema>> Load(const std::string& path);

  // The table the event type `type` names: its fully qualified name
  // ("bank.Deposited") or, when unambiguous, its bare name ("Deposited").
  const reflection::Object* Table(std::string_view type) const;

  // `payload` as one line of JSON. False with *why set when the type is
  // not in the schema or the payload does not verify as that table.
  bool ToJson(std::string_view type, std::string_view payload,
              std::string* json, std::string* why);

 private:
  Schema() = default;
  flatbuffers::Parser parser_;
  std::string bfbs_;
  const reflection::Schema* reflection_ = nullptr;
};

// How a payload shows in a table and in --json lines.
struct RenderedPayload {
  std::string cell;  // for a table: JSON, or a preview
  std::string json;  // valid JSON when the schema decoded it, else empty
  std::string why;   // why the schema did not decode it, when it was tried
};

RenderedPayload Render(Schema* schema, std::string_view type,
                       std::string_view payload);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_PAYLOAD_H_
