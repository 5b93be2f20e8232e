#include "gpsx/run/metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>

namespace gpsx::run {

namespace {

// Shortest round-trip text of a finite double, with ".0" when it reads as an integer.
void put_double(std::string& out, double v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  const std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));
  out.append(s);
  if (s.find_first_not_of("-0123456789") == std::string_view::npos) out.append(".0");
}

void put_csv_string(std::string& out, const std::string& s) {
  const bool quote = s.find_first_of(",\"\r\n") != std::string::npos ||
                     (!s.empty() && (s.front() == ' ' || s.back() == ' '));
  if (!quote) {
    out.append(s);
    return;
  }
  out.push_back('"');
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void put_json_string(std::string& out, const std::string& s) {
  static const char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default:
        if (u < 0x20) {
          out.append("\\u00");
          out.push_back(hex[u >> 4]);
          out.push_back(hex[u & 15]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void put_csv(std::string& out, const MetricsWriter::Value& v) {
  if (const double* d = std::get_if<double>(&v)) {
    if (std::isnan(*d)) out.append("nan");
    else if (std::isinf(*d)) out.append(*d > 0 ? "inf" : "-inf");
    else put_double(out, *d);
  } else if (const std::int64_t* i = std::get_if<std::int64_t>(&v)) {
    out.append(std::to_string(*i));
  } else {
    put_csv_string(out, std::get<std::string>(v));
  }
}

void put_json(std::string& out, const MetricsWriter::Value& v) {
  if (const double* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d)) put_double(out, *d);
    else out.append("null");
  } else if (const std::int64_t* i = std::get_if<std::int64_t>(&v)) {
    out.append(std::to_string(*i));
  } else {
    put_json_string(out, std::get<std::string>(v));
  }
}

void write_all(int fd, const std::string& data, const std::string& path) {
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error("cannot append to " + path);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void fsync_or_throw(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throw errno_error("cannot fsync " + path);
}

// Opens an existing file for appending and checks it holds at least `size` bytes.
int open_for_resume(const std::string& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0) throw errno_error("cannot reopen " + path + " to resume");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    throw errno_error("cannot stat " + path);
  }
  if (static_cast<std::uint64_t>(st.st_size) < size) {
    ::close(fd);
    throw IoError("cannot resume " + path + ": it has " + std::to_string(st.st_size) +
                  " bytes, fewer than the " + std::to_string(size) + " recorded at the checkpoint");
  }
  return fd;
}

// Cuts the file back to `size` bytes, synced.
void cut(int fd, std::uint64_t size, const std::string& path) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || ::fsync(fd) != 0)
    throw errno_error("cannot cut " + path + " back to " + std::to_string(size) + " bytes");
}

void check_columns(const std::vector<std::string>& columns) {
  if (columns.empty()) throw std::invalid_argument("metrics: no columns");
  std::set<std::string> seen;
  for (const std::string& c : columns) {
    if (c.empty()) throw std::invalid_argument("metrics: empty column name");
    if (!seen.insert(c).second) throw std::invalid_argument("metrics: column '" + c + "' twice");
  }
}

}  // namespace

std::string MetricsWriter::csv_header(const std::vector<std::string>& columns) {
  std::string out;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i) out.push_back(',');
    put_csv_string(out, columns[i]);
  }
  out.push_back('\n');
  return out;
}

MetricsWriter::MetricsWriter(const std::string& dir, const std::string& stem,
                             std::vector<std::string> columns)
    : MetricsWriter() {  // delegating: the destructor closes what was opened if we throw
  check_columns(columns);
  columns_ = std::move(columns);
  csv_path_ = dir + "/" + stem + ".csv";
  jsonl_path_ = dir + "/" + stem + ".jsonl";
  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC;
  csv_fd_ = ::open(csv_path_.c_str(), flags, 0644);
  if (csv_fd_ < 0) throw errno_error("cannot create " + csv_path_);
  jsonl_fd_ = ::open(jsonl_path_.c_str(), flags, 0644);
  if (jsonl_fd_ < 0) throw errno_error("cannot create " + jsonl_path_);
  const std::string header = csv_header(columns_);
  write_all(csv_fd_, header, csv_path_);
  csv_size_ = header.size();
  sync();
  sync_dir(dir);
}

