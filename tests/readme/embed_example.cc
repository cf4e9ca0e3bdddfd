#include <cstdio>

#include "memoir/store.h"

int main() {
  auto store = memoir::Store::Open("./bank-store");  // durable by default
  if (!store.ok()) return std::puts(store.status().ToString().c_str()), 1;
  memoir::Journal& journal = (*store)->journal();

  // Append only if nobody else wrote since we read the head.
  auto head = journal.Head("account-42");
  if (!head.ok()) return std::puts(head.status().ToString().c_str()), 1;
  auto done = journal.Append("account-42", memoir::Expected::At(*head),
                             {{"Deposited", "{\"amount\":100}", 1, {"bank"}}});
  if (!done.ok()) return std::puts(done.status().ToString().c_str()), 1;

  // Replay the stream: every record is checksummed and verified on read.
  auto events = journal.Read("account-42");
  for (const memoir::RecordedEvent& e : events.value())
    std::printf("#%llu %s %s\n", (unsigned long long)e.seq, e.type.c_str(),
                e.payload.c_str());
}
