// Loading replay plugins (plugin_host.h).
#include "plugin_host.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace memoir::cli {
namespace {

constexpr std::string_view kHowToBuild =
    "A plugin is a shared library built from a MEMOIR_PLUGIN source against "
    "this memoir's headers; see README.md, \"Debugging with replay\"";

std::vector<std::string> Fields(std::string_view abi) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t end = abi.find("; ", start);
    out.emplace_back(abi.substr(start, end - start));
    if (end == std::string_view::npos) return out;
    start = end + 2;
  }
}

// "0.2.0 (g++ 12.2.0, libstdc++ cxx11-abi 1, sanitizers none)" from an
// ABI string, or the string itself when it has another shape.
std::string Readable(std::string_view abi) {
  std::vector<std::string> f = Fields(abi);
  if (f.size() < 2 || f[0].rfind("memoir ", 0) != 0) {
    return fmt::format("\"{}\"", abi);
  }
  std::string rest;
  for (size_t i = 1; i < f.size(); ++i) {
    rest += (i > 1 ? ", " : "") + f[i];
  }
  return fmt::format("{} ({})", f[0].substr(7), rest);
}

// What differs between two ABI strings, for people.
std::string Differences(std::string_view plugin, std::string_view host) {
  static const char* const kNames[] = {"the memoir version", "the compiler",
                                       "the C++ library ABI", "the sanitizers"};
  std::vector<std::string> a = Fields(plugin), b = Fields(host);
  if (a.size() != b.size() || a.size() != std::size(kNames)) return "";
  std::string out;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i])
      out += (out.empty() ? "" : " and ") + std::string(kNames[i]);
  }
  return out;
}

Status Refuse(std::string message) { return Status::InvalidArgument(message); }

Status DlopenError(const std::string& path, const char* error) {
  std::string why = error != nullptr ? error : "unknown dlopen error";
  if (why.find("invalid ELF header") != std::string::npos ||
      why.find("file too short") != std::string::npos) {
    return Refuse(
        fmt::format("plugin file '{}' is not a shared library ({}). {}", path,
                    why, kHowToBuild));
  }
  if (why.find("undefined symbol") != std::string::npos) {
    return Refuse(fmt::format(
        "cannot load plugin '{}': {}. The plugin needs code this memoir {} "
        "does not have: it was built against another version of memoir, or "
        "it expects a library that is not linked in. Rebuild it against "
        "this version",
        path, why, MEMOIR_VERSION));
  }
  if (why.find("wrong ELF class") != std::string::npos) {
    return Refuse(fmt::format(
        "cannot load plugin '{}': {}; rebuild it for this machine", path, why));
  }
  return Refuse(fmt::format(
      "cannot load plugin '{}': {}. If it was built against another "
      "version of memoir, rebuild it against this one ({})",
      path, why, Readable(HostAbi())));
}

}  // namespace

std::string_view HostAbi() { return MEMOIR_PLUGIN_ABI_FOR(MEMOIR_VERSION); }

