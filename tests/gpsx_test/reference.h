// Golden-data helpers shared by the tests: where the reference lives, JSON loading,
// flattening nested lists, and the README's comparison rule
// |got - ref| <= rtol * max|ref| (+ a small absolute floor for all-zero arrays).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace gpsx::test {

using json = nlohmann::json;

// $GPSX_REFERENCE_DIR, else ../shared/reference beside the repository root.
inline std::filesystem::path reference_dir() {
  if (const char* env = std::getenv("GPSX_REFERENCE_DIR"); env && *env) return env;
  return std::filesystem::path(GPSX_SOURCE_DIR) / ".." / "shared" / "reference";
}

// Loads one golden file; throws with the path when it is missing or malformed so the
// test fails with a clear message (golden tests never skip silently).
inline json load_reference(const std::string& file) {
  const auto path = reference_dir() / file;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open golden file " + path.string() +
                                    " (set GPSX_REFERENCE_DIR to the reference folder)");
  try {
    return json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error("malformed golden file " + path.string() + ": " + e.what());
  }
}

// Row-major flattening of a nested list of numbers (a scalar gives one element).
inline void flatten_into(const json& j, std::vector<double>& out) {
  if (j.is_array()) {
    for (const auto& e : j) flatten_into(e, out);
  } else if (j.is_null()) {
    out.push_back(std::nan(""));
  } else {
    out.push_back(j.get<double>());
  }
}
inline std::vector<double> flatten(const json& j) {
  std::vector<double> out;
  flatten_into(j, out);
  return out;
}
// Shape of a (rectangular) nested list.
inline std::vector<std::int64_t> shape_of(const json& j) {
  std::vector<std::int64_t> s;
  const json* p = &j;
  while (p->is_array()) {
    s.push_back(static_cast<std::int64_t>(p->size()));
    if (p->empty()) break;
    p = &(*p)[0];
  }
  return s;
}

// |got[i] - ref[i]| <= rtol * max|ref| + atol for all i; reports the worst element.
inline ::testing::AssertionResult near_rel(const double* got, const std::vector<double>& ref,
                                           double rtol, double atol = 1e-300,
                                           const std::string& what = "") {
  double scale = 0.0;
  for (double r : ref) scale = std::max(scale, std::abs(r));
  const double tol = rtol * scale + atol;
  double worst = -1.0;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double err = std::abs(got[i] - ref[i]);
    if (!(err <= tol) && (err > worst || std::isnan(err))) {
      worst = std::isnan(err) ? INFINITY : err;
      worst_i = i;
    }
  }
  if (worst < 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os.precision(17);
  os << what << ": element " << worst_i << " got " << got[worst_i] << " ref " << ref[worst_i]
     << " |err| " << worst << " > tol " << tol << " (rtol " << rtol << " * max|ref| " << scale
     << ")";
  return ::testing::AssertionFailure() << os.str();
}
inline ::testing::AssertionResult near_rel(const std::vector<double>& got,
                                           const std::vector<double>& ref, double rtol,
                                           double atol = 1e-300, const std::string& what = "") {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " != reference "
                                         << ref.size();
  return near_rel(got.data(), ref, rtol, atol, what);
}

}  // namespace gpsx::test
