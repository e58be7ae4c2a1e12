#include "archive/block_cache.h"

namespace mailvault {

std::shared_ptr<const DecodedBlock> BlockCache::Get(uint32_t pack, uint64_t offset) {
  std::lock_guard lock(mutex_);
  const auto* block = lru_.Get(Key{pack, offset});
  return block != nullptr ? *block : nullptr;
}

void BlockCache::Put(uint32_t pack, uint64_t offset, std::shared_ptr<const DecodedBlock> block) {
  if (!block) return;
  const size_t bytes = block->plain.size();
  std::lock_guard lock(mutex_);
  lru_.Put(Key{pack, offset}, std::move(block), bytes);
}

void BlockCache::Clear() {
  std::lock_guard lock(mutex_);
  lru_.Clear();
}

size_t BlockCache::entries() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

size_t BlockCache::bytes() const {
  std::lock_guard lock(mutex_);
  return lru_.cost();
}

}  // namespace mailvault
