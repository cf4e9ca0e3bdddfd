// Writing results: lines to stdout, aligned tables, progress on stderr.
//
// A reader that goes away (`memoir events ... | head`) ends the command
// quietly: a failed write to stdout throws BrokenPipe, which the command
// runner turns into exit code 0.
#ifndef MEMOIR_TOOLS_CLI_OUTPUT_H_
#define MEMOIR_TOOLS_CLI_OUTPUT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memoir::cli {

struct BrokenPipe {};

// Writes `line` and a newline to stdout. Throws BrokenPipe.
void PrintLine(std::string_view line);
// Flushes stdout. Throws BrokenPipe.
void FlushOut();

// An aligned table. Rows are buffered and printed in blocks; the widths of
// the first block hold for the rest (a wider cell later pushes its row
// only), so long listings stream. The last column is never padded.
class Table {
 public:
  struct Column {
    std::string title;
    bool right = false;  // numbers align right
  };
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  ~Table();  // prints what is left unless a pipe broke

  void Row(std::vector<std::string> cells);
  // Prints the buffered rows (and the header before the first block).
  void Flush();

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> widths_;
  bool header_done_ = false;
  bool broken_ = false;
};

// "key  value" lines with the keys aligned, for single-record commands.
void PrintPairs(const std::vector<std::pair<std::string, std::string>>& pairs);

// Progress of a long command on stderr, only when stderr is a terminal:
// one line rewritten at most four times a second, cleared at the end and
// before any result line or error is printed (PrintLine, PrintError), so
// that results never share a line with it. With a known total it reads
// "verify: 1200 of 5000 records (24%)"; sizes in bytes print with units
// ("1.5 MiB of 3.0 MiB (50%)").
class Progress {
 public:
  explicit Progress(std::string what);
  ~Progress();
  // The total that counts run up to; 0 (the default): unknown, only the
  // count is shown. `about`: the total is an estimate ("of about ...");
  // a count beyond an estimate shows without it.
  void SetTotal(uint64_t total, bool about = false);
  // Shows `count` things of `unit` ("records"; "bytes" prints as a size).
  void Update(uint64_t count, std::string_view unit);

  // The progress line as Update shows it, without the terminal controls.
  std::string Text(uint64_t count, std::string_view unit) const;

 private:
  std::string what_;
  bool tty_;
  uint64_t total_ = 0;
  bool about_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// Clears the progress line if one is shown (PrintLine and PrintError call
// it; a command that writes to stderr itself calls it first).
void ClearProgress();

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_OUTPUT_H_
