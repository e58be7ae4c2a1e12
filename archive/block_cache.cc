#include "archive/block_cache.h"

namespace mailvault {

std::shared_ptr<const DecodedBlock> BlockCache::Get(uint32_t pack, uint64_t offset) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(Key{pack, offset});
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void BlockCache::Put(uint32_t pack, uint64_t offset, std::shared_ptr<const DecodedBlock> block) {
  if (capacity_ == 0 || !block) return;
  std::lock_guard lock(mutex_);
  Key key{pack, offset};
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->second->plain.size();
    lru_.erase(it->second);
    index_.erase(it);
  }
  bytes_ += block->plain.size();
  lru_.emplace_front(key, std::move(block));
  index_[key] = lru_.begin();
  // Evict from the back, but never the block just added.
  while (bytes_ > capacity_ && lru_.size() > 1) {
    const Entry& last = lru_.back();
    bytes_ -= last.second->plain.size();
    index_.erase(last.first);
    lru_.pop_back();
  }
}

void BlockCache::Clear() {
  std::lock_guard lock(mutex_);
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

size_t BlockCache::entries() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

size_t BlockCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace mailvault
