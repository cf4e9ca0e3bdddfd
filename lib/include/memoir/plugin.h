// Replay plugins: an application's actor types, loaded by the `memoir` CLI
// so that `memoir replay`, `diff`, `bisect`, `verify-snapshots` and
// `rehandle` can rebuild its states (README.md, "Debugging with replay").
//
// A plugin is a shared library (a CMake MODULE) compiled against memoir's
// headers and NOT linked with the memoir library: the memoir symbols it
// uses are resolved from the `memoir` executable that loads it, so exactly
// one copy of the library runs. It exports one C function, which
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
// The version check. memoir_plugin() returns a static memoir_plugin_v1
// whose first field is MEMOIR_PLUGIN_ABI as compiled into the plugin:
// memoir's version, the compiler and its version, the C++ library's ABI,
// and the sanitizers that change the ABI (address, thread). The host
// compares it with its own string before it calls anything else in the
// plugin, and refuses a plugin that differs: the plugin shares C++ types
// (std::string, Status, Store, the Registry) with the host, so only a
// plugin built by the same compiler against the same memoir may run.
//
// Errors. No exception thrown by plugin code crosses into the host: every
// Type method catches and returns a Status (kFailed, naming the type and
// what threw), and the registration function's exceptions become a
// registration error.
//
// Thread safety: a Registry is filled once, on one thread. Registered types
// are immutable afterwards and their methods may run concurrently, as far
// as the application's own actor code allows (see actor.h).
#ifndef MEMOIR_PLUGIN_H_
#define MEMOIR_PLUGIN_H_

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/actor.h"
#include "memoir/detail/behavior.h"
#include "memoir/journal.h"
#include "memoir/replay.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"
#include "memoir/store.h"
#include "memoir/version.h"

// --- The ABI string --------------------------------------------------------

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

// --- What the host gets back -----------------------------------------------

struct InvariantInfo {
  std::string name;
  std::string description;
};

// A stored event and, when the type has event_to_json, its payload as JSON.
struct EventReport {
  RecordedEvent event;
  std::optional<std::string> json;
};

// The state after `seq` (JSON), and how it was rebuilt.
struct StateReport {
  std::string state;
  uint64_t seq = 0;           // the last event applied
  uint64_t snapshot_seq = 0;  // 0: rebuilt from the first event
  uint64_t events_replayed = 0;
  std::vector<SnapshotSkip> skipped;
};

struct StepReport {
  EventReport event;
  std::string state;  // after the event
};

struct BisectReport {
  bool found = false;  // false: the invariant holds at the head
  uint64_t seq = 0;    // the first event after which it fails
  std::optional<EventReport> event;
  std::string before, after;  // states around `seq` (JSON)
  uint64_t probes = 0;
  uint64_t events_replayed = 0;
};

struct SnapshotMismatchReport {
  uint64_t seq = 0;
  std::string detail;
  std::string stored, replayed;  // JSON
};
struct SnapshotReport {
  size_t checked = 0;
  size_t unusable = 0;
  size_t unverifiable = 0;  // the events before them were deleted
  std::optional<SnapshotMismatchReport> first_mismatch;
};

struct DivergenceReport {
  uint64_t seq = 0;
  std::string detail;
  std::optional<EventReport> command;  // the recorded command
};
struct RehandleReport {
  uint64_t commands = 0;
  std::optional<DivergenceReport> first;
};

// One registered type, behind virtual functions that are compiled into
// the plugin. None throws: errors come back as a Status. `store` must stay
// open during a call; progress is called after every event applied.
class Type {
 public:
  using StepVisitor = std::function<bool(const StepReport&)>;

  virtual ~Type() = default;
  virtual const std::string& name() const = 0;
  // A::kTypeName.
  virtual std::string_view actor_type() const = 0;
  virtual const std::string& stream_prefix() const = 0;
  virtual bool has_matcher() const = 0;  // a `matches` function was given
  virtual bool Matches(std::string_view stream) const = 0;
  virtual bool command_sourced() const = 0;
  virtual bool has_event_json() const = 0;
  virtual const std::vector<InvariantInfo>& invariants() const = 0;

