// Completion scripts and the man page from the App's definitions (docs.h).
#include "docs.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <string_view>
#include <vector>

#include "memoir/version.h"

namespace memoir::cli {
namespace {

// What the generators need of one option or positional argument.
struct Arg {
  std::vector<std::string> names;  // "-n", "--limit"; empty for positionals
  std::string value;               // "N", "FILE", "STORE"; empty for flags
  std::string description;
  bool positional = false;
  bool required = false;
  // Complete file names for it (positionals, FILE and LIB values).
  bool files = false;
};

struct Cmd {
  std::string name;
  std::string description;
  std::vector<Arg> args;  // options first, then positionals in order
};

bool Hidden(const CLI::App* app) { return app->get_group().empty(); }

std::vector<Arg> ArgsOf(const CLI::App& app) {
  std::vector<Arg> options, positionals;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_group().empty()) continue;  // hidden
    Arg a;
    a.description = opt->get_description();
    a.required = opt->get_required();
    if (!opt->nonpositional()) {
      a.positional = true;
      a.value = opt->get_name();
      a.files = true;
      positionals.push_back(std::move(a));
      continue;
    }
    for (const std::string& s : opt->get_snames()) a.names.push_back("-" + s);
    for (const std::string& l : opt->get_lnames()) a.names.push_back("--" + l);
    if (opt->get_type_size() != 0) {
      a.value = opt->get_type_name();
      a.files = a.value == "FILE" || a.value == "LIB";
    }
    options.push_back(std::move(a));
  }
  options.insert(options.end(), positionals.begin(), positionals.end());
  return options;
}

std::vector<Cmd> CommandsOf(const CLI::App& app) {
  std::vector<Cmd> out;
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App* s) { return !Hidden(s); })) {
    out.push_back({sub->get_name(), sub->get_description(), ArgsOf(*sub)});
  }
  return out;
}

// The first clause of a description, for one-line completion menus.
std::string Short(std::string_view text) {
  // Without parenthetical asides, up to the first ';', ':' or sentence end.
  std::string plain;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (depth == 0) plain += c;
    if (c == ')' && depth > 0) --depth;
  }
  const size_t end = std::min(plain.find_first_of(";:\n"), plain.find(". "));
  std::string s = plain.substr(0, end);
  for (size_t twice = s.find("  "); twice != std::string::npos;
       twice = s.find("  ")) {
    s.erase(twice, 1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == ',')) s.pop_back();
  if (s.size() > 90) s = s.substr(0, s.rfind(' ', 87)) + "...";
  return s;
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// Inside single quotes in a zsh script, and inside an _arguments or
// _describe description: no quote, bracket or colon left bare.
std::string ZshText(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\'':
        out += "'\\''";
        break;
      case '[':
        out += '(';
        break;
      case ']':
        out += ')';
        break;
      case ':':
        out += "\\:";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Text for man(7): backslashes escaped, hyphens as \-, and a line that
// would start with a control character guarded.
std::string Roff(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Usage(const Cmd& c) {
  std::string usage = "memoir " + c.name;
  bool options = false;
  for (const Arg& a : c.args) {
    if (!a.positional) {
      options = true;
    } else {
      usage += a.required ? " " + a.value : " [" + a.value + "]";
    }
  }
  return options ? usage + " [OPTIONS]" : usage;
}

}  // namespace

std::string BashCompletion(const CLI::App& app) {
  const std::vector<Cmd> commands = CommandsOf(app);
  std::vector<std::string> names;
  for (const Cmd& c : commands) names.push_back(c.name);
  std::string cases;
  for (const Cmd& c : commands) {
    std::vector<std::string> options, valued, files;
    for (const Arg& a : c.args) {
      if (a.positional) continue;
      options.insert(options.end(), a.names.begin(), a.names.end());
      if (a.value.empty()) continue;
      auto& to = a.files ? files : valued;
      to.insert(to.end(), a.names.begin(), a.names.end());
    }
    cases += fmt::format(
        "    {})\n      opts='{}'\n      valued='{}'\n      files='{}'\n"
        "      ;;\n",
        c.name, Join(options), Join(valued), Join(files));
  }
  return fmt::format(
      R"(# bash completion for memoir {version}
# Generated by 'memoir completion bash' from the CLI's own definitions.

_memoir() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}}
  local prev=${{COMP_WORDS[COMP_CWORD-1]}}
  local cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${{COMP_WORDS[i]}}" in
      -*) ;;
      *) cmd=${{COMP_WORDS[i]}}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W '{commands} --help --version' -- "$cur"))
    return
  fi
  local opts="" valued="" files=""
  case "$cmd" in
{cases}    *)
      return
      ;;
  esac
  if [[ " $files " == *" $prev "* ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  if [[ " $valued " == *" $prev "* ]]; then
    COMPREPLY=()
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen -f -- "$cur"))
}}
complete -F _memoir memoir
)",
      fmt::arg("version", MEMOIR_VERSION), fmt::arg("commands", Join(names)),
      fmt::arg("cases", cases));
}

