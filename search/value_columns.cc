#include "search/value_columns.h"

#include <utility>

#include "search/index_schema.h"

namespace mailvault {
namespace {

namespace schema = index_schema;

constexpr Xapian::valueno kFacetSlots[ValueColumns::kFacets] = {
    schema::kSlotAccount, schema::kSlotSenderDomain, schema::kSlotYear};

// Calls `fn(docid, value)` for each document in [first, last] with a value in `slot`.
template <typename Fn>
void ForEachValue(const Xapian::Database& db, Xapian::valueno slot, Xapian::docid first,
                  Xapian::docid last, Fn fn) {
  auto it = db.valuestream_begin(slot);
  if (it != db.valuestream_end(slot) && it.get_docid() < first) it.skip_to(first);
  for (; it != db.valuestream_end(slot) && it.get_docid() <= last; ++it) fn(it.get_docid(), *it);
}

}  // namespace

std::shared_ptr<const ValueColumns> ValueColumns::Load(const Xapian::Database& db,
                                                       const ValueColumns* previous) {
  auto columns = std::make_shared<ValueColumns>();
  columns->uuid_ = db.get_uuid();
  if (previous != nullptr && previous->uuid_ == columns->uuid_) *columns = *previous;
  const Xapian::docid first = columns->last_docid() + 1;
  const Xapian::docid last = db.get_lastdocid();
  if (last < first) return columns;
  const size_t size = last;
  columns->dates_.resize(size, kNoDate);
  ForEachValue(db, schema::kSlotDate, first, last, [&](Xapian::docid did, std::string value) {
    if (!value.empty()) columns->dates_[did - 1] = Xapian::sortable_unserialise(value);
  });
  for (int f = 0; f < kFacets; ++f) {
    std::vector<uint32_t>& column = columns->ids_[f];
    std::vector<std::string>& names = columns->names_[f];
    std::unordered_map<std::string, uint32_t>& by_name = columns->by_name_[f];
    column.resize(size, 0);
    ForEachValue(db, kFacetSlots[f], first, last, [&](Xapian::docid did, std::string value) {
      if (value.empty()) return;
      auto [found, added] = by_name.try_emplace(value, static_cast<uint32_t>(names.size() + 1));
      if (added) names.push_back(std::move(value));
      column[did - 1] = found->second;
    });
  }
  return columns;
}

std::shared_ptr<const ValueColumns> ValueColumnsCache::For(const Xapian::Database& db) {
  const std::string uuid = db.get_uuid();
  const Xapian::docid last = db.get_lastdocid();
  std::lock_guard lock(mutex_);
  if (newest_ == nullptr || newest_->uuid() != uuid || newest_->last_docid() < last) {
    newest_ = ValueColumns::Load(db, newest_.get());
  }
  return newest_;
}

}  // namespace mailvault
