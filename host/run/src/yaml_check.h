// Strict reading of a YAML config: every failure is a gpsx::ConfigError whose message says
// where (file:line:column, or the `--set` argument that put the value there), the key path
// and what was expected:
//   exp.yaml:12:14: algorithm.kl_step: expected a number > 0, got -1
//   exp.yaml: --set 'algorithm.kl_step=-1': algorithm.kl_step: expected a number > 0, got -1
// Private to gpsx_run (yaml-cpp is a private dependency of the library).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace gpsx::run {

// An allowed interval of numbers; `describe` gives "> 0", ">= 1", "in [0, 1]", "".
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;
  bool contains(double v) const;
  std::string describe() const;
};
inline Range above(double lo) { return {lo, std::numeric_limits<double>::infinity(), true, false}; }
inline Range at_least(double lo) { return {lo, std::numeric_limits<double>::infinity(), false, false}; }

// Loads `text` (file name `file` for messages): YAML syntax errors carry yaml-cpp's mark.
YAML::Node parse_yaml(const std::string& text, const std::string& file);

class YamlChecker {
 public:
  explicit YamlChecker(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  // Applies one "key.path=value" override to root (value parsed as YAML: a scalar or a
  // flow list; list entries addressed as key[i]). Later errors at or under that key path
  // name the argument.
  void apply_set(YAML::Node& root, const std::string& arg);
  // The --set arguments whose key path is `prefix` or under it, quoted: "'a.b=1' 'a.c=2'".
  std::string sets_under(const std::string& prefix) const;

  [[noreturn]] void fail(const YAML::Node& node, const std::string& path,
                         const std::string& what) const;
  // "a number", "a list of 3 entries", ... for the `got` part of messages.
  static std::string found(const YAML::Node& node);

  // Requires a map whose keys are all in `allowed`.
  void keys(const YAML::Node& map, const std::string& path,
            std::initializer_list<const char*> allowed) const;
  void require_map(const YAML::Node& node, const std::string& path) const;
  // A present key of map, else fails "missing (required)".
  YAML::Node required(const YAML::Node& map, const std::string& key,
                      const std::string& path) const;

  double number(const YAML::Node& node, const std::string& path, Range range = {}) const;
  int integer(const YAML::Node& node, const std::string& path, long lo, long hi) const;
  std::uint64_t unsigned_integer(const YAML::Node& node, const std::string& path) const;
  bool boolean(const YAML::Node& node, const std::string& path) const;
  std::string text(const YAML::Node& node, const std::string& path) const;
  std::string choice(const YAML::Node& node, const std::string& path,
                     std::initializer_list<const char*> options) const;
  // A list of `count` numbers in range (count 0: any non-empty length).
  std::vector<double> numbers(const YAML::Node& node, const std::string& path, std::size_t count,
                              Range range = {}) const;

 private:
  std::string file_;
  std::vector<std::pair<std::string, std::string>> sets_;  // (key path, argument)
};

}  // namespace gpsx::run
