#include "zip_store.h"

#include <array>
#include <cstring>
#include <set>

#include "gpsx/run/archive.h"

namespace gpsx::run::detail {

namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50;
constexpr std::uint32_t kLocator64Sig = 0x07064b50;
constexpr std::uint16_t kZip64Extra = 0x0001;
constexpr std::uint32_t kMax32 = 0xffffffffu;
constexpr std::uint16_t kMax16 = 0xffffu;
constexpr std::size_t kLocalSize = 30, kCentralSize = 46, kEndSize = 22;
constexpr std::size_t kEnd64Size = 56, kLocator64Size = 20;
// Fixed timestamp 1980-01-01 00:00 (DOS date), so equal contents give equal files.
constexpr std::uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

void put16(std::string& s, std::uint16_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>(v >> 8));
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, static_cast<std::uint16_t>(v & 0xffff));
  put16(s, static_cast<std::uint16_t>(v >> 16));
}
void put64(std::string& s, std::uint64_t v) {
  put32(s, static_cast<std::uint32_t>(v & kMax32));
  put32(s, static_cast<std::uint32_t>(v >> 32));
}

std::uint64_t get(std::string_view f, std::size_t pos, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(f[pos + i]);
  return v;
}

// [pos, pos + n) lies inside a file of `size` bytes (no overflow).
bool inside(std::size_t size, std::uint64_t pos, std::uint64_t n) {
  return pos <= size && n <= size - pos;
}

}  // namespace

