#include "yaml_check.h"

#include <fmt/format.h>

#include <cmath>
#include <sstream>

#include "gpsx/host/cost.h"

namespace gpsx::run {

namespace {

// a.b.c is at or under a.b (and a.b is "at or under" a.b.c for errors on the maps that a
// --set created on the way).
bool nested(const std::string& a, const std::string& b) {
  const std::string& s = a.size() < b.size() ? a : b;
  const std::string& l = a.size() < b.size() ? b : a;
  return l.compare(0, s.size(), s) == 0 &&
         (l.size() == s.size() || l[s.size()] == '.' || l[s.size()] == '[');
}

// One segment of a --set key path: name or name[index].
struct Segment {
  std::string name;
  long index = -1;
};

}  // namespace

bool Range::contains(double v) const {
  return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
}

std::string Range::describe() const {
  const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
  if (has_lo && has_hi)
    return fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
  if (has_lo) return fmt::format("{} {}", lo_open ? ">" : ">=", lo);
  if (has_hi) return fmt::format("{} {}", hi_open ? "<" : "<=", hi);
  return "";
}

YAML::Node parse_yaml(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}:{}: malformed YAML: {}", file, e.mark.line + 1,
                                  e.mark.column + 1, e.msg));
  }
}

void YamlChecker::apply_set(YAML::Node& root, const std::string& arg) {
  const std::string where = file_ + ": --set '" + arg + "'";
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(where + ": expected KEY.PATH=VALUE (e.g. algorithm.kl_step=0.1)");
  const std::string key = arg.substr(0, eq), value = arg.substr(eq + 1);
  std::vector<Segment> segments;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) {
    Segment s;
    const auto br = part.find('[');
    s.name = part.substr(0, br);
    if (br != std::string::npos) {
      const std::string idx = part.substr(br + 1);
      std::size_t used = 0;
      try {
        s.index = std::stol(idx, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || s.index < 0 || idx.substr(used) != "]")
        throw ConfigError(where + ": key path '" + key + "': expected name[index] in '" + part +
                          "'");
    }
    if (s.name.empty())
      throw ConfigError(where + ": key path '" + key + "' has an empty key");
    segments.push_back(s);
  }
  if (key.back() == '.') throw ConfigError(where + ": key path '" + key + "' has an empty key");
  YAML::Node v;
  try {
    v = YAML::Load(value);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(where + ": value '" + value + "' is not valid YAML (" + e.msg + ")");
  }
  if (!v.IsScalar() && !v.IsSequence())
    throw ConfigError(where + ": expected a value (a scalar or a flow list [a, b]), got " +
                      (v.IsMap() ? "a map" : "nothing"));
  if (!root.IsMap())
    throw ConfigError(where + ": the config is not a map of keys");

  // Walk down, creating maps on the way. reset() moves the cursor (assignment would
  // overwrite the node it points at).
  YAML::Node node;
  node.reset(root);
  std::string path;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    path += (path.empty() ? "" : ".") + s.name;
    if (!node.IsMap())
      throw ConfigError(where + ": key path '" + key + "': " + path + " is not under a map");
    const bool last = i + 1 == segments.size();
    YAML::Node child = node[s.name];
    if (s.index >= 0) {
      if (!child.IsSequence() || static_cast<std::size_t>(s.index) >= child.size())
        throw ConfigError(where + ": key path '" + key + "': " + path + " has no entry " +
                          std::to_string(s.index));
      path += "[" + std::to_string(s.index) + "]";
      YAML::Node item = child[static_cast<std::size_t>(s.index)];
      if (last) item = v;
      else node.reset(item);
      continue;
    }
    if (last) {
      child = v;
    } else {
      if (!child.IsDefined() || child.IsNull()) child = YAML::Node(YAML::NodeType::Map);
      node.reset(child);
    }
  }
  sets_.emplace_back(path, arg);
}

std::string YamlChecker::sets_under(const std::string& prefix) const {
  std::string out;
  for (const auto& s : sets_)
    if (s.first.size() >= prefix.size() && nested(s.first, prefix))
      out += (out.empty() ? "'" : " '") + s.second + "'";
  return out;
}

void YamlChecker::fail(const YAML::Node& node, const std::string& path,
                       const std::string& what) const {
  // the newest --set at or under this path put the value there
  for (auto it = sets_.rbegin(); it != sets_.rend(); ++it)
    if (nested(it->first, path))
      throw ConfigError(file_ + ": --set '" + it->second + "': " + path + ": " + what);
  std::string where = file_;
  if (node.IsDefined() && !node.Mark().is_null())
    where += fmt::format(":{}:{}", node.Mark().line + 1, node.Mark().column + 1);
  throw ConfigError(where + ": " + path + ": " + what);
}

