// Lines, tables and progress (output.h).
#include "output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "format.h"

namespace memoir::cli {
namespace {

constexpr size_t kBlockRows = 256;

// Whether a progress line is on the terminal now (one process, one line).
bool g_progress_shown = false;

// Display width: UTF-8 continuation bytes take no column.
size_t Width(std::string_view s) {
  size_t w = 0;
  for (char c : s) w += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return w;
}

}  // namespace

void PrintLine(std::string_view line) {
  // Only a terminal shows both; into a file or pipe, results and the
  // progress line do not meet.
  static const bool stdout_tty = isatty(STDOUT_FILENO) == 1;
  if (stdout_tty) ClearProgress();
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

Progress::~Progress() { ClearProgress(); }

void Progress::SetTotal(uint64_t total, bool about) {
  total_ = total;
  about_ = about;
}

std::string Progress::Text(uint64_t count, std::string_view unit) const {
  const bool bytes = unit == "bytes";
  auto amount = [&](uint64_t n) {
    return bytes ? Size(n) : fmt::format("{}", n);
  };
  if (total_ == 0 || (about_ && count > total_)) {
    return bytes ? fmt::format("{}: {}", what_, Size(count))
                 : fmt::format("{}: {} {}", what_, count, unit);
  }
  // Whole percent, rounded down, so that 100% means done.
  const uint64_t percent = std::min<uint64_t>(
      100, static_cast<uint64_t>(static_cast<double>(count) * 100 / total_));
  return fmt::format("{}: {} of {}{}{}{} ({}%)", what_, amount(count),
                     about_ ? "about " : "", amount(total_), bytes ? "" : " ",
                     bytes ? "" : unit, percent);
}

void Progress::Update(uint64_t count, std::string_view unit) {
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (last_ != std::chrono::steady_clock::time_point{} &&
      now - last_ < std::chrono::milliseconds(250)) {
    return;
  }
  last_ = now;
  g_progress_shown = true;
  fmt::print(stderr, "\r\033[K{}", Text(count, unit));
  std::fflush(stderr);
}

void ClearProgress() {
  if (!g_progress_shown) return;
  g_progress_shown = false;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

}  // namespace memoir::cli
