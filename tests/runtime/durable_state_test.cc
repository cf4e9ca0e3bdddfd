// Durable-state actors (memoir/durable_state.h): each change is one
// revision holding the whole state; older revisions are deleted; a stale
// revision conflicts; a normal stop keeps or wipes the state. The SIGKILL
// cycles are in reliability/crash_test.cc.
#include "memoir/durable_state.h"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "memoir/actor_system.h"
#include "memoir/store.h"
#include "runtime/actor_test_types.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

struct Profile {
  int64_t visits = 0;
  int64_t level = 0;
  bool operator==(const Profile&) const = default;
};

struct ProfileCommand {
  enum Mode : int32_t { kVisit, kGet, kSetLevel, kStop, kThrow };
  Mode mode = kVisit;
  int32_t pad = 0;
  int64_t level = 0;
};

struct ProfileActor {
  static constexpr std::string_view kTypeName = "profile";
  using State = Profile;
  using Command = ProfileCommand;
  using Reply = Profile;
  using StateCodec = PodCodec<Profile, "Profile">;
  using Fx = StateEffect<State, Reply>;

  // Not State{}: a wiped id must start from here.
  State InitialState(std::string_view) const { return Profile{0, 1}; }

  Fx Handle(const State& s, const Command& c) const {
    switch (c.mode) {
      case Command::kGet:
        return Fx::Respond(s);
      case Command::kStop:
        return Fx::Stop(s);
      case Command::kThrow:
        throw std::runtime_error("handler bug");
      case Command::kSetLevel: {
        if (c.level <= 0) return Fx::Reject("level must be positive");
        Profile next = s;
        next.level = c.level;
        return Fx::Persist(next, next);
      }
      case Command::kVisit:
        break;
    }
    Profile next = s;
    ++next.visits;
    return Fx::Persist(next, next);
  }
};

static_assert(DurableStateType<ProfileActor>);
static_assert(!ActorType<ProfileActor>);
static_assert(!DurableStateType<test::Counter>);

ProfileCommand Visit() { return {ProfileCommand::kVisit, 0, 0}; }
ProfileCommand GetProfile() { return {ProfileCommand::kGet, 0, 0}; }
ProfileCommand StopProfile() { return {ProfileCommand::kStop, 0, 0}; }
ProfileCommand SetLevel(int64_t l) { return {ProfileCommand::kSetLevel, 0, l}; }

StreamInfo Stream(Store& store, const std::string& id) {
  Result<StreamInfo> info = store.journal().GetStream(id);
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  return *info;
}

std::vector<RecordedEvent> Stored(Store& store, const std::string& id) {
  std::vector<RecordedEvent> out;
  Status s = store.journal().Scan(id, ReadOptions{}, [&](const EventView& e) {
    out.push_back(RecordedEvent::From(e));
    return true;
  });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

TEST_CASE(
    "a durable-state actor stores each change as one revision holding the "
    "whole state and deletes the older ones in bulk") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(ProfileActor{}).ok());
    auto p = system->Ref<ProfileActor>("profile-1");
    for (int64_t i = 1; i <= 20; ++i) {
      CHECK(test::Await(p.Ask(Visit())).visits == i);
    }
    CHECK(test::Await(p.Ask(GetProfile())) == Profile{20, 1});
    auto committed = p.CommittedState();
    REQUIRE(committed.ok());
    CHECK(committed->seq == 20);  // the revision
    CHECK(*committed->state == Profile{20, 1});
    // Shutdown drains the maintenance thread that deletes old revisions.
    REQUIRE(system->Shutdown().ok());
  }
  // Revision 17's commit queued a deletion of every revision before the
  // one committed when it ran (17 to 20).
  StreamInfo info = Stream(*store, "profile-1");
  CHECK(info.head == 20);
  CHECK(info.deleted_to >= 16);
  CHECK(info.deleted_to < 20);
  CHECK(info.event_count == 20 - info.deleted_to);
  std::vector<RecordedEvent> left = Stored(*store, "profile-1");
  REQUIRE(!left.empty());
  CHECK(left.back().seq == 20);
  CHECK(left.back().type == "Profile");
  CHECK(ProfileActor::StateCodec::Decode(
            left.back().type, left.back().schema_version,
            left.back().payload) == Profile{20, 1});
}

