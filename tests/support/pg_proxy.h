// A man in the middle between memoir and a PostgreSQL server, for fault
// tests: it forwards bytes between a unix socket of its own and the
// server's, and on request cuts a connection at the worst moment: before
// the next request reaches the server, or after the server has answered
// it (so the server committed and the client never hears).
#ifndef MEMOIR_TESTS_SUPPORT_PG_PROXY_H_
#define MEMOIR_TESTS_SUPPORT_PG_PROXY_H_

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace memoir::test {

class PgProxy {
 public:
  enum class Cut {
    kNone,
    // The next request any client sends is dropped and its connection
    // closed: the server never sees it.
    kBeforeRequest,
    // The next request is forwarded; the server's answer is dropped and
    // the connection closed: the server did the work, the client never
    // hears.
    kAfterAnswer,
  };

  // Listens in directory `dir` (port 5432's socket name) and forwards to
  // the server whose socket directory is `server_dir`.
  PgProxy(const std::string& dir, const std::string& server_dir);
  ~PgProxy();
  PgProxy(const PgProxy&) = delete;
  PgProxy& operator=(const PgProxy&) = delete;

  // Arms the next cut (one connection, once).
  void CutNext(Cut cut) { cut_ = cut; }
  // How many cuts happened.
  int cuts() const { return cuts_.load(); }
  // While true, new connections are closed at once (a server that is down).
  void Refuse(bool refuse) { refuse_ = refuse; }
  // Closes every open connection now (a server restart, as clients see it).
  void DropAll() { drop_all_ = true; }

 private:
  struct Pair {
    int client = -1;
    int server = -1;
    bool awaiting_answer = false;  // armed kAfterAnswer on this pair
  };
  void Run();

  std::string server_socket_;
  int listen_fd_ = -1;
  std::atomic<Cut> cut_{Cut::kNone};
  std::atomic<int> cuts_{0};
  std::atomic<bool> refuse_{false};
  std::atomic<bool> drop_all_{false};
  std::atomic<bool> stop_{false};
  std::vector<Pair> pairs_;
  std::thread thread_;
};

// The socket directory (libpq's host=) of the server MEMOIR_TEST_POSTGRES
// names; empty when it names none.
std::string PostgresSocketDir();

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_SUPPORT_PG_PROXY_H_
