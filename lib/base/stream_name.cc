// Stream-name validation (memoir/journal.h), shared by the journal and the
// snapshot store, which both key their records by stream name.
#include <fmt/format.h>

#include "memoir/detail/text.h"
#include "memoir/journal.h"

namespace memoir {

Status ValidateStreamName(std::string_view name) {
  if (name.empty() || name.size() > kMaxStreamNameBytes) {
    return Status::InvalidArgument(fmt::format(
        "a stream name must be 1 to {} bytes of UTF-8, got {} bytes",
        kMaxStreamNameBytes, name.size()));
  }
  for (size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument(fmt::format(
          "stream name contains control character 0x{:02x} at byte {}", c, i));
    }
    const size_t len = detail::Utf8SequenceLength(name, i);
    if (len == 0) {
      return Status::InvalidArgument(
          fmt::format("stream name is not valid UTF-8 at byte {}", i));
    }
    i += len;
  }
  return Status::OK();
}

}  // namespace memoir
