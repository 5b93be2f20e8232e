// Metrics files and the progress log (label: unit; part of gpsx_run_io_tests): doubles
// come back bitwise from CSV and JSON Lines, strings come back whole, and a resume cuts
// both files back to the sizes recorded at the checkpoint.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gpsx/run/atomic_file.h"
#include "gpsx/run/metrics.h"
#include "gpsx_test/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using gpsx::run::IoError;
using gpsx::run::MetricsWriter;
using gpsx::run::read_file;
using ::testing::HasSubstr;
using Row = MetricsWriter::Row;

class Metrics : public ::testing::Test {
 protected:
  gpsx::test::TempDir temp{"gpsx_run_metrics"};
  const std::string dir = temp.path();
};

const double kNan = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
const std::vector<std::string> kColumns = {"iter", "cond", "cost", "status"};

std::vector<Row> rows(int first, int n) {
  const double doubles[] = {0.1, -0.0, 1.0, 1.0 / 3, 5e-324, 1e300, -2.5e-17, 123456789012345680.0,
                            kNan, kInf, -kInf, 0.30000000000000004};
  const char* strings[] = {"ok", "has,comma", "has \"quotes\"", "two\nlines", " padded ",
                           "tab\tand\x01", "caf\xc3\xa9", ""};
  std::vector<Row> out;
  for (int i = first; i < first + n; ++i)
    out.push_back({std::int64_t{i}, std::int64_t{-i * 1000000000000LL}, doubles[i % 12],
                   std::string(strings[i % 8])});
  return out;
}

std::uint64_t bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

// RFC 4180 fields: quoted fields may hold commas, doubled quotes and newlines.
std::vector<std::vector<std::string>> parse_csv(const std::string& s) {
  std::vector<std::vector<std::string>> out(1, std::vector<std::string>(1));
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') out.back().back() += s[++i];
      else if (c == '"') quoted = false;
      else out.back().back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.back().emplace_back();
    } else if (c == '\n') {
      out.emplace_back(1);
    } else {
      out.back().back() += c;
    }
  }
  out.pop_back();  // after the last newline
  return out;
}

void expect_rows_in_files(const MetricsWriter& w, const std::vector<Row>& expected) {
  const auto csv = parse_csv(read_file(w.csv_path()));
  ASSERT_EQ(csv.size(), expected.size() + 1);
  EXPECT_EQ(csv[0], kColumns);
  std::vector<std::string> lines;
  const std::string jsonl = read_file(w.jsonl_path());
  for (std::size_t a = 0, b; (b = jsonl.find('\n', a)) != std::string::npos; a = b + 1)
    lines.push_back(jsonl.substr(a, b - a));
  ASSERT_EQ(lines.size(), expected.size());
  for (std::size_t r = 0; r < expected.size(); ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    const auto& c = csv[r + 1];
    ASSERT_EQ(c.size(), 4u);
    const auto j = nlohmann::ordered_json::parse(lines[r]);
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    EXPECT_EQ(keys, kColumns);
    const std::int64_t iter = std::get<std::int64_t>(expected[r][0]);
    const std::int64_t cond = std::get<std::int64_t>(expected[r][1]);
    const double cost = std::get<double>(expected[r][2]);
    const std::string& status = std::get<std::string>(expected[r][3]);
    EXPECT_EQ(std::strtoll(c[0].c_str(), nullptr, 10), iter);
    EXPECT_EQ(std::strtoll(c[1].c_str(), nullptr, 10), cond);
    EXPECT_EQ(j["iter"].get<std::int64_t>(), iter);
    EXPECT_EQ(j["cond"].get<std::int64_t>(), cond);
    const double from_csv = std::strtod(c[2].c_str(), nullptr);
    if (std::isnan(cost)) {
      EXPECT_EQ(c[2], "nan");
      EXPECT_TRUE(std::isnan(from_csv));
    } else {
      EXPECT_EQ(bits(from_csv), bits(cost)) << c[2];
    }
    if (std::isfinite(cost)) EXPECT_EQ(bits(j["cost"].get<double>()), bits(cost)) << lines[r];
    else EXPECT_TRUE(j["cost"].is_null()) << lines[r];
    EXPECT_EQ(c[3], status);
    EXPECT_EQ(j["status"].get<std::string>(), status);
  }
}

TEST_F(Metrics, RowsRoundTripThroughCsvAndJsonLines) {
  MetricsWriter w(dir, "metrics", kColumns);
  const std::vector<Row> all = rows(0, 24);
  w.append({all.begin(), all.begin() + 5});
  w.append({});
  w.append({all.begin() + 5, all.end()});
  w.sync();
  expect_rows_in_files(w, all);
  EXPECT_EQ(w.sizes().first, fs::file_size(dir + "/metrics.csv"));
  EXPECT_EQ(w.sizes().second, fs::file_size(dir + "/metrics.jsonl"));

  // The text itself: shortest round trip, integral doubles keep ".0", quoting as needed.
  const std::string csv = read_file(w.csv_path());
  EXPECT_EQ(csv.substr(0, csv.find('\n', csv.find('\n') + 1) + 1), "iter,cond,cost,status\n0,0,0.1,ok\n");
  EXPECT_THAT(csv, HasSubstr("\n1,-1000000000000,-0.0,\"has,comma\"\n"));
  EXPECT_THAT(csv, HasSubstr(",1.0,\"has \"\"quotes\"\"\"\n"));
  EXPECT_THAT(csv, HasSubstr(",123456789012345680.0,"));
  EXPECT_THAT(csv, HasSubstr(",inf,"));
  EXPECT_THAT(csv, HasSubstr(",-inf,"));
  const std::string jsonl = read_file(w.jsonl_path());
  EXPECT_EQ(jsonl.substr(0, jsonl.find('\n')), R"({"iter":0,"cond":0,"cost":0.1,"status":"ok"})");
  EXPECT_THAT(jsonl, HasSubstr(R"("cost":null,"status":"ok"})"));
  EXPECT_THAT(jsonl, HasSubstr(R"("status":"tab\tand\u0001"})"));

  EXPECT_THROW(w.append({Row{std::int64_t{1}}}), std::invalid_argument);
  EXPECT_THROW(MetricsWriter(dir, "m2", {"a", "a"}), std::invalid_argument);
}