TEST_CASE(
    "a durable-state actor recovers from its newest revision, whatever older "
    "ones remain, and continues the revision count") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  // Three revisions written directly, none deleted.
  for (int64_t v = 1; v <= 3; ++v) {
    EventData e = ProfileActor::StateCodec::Encode(Profile{v * 10, 2});
    REQUIRE(store->journal()
                .Append("profile-2", Expected::At(static_cast<uint64_t>(v - 1)),
                        {e})
                .ok());
  }
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(ProfileActor{}).ok());
  auto p = system->Ref<ProfileActor>("profile-2");
  // Read without activating the actor, then through it.
  auto committed = p.CommittedState();
  REQUIRE(committed.ok());
  CHECK(committed->seq == 3);
  CHECK(*committed->state == Profile{30, 2});
  CHECK(test::Await(p.Ask(Visit())) == Profile{31, 2});
  REQUIRE(system->Shutdown().ok());
  CHECK(Stream(*store, "profile-2").head == 4);
}

TEST_CASE(
    "a write by another writer makes the actor's next write conflict on its "
    "stale revision, writing nothing; the actor then continues from the "
    "newer state") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(ProfileActor{}).ok());
  auto p = system->Ref<ProfileActor>("profile-3");
  CHECK(test::Await(p.Ask(Visit())).visits == 1);
  CHECK(test::Await(p.Ask(Visit())).visits == 2);
  // Someone else writes revision 3 while the actor holds revision 2.
  REQUIRE(store->journal()
              .Append("profile-3", Expected::At(2),
                      {ProfileActor::StateCodec::Encode(Profile{100, 9})})
              .ok());
  Status stale = test::AwaitError(p.Ask(Visit()));
  CHECK_MESSAGE(stale.IsConflict(), stale.ToString());
  CHECK(stale.actual_seq() == 3);
  CHECK(Stream(*store, "profile-3").head == 3);  // nothing written
  // The actor reloaded revision 3.
  CHECK(test::Await(p.Ask(Visit())) == Profile{101, 9});
  auto committed = p.CommittedState();
  REQUIRE(committed.ok());
  CHECK(committed->seq == 4);
}

TEST_CASE(
    "a wiping stop stores a cleared revision: the id starts afresh from its "
    "initial state, also after a restart, and revisions keep counting") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  DurableStateOptions wipe;
  wipe.on_stop = StopMode::kWipe;
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(ProfileActor{}, wipe).ok());
    auto p = system->Ref<ProfileActor>("profile-4");
    test::Await(p.Ask(Visit()));
    test::Await(p.Ask(Visit()));
    test::Await(p.Ask(SetLevel(7)));
    // The stop's reply is the state as it was; the actor leaves memory.
    CHECK(test::Await(p.Ask(StopProfile())) == Profile{2, 7});
    CHECK(test::Eventually([&] { return system->Stats().passivations == 1; }));
    CHECK(test::Await(p.Ask(GetProfile())) == Profile{0, 1});
    auto committed = p.CommittedState();
    REQUIRE(committed.ok());
    CHECK(committed->seq == 4);  // 3 changes and the clearing
    CHECK(*committed->state == Profile{0, 1});
    REQUIRE(system->Shutdown().ok());
  }
  std::vector<RecordedEvent> left = Stored(*store, "profile-4");
  REQUIRE(left.size() == 4);
  CHECK(left.back().type == kClearedStateType);
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(ProfileActor{}, wipe).ok());
  auto p = system->Ref<ProfileActor>("profile-4");
  CHECK(test::Await(p.Ask(GetProfile())) == Profile{0, 1});
  CHECK(test::Await(p.Ask(Visit())) == Profile{1, 1});
  CHECK(Stream(*store, "profile-4").head == 5);
}

