// The run directory's file formats (label: unit): atomic files, .npz archives (round
// trips, every truncation and flipped byte refused, numpy reads them) and metrics files
// (bitwise doubles through CSV and JSON Lines, resume cuts back to recorded sizes).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "gpsx/run/archive.h"
#include "gpsx/run/atomic_file.h"
#include "gpsx_test/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using gpsx::run::ArchiveError;
using gpsx::run::ArchiveReader;
using gpsx::run::ArchiveWriter;
using gpsx::run::IoError;
using ::testing::HasSubstr;

// A fresh folder per test, removed afterwards.
class RunDir : public ::testing::Test {
 protected:
  gpsx::test::TempDir temp{"gpsx_run_io"};
  const std::string dir = temp.path();
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ArchiveError& e) {
    return e.what();
  }
  return "(no ArchiveError)";
}

std::uint64_t bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

// --- the archive used by most tests -----------------------------------------------------

const double kNan = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
const std::vector<double> kF8 = {0.1, -0.0, 1.0 / 3, kNan, kInf, -kInf, 5e-324, 1e300};
const std::vector<std::int64_t> kI8 = {std::numeric_limits<std::int64_t>::min(), -1, 0,
                                       std::numeric_limits<std::int64_t>::max()};
const std::vector<std::int32_t> kI4 = {-7, 2147483647, -2147483647 - 1, 0};
const std::vector<std::uint32_t> kU4 = {0, 1, 4294967295u};
const std::vector<std::uint64_t> kU8 = {18446744073709551615ull};
const std::vector<std::uint8_t> kU1 = {0, 255, 7, 0x93, 'P'};
const std::string kText = std::string("line one\nline \"two\", \xc3\xa9\0end", 25);

ArchiveWriter sample_writer(bool zip64) {
  ArchiveWriter w("gpsx-test", zip64);
  w.add("ctrl_K", kF8.data(), {2, 4});
  w.add("scalar", kF8.data() + 2, {});
  w.add("empty", static_cast<const double*>(nullptr), {0});
  w.add("empty3", static_cast<const double*>(nullptr), {3, 0, 2});
  w.add("i8", kI8.data(), {4});
  w.add("i4", kI4.data(), {2, 1, 2});
  w.add("u4", kU4.data(), {3});
  w.add("u8", kU8.data(), {});
  w.add("u1", kU1.data(), {5});
  w.add_text("note", kText);
  w.add_text("blank", "");
  return w;
}

void expect_sample(const ArchiveReader& r) {
  EXPECT_EQ(r.kind(), "gpsx-test");
  EXPECT_EQ(r.names(), (std::vector<std::string>{"ctrl_K", "scalar", "empty", "empty3", "i8", "i4",
                                                 "u4", "u8", "u1", "note", "blank"}));
  const std::vector<double> f8 = r.f8("ctrl_K", {2, 4});
  ASSERT_EQ(f8.size(), kF8.size());
  for (std::size_t i = 0; i < f8.size(); ++i) EXPECT_EQ(bits(f8[i]), bits(kF8[i])) << i;
  EXPECT_EQ(r.f8("ctrl_K", {-1, 4}).size(), 8u);
  EXPECT_EQ(r.shape("scalar"), std::vector<std::int64_t>{});
  EXPECT_EQ(bits(r.f8("scalar", {}).at(0)), bits(kF8[2]));
  EXPECT_TRUE(r.f8("empty", {0}).empty());
  EXPECT_TRUE(r.f8("empty3", {3, 0, 2}).empty());
  EXPECT_EQ(r.i8("i8", {4}), kI8);
  EXPECT_EQ(r.i4("i4", {2, 1, 2}), kI4);
  EXPECT_EQ(r.u4("u4", {3}), kU4);
  EXPECT_EQ(r.u8("u8", {}), kU8);
  EXPECT_EQ(r.u1("u1", {5}), kU1);
  EXPECT_EQ(r.text("note"), kText);
  EXPECT_EQ(r.text("blank"), "");
  EXPECT_EQ(r.dtype("ctrl_K"), "<f8");
  EXPECT_EQ(r.dtype("i8"), "<i8");
  EXPECT_EQ(r.dtype("i4"), "<i4");
  EXPECT_EQ(r.dtype("u4"), "<u4");
  EXPECT_EQ(r.dtype("u8"), "<u8");
  EXPECT_EQ(r.dtype("note"), "|u1");
  EXPECT_TRUE(r.has("u1"));
  EXPECT_FALSE(r.has("checksum"));
  EXPECT_FALSE(r.has("nope"));
}