  // Replayer::StateAt, with the state as JSON.
  virtual Result<StateReport> StateAt(Store& store, std::string_view stream,
                                      uint64_t seq, bool from_start,
                                      const ReplayProgress& progress) const = 0;
  // Replayer::Steps. `visit` must not throw.
  virtual Status Steps(Store& store, std::string_view stream, uint64_t from_seq,
                       uint64_t to_seq, bool from_start,
                       const StepVisitor& visit,
                       const ReplayProgress& progress) const = 0;
  // Replayer::Bisect with the invariant named `invariant` (kInvalidArgument
  // when there is none).
  virtual Result<BisectReport> Bisect(Store& store, std::string_view stream,
                                      std::string_view invariant,
                                      bool exhaustive,
                                      const ReplayProgress& progress) const = 0;
  virtual Result<SnapshotReport> VerifySnapshots(
      Store& store, std::string_view stream,
      const ReplayProgress& progress) const = 0;
  // Replayer::Rehandle; kInvalidArgument for a type that is not
  // command-sourced.
  virtual Result<RehandleReport> Rehandle(
      Store& store, std::string_view stream,
      const ReplayProgress& progress) const = 0;

  // Added after the replay methods, so that the older ones keep their
  // places in the vtable.
  //
  // One stored event decoded (upcasters, then the event codec) and, when
  // the type has event_to_json, its payload as JSON (not checked to be
  // JSON: the host checks). For `memoir events --plugin` and the other
  // listing commands. Errors: kFailed when the payload does not decode or
  // event_to_json throws, naming the seq.
  virtual Result<EventReport> DescribeEvent(const RecordedEvent& e) const = 0;
  // One stored snapshot's state decoded by the state codec and given to
  // state_to_json (not checked to be JSON). Errors: kFailed when it does
  // not decode or state_to_json throws.
  virtual Result<std::string> DescribeState(const Snapshot& snapshot) const = 0;
};

// --- JSON for state_to_json and event_to_json ------------------------------

// `s` as a JSON string literal; bytes that are not UTF-8 become U+FFFD.
inline std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
      continue;
    }
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (valid && len > 1) {
      // Overlong forms, surrogates and code points above U+10FFFF.
      uint32_t cp = c & (0xff >> (len + 1));
      for (size_t k = 1; k < len; ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      }
      const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
      valid = cp >= min[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    }
    if (!valid) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  out += '"';
  return out;
}

// Writes one JSON object: JsonObject().Str("id", id).Int("n", 3).str().
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
      list += JsonQuote(s);
    }
    return Raw(key, list + "]");
  }
  // `json` must already be one valid JSON value.
  JsonObject& Raw(std::string_view key, std::string_view json) {
    if (out_.size() > 1) out_ += ',';
    out_ += JsonQuote(key);
    out_ += ':';
    out_ += json;
    return *this;
  }
  std::string str() const { return out_ + "}"; }

 private:
  std::string out_ = "{";
};

// --- The registry ----------------------------------------------------------

namespace internal {

template <ActorType A>
class TypeOf;

}  // namespace internal

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

namespace internal {

// Runs `body` and turns anything it throws into kFailed.
template <typename R, typename Body>
R Guard(const std::string& type, std::string_view what, const Body& body) {
  try {
    return body();
  } catch (...) {
    return Status::Failed("plugin type '" + type + "': " + std::string(what) +
                          " threw " + detail::DescribeCurrentException());
  }
}

template <ActorType A>
class TypeOf final : public Type {
 public:
  using State = typename A::State;
  using Event = typename A::Event;

  TypeOf(std::string name, ReplayType<A> spec)
      : name_(std::move(name)),
        spec_(std::move(spec)),
        behavior_(spec_.actor, spec_.options) {
    for (const auto& inv : spec_.invariants) {
      infos_.push_back({inv.name, inv.description});
    }
  }

  const std::string& name() const override { return name_; }
  std::string_view actor_type() const override { return A::kTypeName; }
  const std::string& stream_prefix() const override {
    return spec_.stream_prefix;
  }
  bool has_matcher() const override { return static_cast<bool>(spec_.matches); }
  bool Matches(std::string_view stream) const override {
    if (spec_.stream_prefix.empty() && !spec_.matches) return false;
    if (stream.substr(0, spec_.stream_prefix.size()) != spec_.stream_prefix) {
      return false;
    }
    try {
      return !spec_.matches || spec_.matches(stream);
    } catch (...) {
      return false;
    }
  }
  bool command_sourced() const override {
    return std::same_as<Event, typename A::Command>;
  }
  bool has_event_json() const override {
    return static_cast<bool>(spec_.event_to_json);
  }
  const std::vector<InvariantInfo>& invariants() const override {
    return infos_;
  }

