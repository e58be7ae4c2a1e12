#include "search/late_account_links.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

#include "base/varint.h"
#include "search/index_schema.h"

namespace mailvault {
namespace {

// A list as ascending docids, each stored as the LEB128 varint of its
// distance from the one before.
std::string Encode(const std::vector<Xapian::docid>& docs) {
  std::string out;
  Xapian::docid last = 0;
  for (Xapian::docid did : docs) {
    PutVarint(&out, did - last);
    last = did;
  }
  return out;
}

// The docids of an encoded list; a damaged tail (a varint cut short or too
// long, a docid that does not ascend) is dropped rather than misread.
std::vector<Xapian::docid> Decode(std::string_view bytes) {
  std::vector<Xapian::docid> docs;
  uint64_t last = 0;
  while (!bytes.empty()) {
    std::optional<uint64_t> delta = TakeVarint(&bytes);
    if (!delta || *delta == 0 || *delta > 0xFFFFFFFFu - last) break;
    last += *delta;
    docs.push_back(static_cast<Xapian::docid>(last));
  }
  return docs;
}

// The documents of one list, in docid order, with weight 0.
class DocidListSource final : public Xapian::PostingSource {
 public:
  // The documents exist (the index never deletes one), so the count is exact.
  explicit DocidListSource(std::shared_ptr<const std::vector<Xapian::docid>> docs)
      : docs_(std::move(docs)), count_(static_cast<Xapian::doccount>(docs_->size())) {
    set_maxweight(0);
  }

  Xapian::doccount get_termfreq_min() const override { return count_; }
  Xapian::doccount get_termfreq_est() const override { return count_; }
  Xapian::doccount get_termfreq_max() const override { return count_; }

  void init(const Xapian::Database&) override {
    started_ = false;
    at_ = 0;
  }
  void next(double) override {
    if (started_) ++at_;
    started_ = true;
  }
  void skip_to(Xapian::docid did, double) override {
    started_ = true;
    auto from = docs_->begin() + static_cast<std::ptrdiff_t>(at_);
    at_ = static_cast<size_t>(std::lower_bound(from, docs_->end(), did) - docs_->begin());
  }
  bool at_end() const override { return started_ && at_ >= docs_->size(); }
  Xapian::docid get_docid() const override { return (*docs_)[at_]; }

  Xapian::PostingSource* clone() const override { return new DocidListSource(docs_); }
  std::string get_description() const override {
    return "LateAccountLinks(" + std::to_string(count_) + " documents)";
  }

 private:
  std::shared_ptr<const std::vector<Xapian::docid>> docs_;
  Xapian::doccount count_ = 0;
  bool started_ = false;
  size_t at_ = 0;
};

Xapian::Query QueryOf(const std::shared_ptr<const std::vector<Xapian::docid>>& docs) {
  return Xapian::Query((new DocidListSource(docs))->release());
}

}  // namespace

LateAccountLinks LateAccountLinks::Load(const Xapian::Database& db) {
  LateAccountLinks links;
  const std::string prefix = index_schema::kMetadataLateAccountPrefix;
  for (auto key = db.metadata_keys_begin(prefix); key != db.metadata_keys_end(prefix); ++key) {
    std::vector<Xapian::docid> docs = Decode(db.get_metadata(*key));
    if (docs.empty()) continue;
    links.lists_.emplace((*key).substr(prefix.size()),
                         std::make_shared<const DocidList>(std::move(docs)));
  }
  return links;
}

bool LateAccountLinks::Contains(const std::string& account_term, Xapian::docid did) const {
  if (auto added = added_.find(account_term); added != added_.end() && added->second.count(did)) {
    return true;
  }
  auto found = lists_.find(account_term);
  return found != lists_.end() &&
         std::binary_search(found->second->begin(), found->second->end(), did);
}

bool LateAccountLinks::Add(const std::string& account_term, Xapian::docid did) {
  return !Contains(account_term, did) && added_[account_term].insert(did).second;
}

void LateAccountLinks::Save(Xapian::WritableDatabase& db) {
  for (auto& [term, added] : added_) {
    std::shared_ptr<const DocidList>& list = lists_[term];
    DocidList merged;
    merged.reserve((list ? list->size() : 0) + added.size());
    if (list) {
      std::merge(list->begin(), list->end(), added.begin(), added.end(),
                 std::back_inserter(merged));
    } else {
      merged.assign(added.begin(), added.end());
    }
    db.set_metadata(index_schema::kMetadataLateAccountPrefix + term, Encode(merged));
    list = std::make_shared<const DocidList>(std::move(merged));
  }
  added_.clear();
}

std::vector<std::pair<std::string, std::shared_ptr<const LateAccountLinks::DocidList>>>
LateAccountLinks::ByAccountName() const {
  const std::string_view prefix = index_schema::kPrefixAccount;
  std::vector<std::pair<std::string, std::shared_ptr<const DocidList>>> out;
  for (const auto& [term, docs] : lists_) {
    if (!term.starts_with(prefix)) continue;
    std::string name = term.substr(prefix.size());
    if (index_schema::BooleanTerm(prefix, name) != term) continue;  // a hashed name
    out.emplace_back(std::move(name), docs);
  }
  return out;
}

Xapian::Query LateAccountLinks::DocumentsOf(const std::string& account_term) const {
  auto found = lists_.find(account_term);
  if (found == lists_.end()) return Xapian::Query::MatchNothing;
  return QueryOf(found->second);
}

Xapian::Query LateAccountLinks::DocumentsOfPrefix(std::string_view term_prefix) const {
  std::vector<Xapian::Query> queries;
  for (auto it = lists_.lower_bound(term_prefix);
       it != lists_.end() && it->first.starts_with(term_prefix); ++it) {
    queries.push_back(QueryOf(it->second));
  }
  if (queries.empty()) return Xapian::Query::MatchNothing;
  return Xapian::Query(Xapian::Query::OP_OR, queries.begin(), queries.end());
}

}  // namespace mailvault