// --- zip surgery for the tests: members of a small (not zip64) archive ------------------

std::uint32_t crc32_bitwise(const std::string& s) {
  std::uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

std::uint32_t le32(const std::string& f, std::size_t p) {
  std::uint32_t v;
  std::memcpy(&v, f.data() + p, 4);
  return v;
}

struct Located {
  std::size_t local, data, size, central;  // offsets in the file
};

// Where member `name` (without ".npy") lies, found through its headers' signatures.
Located locate(const std::string& f, const std::string& name) {
  const std::string zname = name + ".npy";
  Located at{0, 0, 0, 0};
  for (std::size_t p = 0; (p = f.find("PK\x03\x04", p)) != std::string::npos; ++p) {
    const std::size_t nlen = le32(f, p + 26) & 0xffff, xlen = le32(f, p + 28) & 0xffff;
    if (f.compare(p + 30, nlen, zname) == 0 && nlen == zname.size()) {
      at.local = p;
      at.data = p + 30 + nlen + xlen;
      at.size = le32(f, p + 22);
    }
  }
  for (std::size_t p = 0; (p = f.find("PK\x01\x02", p)) != std::string::npos; ++p) {
    const std::size_t nlen = le32(f, p + 28) & 0xffff;
    if (f.compare(p + 46, nlen, zname) == 0 && nlen == zname.size()) at.central = p;
  }
  EXPECT_GT(at.data, 0u) << name;
  EXPECT_GT(at.central, 0u) << name;
  return at;
}

// Overwrites the member's .npy bytes at `offset` and fixes its CRC-32 in both headers.
std::string patch(std::string f, const std::string& name, std::size_t offset, const std::string& bytes) {
  const Located at = locate(f, name);
  f.replace(at.data + offset, bytes.size(), bytes);
  const std::uint32_t crc = crc32_bitwise(f.substr(at.data, at.size));
  std::memcpy(f.data() + at.local + 14, &crc, 4);
  std::memcpy(f.data() + at.central + 16, &crc, 4);
  return f;
}

// --- archive tests ------------------------------------------------------------------------

TEST_F(RunDir, ArchiveRoundTripsEveryDtypeAndShape) {
  for (bool zip64 : {false, true}) {
    SCOPED_TRACE(zip64 ? "zip64" : "zip");
    const ArchiveWriter w = sample_writer(zip64);
    expect_sample(ArchiveReader::parse(w.bytes(), "mem.npz", "gpsx-test"));
    const std::string path = dir + "/a.npz";
    w.write(path);
    expect_sample(ArchiveReader::open(path, "gpsx-test"));
    EXPECT_EQ(gpsx::run::read_file(path), w.bytes());  // deterministic bytes
  }
  EXPECT_EQ(sample_writer(false).bytes().find("PK\x06\x06"), std::string::npos);  // plain zip
  EXPECT_NE(sample_writer(true).bytes().find("PK\x06\x06"), std::string::npos);
}

// 65535 members or more need the zip64 end record without being forced to.
TEST(Archive, ManyMembersUseTheZip64EndRecord) {
  ArchiveWriter w("gpsx-test");
  const int n = 65536;
  for (std::int64_t i = 0; i < n; ++i) w.add("m" + std::to_string(i), &i, {});
  const std::string f = w.bytes();
  EXPECT_NE(f.find("PK\x06\x06"), std::string::npos);  // zip64 end of central directory
  const ArchiveReader r = ArchiveReader::parse(f, "many.npz", "gpsx-test");
  ASSERT_EQ(r.names().size(), static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; i += 997) EXPECT_EQ(r.i8("m" + std::to_string(i), {}).at(0), i);
  EXPECT_EQ(r.i8("m65535", {}).at(0), 65535);
}

TEST(Archive, AddRefusesBadNamesAndShapes) {
  ArchiveWriter w("k");
  const double x[2] = {1, 2};
  w.add("x", x, {2});
  EXPECT_THAT(error_of([&] { w.add("x", x, {2}); }), HasSubstr("added twice"));
  EXPECT_THAT(error_of([&] { w.add("checksum", x, {2}); }), HasSubstr("reserved"));
  EXPECT_THAT(error_of([&] { w.add("a/b", x, {2}); }), HasSubstr("may hold only"));
  EXPECT_THAT(error_of([&] { w.add("", x, {2}); }), HasSubstr("1 to 200 characters"));
  EXPECT_THAT(error_of([&] { w.add("neg", x, {-1}); }), HasSubstr("invalid shape (-1,)"));
  EXPECT_THAT(error_of([&] { w.add("huge", x, {1LL << 40, 1LL << 40}); }), HasSubstr("invalid shape"));
  EXPECT_THAT(error_of([&] { w.add("null", static_cast<const double*>(nullptr), {1}); }),
              HasSubstr("no data"));
}

TEST(Archive, ReaderRefusesWrongDtypeShapeAndMissingMembers) {
  const ArchiveReader r = ArchiveReader::parse(sample_writer(false).bytes(), "run/ckpt-3.npz", "gpsx-test");
  EXPECT_EQ(error_of([&] { r.f8("ctrl_K", {2, 5}); }),
            "gpsx-test run/ckpt-3.npz: 'ctrl_K' has shape (2, 4), expected (2, 5)");
  EXPECT_THAT(error_of([&] { r.f8("ctrl_K", {8}); }), HasSubstr("expected (8,)"));
  EXPECT_THAT(error_of([&] { r.f8("scalar", {1}); }), HasSubstr("'scalar' has shape (), expected (1,)"));
  EXPECT_THAT(error_of([&] { r.i8("ctrl_K", {2, 4}); }), HasSubstr("'ctrl_K' has dtype <f8, expected <i8"));
  EXPECT_THAT(error_of([&] { r.text("ctrl_K"); }), HasSubstr("has dtype <f8, expected |u1"));
  EXPECT_THAT(error_of([&] { r.text("u8"); }), HasSubstr("has dtype <u8"));
  EXPECT_EQ(error_of([&] { r.f8("x", {}); }), "gpsx-test run/ckpt-3.npz: no member 'x'");
}

TEST(Archive, WrongKindVersionAndChecksumAreRefused) {
  const std::string f = sample_writer(false).bytes();
  EXPECT_EQ(error_of([&] { ArchiveReader::parse(f, "c.npz", "gpsx-checkpoint"); }),
            "gpsx-checkpoint c.npz: kind 'gpsx-test', expected 'gpsx-checkpoint'");

  // format_version is a scalar: its 8 data bytes end its .npy file.
  const Located v = locate(f, "format_version");
  const std::int64_t seven = 7;
  const std::string bad_version = patch(f, "format_version", v.size - 8, std::string(reinterpret_cast<const char*>(&seven), 8));
  EXPECT_EQ(error_of([&] { ArchiveReader::parse(bad_version, "c.npz", "gpsx-test"); }),
            "gpsx-test c.npz: format version 7, this gpsx reads 1");

  // A changed value with a consistent CRC-32 still fails the checksum.
  const Located k = locate(f, "ctrl_K");
  const std::string changed = patch(f, "ctrl_K", k.size - 1, "\x41");
  EXPECT_EQ(error_of([&] { ArchiveReader::parse(changed, "c.npz", "gpsx-test"); }),
            "gpsx-test c.npz: checksum mismatch");
  // So does a renamed member (same length, both headers).
  std::string renamed = f;
  for (std::size_t p = 0; (p = renamed.find("i4.npy", p)) != std::string::npos; ++p) renamed[p] = 'j';
  EXPECT_EQ(error_of([&] { ArchiveReader::parse(renamed, "c.npz", "gpsx-test"); }),
            "gpsx-test c.npz: checksum mismatch");
}

TEST(Archive, EveryTruncationIsRefused) {
  for (bool zip64 : {false, true}) {
    const std::string f = sample_writer(zip64).bytes();
    for (std::size_t n = 0; n < f.size(); ++n) {
      const std::string msg = error_of([&] { ArchiveReader::parse(f.substr(0, n), "run/ckpt-3.npz", "gpsx-test"); });
      ASSERT_EQ(msg, "gpsx-test run/ckpt-3.npz: truncated (no end of central directory record)")
          << "cut at " << n << " of " << f.size();
    }
  }
}

TEST(Archive, FlippedByteInEveryMemberFailsItsCrc) {
  const std::string f = sample_writer(false).bytes();
  const std::vector<std::string> members = {"format_version", "kind", "ctrl_K", "scalar", "empty", "empty3",
                                            "i8", "i4", "u4", "u8", "u1", "note", "blank", "checksum"};
  for (const std::string& name : members) {
    const Located at = locate(f, name);
    ASSERT_GT(at.size, 0u);
    for (std::size_t i = 0; i < at.size; ++i) {
      std::string bad = f;
      bad[at.data + i] ^= 0x10;
      ASSERT_EQ(error_of([&] { ArchiveReader::parse(bad, "c.npz", "gpsx-test"); }),
                "gpsx-test c.npz: member '" + name + "' fails its CRC-32 (corrupted)")
          << name << " byte " << i;
    }
  }
}

TEST(Archive, AnyFlippedByteIsRefusedOrHarmless) {
  // Bytes outside the data (timestamps, attributes) may change nothing; all else is
  // refused. Either way the reader stays inside the buffer (run under ASan to see).
  for (bool zip64 : {false, true}) {
    const std::string f = sample_writer(zip64).bytes();
    int refused = 0;
    for (std::size_t i = 0; i < f.size(); ++i) {
      for (unsigned char mask : {0x01, 0x80, 0xff}) {
        std::string bad = f;
        bad[i] = static_cast<char>(bad[i] ^ mask);
        try {
          expect_sample(ArchiveReader::parse(bad, "c.npz", "gpsx-test"));
        } catch (const ArchiveError& e) {
          ++refused;
          EXPECT_THAT(e.what(), HasSubstr("gpsx-test c.npz: "));
        }
        if (HasFailure()) FAIL() << "flip " << int(mask) << " at byte " << i;
      }
    }
    EXPECT_GT(refused, static_cast<int>(2 * f.size()));
  }
}

TEST(Archive, RandomDamageNeverCrashes) {
  std::mt19937_64 rng(12345);
  const std::string files[2] = {sample_writer(false).bytes(), sample_writer(true).bytes()};
  for (int trial = 0; trial < 4000; ++trial) {
    std::string bad = files[trial % 2];
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    if (trial % 3 == 0) bad.resize(rng() % bad.size());
    try {
      ArchiveReader::parse(bad, "c.npz", "gpsx-test");
    } catch (const ArchiveError&) {
    }
  }
  for (const std::string& junk : {std::string(), std::string("PK\x05\x06", 4), std::string(100, '\0'),
                                  std::string("not a zip file at all")}) {
    EXPECT_THAT(error_of([&] { ArchiveReader::parse(junk, "c.npz", "gpsx-test"); }), HasSubstr("truncated"));
  }
}

TEST_F(RunDir, OpenNamesAMissingFile) {
  EXPECT_EQ(error_of([&] { ArchiveReader::open(dir + "/none.npz", "gpsx-test"); }),
            "gpsx-test " + dir + "/none.npz: cannot open " + dir + "/none.npz: No such file or directory");
}

// numpy reads the archive, and recomputes the checksum as the header defines it.
TEST_F(RunDir, NumpyLoadsTheArchive) {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 with numpy is not available (install python3-numpy)";
  const char* script = R"PY(
import sys, struct, zipfile, numpy
z = numpy.load(sys.argv[1])
assert z['format_version'].dtype.str == '<i8' and int(z['format_version']) == 1
assert bytes(z['kind']).decode() == 'gpsx-test'
h = 0xcbf29ce484222325
def fnv(h, b):
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xffffffffffffffff
    return h
with zipfile.ZipFile(sys.argv[1]) as f:
    for info in f.infolist():
        name = info.filename[:-4]
        if name == 'checksum': break
        data = f.read(info)
        h = fnv(fnv(fnv(fnv(h, struct.pack('<Q', len(name))), name.encode()), struct.pack('<Q', len(data))), data)
assert int(z['checksum']) == h, 'checksum'
for k in z.files:
    a = z[k]
    print(k, a.dtype.str, list(a.shape), a.tobytes().hex())
)PY";
  for (bool zip64 : {false, true}) {
    SCOPED_TRACE(zip64 ? "zip64" : "zip");
    const std::string path = dir + "/a.npz", py = dir + "/check.py";
    sample_writer(zip64).write(path);
    gpsx::run::write_file_atomic(py, std::string(script));
    FILE* pipe = popen(("/usr/bin/python3 " + py + " " + path + " 2>&1").c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    std::array<char, 4096> buf;
    while (fgets(buf.data(), buf.size(), pipe)) out += buf.data();
    ASSERT_EQ(pclose(pipe), 0) << out;
    auto hex = [](const void* p, std::size_t n) {
      std::string s;
      char b[3];
      for (std::size_t i = 0; i < n; ++i) {
        std::snprintf(b, sizeof b, "%02x", static_cast<const unsigned char*>(p)[i]);
        s += b;
      }
      return s;
    };
    EXPECT_THAT(out, HasSubstr("ctrl_K <f8 [2, 4] " + hex(kF8.data(), 64) + "\n"));
    EXPECT_THAT(out, HasSubstr("scalar <f8 [] " + hex(kF8.data() + 2, 8) + "\n"));
    EXPECT_THAT(out, HasSubstr("empty <f8 [0] \n"));
    EXPECT_THAT(out, HasSubstr("empty3 <f8 [3, 0, 2] \n"));
    EXPECT_THAT(out, HasSubstr("i8 <i8 [4] " + hex(kI8.data(), 32) + "\n"));
    EXPECT_THAT(out, HasSubstr("i4 <i4 [2, 1, 2] " + hex(kI4.data(), 16) + "\n"));
    EXPECT_THAT(out, HasSubstr("u4 <u4 [3] " + hex(kU4.data(), 12) + "\n"));
    EXPECT_THAT(out, HasSubstr("u8 <u8 [] " + hex(kU8.data(), 8) + "\n"));
    EXPECT_THAT(out, HasSubstr("u1 |u1 [5] " + hex(kU1.data(), 5) + "\n"));
    EXPECT_THAT(out, HasSubstr("note |u1 [25] " + hex(kText.data(), 25) + "\n"));
    EXPECT_THAT(out, HasSubstr("blank |u1 [0] \n"));
  }
}

// --- atomic files -------------------------------------------------------------------------

TEST_F(RunDir, AtomicWriteReplacesAndLeavesNoTemp) {
  const std::string path = dir + "/f.bin";
  gpsx::run::write_file_atomic(path, std::string("old"));
  gpsx::run::write_file_atomic(path, std::string("new contents"));
  EXPECT_EQ(gpsx::run::read_file(path), "new contents");
  gpsx::run::write_file_atomic(path, nullptr, 0);
  EXPECT_EQ(gpsx::run::read_file(path), "");
  EXPECT_EQ(entries(), std::vector<std::string>{"f.bin"});
  try {
    gpsx::run::read_file(dir + "/missing");
    ADD_FAILURE() << "no IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir + "/missing: No such file or directory"));
  }
}

TEST_F(RunDir, FailedAtomicWriteKeepsTheOldFileAndNoTemp) {
  const std::string missing = dir + "/no_such_folder/f.bin";
  try {
    gpsx::run::write_file_atomic(missing, std::string("x"));
    ADD_FAILURE() << "no IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot write " + missing + ": create temporary file"));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
  EXPECT_TRUE(entries().empty());

  // Renaming over a folder fails after the temp was written: the temp goes, the folder stays.
  const std::string folder = dir + "/taken";
  fs::create_directories(folder + "/inside");
  try {
    ArchiveWriter("k").write(folder);
    ADD_FAILURE() << "no IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot write " + folder + ": rename over it"));
  }
  EXPECT_EQ(entries(), std::vector<std::string>{"taken"});
  EXPECT_TRUE(fs::is_directory(folder + "/inside"));

  // A read-only folder (not for root, who may write anyway): the old file stays.
  if (geteuid() != 0) {
    const std::string ro = dir + "/ro", path = ro + "/f.bin";
    fs::create_directories(ro);
    gpsx::run::write_file_atomic(path, std::string("old"));
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    EXPECT_THROW(gpsx::run::write_file_atomic(path, std::string("new")), IoError);
    fs::permissions(ro, fs::perms::owner_all);
    EXPECT_EQ(gpsx::run::read_file(path), "old");
    EXPECT_EQ(fs::directory_iterator(ro)->path().filename(), "f.bin");
  }
}
}  // namespace
