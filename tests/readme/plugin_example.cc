// The README's replay-plugin example, built as a plugin and loaded by the
// CLI (readme_plugin_example_loads). Everything from the line that includes
// memoir/plugin.h on is the README's block, byte for byte
// (readme_plugin_example_matches_readme). Above it, what the README takes
// from elsewhere: the embedding example's Counter (its main renamed, as a
// plugin has none, and never called). readme_plugin_replays_embed_store
// replays the store the embedding example writes with this plugin.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wreturn-type"  // main's implicit return 0
#define main embed_example_main
#include "embed_example.cc"
#undef main
#pragma GCC diagnostic pop

#include "memoir/plugin.h"

void Register(memoir::plugin::Registry& registry) {
  memoir::plugin::ReplayType<Counter> counter;  // Counter: as above
  counter.stream_prefix = "counter-";           // the streams it holds
  counter.state_to_json = [](const long& total) {
    return memoir::plugin::JsonObject().Int("total", total).str();
  };
  counter.event_to_json = [](const long& added) {
    return memoir::plugin::JsonObject().Int("added", added).str();
  };
  counter.invariants.push_back({"non-negative", "the total is never below 0",
                                [](const long& t) { return t >= 0; }});
  registry.Add<Counter>("counter", std::move(counter));
}
MEMOIR_PLUGIN("my-service", Register)
