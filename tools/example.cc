// memoir-example: writes a few events to a store and reads them back.
// A stand-in for the demo until the actor runtime exists.
#include <fmt/format.h>

#include <string>

#include "memoir/store.h"

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "./demo-store";
  auto store = memoir::Store::Open(path);
  if (!store.ok()) {
    fmt::print(stderr, "memoir-example: {}\n", store.status().ToString());
    return 1;
  }
  memoir::Journal& journal = (*store)->journal();
  auto head = journal.Head("account-1");
  if (!head.ok()) {
    fmt::print(stderr, "memoir-example: {}\n", head.status().ToString());
    return 1;
  }
  std::vector<memoir::EventData> events;
  for (int i = 0; i < 3; ++i) {
    events.push_back({"Deposited",
                      fmt::format("{{\"amount\": {}}}", 10 * (i + 1)),
                      1,
                      {"bank"}});
  }
  auto appended = journal.Append("account-1", memoir::Expected::At(*head),
                                 std::move(events));
  if (!appended.ok()) {
    fmt::print(stderr, "memoir-example: {}\n", appended.status().ToString());
    return 1;
  }
  fmt::print("appended seq {}..{} at positions {}..{}\n", appended->first_seq,
             appended->last_seq, appended->first_position,
             appended->last_position);
  auto events_read = journal.Read("account-1");
  if (!events_read.ok()) {
    fmt::print(stderr, "memoir-example: {}\n", events_read.status().ToString());
    return 1;
  }
  for (const memoir::RecordedEvent& e : *events_read) {
    fmt::print("  {} #{} @{} {} {}\n", e.stream, e.seq, e.position, e.type,
               e.payload);
  }
  fmt::print("store: {}\n", path);
  return 0;
}