TEST_F(Metrics, ResumeCutsBackToTheRecordedSizes) {
  const std::vector<Row> all = rows(0, 30);
  std::pair<std::uint64_t, std::uint64_t> recorded;
  {
    MetricsWriter w(dir, "metrics", kColumns);
    w.append({all.begin(), all.begin() + 10});
    w.sync();
    recorded = w.sizes();  // the checkpoint
    w.append({all.begin() + 10, all.begin() + 17});  // written, then the process is killed
  }
  MetricsWriter w = MetricsWriter::resume(dir, "metrics", kColumns, recorded);
  EXPECT_EQ(w.sizes(), recorded);
  EXPECT_EQ(fs::file_size(w.csv_path()), recorded.first);
  EXPECT_EQ(fs::file_size(w.jsonl_path()), recorded.second);
  w.append({all.begin() + 10, all.end()});
  w.sync();
  expect_rows_in_files(w, all);

  // Byte for byte the files of a run that was never interrupted.
  MetricsWriter fresh(dir, "fresh", kColumns);
  fresh.append(all);
  EXPECT_EQ(read_file(w.csv_path()), read_file(fresh.csv_path()));
  EXPECT_EQ(read_file(w.jsonl_path()), read_file(fresh.jsonl_path()));
  EXPECT_EQ(w.sizes(), fresh.sizes());
}

TEST_F(Metrics, ResumeRefusesMissingShortOrForeignFiles) {
  std::pair<std::uint64_t, std::uint64_t> recorded;
  {
    MetricsWriter w(dir, "metrics", kColumns);
    w.append(rows(0, 4));
    recorded = w.sizes();
  }
  const std::string csv = read_file(dir + "/metrics.csv"), jsonl = read_file(dir + "/metrics.jsonl");
  auto message = [&](auto&& f) -> std::string {
    try {
      f();
    } catch (const IoError& e) {
      return e.what();
    }
    return "(no IoError)";
  };
  EXPECT_THAT(message([&] { MetricsWriter::resume(dir, "other", kColumns, recorded); }),
              HasSubstr("cannot reopen " + dir + "/other.csv to resume: No such file or directory"));
  EXPECT_THAT(message([&] { MetricsWriter::resume(dir, "metrics", kColumns, {recorded.first, recorded.second + 1}); }),
              HasSubstr("fewer than the " + std::to_string(recorded.second + 1) + " recorded"));
  EXPECT_THAT(message([&] { MetricsWriter::resume(dir, "metrics", {"iter", "cond", "cost", "eta"}, recorded); }),
              HasSubstr("its header 'iter,cond,cost,status' is not the columns 'iter,cond,cost,eta'"));
  EXPECT_THAT(message([&] { MetricsWriter::resume(dir, "metrics", kColumns, {3, 0}); }),
              HasSubstr("shorter than its header"));
  // A refused resume changes nothing.
  EXPECT_EQ(read_file(dir + "/metrics.csv"), csv);
  EXPECT_EQ(read_file(dir + "/metrics.jsonl"), jsonl);
  fs::remove(dir + "/metrics.jsonl");
  EXPECT_THAT(message([&] { MetricsWriter::resume(dir, "metrics", kColumns, recorded); }),
              HasSubstr("metrics.jsonl to resume: No such file or directory"));
  EXPECT_EQ(read_file(dir + "/metrics.csv"), csv);
}

TEST_F(Metrics, ProgressLogAppendsAndCutsBack) {
  const std::string log = dir + "/progress.log";
  EXPECT_EQ(gpsx::run::append_line(log, "iteration 0"), 12u);
  gpsx::run::sync_file(log);
  const std::uint64_t recorded = gpsx::run::append_line(log, "iteration 1\n");
  gpsx::run::append_line(log, "iteration 2");
  EXPECT_EQ(read_file(log), "iteration 0\niteration 1\niteration 2\n");
  gpsx::run::truncate_for_resume(log, recorded);
  EXPECT_EQ(read_file(log), "iteration 0\niteration 1\n");
  EXPECT_THROW(gpsx::run::truncate_for_resume(log, recorded + 1), IoError);
  EXPECT_THROW(gpsx::run::truncate_for_resume(dir + "/none.log", 0), IoError);
  EXPECT_THROW(gpsx::run::sync_file(dir + "/none.log"), IoError);
  EXPECT_EQ(read_file(log), "iteration 0\niteration 1\n");
}

}  // namespace
