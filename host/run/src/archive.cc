#include "gpsx/run/archive.h"

#include <cstring>
#include <limits>
#include <string_view>

#include "npy_format.h"
#include "zip_store.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "archives store little-endian arrays by copying memory");

namespace gpsx::run {

namespace {

constexpr const char* kVersionName = "format_version";
constexpr const char* kKindName = "kind";
constexpr const char* kChecksumName = "checksum";

bool reserved(const std::string& name) {
  return name == kVersionName || name == kKindName || name == kChecksumName;
}

// FNV-1a 64, continued from h.
std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}
constexpr std::uint64_t kFnvBasis = 0xcbf29ce484222325ull;

// One member's part of the checksum: le64(len(name)) name le64(len(npy)) npy.
std::uint64_t checksum_step(std::uint64_t h, std::string_view name, std::string_view npy) {
  const std::uint64_t nlen = name.size(), blen = npy.size();
  h = fnv1a(h, &nlen, 8);
  h = fnv1a(h, name.data(), name.size());
  h = fnv1a(h, &blen, 8);
  return fnv1a(h, npy.data(), npy.size());
}

std::string npy_file(const char* descr, std::size_t itemsize, const void* data,
                     const std::vector<std::int64_t>& shape, std::size_t count) {
  std::string out = detail::npy_header(descr, shape);
  if (count > 0) out.append(static_cast<const char*>(data), count * itemsize);
  return out;
}

}  // namespace

ArchiveWriter::ArchiveWriter(std::string kind, bool force_zip64) : force_zip64_(force_zip64) {
  const std::int64_t version = kArchiveFormatVersion;
  members_.push_back({kVersionName, npy_file("<i8", 8, &version, {}, 1)});
  members_.push_back({kKindName, npy_file("|u1", 1, kind.data(), {std::int64_t(kind.size())}, kind.size())});
}

void ArchiveWriter::add_raw(const std::string& name, const char* descr, std::size_t itemsize,
                            const void* data, const std::vector<std::int64_t>& shape) {
  const std::string where = "archive member '" + name + "'";
  if (name.empty() || name.size() > 200) throw ArchiveError(where + ": name must have 1 to 200 characters");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) throw ArchiveError(where + ": name may hold only letters, digits, '_', '-' and '.'");
  }
  if (reserved(name)) throw ArchiveError(where + ": the name is reserved for the archive's own members");
  if (names_.count(name)) throw ArchiveError(where + ": added twice");
  if (shape.size() > 32) throw ArchiveError(where + ": more than 32 dimensions");
  const std::int64_t max_count = std::numeric_limits<std::int64_t>::max() / 8;
  const std::int64_t count = detail::npy_count(shape, max_count);
  if (count < 0) throw ArchiveError(where + ": invalid shape " + detail::shape_string(shape));
  if (count > 0 && data == nullptr) throw ArchiveError(where + ": no data for shape " + detail::shape_string(shape));
  members_.push_back({name, npy_file(descr, itemsize, data, shape, static_cast<std::size_t>(count))});
  names_.insert(name);
}

void ArchiveWriter::add(const std::string& name, const double* data, std::vector<std::int64_t> shape) {
  add_raw(name, "<f8", 8, data, shape);
}
void ArchiveWriter::add(const std::string& name, const std::int64_t* data, std::vector<std::int64_t> shape) {
  add_raw(name, "<i8", 8, data, shape);
}
void ArchiveWriter::add(const std::string& name, const std::int32_t* data, std::vector<std::int64_t> shape) {
  add_raw(name, "<i4", 4, data, shape);
}
void ArchiveWriter::add(const std::string& name, const std::uint32_t* data, std::vector<std::int64_t> shape) {
  add_raw(name, "<u4", 4, data, shape);
}
void ArchiveWriter::add(const std::string& name, const std::uint64_t* data, std::vector<std::int64_t> shape) {
  add_raw(name, "<u8", 8, data, shape);
}
void ArchiveWriter::add(const std::string& name, const std::uint8_t* data, std::vector<std::int64_t> shape) {
  add_raw(name, "|u1", 1, data, shape);
}
void ArchiveWriter::add_text(const std::string& name, const std::string& text) {
  add_raw(name, "|u1", 1, text.data(), {static_cast<std::int64_t>(text.size())});
}

std::string ArchiveWriter::bytes() const {
  std::vector<std::string> names;  // zip member names carry ".npy", as numpy's do
  names.reserve(members_.size() + 1);
  std::uint64_t h = kFnvBasis;
  for (const Member& m : members_) {
    names.push_back(m.name + ".npy");
    h = checksum_step(h, m.name, m.npy);
  }
  names.push_back(std::string(kChecksumName) + ".npy");
  const std::string sum = npy_file("<u8", 8, &h, {}, 1);

  std::vector<detail::ZipInput> inputs;
  inputs.reserve(members_.size() + 1);
  for (std::size_t i = 0; i < members_.size(); ++i) inputs.push_back({names[i], members_[i].npy});
  inputs.push_back({names.back(), sum});
  return detail::zip_write(inputs, force_zip64_);
}

void ArchiveWriter::write(const std::string& path) const { write_file_atomic(path, bytes()); }

// --- reading ---------------------------------------------------------------------------

void ArchiveReader::fail(const std::string& what) const { throw ArchiveError(path_ + ": " + what); }

ArchiveReader ArchiveReader::open(const std::string& path, const std::string& expected_kind) {
  std::string file;
  try {
    file = read_file(path);
  } catch (const IoError& e) {
    throw ArchiveError(expected_kind + " " + path + ": " + e.what());
  }
  return parse(std::move(file), path, expected_kind);
}

