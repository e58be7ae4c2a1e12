#include "webui/zip_stream.h"

#include <gtest/gtest.h>

#include "tests/testing.h"

namespace mailvault {
namespace {

// Checks the zip with Python's zipfile (which validates CRCs on read) and
// prints "name size" per entry, then "ok".
std::string PythonList(const std::string& path) {
  auto r = testing::RunProcess(
      {"/usr/bin/python3", "-c",
       "import sys, zipfile\n"
       "z = zipfile.ZipFile(sys.argv[1])\n"
       "bad = z.testzip()\n"
       "assert bad is None, bad\n"
       "for i in z.infolist(): print(i.filename, i.file_size, z.read(i).count(b'x'))\n"
       "print('ok')\n",
       path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(ZipStreamTest, PythonAndUnzipReadIt) {
  testing::TempDir dir;
  std::string zip;
  ZipStreamWriter w([&](std::string_view d) {
    zip.append(d);
    return Status::Ok();
  });
  ASSERT_TRUE(w.BeginEntry("a.eml", 1700000000).ok());
  ASSERT_TRUE(w.Write("xx").ok());
  ASSERT_TRUE(w.Write("x\r\n").ok());
  ASSERT_TRUE(w.EndEntry().ok());
  ASSERT_TRUE(w.BeginEntry("empty.eml", 0).ok());
  ASSERT_TRUE(w.EndEntry().ok());
  ASSERT_TRUE(w.BeginEntry("big.eml", 1700000000).ok());
  std::string block(1 << 20, 'x');
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.Write(block).ok());
  ASSERT_TRUE(w.EndEntry().ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(w.bytes_written(), zip.size());
  testing::WriteFile(dir.path() + "/t.zip", zip);
  EXPECT_EQ(PythonList(dir.path() + "/t.zip"), "a.eml 5 3\nempty.eml 0 0\nbig.eml 5242880 5242880\nok\n");
  auto unzip = testing::RunProcess({"/usr/bin/unzip", "-t", dir.path() + "/t.zip"});
  EXPECT_EQ(unzip.exit_code, 0) << unzip.out << unzip.err;
  EXPECT_NE(unzip.out.find("No errors detected"), std::string::npos) << unzip.out;
}

TEST(ZipStreamTest, RefusesUnsafeNamesAndMisuse) {
  ZipStreamWriter w([](std::string_view) { return Status::Ok(); });
  EXPECT_FALSE(w.BeginEntry("/etc/passwd", 0).ok());
  EXPECT_FALSE(w.BeginEntry("../x", 0).ok());
  EXPECT_FALSE(w.Write("x").ok());
  ASSERT_TRUE(w.BeginEntry("ok", 0).ok());
  EXPECT_FALSE(w.Finish().ok());
}

TEST(ZipStreamTest, SinkErrorsComeBack) {
  ZipStreamWriter w([](std::string_view) { return Status::IoError("client went away"); });
  EXPECT_EQ(w.BeginEntry("a", 0).code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace mailvault
