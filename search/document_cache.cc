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
  const Data* data = lru_.Get(docid);
  return data != nullptr ? *data : nullptr;
}

void DocumentCache::Put(const std::string& uuid, uint32_t docid, Data data) {
  if (data == nullptr) return;
  const size_t cost = CostOf(*data);
  std::lock_guard lock(mutex_);
  if (uuid != uuid_) {
    lru_.Clear();
    uuid_ = uuid;
  }
  // Larger than the whole cache: not kept, and nothing is dropped for it.
  if (cost > lru_.budget()) return;
  lru_.Put(docid, std::move(data), cost);
}

size_t DocumentCache::size() {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

size_t DocumentCache::bytes() {
  std::lock_guard lock(mutex_);
  return lru_.cost();
}

}  // namespace mailvault
