// memoir-demo replaces only stores it made (marked by memoir-demo.marker):
// any other directory that is not empty, a memoir store above all, is
// refused and left as it was.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "memoir/store.h"
#include "support/temp_dir.h"
#include "tools/bank_store.h"

namespace memoir {
namespace {

struct DemoRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

DemoRun RunDemo(const std::string& store) {
  const std::string command =
      std::string(MEMOIR_DEMO) + " '" + store + "' --quick 2>&1";
  FILE* demo = popen(command.c_str(), "r");
  REQUIRE(demo != nullptr);
  DemoRun run;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, demo)) > 0) run.output.append(buf, n);
  int status = pclose(demo);
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

bool HasText(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "memoir-demo refuses a memoir store it did not make and leaves it "
    "as it was") {
  test::TempDir dir;
  const std::string store = dir.Sub("mine");
  test::WriteBankStore(store);
  const std::string digest = test::FileDigest(store + "/data.mdb");
  DemoRun run = RunDemo(store);
  CHECK(run.exit_code == 2);
  CHECK_MESSAGE(HasText(run.output, "memoir-demo did not make"), run.output);
  CHECK(HasText(run.output, "Pass a new or empty directory"));
  CHECK(!HasText(run.output, "1. workload"));
  CHECK(test::FileDigest(store + "/data.mdb") == digest);
  CHECK(!std::filesystem::exists(store + "/memoir-demo.marker"));
}

TEST_CASE(
    "memoir-demo refuses a directory holding other files, and a path that "
    "is a file") {
  test::TempDir dir;
  std::filesystem::create_directory(dir.Sub("notes"));
  std::ofstream(dir.Sub("notes") + "/todo.txt") << "keep me\n";
  DemoRun run = RunDemo(dir.Sub("notes"));
  CHECK(run.exit_code == 2);
  CHECK_MESSAGE(HasText(run.output, "holds 'todo.txt'"), run.output);
  CHECK(std::filesystem::exists(dir.Sub("notes") + "/todo.txt"));

  std::ofstream(dir.Sub("file")) << "a file\n";
  DemoRun file = RunDemo(dir.Sub("file"));
  CHECK(file.exit_code == 2);
  CHECK_MESSAGE(HasText(file.output, "is not a directory"), file.output);
  CHECK(std::filesystem::is_regular_file(dir.Sub("file")));
}

TEST_CASE("memoir-demo replaces a store it made itself") {
  test::TempDir dir;
  // What a previous run leaves: the marker and a store (here another one,
  // so that its replacement shows).
  const std::string store = dir.Sub("demo-store");
  test::WriteBankStore(store);
  std::ofstream(store + "/memoir-demo.marker") << "made by memoir-demo\n";
  DemoRun run = RunDemo(store);
  REQUIRE_MESSAGE(run.exit_code == 0, run.output);
  CHECK(std::filesystem::exists(store + "/memoir-demo.marker"));
  StoreOptions o;
  o.read_only = true;
  auto opened = Store::Open(store, o);
  REQUIRE(opened.ok());
  auto info = (*opened)->journal().GetStream("audit");
  CHECK(!info.ok());  // the bank store's streams are gone
  CHECK((*opened)->journal().GetStream("account-00001").ok());
}

}  // namespace memoir
