#include "search/value_columns.h"

#include <utility>

#include "search/index_schema.h"

namespace mailvault {
namespace {

namespace schema = index_schema;

constexpr Xapian::valueno kFacetSlots[ValueColumns::kFacets] = {
    schema::kSlotAccount, schema::kSlotSenderDomain, schema::kSlotYear};

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
  for (auto it = db.valuestream_begin(schema::kSlotDate); it != db.valuestream_end(schema::kSlotDate);) {
    if (it.get_docid() < first) {
      it.skip_to(first);
      continue;
    }
    if (it.get_docid() > last) break;
    const std::string value = *it;
    if (!value.empty()) columns->dates_[it.get_docid() - 1] = Xapian::sortable_unserialise(value);
    ++it;
  }
  for (int f = 0; f < kFacets; ++f) {
    std::vector<uint32_t>& column = columns->ids_[f];
    std::vector<std::string>& names = columns->names_[f];
    std::unordered_map<std::string, uint32_t>& by_name = columns->by_name_[f];
    column.resize(size, 0);
    const Xapian::valueno slot = kFacetSlots[f];
    for (auto it = db.valuestream_begin(slot); it != db.valuestream_end(slot);) {
      if (it.get_docid() < first) {
        it.skip_to(first);
        continue;
      }
      if (it.get_docid() > last) break;
      std::string value = *it;
      if (!value.empty()) {
        auto [found, added] = by_name.try_emplace(value, static_cast<uint32_t>(names.size() + 1));
        if (added) names.push_back(std::move(value));
        column[it.get_docid() - 1] = found->second;
      }
      ++it;
    }
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
