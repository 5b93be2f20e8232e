// Whole-file I/O for the run directory: a file is either its old contents or its new
// ones, never a mix, even after a crash (temp file + fsync + rename + fsync of the
// folder). Errors throw IoError naming the path, the failed step and the errno text.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace gpsx::run {

// Any failure to read or write a run directory's files.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An IoError "<what>: <strerror(errno)>" (errno read at the call).
IoError errno_error(const std::string& what);

// Replaces `path` with `bytes` bytes of `data`. The temp file is `path` + ".tmp.<pid>.<n>"
// in the same folder; on failure it is removed and an existing file at `path` is left
// untouched. A temp left by a killed process is never read (the caller may delete it).
void write_file_atomic(const std::string& path, const void* data, std::size_t bytes);
void write_file_atomic(const std::string& path, const std::string& contents);

// The whole file at `path`.
std::string read_file(const std::string& path);

// fsync of the folder `dir`, so that entries created or renamed in it survive a crash.
void sync_dir(const std::string& dir);

// The folder part of `path` ("." when it has none).
std::string parent_dir(const std::string& path);

}  // namespace gpsx::run
