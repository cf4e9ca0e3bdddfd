// Finally: runs a function when it goes out of scope, also when a doctest
// REQUIRE throws, so that threads are joined and servers stopped before
// what they use is destroyed (a joinable std::thread would end the whole
// test binary).
#ifndef MEMOIR_TESTS_SUPPORT_FINALLY_H_
#define MEMOIR_TESTS_SUPPORT_FINALLY_H_

#include <functional>
#include <utility>

namespace memoir::test {

class Finally {
 public:
  explicit Finally(std::function<void()> f) : f_(std::move(f)) {}
  ~Finally() { f_(); }
  Finally(const Finally&) = delete;
  Finally& operator=(const Finally&) = delete;

 private:
  std::function<void()> f_;
};

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_SUPPORT_FINALLY_H_
