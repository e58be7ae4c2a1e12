#include "search/document_cache.h"

namespace mailvault {

size_t DocumentCache::CostOf(const index_schema::DocumentData& data) {
  // The strings' bytes and a fixed share for the entry, the map node and the
  // shared_ptr's control block.
  return data.id.size() + data.from.size() + data.subject.size() + data.text.size() +
         data.text_of.size() + sizeof(index_schema::DocumentData) + 128;
}

DocumentCache::Data DocumentCache::Get(const std::string& uuid, uint32_t docid) {
  std::lock_guard lock(mutex_);
  if (uuid != uuid_) return nullptr;
  auto found = by_docid_.find(docid);
  if (found == by_docid_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, found->second);
  return found->second->data;
}

void DocumentCache::Put(const std::string& uuid, uint32_t docid, Data data) {
  if (data == nullptr) return;
  const size_t cost = CostOf(*data);
  std::lock_guard lock(mutex_);
  if (uuid != uuid_) {
    lru_.clear();
    by_docid_.clear();
    bytes_ = 0;
    uuid_ = uuid;
  }
  if (cost > max_bytes_) return;
  if (auto found = by_docid_.find(docid); found != by_docid_.end()) {
    lru_.splice(lru_.begin(), lru_, found->second);
    return;  // the same document, read by another searcher meanwhile
  }
  lru_.push_front(Entry{docid, std::move(data), cost});
  by_docid_[docid] = lru_.begin();
  bytes_ += cost;
  while (bytes_ > max_bytes_) {
    const Entry& last = lru_.back();
    bytes_ -= last.cost;
    by_docid_.erase(last.docid);
    lru_.pop_back();
  }
}

size_t DocumentCache::size() {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

size_t DocumentCache::bytes() {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace mailvault