std::string ZshCompletion(const CLI::App& app) {
  const std::vector<Cmd> commands = CommandsOf(app);
  std::string described, cases;
  for (const Cmd& c : commands) {
    described +=
        fmt::format("    '{}:{}'\n", c.name, ZshText(Short(c.description)));
    std::string specs;
    int position = 0;
    for (const Arg& a : c.args) {
      std::string action = a.files ? ":_files" : (a.value.empty() ? "" : ":");
      if (a.positional) {
        specs += fmt::format(" \\\n          '{}:{}{}'", ++position,
                             ZshText(a.value), a.files ? ":_files" : ":");
        continue;
      }
      const std::string desc = ZshText(Short(a.description));
      const std::string value =
          a.value.empty() ? "" : ":" + ZshText(a.value) + action;
      if (a.names.size() == 1) {
        specs +=
            fmt::format(" \\\n          '{}[{}]{}'", a.names[0], desc, value);
      } else {
        // Alternative spellings exclude each other: '(-n --limit)'{-n,--limit}
        specs +=
            fmt::format(" \\\n          '({})'{{{}}}'[{}]{}'", Join(a.names),
                        fmt::join(a.names, ","), desc, value);
      }
    }
    cases +=
        fmt::format("        {})\n          _arguments -s{}\n          ;;\n",
                    c.name, specs);
  }
  return fmt::format(
      R"(#compdef memoir
# zsh completion for memoir {version}
# Generated by 'memoir completion zsh' from the CLI's own definitions.

_memoir() {{
  local curcontext="$curcontext" state line
  typeset -A opt_args
  _arguments -C \
    '(- *)'{{-h,--help}}'[print help and exit]' \
    '(- *)--version[print the version and exit]' \
    '1: :->command' \
    '*:: :->args'
  case $state in
    command)
      local -a commands
      commands=(
{described}      )
      _describe -t commands 'memoir command' commands
      ;;
    args)
      case $words[1] in
{cases}      esac
      ;;
  esac
}}

_memoir "$@"
)",
      fmt::arg("version", MEMOIR_VERSION), fmt::arg("described", described),
      fmt::arg("cases", cases));
}

std::string ManPage(const CLI::App& app) {
  std::string out = fmt::format(
      ".\\\" Generated by 'memoir man' from the CLI's own definitions.\n"
      ".TH MEMOIR 1 \"\" \"memoir {}\" \"User Commands\"\n"
      ".nh\n"
      ".ad l\n"
      ".SH NAME\n"
      "memoir \\- inspect a memoir store, live or copied, and replay its "
      "history\n"
      ".SH SYNOPSIS\n"
      ".B memoir\n"
      ".I COMMAND\n"
      "[\\fIARGS\\fR] [\\fIOPTIONS\\fR]\n"
      ".br\n"
      ".B memoir\n"
      "[\\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR]\n"
      ".SH DESCRIPTION\n"
      "{}\n"
      ".PP\n"
      "Every command takes \\fB\\-\\-help\\fR.\n"
      ".SH COMMANDS\n",
      MEMOIR_VERSION, Roff(app.get_description()));
  for (const Cmd& c : CommandsOf(app)) {
    out += fmt::format(".SS \"{}\"\n{}\n", Roff(Usage(c)), Roff(c.description));
    for (const Arg& a : c.args) {
      std::string head;
      if (a.positional) {
        head = fmt::format("\\fI{}\\fR", Roff(a.value));
      } else {
        std::vector<std::string> names;
        for (const std::string& n : a.names) {
          names.push_back(fmt::format("\\fB{}\\fR", Roff(n)));
        }
        head = fmt::format("{}", fmt::join(names, ", "));
        if (!a.value.empty()) head += fmt::format(" \\fI{}\\fR", Roff(a.value));
      }
      out += fmt::format(".TP\n{}\n{}\n", head, Roff(a.description));
    }
  }
  std::string footer = app.get_footer();
  const size_t codes = footer.find("Exit codes:");
  if (codes != std::string::npos) {
    std::string text = footer.substr(codes + 11);
    const size_t end = text.find('\n');
    if (end != std::string::npos) text.resize(end);
    while (!text.empty() && text.front() == ' ') text.erase(0, 1);
    out += fmt::format(".SH \"EXIT STATUS\"\n{}\n", Roff(text));
  }
  out += fmt::format(
      ".SH ENVIRONMENT\n"
      ".TP\n"
      ".B MEMOIR_CLI_NO_FORK=1\n"
      "Run the command in this process rather than in a watched child "
      "(for debugging a replay plugin, e.g. under gdb).\n"
      ".SH \"SEE ALSO\"\n"
      "The README of memoir, section \"The memoir CLI\".\n");
  return out;
}

}  // namespace memoir::cli
