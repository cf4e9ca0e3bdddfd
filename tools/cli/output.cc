// Lines, tables and progress (output.h).
#include "output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace memoir::cli {
namespace {

constexpr size_t kBlockRows = 256;

// Display width: UTF-8 continuation bytes take no column.
size_t Width(std::string_view s) {
  size_t w = 0;
  for (char c : s) w += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return w;
}

}  // namespace

void PrintLine(std::string_view line) {
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
      std::fputc('\n', stdout) == EOF) {
    throw BrokenPipe{};
  }
}

void FlushOut() {
  if (std::fflush(stdout) != 0) throw BrokenPipe{};
}

Table::~Table() {
  if (broken_) return;
  try {
    Flush();
  } catch (const BrokenPipe&) {
    // Destructors must not throw; the command is ending anyway.
  }
}

void Table::Row(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
  if (rows_.size() >= kBlockRows) Flush();
}

void Table::Flush() {
  if (!header_done_ && rows_.empty()) return;
  if (widths_.empty()) {
    widths_.resize(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
      widths_[c] = Width(columns_[c].title);
      for (const auto& row : rows_) {
        widths_[c] = std::max(widths_[c], Width(row[c]));
      }
    }
  }
  auto line = [&](auto cell_of) {
    std::string out;
    for (size_t c = 0; c < columns_.size(); ++c) {
      std::string_view cell = cell_of(c);
      const bool last = c + 1 == columns_.size();
      size_t pad = widths_[c] > Width(cell) ? widths_[c] - Width(cell) : 0;
      if (columns_[c].right) out.append(pad, ' ');
      out += cell;
      if (!columns_[c].right && !last) out.append(pad, ' ');
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  };
  broken_ = true;  // until this block is out
  if (!header_done_) {
    PrintLine(
        line([&](size_t c) { return std::string_view(columns_[c].title); }));
    header_done_ = true;
  }
  for (const auto& row : rows_) {
    PrintLine(line([&](size_t c) { return std::string_view(row[c]); }));
  }
  rows_.clear();
  FlushOut();
  broken_ = false;
}

void PrintPairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  size_t width = 0;
  for (const auto& [k, v] : pairs) width = std::max(width, Width(k));
  for (const auto& [k, v] : pairs) {
    // Lines after the first of a value line up under its start.
    std::string value(v);
    for (size_t nl = value.find('\n'); nl != std::string::npos;
         nl = value.find('\n', nl + 1)) {
      value.insert(nl + 1, width + 2, ' ');
    }
    PrintLine(
        fmt::format("{}{}  {}", k, std::string(width - Width(k), ' '), value));
  }
}

Progress::Progress(std::string what)
    : what_(std::move(what)), tty_(isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() {
  if (shown_) std::fputs("\r\033[K", stderr);
}

void Progress::Update(uint64_t count, std::string_view unit) {
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (shown_ && now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  shown_ = true;
  std::fprintf(stderr, "\r%s: %llu %.*s", what_.c_str(),
               static_cast<unsigned long long>(count),
               static_cast<int>(unit.size()), unit.data());
  std::fflush(stderr);
}

}  // namespace memoir::cli
