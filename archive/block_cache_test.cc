#include "archive/block_cache.h"

#include <gtest/gtest.h>

namespace mailvault {
namespace {

std::shared_ptr<const DecodedBlock> Block(size_t bytes, char fill) {
  auto b = std::make_shared<DecodedBlock>();
  b->plain.assign(bytes, fill);
  return b;
}

TEST(BlockCacheTest, EvictsTheLeastRecentlyUsed) {
  BlockCache cache(300);
  cache.Put(1, 10, Block(100, 'a'));
  cache.Put(1, 20, Block(100, 'b'));
  cache.Put(1, 30, Block(100, 'c'));
  ASSERT_NE(cache.Get(1, 10), nullptr);  // now the most recent; 20 is the oldest
  cache.Put(2, 10, Block(100, 'd'));
  EXPECT_EQ(cache.Get(1, 20), nullptr);
  EXPECT_EQ(cache.Get(1, 10)->plain[0], 'a');
  EXPECT_EQ(cache.Get(1, 30)->plain[0], 'c');
  EXPECT_EQ(cache.Get(2, 10)->plain[0], 'd');
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_EQ(cache.bytes(), 300u);
}

TEST(BlockCacheTest, KeysAreAPackAndAnOffset) {
  BlockCache cache(1000);
  cache.Put(1, 10, Block(1, 'a'));
  EXPECT_EQ(cache.Get(2, 10), nullptr);
  EXPECT_EQ(cache.Get(1, 11), nullptr);
  cache.Put(1, 10, Block(5, 'b'));  // replaces
  EXPECT_EQ(cache.Get(1, 10)->plain, "bbbbb");
  EXPECT_EQ(cache.bytes(), 5u);
}

TEST(BlockCacheTest, KeepsTheLastBlockEvenWhenLargerThanTheCapacity) {
  BlockCache cache(10);
  cache.Put(1, 1, Block(5, 'a'));
  cache.Put(1, 2, Block(50, 'b'));
  EXPECT_EQ(cache.Get(1, 1), nullptr);
  ASSERT_NE(cache.Get(1, 2), nullptr);
  EXPECT_EQ(cache.entries(), 1u);
}

TEST(BlockCacheTest, EvictedBlocksStayAliveForTheirReaders) {
  BlockCache cache(10);
  cache.Put(1, 1, Block(10, 'a'));
  std::shared_ptr<const DecodedBlock> held = cache.Get(1, 1);
  cache.Put(1, 2, Block(10, 'b'));
  EXPECT_EQ(cache.Get(1, 1), nullptr);
  EXPECT_EQ(held->plain, std::string(10, 'a'));
}

TEST(BlockCacheTest, ZeroCapacityAndClearHoldNothing) {
  BlockCache off(0);
  off.Put(1, 1, Block(1, 'a'));
  EXPECT_EQ(off.Get(1, 1), nullptr);
  BlockCache cache(100);
  cache.Put(1, 1, Block(1, 'a'));
  cache.Clear();
  EXPECT_EQ(cache.Get(1, 1), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace mailvault
