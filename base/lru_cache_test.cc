#include "base/lru_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace mailvault {
namespace {

TEST(LruCacheTest, DropsTheLeastRecentlyUsedBeyondTheBudget) {
  LruCache<std::string, int> cache(3);  // three entries of cost 1
  cache.Put("a", 1);
  cache.Put("b", 2);
  cache.Put("c", 3);
  ASSERT_NE(cache.Get("a"), nullptr);  // "b" is now the least recently used
  cache.Put("d", 4);
  EXPECT_EQ(cache.Get("b"), nullptr);
  EXPECT_EQ(*cache.Get("a"), 1);
  EXPECT_EQ(*cache.Get("d"), 4);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.cost(), 3u);
}

TEST(LruCacheTest, ReplacesAndKeepsAnOversizedEntryAlone) {
  LruCache<int, std::string> cache(10);
  cache.Put(1, "x", 4);
  cache.Put(1, "y", 6);  // replaces: the cost is the new one
  EXPECT_EQ(*cache.Get(1), "y");
  EXPECT_EQ(cache.cost(), 6u);
  cache.Put(2, "big", 25);  // over the budget: kept alone
  EXPECT_EQ(cache.Get(1), nullptr);
  EXPECT_EQ(*cache.Get(2), "big");
  EXPECT_EQ(cache.size(), 1u);
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.cost(), 0u);
}

TEST(LruCacheTest, ZeroBudgetKeepsNothing) {
  LruCache<int, int> cache(0);
  cache.Put(1, 1);
  EXPECT_EQ(cache.Get(1), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace mailvault
