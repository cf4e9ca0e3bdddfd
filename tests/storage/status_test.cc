// Status and Result (memoir/status.h, memoir/result.h).
#include "memoir/status.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "memoir/result.h"
#include "memoir/store.h"

namespace memoir {

namespace {

struct ChildEnd {
  bool aborted = false;  // killed by SIGABRT
  int status = 0;        // raw waitpid status, for failure messages
  std::string err;       // everything the child wrote to stderr
};

// Runs `misuse` in a forked child whose stderr goes to a pipe, and reports
// how the child ended and what it wrote. The child exits with 0 if `misuse`
// returns, so a misuse that neither aborts nor crashes fails the caller's
// checks too.
template <typename F>
ChildEnd RunInChild(F misuse) {
  ChildEnd end;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    // doctest's own crash handler would report the abort as a failure of
    // this test in the child; the parent judges it instead.
    signal(SIGABRT, SIG_DFL);
    misuse();
    _exit(0);
  }
  close(fds[1]);
  char buf[4096];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n > 0) {
      end.err.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  REQUIRE(waitpid(pid, &end.status, 0) == pid);
  end.aborted = WIFSIGNALED(end.status) && WTERMSIG(end.status) == SIGABRT;
  return end;
}

}  // namespace

TEST_CASE("an OK status is cheap and prints OK") {
  Status s;
  CHECK(s.ok());
  CHECK(s.ToString() == "OK");
  CHECK(s.WithContext("ignored").ok());
}

TEST_CASE("an error status keeps code, message, context and raw error") {
  Status s = Status::IOError("disk").WithRawError(5).WithContext("commit");
  CHECK(s.IsIOError());
  CHECK(s.raw_error() == 5);
  CHECK(s.ToString() == "I/O error: commit: disk");
  Status c = Status::Conflict("stale", 9);
  CHECK(c.IsConflict());
  CHECK(c.actual_seq() == 9);
  CHECK(c.WithContext("x").actual_seq() == 9);
}

TEST_CASE("a Result holds a value or an error, never both") {
  Result<int> v(3);
  CHECK(v.ok());
  CHECK(*v == 3);
  Result<int> e(Status::NotFound("no"));
  CHECK(!e.ok());
  CHECK(e.status().IsNotFound());
  Result<int> misuse{Status::OK()};
  CHECK(!misuse.ok());
  CHECK(misuse.status().IsInvalidArgument());
}

TEST_CASE(
    "value() on an error Result aborts with the status on stderr in every "
    "build type") {
  StoreOptions read_only;
  read_only.read_only = true;
  auto store = Store::Open("/nonexistent/store", read_only);
  REQUIRE(!store.ok());
  const std::string expected = store.status().ToString();
  SUBCASE("value() of an lvalue") {
    ChildEnd end = RunInChild([&] {
      std::unique_ptr<Store>& s = store.value();
      // Only reached when value() did not abort.
      (void)s.get();
    });
    INFO("wait status ", end.status, ", stderr: ", end.err);
    CHECK(end.aborted);
    CHECK(end.err.find(expected) != std::string::npos);
  }
  SUBCASE("value() of an rvalue, operator* and operator->") {
    Result<std::string> error(Status::NotFound("no such thing at /x"));
    for (int which = 0; which < 3; ++which) {
      ChildEnd end = RunInChild([&] {
        size_t size = 0;
        if (which == 0) size = std::move(error).value().size();
        if (which == 1) size = (*error).size();
        if (which == 2) size = error->size();
        _exit(size == 12345 ? 1 : 0);
      });
      INFO("accessor ", which, ", wait status ", end.status,
           ", stderr: ", end.err);
      CHECK(end.aborted);
      CHECK(end.err.find("not found: no such thing at /x") !=
            std::string::npos);
    }
  }
}

}  // namespace memoir
