// DocumentCache: the stored data (index_schema::DocumentData: id, date, sender,
// subject, snippet text) of documents recently shown on a result page, shared
// by the searchers of one index, least recently used out first, bounded by the
// bytes it holds.
//
// Reading a hit's data is a B-tree lookup (a pread of a block) and inflating
// up to 4 KiB of zlib-compressed text: zlib alone was 13 % of the web
// server's CPU on 100,000 messages (perf, bench/README.md). The newest messages are on the first page of
// most date-sorted searches, and paging back and forth or a user coming back
// to a search shows the same documents again.
//
// Sound for the same reason as ValueColumns (search/value_columns.h): within
// one index (its UUID) a docid always holds the same message, because the
// indexer appends documents and replaces one only by its own message's id term
// with that message again; a rebuilt index has a new UUID, and entries of
// another UUID are never returned.
//
// Thread-safety: thread-safe; entries are immutable and shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "base/lru_cache.h"
#include "search/index_schema.h"

namespace mailvault {

class DocumentCache {
 public:
  using Data = std::shared_ptr<const index_schema::DocumentData>;

  // 16 MiB hold about 3,500 documents of 4 KiB of snippet text.
  explicit DocumentCache(size_t max_bytes = 16u << 20) : lru_(max_bytes) {}
  DocumentCache(const DocumentCache&) = delete;
  DocumentCache& operator=(const DocumentCache&) = delete;

  // The data of `docid` in the index `uuid`, or null.
  Data Get(const std::string& uuid, uint32_t docid);
  // Keeps `data` for `docid` of index `uuid`, dropping the least recently used
  // entries beyond max_bytes, and every entry of another index.
  void Put(const std::string& uuid, uint32_t docid, Data data);

  size_t size();
  size_t bytes();

 private:
  static size_t CostOf(const index_schema::DocumentData& data);

  std::mutex mutex_;
  std::string uuid_;  // the index the entries belong to
  LruCache<uint32_t, Data> lru_;  // by docid; cost: CostOf
};

}  // namespace mailvault