ArchiveReader ArchiveReader::parse(std::string file, const std::string& path,
                                   const std::string& expected_kind) {
  ArchiveReader r;
  r.file_ = std::move(file);
  r.path_ = expected_kind + " " + path;  // the prefix of every message
  const std::string_view f(r.file_);
  const std::vector<detail::ZipEntry> entries = detail::zip_read(f, r.path_);

  std::uint64_t h = kFnvBasis;
  bool have_sum = false;
  std::uint64_t stored_sum = 0;
  for (const detail::ZipEntry& e : entries) {
    if (have_sum) r.fail("member 'checksum' is not the last one");
    if (e.name.size() <= 4 || e.name.compare(e.name.size() - 4, 4, ".npy") != 0)
      r.fail("member '" + e.name + "' is not a .npy array");
    const std::string name = e.name.substr(0, e.name.size() - 4);
    const std::string_view npy = f.substr(e.offset, e.size);
    detail::NpyInfo info;
    std::string why;
    if (!detail::npy_parse(npy, info, why)) r.fail("member '" + name + "' " + why);
    Member m{info.descr, info.shape, e.offset + info.data_offset, info.data_bytes};
    if (name == kChecksumName) {
      if (m.descr != "<u8" || !m.shape.empty()) r.fail("member 'checksum' is not a uint64 scalar");
      std::memcpy(&stored_sum, r.file_.data() + m.data_offset, 8);
      have_sum = true;
    } else {
      h = checksum_step(h, name, npy);
      if (!reserved(name)) r.order_.push_back(name);
    }
    r.members_.emplace(name, m);
  }

  // The version first: another version may checksum differently.
  if (!r.members_.count(kVersionName)) r.fail("no member 'format_version' (not a gpsx archive)");
  const std::vector<std::int64_t> version = r.get<std::int64_t>(kVersionName, "<i8", nullptr);
  if (version.size() != 1) r.fail("member 'format_version' is not a scalar");
  if (version[0] != kArchiveFormatVersion)
    r.fail("format version " + std::to_string(version[0]) + ", this gpsx reads " +
           std::to_string(kArchiveFormatVersion));
  if (!have_sum) r.fail("no member 'checksum'");
  if (h != stored_sum) r.fail("checksum mismatch");
  if (!r.members_.count(kKindName)) r.fail("no member 'kind'");
  r.kind_ = r.text(kKindName);
  if (r.kind_ != expected_kind) r.fail("kind '" + r.kind_ + "', expected '" + expected_kind + "'");
  return r;
}

bool ArchiveReader::has(const std::string& name) const {
  return !reserved(name) && members_.count(name) > 0;
}

std::vector<std::string> ArchiveReader::names() const { return order_; }

const ArchiveReader::Member& ArchiveReader::find(const std::string& name) const {
  const auto it = members_.find(name);
  if (it == members_.end()) fail("no member '" + name + "'");
  return it->second;
}

std::vector<std::int64_t> ArchiveReader::shape(const std::string& name) const { return find(name).shape; }
std::string ArchiveReader::dtype(const std::string& name) const { return find(name).descr; }

const ArchiveReader::Member& ArchiveReader::checked(const std::string& name, const char* descr,
                                                    const std::vector<std::int64_t>* expected) const {
  const Member& m = find(name);
  if (m.descr != descr) fail("'" + name + "' has dtype " + m.descr + ", expected " + descr);
  bool ok = expected == nullptr || expected->size() == m.shape.size();
  for (std::size_t i = 0; ok && expected && i < expected->size(); ++i)
    ok = (*expected)[i] == -1 || (*expected)[i] == m.shape[i];
  if (!ok)
    fail("'" + name + "' has shape " + detail::shape_string(m.shape) + ", expected " +
         detail::shape_string(*expected));
  return m;
}

template <class T>
std::vector<T> ArchiveReader::get(const std::string& name, const char* descr,
                                  const std::vector<std::int64_t>* expected) const {
  const Member& m = checked(name, descr, expected);
  std::vector<T> out(m.data_bytes / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), file_.data() + m.data_offset, m.data_bytes);
  return out;
}

std::vector<double> ArchiveReader::f8(const std::string& name, const std::vector<std::int64_t>& s) const {
  return get<double>(name, "<f8", &s);
}
std::vector<std::int64_t> ArchiveReader::i8(const std::string& name, const std::vector<std::int64_t>& s) const {
  return get<std::int64_t>(name, "<i8", &s);
}
std::vector<std::int32_t> ArchiveReader::i4(const std::string& name, const std::vector<std::int64_t>& s) const {
  return get<std::int32_t>(name, "<i4", &s);
}
std::vector<std::uint32_t> ArchiveReader::u4(const std::string& name, const std::vector<std::int64_t>& s) const {
  return get<std::uint32_t>(name, "<u4", &s);
}
std::vector<std::uint64_t> ArchiveReader::u8(const std::string& name, const std::vector<std::int64_t>& s) const {
  return get<std::uint64_t>(name, "<u8", &s);
}
std::vector<std::uint8_t> ArchiveReader::u1(const std::string& name, const std::vector<std::int64_t>& s) const {
  return get<std::uint8_t>(name, "|u1", &s);
}

std::string ArchiveReader::text(const std::string& name) const {
  const Member& m = checked(name, "|u1", nullptr);
  if (m.shape.size() != 1) fail("'" + name + "' is not text (a 1-D uint8 array)");
  return file_.substr(m.data_offset, m.data_bytes);
}

}  // namespace gpsx::run