  Result<EventReport> DescribeEvent(const RecordedEvent& e) const override {
    return Guard<Result<EventReport>>(name_, "decoding an event",
                                      [&] { return Describe(e); });
  }

  Result<std::string> DescribeState(const Snapshot& snapshot) const override {
    return Guard<Result<std::string>>(
        name_, "decoding a snapshot", [&]() -> Result<std::string> {
          auto state = behavior_.DecodeState(snapshot);
          if (!state.ok()) {
            return state.status().WithContext(
                "plugin type '" + name_ + "': the snapshot at seq " +
                std::to_string(snapshot.info.seq));
          }
          return StateJson(detail::BehaviorOf<A>::Value(**state));
        });
  }

  Result<StateReport> StateAt(Store& store, std::string_view stream,
                              uint64_t seq, bool from_start,
                              const ReplayProgress& progress) const override {
    return Guard<Result<StateReport>>(
        name_, "replay", [&]() -> Result<StateReport> {
          auto at = Replay(store).StateAt(stream, seq, from_start, progress);
          if (!at.ok()) return at.status();
          Result<std::string> json = StateJson(at->state);
          if (!json.ok()) return json.status();
          return StateReport{std::move(*json), at->seq, at->snapshot_seq,
                             at->events_replayed, std::move(at->skipped)};
        });
  }

  Status Steps(Store& store, std::string_view stream, uint64_t from_seq,
               uint64_t to_seq, bool from_start, const StepVisitor& visit,
               const ReplayProgress& progress) const override {
    return Guard<Status>(name_, "replay", [&]() -> Status {
      Status failure;
      Status s = Replay(store).Steps(
          stream, from_seq, to_seq,
          [&](const RecordedEvent& e, const State& after) {
            Result<std::string> state = StateJson(after);
            if (!state.ok()) {
              failure = state.status();
              return false;
            }
            Result<EventReport> event = Describe(e);
            if (!event.ok()) {
              failure = event.status();
              return false;
            }
            return visit(StepReport{std::move(*event), std::move(*state)});
          },
          from_start, progress);
      return failure.ok() ? s : failure;
    });
  }

  Result<BisectReport> Bisect(Store& store, std::string_view stream,
                              std::string_view invariant, bool exhaustive,
                              const ReplayProgress& progress) const override {
    return Guard<Result<BisectReport>>(
        name_, "bisect", [&]() -> Result<BisectReport> {
          const Invariant<State>* inv = nullptr;
          for (const auto& i : spec_.invariants) {
            if (i.name == invariant) inv = &i;
          }
          if (inv == nullptr) {
            std::string known;
            for (const auto& i : spec_.invariants) {
              known += (known.empty() ? "" : ", ") + i.name;
            }
            return Status::InvalidArgument(
                "type '" + name_ + "' has no invariant '" +
                std::string(invariant) + "'" +
                (known.empty() ? std::string(" (it has none)")
                               : "; it has: " + known));
          }
          auto b =
              Replay(store).Bisect(stream, inv->holds, exhaustive, progress);
          if (!b.ok()) return b.status();
          BisectReport out;
          out.found = b->found;
          out.seq = b->seq;
          out.probes = b->probes;
          out.events_replayed = b->events_replayed;
          if (b->event) {
            Result<EventReport> event = Describe(*b->event);
            if (!event.ok()) return event.status();
            out.event = std::move(*event);
          }
          for (auto [from, to] : {std::pair{&b->before, &out.before},
                                  std::pair{&b->after, &out.after}}) {
            if (!*from) continue;
            Result<std::string> json = StateJson(**from);
            if (!json.ok()) return json.status();
            *to = std::move(*json);
          }
          return out;
        });
  }

