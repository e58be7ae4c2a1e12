// A small LRU cache of decompressed block records (pack record type 8).
//
// The segments of many messages share one block, and reading a message
// decompresses each block it touches; the cache keeps the most recently used
// ones so that reading neighbouring messages, or a message's header and body
// from the same block, decompresses each block once. It holds plain bytes as
// they came out of zstd: every read still checks its segment's SHA-256.
//
// Thread-safe. Entries are shared (shared_ptr), so an entry evicted while a
// reader still uses it stays alive until that reader is done.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "archive/pack_format.h"
#include "base/lru_cache.h"

namespace mailvault {

// A decompressed block: its plain bytes (all raw_length of them, or only a
// prefix: a reader decompresses no further than the segment it wants) and its
// table of segments.
struct DecodedBlock {
  std::string plain;
  uint32_t raw_length = 0;  // of the whole block
  std::vector<BlockEntry> entries;
  std::vector<uint32_t> offsets;  // offsets[i]: where entries[i] starts in plain
};

class BlockCache {
 public:
  // Keeps at most `capacity_bytes` of plain bytes (at least the last block put,
  // however large). 0 disables caching.
  explicit BlockCache(size_t capacity_bytes) : lru_(capacity_bytes) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The block at (pack, offset), or nullptr; a hit becomes the most recent.
  std::shared_ptr<const DecodedBlock> Get(uint32_t pack, uint64_t offset);
  // Adds (or replaces) the block at (pack, offset), evicting the least recently used.
  void Put(uint32_t pack, uint64_t offset, std::shared_ptr<const DecodedBlock> block);
  // Forgets everything (verify wants to read what is on disk now).
  void Clear();

  size_t entries() const;
  size_t bytes() const;

 private:
  using Key = std::pair<uint32_t, uint64_t>;
  struct KeyHash {
    size_t operator()(const Key& key) const {
      return std::hash<uint64_t>()(key.second * 0x9E3779B97F4A7C15ull ^ key.first);
    }
  };

  mutable std::mutex mutex_;
  LruCache<Key, std::shared_ptr<const DecodedBlock>, KeyHash> lru_;  // cost: plain bytes
};

}  // namespace mailvault
