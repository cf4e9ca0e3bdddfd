// Internal to memoir/plugin.h: the ABI string a replay plugin declares and
// the C entry point's struct, which the `memoir` CLI reads before it calls
// anything else in a plugin. Include memoir/plugin.h, not this; names here
// may change without notice, but memoir_plugin_v1's layout does not.
//
// The ABI string is memoir's version, the compiler and its version, the C++
// library's ABI and the sanitizers that change the ABI (address, thread):
// host and plugin share C++ types (std::string, Status, Store, the
// Registry), so only a plugin built by the same compiler against the same
// memoir may run.
#ifndef MEMOIR_DETAIL_PLUGIN_ABI_H_
#define MEMOIR_DETAIL_PLUGIN_ABI_H_

#include "memoir/version.h"

#define MEMOIR_PLUGIN_STR2_(x) #x
#define MEMOIR_PLUGIN_STR_(x) MEMOIR_PLUGIN_STR2_(x)

#if defined(__clang__)
#define MEMOIR_PLUGIN_COMPILER_ "clang " __clang_version__
#elif defined(__GNUC__)
#define MEMOIR_PLUGIN_COMPILER_ "g++ " __VERSION__
#else
#define MEMOIR_PLUGIN_COMPILER_ "an unknown compiler"
#endif

#if defined(_LIBCPP_VERSION)
#define MEMOIR_PLUGIN_STDLIB_ \
  "libc++ abi " MEMOIR_PLUGIN_STR_(_LIBCPP_ABI_VERSION)
#elif defined(_GLIBCXX_USE_CXX11_ABI) && defined(_GLIBCXX_DEBUG)
#define MEMOIR_PLUGIN_STDLIB_ \
  "libstdc++ cxx11-abi " MEMOIR_PLUGIN_STR_(_GLIBCXX_USE_CXX11_ABI) " " \
                                                                  "debug"
#elif defined(_GLIBCXX_USE_CXX11_ABI)
#define MEMOIR_PLUGIN_STDLIB_ \
  "libstdc++ cxx11-abi " MEMOIR_PLUGIN_STR_(_GLIBCXX_USE_CXX11_ABI)
#else
#define MEMOIR_PLUGIN_STDLIB_ "an unknown C++ library"
#endif

// AddressSanitizer and ThreadSanitizer change the ABI (instrumented
// containers, runtime hooks); UndefinedBehaviorSanitizer does not.
#if defined(__SANITIZE_ADDRESS__)
#define MEMOIR_PLUGIN_ASAN_ 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMOIR_PLUGIN_ASAN_ 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define MEMOIR_PLUGIN_TSAN_ 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MEMOIR_PLUGIN_TSAN_ 1
#endif
#endif
#if defined(MEMOIR_PLUGIN_ASAN_)
#define MEMOIR_PLUGIN_SANITIZERS_ "address"
#elif defined(MEMOIR_PLUGIN_TSAN_)
#define MEMOIR_PLUGIN_SANITIZERS_ "thread"
#else
#define MEMOIR_PLUGIN_SANITIZERS_ "none"
#endif

// The ABI string of a build against memoir `version`, e.g.
// "memoir 0.2.0; g++ 12.2.0; libstdc++ cxx11-abi 1; sanitizers none".
#define MEMOIR_PLUGIN_ABI_FOR(version)                                      \
  "memoir " version "; " MEMOIR_PLUGIN_COMPILER_ "; " MEMOIR_PLUGIN_STDLIB_ \
  "; sanitizers " MEMOIR_PLUGIN_SANITIZERS_

// What a plugin compiled here declares. Tests predefine it to impersonate
// a plugin built elsewhere; nothing else should.
#ifndef MEMOIR_PLUGIN_ABI
#define MEMOIR_PLUGIN_ABI MEMOIR_PLUGIN_ABI_FOR(MEMOIR_VERSION)
#endif

namespace memoir::plugin {
class Registry;
}  // namespace memoir::plugin

// What memoir_plugin() returns. Fields are only ever added at the end, and
// `abi` stays first: the host reads it before anything else.
struct memoir_plugin_v1 {
  const char* abi;   // MEMOIR_PLUGIN_ABI of the plugin's build
  const char* name;  // the plugin's name, for messages
  // Fills `registry`; 0 on success, else registry->error() says why.
  int (*register_types)(memoir::plugin::Registry* registry);
};

// The name of the entry point, for dlsym.
#define MEMOIR_PLUGIN_ENTRY_POINT "memoir_plugin"

#endif  // MEMOIR_DETAIL_PLUGIN_ABI_H_
