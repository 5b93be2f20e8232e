// NumPy's .npy file format (v1.0 written; v1.0-3.0 headers read) for the dtypes the
// archives hold. Internal to gpsx_run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gpsx::run::detail {

// Bytes per element of a dtype the archives hold ("<f8", "<i8", "<i4", "<u4", "<u8",
// "|u1"); 0 for any other.
std::size_t npy_itemsize(std::string_view descr);

// Elements in an array of this shape, or -1 when an extent is negative or the count
// exceeds max_elements.
std::int64_t npy_count(const std::vector<std::int64_t>& shape, std::int64_t max_elements);

// Magic, version 1.0, header length and the header dict padded with spaces and a newline
// to a multiple of 64 bytes; the data follows it.
std::string npy_header(std::string_view descr, const std::vector<std::int64_t>& shape);

struct NpyInfo {
  std::string descr;
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;  // within the .npy file
  std::size_t data_bytes = 0;
};

// Parses a whole .npy file: header, a dtype of npy_itemsize() > 0, C order (or at most
// one dimension), and exactly prod(shape) elements of data. On a refusal returns false
// and says why in `why`.
bool npy_parse(std::string_view file, NpyInfo& info, std::string& why);

// "(2, 3)", "(4,)" or "()", as numpy prints shapes.
std::string shape_string(const std::vector<std::int64_t>& shape);

}  // namespace gpsx::run::detail
