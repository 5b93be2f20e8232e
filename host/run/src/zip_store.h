// A zip container of stored (uncompressed) members, with zip64 where needed: the
// byte-level part of the .npz archive. Internal to gpsx_run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gpsx::run::detail {

// CRC-32 (zip's, polynomial 0xEDB88320) of n bytes, continuing from crc.
std::uint32_t crc32(const void* data, std::size_t n, std::uint32_t crc = 0);

struct ZipInput {
  std::string_view name;
  std::string_view data;
};

// The zip file of the members, in order. force_zip64: zip64 records even when small.
std::string zip_write(const std::vector<ZipInput>& members, bool force_zip64);

struct ZipEntry {
  std::string name;
  std::size_t offset = 0;  // of the member's data in the file
  std::size_t size = 0;
};

// The members of a zip file, in central-directory order, after checking every length and
// offset, that members are stored, do not overlap and match their local headers, and
// each one's CRC-32. Refusals throw ArchiveError "<where>: <what is wrong>".
std::vector<ZipEntry> zip_read(std::string_view file, const std::string& where);

}  // namespace gpsx::run::detail
