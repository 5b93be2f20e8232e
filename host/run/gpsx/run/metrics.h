// Per-row metrics written as CSV (a header line of column names) and JSON Lines (one
// object per row, keys in column order) side by side, plus a plain appended text log.
// Both can be cut back to the sizes recorded at a checkpoint, so a resumed run's files
// equal an uninterrupted run's.
//
// Values: doubles print as the shortest text that parses back to the same bits (an
// integral value gets ".0"); NaN and infinities print nan/inf/-inf in CSV and null in
// JSON. Strings are CSV-quoted when they hold a comma, quote, CR or LF (or have
// leading/trailing spaces) and JSON-escaped (bytes >= 0x80 are passed through as UTF-8).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "gpsx/run/atomic_file.h"

namespace gpsx::run {

class MetricsWriter {
 public:
  using Value = std::variant<double, std::int64_t, std::string>;
  using Row = std::vector<Value>;  // one value per column, in column order

  // Creates (or truncates) <dir>/<stem>.csv with its header line and <dir>/<stem>.jsonl,
  // and syncs both and the folder. Columns: unique, non-empty. IoError on failure.
  MetricsWriter(const std::string& dir, const std::string& stem, std::vector<std::string> columns);
  // Reopens both files after a restart: checks the CSV header names these columns, cuts
  // each file back to its recorded size (sizes() at the last checkpoint, synced) and
  // appends after it. IoError when a file is missing, shorter than recorded or has
  // another header.
  static MetricsWriter resume(const std::string& dir, const std::string& stem,
                              std::vector<std::string> columns,
                              std::pair<std::uint64_t, std::uint64_t> sizes);

  MetricsWriter(MetricsWriter&& other) noexcept;
  MetricsWriter& operator=(MetricsWriter&& other) noexcept;
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  ~MetricsWriter();

  // Writes the rows to both files (unbuffered: written when this returns, durable after
  // sync()). IoError for a row with another number of values than columns.
  void append(const std::vector<Row>& rows);
  // fsync of both files.
  void sync();
  // Bytes of (CSV, JSONL) written so far, header included.
  std::pair<std::uint64_t, std::uint64_t> sizes() const { return {csv_size_, jsonl_size_}; }

  const std::vector<std::string>& columns() const { return columns_; }
  const std::string& csv_path() const { return csv_path_; }
  const std::string& jsonl_path() const { return jsonl_path_; }

  // The CSV header line of these columns, with its newline.
  static std::string csv_header(const std::vector<std::string>& columns);

 private:
  MetricsWriter() = default;
  void close_files();

  std::vector<std::string> columns_;
  std::string csv_path_, jsonl_path_;
  int csv_fd_ = -1, jsonl_fd_ = -1;
  std::uint64_t csv_size_ = 0, jsonl_size_ = 0;
};

// Appends `text` and a newline (unless text ends with one) to the file at `path`,
// creating it; returns the file's size afterwards (record it at a checkpoint after
// sync_file). IoError on failure.
std::uint64_t append_line(const std::string& path, const std::string& text);
// fsync of the file at `path`.
void sync_file(const std::string& path);
// Cuts the file at `path` back to `size` bytes (the size recorded at a checkpoint) and
// syncs it. IoError when it is missing or shorter than `size`.
void truncate_for_resume(const std::string& path, std::uint64_t size);

}  // namespace gpsx::run
