#include "gpsx/run/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace gpsx::run {

IoError errno_error(const std::string& what) {
  return IoError(what + ": " + std::strerror(errno));
}

std::string parent_dir(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw errno_error("cannot open folder " + dir + " to sync it");
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    throw errno_error("cannot fsync folder " + dir);
  }
  ::close(fd);
}

namespace {

// Writes all of [data, data + bytes) to fd, retrying short writes and EINTR.
bool write_all(int fd, const char* data, std::size_t bytes) {
  while (bytes > 0) {
    const ssize_t n = ::write(fd, data, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    bytes -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

void write_file_atomic(const std::string& path, const void* data, std::size_t bytes) {
  // Unique among the threads of this process and among processes.
  static std::atomic<unsigned long> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(counter.fetch_add(1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw errno_error("cannot write " + path + ": create temporary file " + tmp);

  // On failure: keep errno for the message, drop the temp, leave `path` alone.
  auto fail = [&](const char* step, bool open) {
    const int err = errno;
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    errno = err;
    return errno_error("cannot write " + path + ": " + step + " " + tmp);
  };
  if (!write_all(fd, static_cast<const char*>(data), bytes)) throw fail("write", true);
  if (::fsync(fd) != 0) throw fail("fsync", true);
  if (::close(fd) != 0) throw fail("close", false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw fail("rename over it", false);
  sync_dir(parent_dir(path));
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  write_file_atomic(path, contents.data(), contents.size());
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw errno_error("cannot open " + path);
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      errno = err;
      throw errno_error("cannot read " + path);
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace gpsx::run