TEST_CASE(
    "a keeping stop leaves the newest revision and takes the actor out of "
    "memory; the next command recovers it") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(ProfileActor{}).ok());  // StopMode::kKeep
  auto p = system->Ref<ProfileActor>("profile-5");
  test::Await(p.Ask(Visit()));
  test::Await(p.Ask(Visit()));
  CHECK(test::Await(p.Ask(StopProfile())) == Profile{2, 1});
  CHECK(test::Eventually([&] { return system->Stats().passivations == 1; }));
  CHECK(p.Info().phase == ActorInfo::Phase::kInactive);
  CHECK(Stream(*store, "profile-5").head == 2);  // the stop wrote nothing
  CHECK(test::Await(p.Ask(GetProfile())) == Profile{2, 1});
  CHECK(system->Stats().recoveries >= 2);
}

TEST_CASE(
    "a stored revision the state codec cannot read quarantines the actor, "
    "naming the revision") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  REQUIRE(store->journal()
              .Append("profile-6", Expected::At(0),
                      {{"Profile", "not eight bytes", 1, {}}})
              .ok());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(ProfileActor{}).ok());
  auto p = system->Ref<ProfileActor>("profile-6");
  Status s = test::AwaitError(p.Ask(GetProfile()));
  CHECK_MESSAGE(s.IsQuarantined(), s.ToString());
  CHECK_MESSAGE(s.ToString().find("revision 1") != std::string::npos,
                s.ToString());
  CHECK(p.Info().phase == ActorInfo::Phase::kQuarantined);
}

TEST_CASE(
    "an exception in a durable-state actor's Handle writes nothing, answers "
    "kFailed and leaves the committed state") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(ProfileActor{}).ok());
  auto p = system->Ref<ProfileActor>("profile-7");
  test::Await(p.Ask(Visit()));
  Status s =
      test::AwaitError(p.Ask(ProfileCommand{ProfileCommand::kThrow, 0, 0}));
  CHECK_MESSAGE(s.IsFailed(), s.ToString());
  CHECK(test::Await(p.Ask(GetProfile())) == Profile{1, 1});
  CHECK(Stream(*store, "profile-7").head == 1);
  Status rejected = test::AwaitError(p.Ask(SetLevel(0)));
  CHECK(rejected.IsRejected());
}

TEST_CASE(
    "a durable-state actor whose newest revision was deleted from outside is "
    "quarantined, not reset to its initial state") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(ProfileActor{}).ok());
    auto p = system->Ref<ProfileActor>("profile-8");
    test::Await(p.Ask(Visit()));
    test::Await(p.Ask(Visit()));
    REQUIRE(system->Shutdown().ok());
  }
  DeleteOptions force;
  force.force = true;
  REQUIRE(store->journal().DeleteTo("profile-8", 2, force).ok());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(ProfileActor{}).ok());
  auto p = system->Ref<ProfileActor>("profile-8");
  Status s = test::AwaitError(p.Ask(GetProfile()));
  CHECK_MESSAGE(s.IsQuarantined(), s.ToString());
  CHECK_MESSAGE(
      s.ToString().find("newest revision 2 was deleted") != std::string::npos,
      s.ToString());
  CHECK(p.CommittedState().status().IsQuarantined());
}

TEST_CASE("destroying a durable-state actor deletes its stream for good") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(ProfileActor{}).ok());
  auto p = system->Ref<ProfileActor>("profile-9");
  test::Await(p.Ask(Visit()));
  REQUIRE(p.Destroy().get().ok());
  CHECK(test::AwaitError(p.Ask(Visit())).IsStreamDeleted());
  CHECK(Stream(*store, "profile-9").deleted);
}

}  // namespace
}  // namespace memoir
