// Replay plugins: an application's actor types, loaded by the `memoir` CLI
// so that `memoir replay`, `diff`, `bisect`, `verify-snapshots` and
// `rehandle` can rebuild its states (README.md, "Debugging with replay").
//
// A plugin is a loadable module that exports one C function, which
// MEMOIR_PLUGIN writes:
//
//   #include "memoir/plugin.h"
//   #include "bank.h"
//
//   void RegisterBank(memoir::plugin::Registry& registry) {
//     memoir::plugin::ReplayType<bank::Account> account;
//     account.stream_prefix = "account-";
//     account.state_to_json = [](const bank::AccountStateT& s) {
//       return memoir::plugin::JsonObject()
//           .Str("id", s.id)
//           .Int("balance", s.balance)
//           .str();
//     };
//     account.invariants.push_back(
//         {"balance-never-negative", "the balance is never below zero",
//          [](const bank::AccountStateT& s) { return s.balance >= 0; }});
//     registry.Add<bank::Account>("account", std::move(account));
//   }
//   MEMOIR_PLUGIN("bank", RegisterBank)
//
// Building. memoir_add_plugin(TARGET SOURCES...) (find_package(memoir)
// defines it) builds the module and LINKS it with memoir::memoir, with
// undefined symbols rejected at link time: a plugin gets memoir's symbols
// from libmemoir, not from the `memoir` executable that loads it (which no
// longer exports them), so one that needs anything the library does not
// export fails to build rather than to load.
//
// The version check. Host and plugin still pass C++ types to each other
// (std::string, Status, Store, the Registry), so memoir_plugin() returns
// first an ABI string compiled in from these headers (MEMOIR_PLUGIN_ABI:
// memoir's version, the compiler and its version, the C++ library's ABI and
// the sanitizers that change the ABI). The host compares it with its own
// before it calls anything else in the plugin and refuses any difference:
// only a plugin built by the same compiler against the same memoir runs.
//
// Errors. No exception thrown by plugin code crosses into the host: every
// call the host makes catches and returns a Status (kFailed, naming the type
// and what threw), and the registration function's exceptions become a
// registration error.
//
// Thread safety: a Registry is filled once, on one thread. Registered types
// are immutable afterwards and their methods may run concurrently, as far
// as the application's own actor code allows (see actor.h).
//
// What the host reads back (the Type interface and its report structs) is
// in memoir/detail/plugin_report.h, the templates behind it in
// memoir/detail/plugin_type.h, and the ABI string and the entry point's
// struct in memoir/detail/plugin_abi.h. A plugin author needs none of them.
#ifndef MEMOIR_PLUGIN_H_
#define MEMOIR_PLUGIN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/actor.h"
#include "memoir/detail/plugin_abi.h"
#include "memoir/detail/plugin_type.h"
#include "memoir/detail/text.h"

