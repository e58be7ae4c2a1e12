#include "base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>

#include "tests/testing.h"

namespace mailvault {
namespace {

TEST(FileTest, ErrnoMapping) {
  EXPECT_EQ(ErrnoToStatus(ENOSPC, "write x").code(), StatusCode::kNoSpace);
  EXPECT_EQ(ErrnoToStatus(ENOENT, "open x").code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrnoToStatus(EACCES, "open x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToStatus(EIO, "read x").code(), StatusCode::kIoError);
  EXPECT_NE(ErrnoToStatus(ENOSPC, "write x").message().find("write x"), std::string::npos);
}

TEST(FileTest, AppendSyncTruncateAndReadBack) {
  testing::TempDir dir;
  std::string path = dir.path() + "/f";
  auto file = FileSystem::Posix().OpenAppend(path, true);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE((*file)->Append("hello world").ok());
  EXPECT_EQ((*file)->Size(), 11u);
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Truncate(5).ok());
  ASSERT_TRUE((*file)->Append("!").ok());
  auto content = ReadSmallFile(path, 100);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "hello!");
  EXPECT_FALSE(ReadSmallFile(path, 3).ok());
  EXPECT_EQ(ReadSmallFile(dir.path() + "/missing", 3).status().code(), StatusCode::kNotFound);
}

TEST(FileTest, WriteFileAtomicallySetsMode) {
  testing::TempDir dir;
  std::string path = dir.path() + "/key";
  ASSERT_TRUE(WriteFileAtomically(path, "secret", 0600).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadSmallFile(path, 100), "secret");
  EXPECT_FALSE(PathExists(path + ".tmp"));
}

}  // namespace
}  // namespace mailvault
