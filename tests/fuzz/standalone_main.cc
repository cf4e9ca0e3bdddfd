// Runs a fuzz target over files, without libFuzzer: every build (gcc or
// clang, plain or with sanitizers) replays the committed corpus and the
// regression inputs of each target as an ordinary test.
//
//   fuzz_<target>_replay DIR_OR_FILE...
//
// Each regular file is one input; directories are read one level deep,
// in name order, skipping dot files. Exits 0 after running every input (a
// failed property aborts), 2 when an argument cannot be read or no input
// was found.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"

// Targets without set-up leave LLVMFuzzerInitialize undefined; libFuzzer
// declares it weak for the same reason.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc,
                                                          char*** argv);

namespace {

namespace fs = std::filesystem;

bool Collect(const fs::path& arg, std::vector<fs::path>* files) {
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) {
    files->push_back(arg);
    return true;
  }
  if (!fs::is_directory(arg, ec)) return false;
  std::vector<fs::path> found;
  for (const fs::directory_entry& e : fs::directory_iterator(arg, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.empty() && name[0] != '.' && e.is_regular_file()) {
      found.push_back(e.path());
    }
  }
  if (ec) return false;
  std::sort(found.begin(), found.end());
  files->insert(files->end(), found.begin(), found.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    if (!Collect(argv[i], &files)) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i]);
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "%s: no inputs\n", argv[0]);
    return 2;
  }
  size_t bytes = 0;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::vector<char> data((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], f.c_str());
      return 2;
    }
    bytes += data.size();
    // An empty vector's data() may be null: give the target a real pointer.
    static const char kEmpty = 0;
    LLVMFuzzerTestOneInput(
        reinterpret_cast<const uint8_t*>(data.empty() ? &kEmpty : data.data()),
        data.size());
  }
  std::fprintf(stderr, "%s: %zu inputs (%zu bytes), every property held\n",
               argv[0], files.size(), bytes);
  return 0;
}