namespace memoir::plugin {

// --- What a plugin registers -----------------------------------------------

// A named predicate on the state, for `memoir bisect --invariant NAME`.
// `holds` returning false, or throwing, means the invariant is broken.
template <typename State>
struct Invariant {
  std::string name;         // how the command line names it
  std::string description;  // what holds, for people
  std::function<bool(const State&)> holds;
};

// One actor type as the replay commands see it.
template <ActorType A>
struct ReplayType {
  A actor{};
  // The codecs' companions the runtime uses: pass the same upcasters as to
  // ActorSystem::Register, or old events will not decode.
  ActorTypeOptions<A> options;
  // Which streams hold actors of this type: those whose names start with
  // `stream_prefix` (when set) and for which `matches` (when set) returns
  // true. A type with neither matches no stream: the commands then use it
  // only when named with --type.
  std::string stream_prefix;
  std::function<bool(std::string_view stream)> matches;
  // Required: the state as one JSON value (an object, usually). JsonObject
  // below helps.
  std::function<std::string(const typename A::State&)> state_to_json;
  // Optional: an event's payload as JSON. Without it the commands show the
  // envelope (type, schema version, size) only.
  std::function<std::string(const typename A::Event&)> event_to_json;
  std::vector<Invariant<typename A::State>> invariants;
  // Optional: how verify-snapshots compares a snapshot with its replay;
  // by default the two states' encoded bytes are compared.
  std::function<bool(const typename A::State&, const typename A::State&)>
      state_equal;
};

// --- JSON for state_to_json and event_to_json ------------------------------

// `s` as a JSON string literal: '"' and '\\' escaped, control characters as
// \u00XX, and each byte that is not part of valid UTF-8 as \ufffd (U+FFFD).
inline std::string JsonQuote(std::string_view s) {
  std::string out;
  detail::AppendJsonString(s, detail::JsonControlEscapes::kUnicode, &out);
  return out;
}

// Writes one JSON object: JsonObject().Str("id", id).Int("n", 3).str().
// Keys and strings go through JsonQuote.
class JsonObject {
 public:
  JsonObject& Str(std::string_view key, std::string_view value) {
    return Raw(key, JsonQuote(value));
  }
  JsonObject& Int(std::string_view key, int64_t value) {
    return Raw(key, std::to_string(value));
  }
  JsonObject& UInt(std::string_view key, uint64_t value) {
    return Raw(key, std::to_string(value));
  }
  JsonObject& Bool(std::string_view key, bool value) {
    return Raw(key, value ? "true" : "false");
  }
  JsonObject& Strs(std::string_view key, const std::vector<std::string>& v) {
    std::string list = "[";
    for (const std::string& s : v) {
      if (list.size() > 1) list += ',';
      detail::AppendJsonString(s, detail::JsonControlEscapes::kUnicode, &list);
    }
    return Raw(key, list + "]");
  }
  // `json` must already be one valid JSON value.
  JsonObject& Raw(std::string_view key, std::string_view json) {
    if (out_.size() > 1) out_ += ',';
    detail::AppendJsonString(key, detail::JsonControlEscapes::kUnicode, &out_);
    out_ += ':';
    out_ += json;
    return *this;
  }
  std::string str() const { return out_ + "}"; }

 private:
  std::string out_ = "{";
};

// --- The registry ----------------------------------------------------------

// Filled by the plugin's registration function, then read by the host.
class Registry {
 public:
  // Registers `type` under `name` (what --type names; unique, not empty).
  // A problem (a duplicate name, no state_to_json) is kept in error() and
  // makes the host refuse the plugin.
  template <ActorType A>
  void Add(std::string name, ReplayType<A> type);

  // Records a registration problem; the first one is kept.
  void Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }
  const std::string& error() const { return error_; }

  // For the host: the registered types (Type: memoir/detail/plugin_report.h).
  const std::vector<std::unique_ptr<Type>>& types() const { return types_; }
  // The type registered as `name`, or null.
  const Type* Find(std::string_view name) const {
    for (const auto& t : types_) {
      if (t->name() == name) return t.get();
    }
    return nullptr;
  }

 private:
  std::vector<std::unique_ptr<Type>> types_;
  std::string error_;
};

template <ActorType A>
void Registry::Add(std::string name, ReplayType<A> type) {
  if (name.empty()) {
    return Fail("a type was registered without a name (actor type '" +
                std::string(A::kTypeName) + "')");
  }
  if (Find(name) != nullptr) {
    return Fail("type '" + name + "' is registered twice");
  }
  if (!type.state_to_json) {
    return Fail("type '" + name + "' has no state_to_json");
  }
  for (const auto& inv : type.invariants) {
    if (inv.name.empty() || !inv.holds) {
      return Fail("type '" + name +
                  "' has an invariant without a name or a predicate");
    }
  }
  types_.push_back(
      std::make_unique<internal::TypeOf<A>>(std::move(name), std::move(type)));
}

}  // namespace memoir::plugin

// --- The entry point -------------------------------------------------------

// Defines the entry point of a plugin named `plugin_name` (a string) whose
// types `register_function` (void(memoir::plugin::Registry&)) registers.
// Use once per plugin, at namespace scope.
#define MEMOIR_PLUGIN(plugin_name, register_function)                       \
  extern "C" __attribute__((visibility("default"))) const memoir_plugin_v1* \
  memoir_plugin(void) {                                                     \
    static const memoir_plugin_v1 plugin = {                                \
        MEMOIR_PLUGIN_ABI, plugin_name,                                     \
        [](::memoir::plugin::Registry* registry) -> int {                   \
          return ::memoir::plugin::internal::RunRegistration(               \
              registry, register_function);                                 \
        }};                                                                 \
    return &plugin;                                                         \
  }

#endif  // MEMOIR_PLUGIN_H_
