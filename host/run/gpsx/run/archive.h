// Named arrays in NumPy's .npz format, for checkpoints: a zip of stored (uncompressed)
// .npy v1.0 members, so `numpy.load(path)` opens one from Python. Written atomically;
// read back with every length and offset checked, so a truncated, corrupted or foreign
// file is refused with a clear ArchiveError, never a crash.
//
// Layout, in member order (zip member names carry ".npy"):
//   format_version  int64 scalar, kArchiveFormatVersion
//   kind            the writer's kind (e.g. "gpsx-checkpoint"), text
//   ...             the caller's arrays, in add() order
//   checksum        uint64 scalar: FNV-1a 64 over every earlier member, each as
//                   le64(len(name)) name le64(len(npy)) npy, where name has no ".npy"
//                   and npy is the member's whole .npy file (header and data).
// Every member also carries its zip CRC-32. Text is stored as a 1-D uint8 ('|u1') array
// of its bytes (Python: bytes(a).decode()). Arrays are C order, little-endian.
// Sizes: zip64 is written for any member or offset at or beyond 4 GiB (and everywhere
// with force_zip64) and read wherever it appears, as numpy's zipfile does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gpsx/run/atomic_file.h"

namespace gpsx::run {

inline constexpr std::int64_t kArchiveFormatVersion = 1;

// A file that is not a readable archive of the expected kind, or a member that is
// missing or has another dtype or shape than asked for.
class ArchiveError : public IoError {
 public:
  using IoError::IoError;
};

class ArchiveWriter {
 public:
  // force_zip64: zip64 records for every member and the end record even when small
  // (the 4 GiB code path, testable without writing 4 GiB).
  explicit ArchiveWriter(std::string kind, bool force_zip64 = false);

  // Copies prod(shape) elements of data (C order); shape {} is a scalar (one element),
  // an extent of 0 an empty array (data may then be null). Names: [A-Za-z0-9_.-], unique,
  // not format_version, kind or checksum; ArchiveError otherwise.
  void add(const std::string& name, const double* data, std::vector<std::int64_t> shape);
  void add(const std::string& name, const std::int64_t* data, std::vector<std::int64_t> shape);
  void add(const std::string& name, const std::int32_t* data, std::vector<std::int64_t> shape);
  void add(const std::string& name, const std::uint32_t* data, std::vector<std::int64_t> shape);
  void add(const std::string& name, const std::uint64_t* data, std::vector<std::int64_t> shape);
  void add(const std::string& name, const std::uint8_t* data, std::vector<std::int64_t> shape);
  // Text as a 1-D uint8 array of its bytes.
  void add_text(const std::string& name, const std::string& text);

  // The finished .npz file.
  std::string bytes() const;
  // bytes() written with write_file_atomic.
  void write(const std::string& path) const;

 private:
  void add_raw(const std::string& name, const char* descr, std::size_t itemsize,
               const void* data, const std::vector<std::int64_t>& shape);
  struct Member {
    std::string name;
    std::string npy;  // the whole .npy file
  };
  std::vector<Member> members_;  // format_version, kind, then the caller's
  std::set<std::string> names_;  // of the caller's members
  bool force_zip64_;
};

class ArchiveReader {
 public:
  // Reads and verifies the file: zip structure, each member's CRC-32, the format
  // version, the checksum, then the kind. Messages read "<expected_kind> <path>: ...".
  static ArchiveReader open(const std::string& path, const std::string& expected_kind);
  // The same over a file's bytes; `path` only names it in messages.
  static ArchiveReader parse(std::string file, const std::string& path,
                             const std::string& expected_kind);

  // The caller's members (not format_version, kind, checksum), in archive order.
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;
  std::vector<std::int64_t> shape(const std::string& name) const;
  std::string dtype(const std::string& name) const;  // numpy descr, e.g. "<f8"

  // The member's elements (C order) after checking its dtype and its shape against
  // expected_shape, where an extent of -1 accepts any extent.
  std::vector<double> f8(const std::string& name, const std::vector<std::int64_t>& expected_shape) const;
  std::vector<std::int64_t> i8(const std::string& name, const std::vector<std::int64_t>& expected_shape) const;
  std::vector<std::int32_t> i4(const std::string& name, const std::vector<std::int64_t>& expected_shape) const;
  std::vector<std::uint32_t> u4(const std::string& name, const std::vector<std::int64_t>& expected_shape) const;
  std::vector<std::uint64_t> u8(const std::string& name, const std::vector<std::int64_t>& expected_shape) const;
  std::vector<std::uint8_t> u1(const std::string& name, const std::vector<std::int64_t>& expected_shape) const;
  // A member written by add_text.
  std::string text(const std::string& name) const;

  const std::string& kind() const { return kind_; }
  const std::string& path() const { return path_; }

 private:
  struct Member {
    std::string descr;
    std::vector<std::int64_t> shape;
    std::size_t data_offset = 0;  // into file_
    std::size_t data_bytes = 0;
  };
  ArchiveReader() = default;
  const Member& find(const std::string& name) const;
  const Member& checked(const std::string& name, const char* descr,
                        const std::vector<std::int64_t>* expected_shape) const;
  template <class T>
  std::vector<T> get(const std::string& name, const char* descr,
                     const std::vector<std::int64_t>* expected_shape) const;
  [[noreturn]] void fail(const std::string& what) const;

  std::string file_;  // the whole file; members point into it
  std::string path_;
  std::string kind_;
  std::vector<std::string> order_;  // caller's members in archive order
  std::map<std::string, Member> members_;
};

}  // namespace gpsx::run
