// LruCache: a map that keeps its most recently used entries within a budget
// of summed costs (bytes, or 1 an entry for a count), dropping the least
// recently used first. The one mechanism behind the archive's block cache
// (archive/block_cache.h) and the search caches shared by the web server's
// searchers (SearchCountCache, DocumentCache).
//
// Put adds or replaces an entry, then drops the least recently used while the
// costs exceed the budget, but never the entry just put (a single entry over
// the budget is kept alone); a budget of 0 keeps nothing. Get makes its entry
// the most recently used.
//
// Thread-safety: none; its owner holds a lock around every call (the owners
// also keep other state under that lock, such as the index a cache is of).
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <unordered_map>
#include <utility>

namespace mailvault {

template <typename Key, typename Value, typename Hash = std::hash<Key>>
class LruCache {
 public:
  explicit LruCache(size_t budget) : budget_(budget) {}

  // The value of `key` (valid until the next call), or null.
  const Value* Get(const Key& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, found->second);
    return &found->second->value;
  }

  void Put(const Key& key, Value value, size_t cost = 1) {
    if (budget_ == 0) return;
    if (auto found = index_.find(key); found != index_.end()) {
      cost_ -= found->second->cost;
      lru_.erase(found->second);
      index_.erase(found);
    }
    lru_.push_front(Entry{key, std::move(value), cost});
    index_[key] = lru_.begin();
    cost_ += cost;
    while (cost_ > budget_ && lru_.size() > 1) {
      const Entry& last = lru_.back();
      cost_ -= last.cost;
      index_.erase(last.key);
      lru_.pop_back();
    }
  }

  void Clear() {
    lru_.clear();
    index_.clear();
    cost_ = 0;
  }

  size_t budget() const { return budget_; }
  size_t size() const { return lru_.size(); }
  size_t cost() const { return cost_; }

 private:
  struct Entry {
    Key key;
    Value value;
    size_t cost;
  };
  const size_t budget_;
  size_t cost_ = 0;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<Key, typename std::list<Entry>::iterator, Hash> index_;
};

}  // namespace mailvault