  Result<SnapshotReport> VerifySnapshots(
      Store& store, std::string_view stream,
      const ReplayProgress& progress) const override {
    return Guard<Result<SnapshotReport>>(
        name_, "verify-snapshots", [&]() -> Result<SnapshotReport> {
          auto v = Replay(store).VerifySnapshots(stream, spec_.state_equal,
                                                 progress);
          if (!v.ok()) return v.status();
          SnapshotReport out;
          out.checked = v->checked;
          out.unusable = v->unusable;
          out.unverifiable = v->unverifiable;
          if (v->first_mismatch) {
            Result<std::string> stored = StateJson(v->first_mismatch->stored);
            if (!stored.ok()) return stored.status();
            Result<std::string> replayed =
                StateJson(v->first_mismatch->replayed);
            if (!replayed.ok()) return replayed.status();
            out.first_mismatch = SnapshotMismatchReport{
                v->first_mismatch->seq, v->first_mismatch->detail,
                std::move(*stored), std::move(*replayed)};
          }
          return out;
        });
  }

  Result<RehandleReport> Rehandle(
      Store& store, std::string_view stream,
      const ReplayProgress& progress) const override {
    if constexpr (std::same_as<Event, typename A::Command>) {
      return Guard<Result<RehandleReport>>(
          name_, "rehandle", [&]() -> Result<RehandleReport> {
            auto r = Replay(store).Rehandle(stream, progress);
            if (!r.ok()) return r.status();
            RehandleReport out;
            out.commands = r->commands;
            if (r->first) {
              DivergenceReport d{r->first->seq, r->first->detail, {}};
              ReadOptions one;
              one.from_seq = one.to_seq = r->first->seq;
              auto recorded = store.journal().Read(stream, one);
              if (recorded.ok() && recorded->size() == 1) {
                Result<EventReport> event = Describe(recorded->front());
                if (event.ok()) d.command = std::move(*event);
              }
              out.first = std::move(d);
            }
            return out;
          });
    } else {
      (void)store;
      (void)stream;
      (void)progress;
      return Status::InvalidArgument(
          "type '" + name_ + "' (actor type '" + std::string(A::kTypeName) +
          "') is event-sourced: its journal holds events, not the commands "
          "that produced them, so there is nothing to re-run. rehandle works "
          "on command-sourced types (Event = Command)");
    }
  }

 private:
  Replayer<A> Replay(Store& store) const {
    return Replayer<A>(store, spec_.actor, spec_.options);
  }

  Result<std::string> StateJson(const State& state) const {
    try {
      return spec_.state_to_json(state);
    } catch (...) {
      return Status::Failed("plugin type '" + name_ +
                            "': state_to_json threw " +
                            detail::DescribeCurrentException());
    }
  }

  // The envelope, and the payload as JSON when the type can say it.
  Result<EventReport> Describe(const RecordedEvent& e) const {
    EventReport out{e, std::nullopt};
    if (!spec_.event_to_json) return out;
    std::vector<std::string_view> tags(e.tags.begin(), e.tags.end());
    EventView view{e.stream,       e.seq,  e.position,
                   e.timestamp_ns, e.type, e.schema_version,
                   e.payload,      tags};
    Result<Event> decoded = behavior_.DecodeStored(view);
    if (!decoded.ok()) {
      return decoded.status().WithContext("stream '" + e.stream + "' seq " +
                                          std::to_string(e.seq));
    }
    try {
      out.json = spec_.event_to_json(*decoded);
    } catch (...) {
      return Status::Failed("plugin type '" + name_ +
                            "': event_to_json threw " +
                            detail::DescribeCurrentException() + " on seq " +
                            std::to_string(e.seq));
    }
    return out;
  }

  std::string name_;
  ReplayType<A> spec_;
  detail::BehaviorOf<A> behavior_;
  std::vector<InvariantInfo> infos_;
};

// What MEMOIR_PLUGIN's entry point runs: the plugin's registration
// function, with anything it throws turned into a registration error.
template <typename Register>
int RunRegistration(Registry* registry, const Register& register_types) {
  try {
    register_types(*registry);
  } catch (...) {
    registry->Fail("its registration function threw " +
                   detail::DescribeCurrentException());
  }
  return registry->error().empty() ? 0 : 1;
}

}  // namespace internal

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
