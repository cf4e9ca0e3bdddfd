// Status and Result (memoir/status.h, memoir/result.h).
#include "memoir/status.h"

#include <doctest/doctest.h>

#include "memoir/result.h"

namespace memoir {

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

}  // namespace memoir