std::uint32_t crc32(const void* data, std::size_t n, std::uint32_t crc) {
  static const std::array<std::uint32_t, 256> table = make_crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string zip_write(const std::vector<ZipInput>& members, bool force_zip64) {
  std::size_t total = kEndSize + kEnd64Size + kLocator64Size;
  for (const ZipInput& m : members) total += 2 * m.name.size() + m.data.size() + 120;
  std::string out;
  out.reserve(total);

  struct Written {
    std::uint32_t crc;
    std::uint64_t offset;
  };
  std::vector<Written> written;
  written.reserve(members.size());
  for (const ZipInput& m : members) {
    const std::uint64_t offset = out.size();
    const std::uint32_t crc = crc32(m.data.data(), m.data.size());
    const bool z64 = force_zip64 || m.data.size() >= kMax32;
    put32(out, kLocalSig);
    put16(out, z64 ? 45 : 20);  // version needed
    put16(out, 0);              // flags
    put16(out, 0);              // stored
    put16(out, 0);              // time
    put16(out, kDosDate);
    put32(out, crc);
    put32(out, z64 ? kMax32 : static_cast<std::uint32_t>(m.data.size()));  // compressed
    put32(out, z64 ? kMax32 : static_cast<std::uint32_t>(m.data.size()));  // uncompressed
    put16(out, static_cast<std::uint16_t>(m.name.size()));
    put16(out, z64 ? 20 : 0);  // extra length
    out.append(m.name);
    if (z64) {
      put16(out, kZip64Extra);
      put16(out, 16);
      put64(out, m.data.size());  // uncompressed
      put64(out, m.data.size());  // compressed
    }
    out.append(m.data);
    written.push_back({crc, offset});
  }

  const std::uint64_t cd_offset = out.size();
  for (std::size_t i = 0; i < members.size(); ++i) {
    const ZipInput& m = members[i];
    const bool z64 = force_zip64 || m.data.size() >= kMax32 || written[i].offset >= kMax32;
    put32(out, kCentralSig);
    put16(out, z64 ? 45 : 20);  // version made by (MS-DOS)
    put16(out, z64 ? 45 : 20);  // version needed
    put16(out, 0);
    put16(out, 0);
    put16(out, 0);
    put16(out, kDosDate);
    put32(out, written[i].crc);
    put32(out, z64 ? kMax32 : static_cast<std::uint32_t>(m.data.size()));
    put32(out, z64 ? kMax32 : static_cast<std::uint32_t>(m.data.size()));
    put16(out, static_cast<std::uint16_t>(m.name.size()));
    put16(out, z64 ? 28 : 0);  // extra length
    put16(out, 0);             // comment length
    put16(out, 0);             // disk
    put16(out, 0);             // internal attributes
    put32(out, 0);             // external attributes
    put32(out, z64 ? kMax32 : static_cast<std::uint32_t>(written[i].offset));
    out.append(m.name);
    if (z64) {  // the fields marked 0xffffffff, in the order of the spec
      put16(out, kZip64Extra);
      put16(out, 24);
      put64(out, m.data.size());
      put64(out, m.data.size());
      put64(out, written[i].offset);
    }
  }
  const std::uint64_t cd_size = out.size() - cd_offset;
  const std::uint64_t count = members.size();

  const bool z64_end = force_zip64 || count >= kMax16 || cd_size >= kMax32 || cd_offset >= kMax32;
  if (z64_end) {
    const std::uint64_t end64_offset = out.size();
    put32(out, kEnd64Sig);
    put64(out, kEnd64Size - 12);  // size of the rest of the record
    put16(out, 45);
    put16(out, 45);
    put32(out, 0);
    put32(out, 0);
    put64(out, count);
    put64(out, count);
    put64(out, cd_size);
    put64(out, cd_offset);
    put32(out, kLocator64Sig);
    put32(out, 0);
    put64(out, end64_offset);
    put32(out, 1);  // total disks
  }
  put32(out, kEndSig);
  put16(out, 0);
  put16(out, 0);
  put16(out, z64_end ? kMax16 : static_cast<std::uint16_t>(count));
  put16(out, z64_end ? kMax16 : static_cast<std::uint16_t>(count));
  put32(out, z64_end ? kMax32 : static_cast<std::uint32_t>(cd_size));
  put32(out, z64_end ? kMax32 : static_cast<std::uint32_t>(cd_offset));
  put16(out, 0);  // comment length
  return out;
}

namespace {

// The zip64 extra field's values for the fields that are 0xffffffff, in spec order;
// `needed` of them must be present.
bool read_zip64_extra(std::string_view f, std::size_t pos, std::size_t len, int needed,
                      std::uint64_t* values) {
  const std::size_t end = pos + len;
  while (pos + 4 <= end) {
    const std::uint64_t id = get(f, pos, 2), n = get(f, pos + 2, 2);
    pos += 4;
    if (n > end - pos) return false;
    if (id == kZip64Extra) {
      if (n < 8u * static_cast<std::uint64_t>(needed)) return false;
      for (int i = 0; i < needed; ++i) values[i] = get(f, pos + 8 * i, 8);
      return true;
    }
    pos += n;
  }
  return needed == 0;
}

}  // namespace

std::vector<ZipEntry> zip_read(std::string_view f, const std::string& where) {
  auto fail = [&](const std::string& what) { throw ArchiveError(where + ": " + what); };
  const std::size_t size = f.size();

  // End of central directory: the last record whose comment reaches the end of the file.
  std::size_t end_pos = std::string_view::npos;
  if (size >= kEndSize) {
    const std::size_t lowest = size - kEndSize > kMax16 ? size - kEndSize - kMax16 : 0;
    for (std::size_t p = size - kEndSize + 1; p-- > lowest;) {
      if (get(f, p, 4) == kEndSig && p + kEndSize + get(f, p + 20, 2) == size) {
        end_pos = p;
        break;
      }
    }
  }
  if (end_pos == std::string_view::npos) fail("truncated (no end of central directory record)");
  if (get(f, end_pos + 4, 2) != 0 || get(f, end_pos + 6, 2) != 0) fail("multi-disk zip files are not supported");
  std::uint64_t count = get(f, end_pos + 10, 2);
  std::uint64_t cd_size = get(f, end_pos + 12, 4);
  std::uint64_t cd_offset = get(f, end_pos + 16, 4);
  std::size_t cd_end = end_pos;  // where the central directory must end
  if (end_pos >= kLocator64Size && get(f, end_pos - kLocator64Size, 4) == kLocator64Sig) {
    const std::uint64_t end64 = get(f, end_pos - kLocator64Size + 8, 8);
    if (end64 > end_pos - kLocator64Size || end_pos - kLocator64Size - end64 < kEnd64Size ||
        get(f, end64, 4) != kEnd64Sig)
      fail("truncated or corrupted (no zip64 end of central directory record)");
    count = get(f, end64 + 32, 8);
    cd_size = get(f, end64 + 40, 8);
    cd_offset = get(f, end64 + 48, 8);
    cd_end = end64;
  } else if (count == kMax16 || cd_size == kMax32 || cd_offset == kMax32) {
    fail("corrupted (zip64 end of central directory locator missing)");
  }
  if (cd_offset > cd_end || cd_size != cd_end - cd_offset)
    fail("truncated or corrupted (central directory at " + std::to_string(cd_offset) + " + " +
         std::to_string(cd_size) + " does not end at " + std::to_string(cd_end) + ")");
  if (count > cd_size / kCentralSize) fail("corrupted (central directory too small for its entries)");

  std::vector<ZipEntry> entries;
  entries.reserve(count);
  std::set<std::string> seen;
  std::size_t data_end = 0;  // members lie in order, each after the previous one
  std::size_t pos = cd_offset;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!inside(cd_end, pos, kCentralSize) || get(f, pos, 4) != kCentralSig)
      fail("corrupted (central directory entry " + std::to_string(i) + " is damaged)");
    const std::uint64_t flags = get(f, pos + 8, 2), method = get(f, pos + 10, 2);
    const std::uint32_t crc = static_cast<std::uint32_t>(get(f, pos + 16, 4));
    std::uint64_t csize = get(f, pos + 20, 4), usize = get(f, pos + 24, 4);
    const std::size_t nlen = get(f, pos + 28, 2), xlen = get(f, pos + 30, 2),
                      clen = get(f, pos + 32, 2);
    std::uint64_t offset = get(f, pos + 42, 4);
    if (!inside(cd_end, pos + kCentralSize, std::uint64_t{nlen} + xlen + clen))
      fail("corrupted (central directory entry " + std::to_string(i) + " is damaged)");
    std::string name(f.substr(pos + kCentralSize, nlen));
    // Messages name the array, as numpy.load does (without ".npy").
    const bool npy = name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0;
    const std::string member = "member '" + (npy ? name.substr(0, name.size() - 4) : name) + "'";
    std::uint64_t z[3] = {0, 0, 0};
    const int needed = (usize == kMax32) + (csize == kMax32) + (offset == kMax32);
    if (!read_zip64_extra(f, pos + kCentralSize + nlen, xlen, needed, z))
      fail(member + " has a damaged zip64 extra field");
    int k = 0;
    if (usize == kMax32) usize = z[k++];
    if (csize == kMax32) csize = z[k++];
    if (offset == kMax32) offset = z[k++];
    pos += kCentralSize + nlen + xlen + clen;

    if (!seen.insert(name).second) fail("duplicate " + member);
    if (flags & 1) fail(member + " is encrypted");
    if (method != 0 || csize != usize)
      fail(member + " is compressed (method " + std::to_string(method) + "); only stored members are read");
    if (offset < data_end || !inside(cd_offset, offset, kLocalSize) || get(f, offset, 4) != kLocalSig)
      fail(member + " has no local header at offset " + std::to_string(offset) + " (corrupted)");
    const std::size_t lnlen = get(f, offset + 26, 2), lxlen = get(f, offset + 28, 2);
    const std::uint64_t data = offset + kLocalSize + lnlen + lxlen;
    if (!inside(cd_offset, offset + kLocalSize, std::uint64_t{lnlen} + lxlen) ||
        !inside(cd_offset, data, usize))
      fail(member + " is truncated (its data runs past the central directory)");
    if (f.substr(offset + kLocalSize, lnlen) != name)
      fail(member + " has another name in its local header (corrupted)");
    if (!(flags & 8)) {  // without a data descriptor the local header repeats crc and sizes
      std::uint64_t lcsize = get(f, offset + 18, 4), lusize = get(f, offset + 22, 4);
      std::uint64_t lz[2] = {0, 0};
      const int lneeded = (lusize == kMax32) + (lcsize == kMax32);
      if (!read_zip64_extra(f, offset + kLocalSize + lnlen, lxlen, lneeded, lz))
        fail(member + " has a damaged zip64 extra field in its local header");
      int j = 0;
      if (lusize == kMax32) lusize = lz[j++];
      if (lcsize == kMax32) lcsize = lz[j++];
      if (get(f, offset + 14, 4) != crc || lusize != usize || lcsize != csize)
        fail(member + " has a local header that disagrees with the central directory (corrupted)");
    }
    if (crc32(f.data() + data, usize) != crc) fail(member + " fails its CRC-32 (corrupted)");
    data_end = data + usize;
    entries.push_back({std::move(name), static_cast<std::size_t>(data), static_cast<std::size_t>(usize)});
  }
  return entries;
}

}  // namespace gpsx::run::detail
