#include "search/document_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace mailvault {
namespace {

DocumentCache::Data Doc(const std::string& id, size_t text_bytes) {
  auto d = std::make_shared<index_schema::DocumentData>();
  d->id = id;
  d->text.assign(text_bytes, 'x');
  return d;
}

TEST(DocumentCacheTest, ReturnsWhatWasPutForThatIndexOnly) {
  DocumentCache cache;
  EXPECT_EQ(cache.Get("uuid-a", 1), nullptr);
  DocumentCache::Data one = Doc("one", 100);
  cache.Put("uuid-a", 1, one);
  EXPECT_EQ(cache.Get("uuid-a", 1), one);
  EXPECT_EQ(cache.Get("uuid-a", 2), nullptr);
  EXPECT_EQ(cache.Get("uuid-b", 1), nullptr);  // another (rebuilt) index
  // Entries of another index are dropped when it is put.
  cache.Put("uuid-b", 1, Doc("other", 10));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Get("uuid-a", 1), nullptr);
  EXPECT_EQ(cache.Get("uuid-b", 1)->id, "other");
}

TEST(DocumentCacheTest, KeepsTheMostRecentlyUsedWithinItsBytes) {
  DocumentCache cache(20000);  // about four documents of 4,000 bytes
  for (uint32_t did = 1; did <= 4; ++did) cache.Put("u", did, Doc(std::to_string(did), 4000));
  ASSERT_NE(cache.Get("u", 1), nullptr);  // 1 is now the most recently used
  for (uint32_t did = 5; did <= 6; ++did) cache.Put("u", did, Doc(std::to_string(did), 4000));
  EXPECT_LE(cache.bytes(), 20000u);
  EXPECT_NE(cache.Get("u", 1), nullptr);
  EXPECT_EQ(cache.Get("u", 2), nullptr);  // the least recently used went first
  EXPECT_NE(cache.Get("u", 6), nullptr);
  // Something larger than the whole cache is not kept and evicts nothing.
  const size_t before = cache.size();
  cache.Put("u", 99, Doc("huge", 30000));
  EXPECT_EQ(cache.Get("u", 99), nullptr);
  EXPECT_EQ(cache.size(), before);
  // A document put twice (two searchers read it at once) is held once.
  cache.Put("u", 6, Doc("6", 4000));
  EXPECT_EQ(cache.size(), before);
}

TEST(DocumentCacheTest, ManyThreadsStayWithinBounds) {
  DocumentCache cache(50000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&cache, t] {
      for (uint32_t i = 0; i < 2000; ++i) {
        const uint32_t did = (i * 7 + static_cast<uint32_t>(t)) % 100 + 1;
        if (DocumentCache::Data d = cache.Get("u", did)) {
          ASSERT_EQ(d->id, std::to_string(did));
        } else {
          cache.Put("u", did, Doc(std::to_string(did), 1000));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(cache.bytes(), 50000u);
  EXPECT_GT(cache.size(), 0u);
}

}  // namespace
}  // namespace mailvault