Result<std::unique_ptr<LoadedPlugin>> LoadedPlugin::Load(
    const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return Refuse(
          fmt::format("plugin file '{}' does not exist; check the path. {}",
                      path, kHowToBuild));
    }
    return Refuse(fmt::format("cannot read plugin file '{}': {}", path,
                              std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    return Refuse(fmt::format("plugin file '{}' is not a regular file. {}",
                              path, kHowToBuild));
  }
  // A name without a slash would make dlopen search the library path.
  const std::string open_path =
      path.find('/') == std::string::npos ? "./" + path : path;
  ::dlerror();
  void* handle = ::dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return DlopenError(path, ::dlerror());
  // Never dlclose'd: the registered types' vtables and code live in it.
  using EntryPoint = const memoir_plugin_v1* (*)();
  auto entry =
      reinterpret_cast<EntryPoint>(::dlsym(handle, MEMOIR_PLUGIN_ENTRY_POINT));
  if (entry == nullptr) {
    return Refuse(fmt::format(
        "'{}' is a shared library but not a memoir plugin: it exports no "
        "{}() function. Define one with MEMOIR_PLUGIN(name, "
        "register_function) from memoir/plugin.h",
        path, MEMOIR_PLUGIN_ENTRY_POINT));
  }
  const memoir_plugin_v1* info = entry();
  if (info == nullptr || info->abi == nullptr) {
    return Refuse(fmt::format(
        "plugin '{}': its {}() returned no description; define the entry "
        "point with MEMOIR_PLUGIN from memoir/plugin.h",
        path, MEMOIR_PLUGIN_ENTRY_POINT));
  }
  std::unique_ptr<LoadedPlugin> p(new LoadedPlugin);
  p->path_ = path;
  p->abi_ = info->abi;
  p->name_ = info->name != nullptr ? info->name : "(unnamed)";
  if (p->abi_ != HostAbi()) {
    std::string differ = Differences(p->abi_, HostAbi());
    return Refuse(fmt::format(
        "{} was built against memoir {}; this memoir is {}{}. Rebuild the "
        "plugin against this version (its headers, the same compiler and "
        "sanitizers)",
        p->Describe(), Readable(p->abi_), Readable(HostAbi()),
        differ.empty() ? "" : ": they differ in " + differ));
  }
  if (info->register_types == nullptr ||
      info->register_types(&p->registry_) != 0) {
    return Refuse(fmt::format(
        "{} could not register its types: {}", p->Describe(),
        p->registry_.error().empty() ? "it reported a failure without a reason"
                                     : p->registry_.error()));
  }
  return p;
}

std::string LoadedPlugin::Describe() const {
  return fmt::format("plugin '{}' ({})", name_, path_);
}

std::string MatcherText(const plugin::Type& type) {
  const std::string& prefix = type.stream_prefix();
  if (!prefix.empty() && type.has_matcher()) {
    return fmt::format("streams starting with '{}' that its matcher takes",
                       prefix);
  }
  if (!prefix.empty()) {
    return fmt::format("streams starting with '{}'", prefix);
  }
  if (type.has_matcher()) return "streams its matcher takes";
  return "no stream by itself (name it with --type)";
}

Result<const plugin::Type*> LoadedPlugin::Named(
    std::string_view type_name) const {
  if (const plugin::Type* t = registry_.Find(type_name)) return t;
  std::string known;
  for (const auto& t : registry_.types()) {
    known += (known.empty() ? "" : ", ") + t->name();
  }
  return Refuse(fmt::format(
      "{} has no type '{}'; {}", Describe(), type_name,
      known.empty() ? "it registers no types" : "its types: " + known));
}

Result<const plugin::Type*> LoadedPlugin::TypeFor(
    std::string_view stream, std::string_view type_name) const {
  if (!type_name.empty()) return Named(type_name);
  if (registry_.types().empty()) {
    return Refuse(fmt::format("{} registers no types", Describe()));
  }
  std::vector<const plugin::Type*> matching;
  std::string all;
  for (const auto& t : registry_.types()) {
    if (t->Matches(stream)) matching.push_back(t.get());
    all += fmt::format("{}{}: {}", all.empty() ? "" : "; ", t->name(),
                       MatcherText(*t));
  }
  if (matching.size() == 1) return matching[0];
  if (matching.empty()) {
    return Refuse(fmt::format(
        "stream '{}' matches no type of {} ({}); name the type with --type "
        "NAME",
        stream, Describe(), all));
  }
  std::string names;
  for (const plugin::Type* t : matching) {
    names += (names.empty() ? "" : ", ") + t->name();
  }
  return Refuse(fmt::format(
      "stream '{}' matches several types of {} ({}); name one with --type "
      "NAME",
      stream, Describe(), names));
}

}  // namespace memoir::cli
