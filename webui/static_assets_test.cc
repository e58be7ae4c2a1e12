#include "webui/static_assets.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace mailvault {
namespace {

std::string SourceFile(const std::string& rel) {
  const char* root = std::getenv("MAILVAULT_SOURCE_DIR");
  std::ifstream in(std::string(root ? root : ".") + "/webui/static" + rel, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(StaticAssetsTest, EveryFileIsEmbeddedByteExactWithTypeAndETag) {
  ASSERT_GT(kStaticAssetCount, 0u);
  std::set<std::string_view> etags;
  for (size_t i = 0; i < kStaticAssetCount; ++i) {
    const StaticAsset& a = kStaticAssets[i];
    EXPECT_EQ(a.body, SourceFile(std::string(a.path))) << a.path;
    EXPECT_FALSE(a.content_type.empty()) << a.path;
    EXPECT_EQ(a.etag.size(), 18u) << a.path;  // 16 hex digits in quotes
    etags.insert(a.etag);
  }
  EXPECT_EQ(etags.size(), kStaticAssetCount) << "distinct files have distinct ETags";
}

TEST(StaticAssetsTest, LookupIsByExactPathOnly) {
  const StaticAsset* index = FindStaticAsset("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->path, "/index.html");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(FindStaticAsset("/index.html"), index);
  for (const char* hostile : {"", "index.html", "/../index.html", "/./index.html",
                              "//index.html", "/INDEX.HTML", "/index.html/", "/index.html%00",
                              "/etc/passwd", "/../../../../etc/passwd"}) {
    EXPECT_EQ(FindStaticAsset(hostile), nullptr) << hostile;
  }
}

}  // namespace
}  // namespace mailvault
