// Argument checks at API boundaries. The message says which call, which argument and
// what was expected; callers build it only on failure where it is costly.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace gpsx {

// Throws std::invalid_argument(what) unless ok.
inline void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

// "(2 x 15 x 6)": sizes for messages.
inline std::string dims_str(std::initializer_list<long long> d) {
  std::string s = "(";
  for (auto it = d.begin(); it != d.end(); ++it)
    s += (it == d.begin() ? "" : " x ") + std::to_string(*it);
  return s + ")";
}

// "condition 3: ", the start of every per-condition message of a batched call.
inline std::string condition_label(int m) { return "condition " + std::to_string(m) + ": "; }

}  // namespace gpsx