MetricsWriter MetricsWriter::resume(const std::string& dir, const std::string& stem,
                                    std::vector<std::string> columns,
                                    std::pair<std::uint64_t, std::uint64_t> sizes) {
  check_columns(columns);
  MetricsWriter w;
  w.columns_ = std::move(columns);
  w.csv_path_ = dir + "/" + stem + ".csv";
  w.jsonl_path_ = dir + "/" + stem + ".jsonl";
  const std::string header = csv_header(w.columns_);
  if (sizes.first < header.size())
    throw IoError("cannot resume " + w.csv_path_ + ": the recorded size " + std::to_string(sizes.first) +
                  " is shorter than its header");
  // Every check before anything is cut.
  w.csv_fd_ = open_for_resume(w.csv_path_, sizes.first);
  std::string found(header.size() + 4096, '\0');  // and more of a wrong first line
  const ssize_t n = ::pread(w.csv_fd_, found.data(), found.size(), 0);
  if (n < 0) throw errno_error("cannot read the header of " + w.csv_path_);
  found.resize(static_cast<std::size_t>(n));
  if (found.compare(0, header.size(), header) != 0) {
    throw IoError("cannot resume " + w.csv_path_ + ": its header '" + found.substr(0, found.find('\n')) +
                  "' is not the columns '" + header.substr(0, header.size() - 1) + "'");
  }
  w.jsonl_fd_ = open_for_resume(w.jsonl_path_, sizes.second);
  cut(w.csv_fd_, sizes.first, w.csv_path_);
  cut(w.jsonl_fd_, sizes.second, w.jsonl_path_);
  w.csv_size_ = sizes.first;
  w.jsonl_size_ = sizes.second;
  return w;
}

MetricsWriter::MetricsWriter(MetricsWriter&& o) noexcept
    : columns_(std::move(o.columns_)),
      csv_path_(std::move(o.csv_path_)),
      jsonl_path_(std::move(o.jsonl_path_)),
      csv_fd_(std::exchange(o.csv_fd_, -1)),
      jsonl_fd_(std::exchange(o.jsonl_fd_, -1)),
      csv_size_(o.csv_size_),
      jsonl_size_(o.jsonl_size_) {}

MetricsWriter& MetricsWriter::operator=(MetricsWriter&& o) noexcept {
  if (this != &o) {
    close_files();
    columns_ = std::move(o.columns_);
    csv_path_ = std::move(o.csv_path_);
    jsonl_path_ = std::move(o.jsonl_path_);
    csv_fd_ = std::exchange(o.csv_fd_, -1);
    jsonl_fd_ = std::exchange(o.jsonl_fd_, -1);
    csv_size_ = o.csv_size_;
    jsonl_size_ = o.jsonl_size_;
  }
  return *this;
}

MetricsWriter::~MetricsWriter() { close_files(); }

void MetricsWriter::close_files() {
  if (csv_fd_ >= 0) ::close(csv_fd_);
  if (jsonl_fd_ >= 0) ::close(jsonl_fd_);
  csv_fd_ = jsonl_fd_ = -1;
}

void MetricsWriter::append(const std::vector<Row>& rows) {
  std::string csv, jsonl;
  for (const Row& row : rows) {
    if (row.size() != columns_.size())
      throw std::invalid_argument("metrics " + csv_path_ + ": a row of " + std::to_string(row.size()) +
                                  " values for " + std::to_string(columns_.size()) + " columns");
    jsonl.push_back('{');
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) {
        csv.push_back(',');
        jsonl.push_back(',');
      }
      put_csv(csv, row[i]);
      put_json_string(jsonl, columns_[i]);
      jsonl.push_back(':');
      put_json(jsonl, row[i]);
    }
    csv.push_back('\n');
    jsonl.append("}\n");
  }
  write_all(csv_fd_, csv, csv_path_);
  csv_size_ += csv.size();
  write_all(jsonl_fd_, jsonl, jsonl_path_);
  jsonl_size_ += jsonl.size();
}

void MetricsWriter::sync() {
  fsync_or_throw(csv_fd_, csv_path_);
  fsync_or_throw(jsonl_fd_, jsonl_path_);
}

std::uint64_t append_line(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw errno_error("cannot open " + path + " to append");
  std::string line = text;
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  struct stat st {};
  try {
    write_all(fd, line, path);
    if (::fstat(fd, &st) != 0) throw errno_error("cannot stat " + path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return static_cast<std::uint64_t>(st.st_size);
}

void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw errno_error("cannot open " + path + " to sync it");
  const bool ok = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  errno = err;
  if (!ok) throw errno_error("cannot fsync " + path);
}

void truncate_for_resume(const std::string& path, std::uint64_t size) {
  const int fd = open_for_resume(path, size);
  try {
    cut(fd, size, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

}  // namespace gpsx::run
