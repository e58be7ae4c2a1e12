// LateAccountLinks: the POP3 accounts a message was linked to after its
// document was written.
//
// A document carries an account term (index_schema::kPrefixAccount) for every
// POP3 link the message had when it was indexed. A message can gain a link
// later: the same mail collected from a second mailbox, or an imported mailbox
// that a POP3 account then finds again on the server. The index has no
// termlist table (Xapian::DB_NO_TERMLIST, search/indexer.cc), so an existing
// document cannot be replaced to add the term. Instead the index keeps, per
// account term, the sorted docids that gained that account late, in Xapian
// user metadata (committed with the indexer's batches), and every query on an
// account (`account:`, and the granted-accounts restriction of SearchOptions)
// matches the term OR that list. So a user granted an account finds every
// message linked to it, however late the link came.
//
// The account facet counts a message under every account it had when indexed
// (index_schema::kSlotAccount) and every account it gained late (ByAccountName).
//
// Errors: Load and Save throw Xapian::Error, as the Xapian calls they make;
// callers catch it like every other Xapian call.
//
// Thread-safety: a loaded LateAccountLinks is immutable to its readers; the
// queries it makes share its lists and may be used by any thread.
#pragma once

#include <xapian.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailvault {

class LateAccountLinks {
 public:
  // The lists stored in `db` (empty when there are none).
  static LateAccountLinks Load(const Xapian::Database& db);

  bool empty() const { return lists_.empty(); }

  // Records that document `did` gained the account of `account_term` late;
  // false when that was recorded already. Save writes the lists changed since
  // Load or the last Save (the queries see the additions only after Save).
  bool Add(const std::string& account_term, Xapian::docid did);
  void Save(Xapian::WritableDatabase& db);

  // The account names of the lists with the documents that gained each late
  // (ascending), for the account facet. A name too long for a term (stored
  // hashed, index_schema::BooleanTerm) cannot be told and is left out.
  using DocidList = std::vector<Xapian::docid>;
  std::vector<std::pair<std::string, std::shared_ptr<const DocidList>>> ByAccountName() const;

  // The documents that gained the account of `account_term` late, as a query
  // of weight 0; Xapian::Query::MatchNothing when there are none.
  Xapian::Query DocumentsOf(const std::string& account_term) const;
  // The same for every account term starting with `term_prefix` (an
  // `account:name*` wildcard).
  Xapian::Query DocumentsOfPrefix(std::string_view term_prefix) const;

 private:
  bool Contains(const std::string& account_term, Xapian::docid did) const;

  // The lists by account term; shared with the queries made from them.
  std::map<std::string, std::shared_ptr<const DocidList>, std::less<>> lists_;
  // Added since Load or the last Save: merged into lists_ by Save.
  std::map<std::string, std::set<Xapian::docid>> added_;
};

}  // namespace mailvault
