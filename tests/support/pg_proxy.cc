#include "support/pg_proxy.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace memoir::test {
namespace {

sockaddr_un Address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) {
    throw std::runtime_error("socket path too long: " + path);
  }
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// Forwards what `from` has to `to`; false when either side is closed.
bool Forward(int from, int to) {
  char buf[65536];
  const ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0) return false;
  for (ssize_t done = 0; done < n;) {
    const ssize_t w = write(to, buf + done, static_cast<size_t>(n - done));
    if (w <= 0) return false;
    done += w;
  }
  return true;
}

}  // namespace

std::string PostgresSocketDir() {
  const char* uri = std::getenv("MEMOIR_TEST_POSTGRES");
  if (uri == nullptr) return "";
  const std::string s(uri);
  const size_t h = s.find("host=");
  if (h == std::string::npos) return "";
  const size_t end = s.find('&', h);
  return s.substr(h + 5,
                  end == std::string::npos ? std::string::npos : end - h - 5);
}

PgProxy::PgProxy(const std::string& dir, const std::string& server_dir)
    : server_socket_(server_dir + "/.s.PGSQL.5432") {
  const std::string path = dir + "/.s.PGSQL.5432";
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a = Address(path);
  unlink(path.c_str());
  if (listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("the proxy cannot listen on " + path);
  }
  thread_ = std::thread([this] { Run(); });
}

PgProxy::~PgProxy() {
  stop_ = true;
  thread_.join();
  for (Pair& p : pairs_) {
    close(p.client);
    close(p.server);
  }
  close(listen_fd_);
}

void PgProxy::Run() {
  while (!stop_) {
    if (drop_all_.exchange(false)) {
      for (Pair& p : pairs_) {
        close(p.client);
        close(p.server);
      }
      pairs_.clear();
    }
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Pair& p : pairs_) {
      fds.push_back({p.client, POLLIN, 0});
      fds.push_back({p.server, POLLIN, 0});
    }
    // A short tick only so that stop_, drop_all_ and refuse_ are seen.
    if (poll(fds.data(), fds.size(), 20) <= 0) continue;
    std::vector<size_t> dead;
    for (size_t i = 0; i < pairs_.size(); ++i) {
      Pair& p = pairs_[i];
      const short from_client = fds[1 + 2 * i].revents;
      const short from_server = fds[2 + 2 * i].revents;
      bool alive = true;
      if (from_client & (POLLIN | POLLHUP | POLLERR)) {
        const Cut cut = cut_.load();
        if (cut == Cut::kBeforeRequest) {
          cut_ = Cut::kNone;
          ++cuts_;
          alive = false;  // dropped unread: the server never sees it
        } else {
          if (cut == Cut::kAfterAnswer) {
            cut_ = Cut::kNone;
            p.awaiting_answer = true;
          }
          alive = Forward(p.client, p.server);
        }
      }
      if (alive && (from_server & (POLLIN | POLLHUP | POLLERR))) {
        if (p.awaiting_answer) {
          ++cuts_;
          alive = false;  // the answer is dropped
        } else {
          alive = Forward(p.server, p.client);
        }
      }
      if (!alive) dead.push_back(i);
    }
    for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
      close(pairs_[*it].client);
      close(pairs_[*it].server);
      pairs_.erase(pairs_.begin() + static_cast<long>(*it));
    }
    if (fds[0].revents & POLLIN) {
      const int c = accept(listen_fd_, nullptr, nullptr);
      if (c < 0) continue;
      if (refuse_) {
        close(c);
        continue;
      }
      const int s = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a = Address(server_socket_);
      if (s < 0 || connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(c);
        if (s >= 0) close(s);
        continue;
      }
      pairs_.push_back({c, s, false});
    }
  }
}

}  // namespace memoir::test
