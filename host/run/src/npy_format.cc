#include "npy_format.h"

#include <cstring>

namespace gpsx::run::detail {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::size_t kAlign = 64;  // numpy's own header alignment

// A cursor over the header dict, reading the Python literal subset numpy writes.
struct DictParser {
  std::string_view s;
  std::size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  bool string(std::string& out) {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) return false;
    const char q = s[i++];
    const std::size_t end = s.find(q, i);
    if (end == std::string_view::npos) return false;
    out.assign(s.substr(i, end - i));
    i = end + 1;
    return true;
  }
  bool boolean(bool& out) {
    ws();
    for (const auto& [word, value] : {std::pair<std::string_view, bool>{"True", true}, {"False", false}}) {
      if (s.substr(i, word.size()) == word) {
        i += word.size();
        out = value;
        return true;
      }
    }
    return false;
  }
  bool integer(std::int64_t& out) {
    ws();
    std::size_t start = i;
    out = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (out > (std::int64_t{1} << 56)) return false;  // far beyond any file
      out = out * 10 + (s[i++] - '0');
    }
    if (i < s.size() && s[i] == 'L') ++i;  // Python 2's long suffix
    return i > start;
  }
  bool tuple(std::vector<std::int64_t>& out) {
    out.clear();
    if (!eat('(')) return false;
    if (eat(')')) return true;
    for (;;) {
      std::int64_t v = 0;
      if (!integer(v) || out.size() >= 64) return false;
      out.push_back(v);
      if (eat(')')) return true;
      if (!eat(',')) return false;
      if (eat(')')) return true;
    }
  }
};

}  // namespace

std::size_t npy_itemsize(std::string_view d) {
  if (d == "<f8" || d == "<i8" || d == "<u8") return 8;
  if (d == "<i4" || d == "<u4") return 4;
  if (d == "|u1") return 1;
  return 0;
}

std::int64_t npy_count(const std::vector<std::int64_t>& shape, std::int64_t max_elements) {
  for (std::int64_t e : shape) if (e < 0) return -1;
  for (std::int64_t e : shape) if (e == 0) return 0;
  std::int64_t n = 1;
  for (std::int64_t e : shape) {
    if (n > max_elements / e) return -1;
    n *= e;
  }
  return n > max_elements ? -1 : n;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string npy_header(std::string_view descr, const std::vector<std::int64_t>& shape) {
  std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " +
                     shape_string(shape) + ", }";
  const std::size_t fixed = kMagicSize + 4;  // magic, version, header length
  const std::size_t total = (fixed + dict.size() + 1 + kAlign - 1) / kAlign * kAlign;
  dict.append(total - fixed - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  return out + dict;
}

bool npy_parse(std::string_view f, NpyInfo& info, std::string& why) {
  if (f.size() < kMagicSize + 4 || f.substr(0, kMagicSize) != std::string_view(kMagic, kMagicSize)) {
    why = "is not a .npy array (no magic)";
    return false;
  }
  const int major = static_cast<unsigned char>(f[6]);
  std::size_t hlen = 0, start = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::size_t>(static_cast<unsigned char>(f[k])); };
  if (major == 1) {
    hlen = byte(8) | byte(9) << 8;
    start = 10;
  } else if ((major == 2 || major == 3) && f.size() >= 12) {
    hlen = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    start = 12;
  } else {
    why = "has .npy version " + std::to_string(major) + ", which gpsx does not read";
    return false;
  }
  if (hlen > f.size() - start) {
    why = "has a .npy header longer than the member";
    return false;
  }
  DictParser p{f.substr(start, hlen)};
  bool have_descr = false, have_order = false, have_shape = false, fortran = false;
  bool ok = p.eat('{'), closed = false;
  while (ok && !closed) {
    if (p.eat('}')) {
      closed = true;
      break;
    }
    std::string key;
    ok = p.string(key) && p.eat(':');
    if (ok && key == "descr") ok = have_descr = p.string(info.descr);
    else if (ok && key == "fortran_order") ok = have_order = p.boolean(fortran);
    else if (ok && key == "shape") ok = have_shape = p.tuple(info.shape);
    else ok = false;
    if (ok && !p.eat(',')) ok = closed = p.eat('}');
  }
  p.ws();
  if (!ok || !have_descr || !have_order || !have_shape || p.i != p.s.size()) {
    why = "has a damaged .npy header";
    return false;
  }
  const std::size_t item = npy_itemsize(info.descr);
  if (item == 0) {
    why = "has dtype " + info.descr + ", which gpsx does not read";
    return false;
  }
  if (fortran && info.shape.size() > 1) {
    why = "is in Fortran order, which gpsx does not read";
    return false;
  }
  info.data_offset = start + hlen;
  const std::size_t bytes = f.size() - info.data_offset;
  const std::int64_t n = npy_count(info.shape, static_cast<std::int64_t>(bytes / item) + 1);
  if (n < 0 || static_cast<std::size_t>(n) * item != bytes) {
    why = "has " + std::to_string(bytes) + " data bytes, not those of shape " +
          shape_string(info.shape) + " and dtype " + info.descr;
    return false;
  }
  info.data_bytes = bytes;
  return true;
}

}  // namespace gpsx::run::detail
