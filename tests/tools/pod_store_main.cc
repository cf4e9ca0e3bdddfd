// pod_store PATH: writes a small store whose events and snapshots are
// PodCodec bytes (the Ledger type of replay_types.h), for trying
// `memoir events --plugin` by hand with the test plugin and for the
// README's example. Refuses a PATH that already holds a store.
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "memoir/store.h"
#include "tools/replay_types.h"

namespace rt = memoir::test::replay;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pod_store PATH\n");
    return 2;
  }
  const std::string path = argv[1];
  struct stat st;
  if (::stat((path + "/data.mdb").c_str(), &st) == 0) {
    std::fprintf(stderr, "pod_store: %s already holds a store\n", argv[1]);
    return 1;
  }
  auto store = memoir::Store::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "pod_store: %s\n", store.status().ToString().c_str());
    return 1;
  }
  // ledger-1: five entries, and the balance after the fourth as a snapshot.
  const std::vector<int64_t> amounts = {500, -120, 75, -300, 42};
  rt::Balance balance;
  for (size_t i = 0; i < amounts.size(); ++i) {
    const rt::Entry entry{amounts[i], 0, 0};
    memoir::Status s = (*store)
                           ->journal()
                           .Append("ledger-1", memoir::Expected::At(i),
                                   {rt::Ledger::EventCodec::Encode(entry)})
                           .status();
    if (!s.ok()) {
      std::fprintf(stderr, "pod_store: %s\n", s.ToString().c_str());
      return 1;
    }
    balance.balance += entry.amount;
    ++balance.entries;
    if (i + 1 == 4) {
      s = (*store)->snapshots().Save(
          "ledger-1", i + 1, rt::Ledger::StateCodec::EncodeState(balance));
      if (!s.ok()) {
        std::fprintf(stderr, "pod_store: %s\n", s.ToString().c_str());
        return 1;
      }
    }
  }
  memoir::Status closed = (*store)->Close();
  if (!closed.ok()) {
    std::fprintf(stderr, "pod_store: %s\n", closed.ToString().c_str());
    return 1;
  }
  return 0;
}
