#include "daemon/compaction_worker.h"

#include <gtest/gtest.h>

namespace mailvault {
namespace {

ArchiveStats Packs(uint64_t stored, uint64_t uncompacted) {
  ArchiveStats s;
  s.stored_bytes = stored;
  s.uncompacted_bytes = uncompacted;
  return s;
}

TEST(CompactionDueTest, ALargeEnoughTailOrHalfTheArchive) {
  constexpr uint64_t kMin = 8u << 20;
  EXPECT_FALSE(CompactionDue(Packs(0, 0), kMin));                // empty
  EXPECT_FALSE(CompactionDue(Packs(1u << 30, 0), kMin));         // nothing new
  EXPECT_TRUE(CompactionDue(Packs(1u << 30, kMin), kMin));       // the minimum
  EXPECT_FALSE(CompactionDue(Packs(1u << 30, kMin - 1), kMin));  // a small tail of a large archive
  EXPECT_TRUE(CompactionDue(Packs(3u << 20, 3u << 20), kMin));   // a small archive never compacted
  EXPECT_TRUE(CompactionDue(Packs(4u << 20, 2u << 20), kMin));   // half of a small one
  EXPECT_FALSE(CompactionDue(Packs(4u << 20, (2u << 20) - 1), kMin));
  EXPECT_TRUE(CompactionDue(Packs(1u << 30, 1), 0));  // min 0: anything new
}

}  // namespace
}  // namespace mailvault