std::string YamlChecker::found(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list of " + std::to_string(node.size()) + " entries";
  return "a map";
}

void YamlChecker::require_map(const YAML::Node& node, const std::string& path) const {
  if (!node.IsMap()) fail(node, path, "expected a map, got " + found(node));
}

void YamlChecker::keys(const YAML::Node& map, const std::string& path,
                       std::initializer_list<const char*> allowed) const {
  require_map(map, path);
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    bool ok = false;
    for (const char* a : allowed) ok = ok || key == a;
    if (ok) continue;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    fail(kv.first, path.empty() ? key : path + "." + key,
         "unknown key '" + key + "', expected one of: " + list);
  }
}

YAML::Node YamlChecker::required(const YAML::Node& map, const std::string& key,
                                 const std::string& path) const {
  const YAML::Node n = map[key];
  if (!n) fail(map, path.empty() ? key : path + "." + key, "missing, expected a value (required)");
  return n;
}

double YamlChecker::number(const YAML::Node& node, const std::string& path, Range range) const {
  const std::string want = "expected a number" +
                           (range.describe().empty() ? "" : " " + range.describe());
  if (!node.IsScalar()) fail(node, path, want + ", got " + found(node));
  double v = 0;
  try {
    v = node.as<double>();
  } catch (const YAML::Exception&) {
    fail(node, path, want + ", got " + found(node));
  }
  if (!std::isfinite(v) || !range.contains(v)) fail(node, path, want + ", got " + node.Scalar());
  return v;
}

int YamlChecker::integer(const YAML::Node& node, const std::string& path, long lo,
                         long hi) const {
  const std::string want = hi == std::numeric_limits<int>::max()
                               ? fmt::format("expected an integer >= {}", lo)
                               : fmt::format("expected an integer in [{}, {}]", lo, hi);
  if (!node.IsScalar()) fail(node, path, want + ", got " + found(node));
  long v = 0;
  try {
    v = node.as<long>();
  } catch (const YAML::Exception&) {
    fail(node, path, want + ", got " + found(node));
  }
  if (v < lo || v > hi) fail(node, path, want + ", got " + node.Scalar());
  return static_cast<int>(v);
}

std::uint64_t YamlChecker::unsigned_integer(const YAML::Node& node,
                                            const std::string& path) const {
  const std::string want = "expected an unsigned integer";
  // a leading '-' would wrap around in the conversion
  if (!node.IsScalar() || node.Scalar().empty() || node.Scalar()[0] == '-')
    fail(node, path, want + ", got " + found(node));
  try {
    return node.as<std::uint64_t>();
  } catch (const YAML::Exception&) {
    fail(node, path, want + ", got " + found(node));
  }
}

bool YamlChecker::boolean(const YAML::Node& node, const std::string& path) const {
  if (!node.IsScalar()) fail(node, path, "expected true or false, got " + found(node));
  try {
    return node.as<bool>();
  } catch (const YAML::Exception&) {
    fail(node, path, "expected true or false, got " + found(node));
  }
}

std::string YamlChecker::text(const YAML::Node& node, const std::string& path) const {
  if (!node.IsScalar() || node.Scalar().empty())
    fail(node, path, "expected a string, got " + found(node));
  return node.Scalar();
}

std::string YamlChecker::choice(const YAML::Node& node, const std::string& path,
                                std::initializer_list<const char*> options) const {
  std::string list;
  for (const char* o : options) list += (list.empty() ? "" : ", ") + std::string(o);
  if (node.IsScalar())
    for (const char* o : options)
      if (node.Scalar() == o) return o;
  fail(node, path, "expected one of: " + list + ", got " + found(node));
}

std::vector<double> YamlChecker::numbers(const YAML::Node& node, const std::string& path,
                                         std::size_t count, Range range) const {
  const std::string want =
      count > 0 ? fmt::format("expected a list of {} numbers", count)
                : std::string("expected a non-empty list of numbers");
  if (!node.IsSequence() || node.size() == 0 || (count > 0 && node.size() != count))
    fail(node, path, want + ", got " + found(node));
  std::vector<double> out;
  for (std::size_t i = 0; i < node.size(); ++i)
    out.push_back(number(node[i], path + "[" + std::to_string(i) + "]", range));
  return out;
}

}  // namespace gpsx::run
