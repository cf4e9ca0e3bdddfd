// Must NOT compile: PodCodec of a type with an owning member. The test
// pod_codec_rejects_owning_types_with_advice (tests/CMakeLists.txt) compiles
// this file and checks that the compiler's message tells the user what to
// use instead.
#include <string>

#include "memoir/actor.h"

struct Profile {
  std::string name;
};

memoir::EventData Misuse(const Profile& p) {
  return memoir::PodCodec<Profile, "Profile">::Encode(p);
}
