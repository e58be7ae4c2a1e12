// ValueColumns: the values a search reads for every match (the date it sorts
// by, the accounts, sender domain and year it counts facets of) held in memory
// by docid, so that sorting and counting a match is an array lookup instead of
// a Xapian value read.
//
// Reading a value through Xapian decodes the slot's value chunk up to the
// document (glass keeps values in chunks of many documents): counting the
// three facets of the 1,115 matches of a small search read most of three
// slots' streams, and counting every match of a broad one cost ~140 ns a match
// against ~30 ns for the match itself. The columns are read once per index and
// then only extended: the indexer appends documents (new docids above the last
// one) and never replaces or deletes one (search/indexer.cc), so the values of
// a docid, once read, stay what the index holds.
//
// Strings are interned per slot: a column holds small ids, 0 for "no value",
// and names(slot) the strings (id - 1).
//
// Errors: Load and ValueColumnsCache::For throw Xapian::Error, as the Xapian
// calls they make; callers catch it like every other Xapian call.
//
// Thread-safety: a loaded ValueColumns is immutable; ValueColumnsCache is
// thread-safe and shared by the searchers of one index.
#pragma once

#include <xapian.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mailvault {

class ValueColumns {
 public:
  // The interned slots (index_schema::kSlotAccount, kSlotSenderDomain, kSlotYear).
  enum Facet { kAccount = 0, kSenderDomain = 1, kYear = 2 };
  static constexpr int kFacets = 3;

  // The columns of `db`'s documents up to its last docid: those of `previous`
  // (read from an earlier revision of the same index) and the documents added
  // since read from `db`. `previous` may be null.
  static std::shared_ptr<const ValueColumns> Load(const Xapian::Database& db,
                                                  const ValueColumns* previous);

  const std::string& uuid() const { return uuid_; }
  // Documents up to this docid are covered; a later one reads as having no values.
  Xapian::docid last_docid() const { return static_cast<Xapian::docid>(dates_.size()); }

  // The index_schema::kSlotDate key of `did`: Xapian::sortable_unserialise of
  // the value, so ordering keys orders like Xapian's value sort; -infinity
  // when the document has no date (the empty value sorts first there too).
  double Date(Xapian::docid did) const {
    return did - 1 < dates_.size() ? dates_[did - 1] : kNoDate;
  }
  // The id of `did`'s value of `facet`: 0 for none, else names(facet)[id - 1].
  uint32_t Id(Facet facet, Xapian::docid did) const {
    const std::vector<uint32_t>& column = ids_[facet];
    return did - 1 < column.size() ? column[did - 1] : 0;
  }
  const std::vector<std::string>& names(Facet facet) const { return names_[facet]; }

  static constexpr double kNoDate = -std::numeric_limits<double>::infinity();

 private:
  std::string uuid_;
  std::vector<double> dates_;  // by docid - 1
  std::vector<uint32_t> ids_[kFacets];
  std::vector<std::string> names_[kFacets];
  // Interning of names_, to extend a copy.
  std::unordered_map<std::string, uint32_t> by_name_[kFacets];
};

// The newest ValueColumns of one index, shared by its searchers: the first
// searcher that sees a revision with more documents extends them, once.
class ValueColumnsCache {
 public:
  // Columns covering every document `db` (an open snapshot of the index) holds.
  std::shared_ptr<const ValueColumns> For(const Xapian::Database& db);

 private:
  std::mutex mutex_;
  std::shared_ptr<const ValueColumns> newest_;
};

}  // namespace mailvault
