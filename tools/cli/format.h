// Text for people and for JSON: times, sizes, previews and base64.
#ifndef MEMOIR_TOOLS_CLI_FORMAT_H_
#define MEMOIR_TOOLS_CLI_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memoir::cli {

// ISO 8601 in UTC: "2024-05-01T12:00:00.123Z" (milliseconds), or with all
// nine digits of the nanoseconds when `nanos`. 0 prints as "-".
std::string IsoTime(int64_t ns, bool nanos = false);

// "512 B", "1.5 KiB", "3.0 MiB", ...
std::string Size(uint64_t bytes);

// "1 event", "2 events": `n` and the noun that goes with it.
std::string Plural(uint64_t n, std::string_view one, std::string_view many);

// True when `s` is valid UTF-8 (memoir::detail::Utf8SequenceLength, the
// library's decoder, accepts every sequence in it).
bool IsUtf8(std::string_view s);

// `s` made safe for one table cell: control characters and invalid UTF-8
// escaped as \xNN, and cut at `max_chars` bytes with "…".
std::string Cell(std::string_view s, size_t max_bytes = 64);

// A short view of payload bytes without a schema: quoted text when they are
// printable UTF-8, else "hex:" and the first bytes in hex; "…" marks a cut.
std::string Preview(std::string_view payload);

std::string Base64(std::string_view bytes);
// Decodes standard base64 (with padding); nullopt when malformed.
std::optional<std::string> FromBase64(std::string_view text);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_FORMAT_H_
