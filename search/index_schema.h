// The search index schema: every Xapian term prefix, value slot and metadata key
// mailvault writes, in one place (the notmuch model: lib/prefix.cc + one enum).
// The indexer (search/indexer.cc) and the query parser (search/query.cc) read
// these and nothing else, so a field cannot be written under one name and
// searched under another.
//
// One Xapian document per archived message:
//
//   terms (free text, with positions)   subject, body text, attachment names and
//                                       text, address names and addresses, inner
//                                       messages' text; English stems as "Z..."
//                                       terms (Xapian STEM_SOME); CJK text as
//                                       n-grams (TermGenerator::FLAG_CJK_NGRAM)
//   probabilistic prefixed terms        from, to, cc, bcc, subject, attachment
//   (with positions, stemmed as above)  file name: kPrefixFrom ... kPrefixFilename
//   boolean terms (exact, no wdf)       unique id, Message-ID header, account,
//                                       attachment type, has:attachment, flags,
//                                       the UTC day of the date, the addresses
//                                       of from, to, cc, bcc and their domains
//   values                              ValueSlot below
//   data                                DocumentData (search/index_schema.h):
//                                       what a result line shows, no search needed
//
// The schema version is the metadata value of kMetadataSchemaVersion; a database
// with another (or no) version but with documents is refused with kUnsupported
// telling to run `mailvault reindex`. Bump kSchemaVersion whenever what is
// written changes meaning (a prefix, a slot, the tokenisation, DocumentData).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailvault::index_schema {

// Version 1: this file as first written.
// Version 2: kPrefixDay; no termlist table (Xapian::DB_NO_TERMLIST;
// search/indexer.cc): documents are added once and never replaced or deleted;
// DocumentData::text_of.
// Version 3: kPrefixFromAddress ... kPrefixBccAddress (AddressTerms).
inline constexpr int kSchemaVersion = 3;

// Metadata keys (Xapian user metadata, committed atomically with documents).
inline constexpr const char* kMetadataSchemaVersion = "mailvault.schema_version";
// How many messages of the archive's arrival order (Archive::ForEachMessage)
// are indexed; the index queue is everything after this position.
inline constexpr const char* kMetadataIndexedCount = "mailvault.indexed_count";
// Hex id of the last message counted in kMetadataIndexedCount: lets the indexer
// notice that the archive's order changed (a catalog rebuilt from packs) and
// fall back to a full scan instead of trusting the position.
inline constexpr const char* kMetadataIndexedLastId = "mailvault.indexed_last_id";
// The catalog's provenance links up to which the indexer has looked for
// accounts a message gained after it was indexed: "ROWID HEXID SOURCE" of the
// last link looked at (search/late_account_links.h); the id and source tell
// a catalog rebuilt since (whose rows are numbered anew) from the same one.
inline constexpr const char* kMetadataLinksChecked = "mailvault.links_checked";
// + an account term (kPrefixAccount + name): the documents that gained that
// account after they were indexed (LateAccountLinks).
inline constexpr const char* kMetadataLateAccountPrefix = "mailvault.late_account.";

// Boolean (exact) prefixes. The unique id term is kPrefixId + lowercase hex
// SHA-256 of the canonical message: replace_document() on it is what makes
// re-indexing a message replace, never duplicate, its document.
inline constexpr const char* kPrefixId = "Q";
inline constexpr const char* kPrefixMessageId = "XMID";  // Message-ID header, no <>
inline constexpr const char* kPrefixAccount = "XACCOUNT";  // POP3 account name
inline constexpr const char* kPrefixAttachmentType = "XTYPE";  // lowercase type/subtype
inline constexpr const char* kPrefixHas = "XHAS";  // + "attachment"
inline constexpr const char* kPrefixFlag = "XFLAG";  // + a kFlag* below
// + "YYYYMMDD", the UTC day of kSlotDate (DayTerm). The terms sort like the
// days, and their term frequencies say how many messages each day holds, so a
// date-sorted search can look at the newest days only (search/index_search.cc).
inline constexpr const char* kPrefixDay = "XDAY";
// + AddressTerms: each address of the outer message's header, and each domain
// it is in, exactly. `from:corp.example` and `from:bob@corp.example` are
// these terms (AddressQueryTerm), not phrases of the words of the header,
// which also matched "corp-example.org", "bob@corp.example.evil.com" and a
// display name saying so, and checked word positions in every message from
// anywhere near (a phrase over two words of a third of the archive: 2 ms).
inline constexpr const char* kPrefixFromAddress = "XADDRFROM";
inline constexpr const char* kPrefixToAddress = "XADDRTO";
inline constexpr const char* kPrefixCcAddress = "XADDRCC";
inline constexpr const char* kPrefixBccAddress = "XADDRBCC";

// Probabilistic (text) prefixes, indexed with the TermGenerator.
inline constexpr const char* kPrefixFrom = "XFROM";
inline constexpr const char* kPrefixTo = "XTO";
inline constexpr const char* kPrefixCc = "XCC";
inline constexpr const char* kPrefixBcc = "XBCC";
inline constexpr const char* kPrefixSubject = "S";
inline constexpr const char* kPrefixFilename = "XFN";

// Values after kPrefixHas / kPrefixFlag.
inline constexpr const char* kHasAttachment = "attachment";
inline constexpr const char* kFlagProblem = "problem";  // DecodedMessage::problems not empty
inline constexpr const char* kFlagStructureFailed = "structure-failed";
inline constexpr const char* kFlagBudgetExceeded = "budget-exceeded";
inline constexpr const char* kFlagTruncated = "truncated";
inline constexpr const char* kFlagNoDate = "no-date";  // date slot holds the archive time
inline constexpr const char* kFlagUnreadable = "unreadable";  // archive read failed

// Value slots. Numbers are Xapian::sortable_serialise()d so that ranges and
// sorting work on them; strings are for facets (Xapian::ValueCountMatchSpy).
enum ValueSlot : unsigned {
  kSlotDate = 0,          // unix seconds (Date header, else Received, else archive time)
  kSlotSize = 1,          // canonical message bytes
  kSlotAccount = 2,       // the POP3 accounts when indexed, a line each ("\n" between;
                          // one before this was written); "" when imported
  kSlotSenderDomain = 3,  // lowercase domain of the first From address; "" when none
  kSlotYear = 4,          // "2023" (UTC) from kSlotDate
};

// Xapian refuses terms longer than 245 bytes. A boolean term whose value would
// make it longer is stored as prefix + "#" + SHA-256 hex of the value, both by
// the indexer and the query parser, so exact matches still work.
std::string BooleanTerm(std::string_view prefix, std::string_view value);

// `s` with its ASCII letters lowercased: how the values of exact terms are
// folded by the indexer and the query parser alike.
std::string AsciiLower(std::string_view s);

// The boolean terms of `address` (an addr-spec) under `prefix` (one of
// kPrefixFromAddress ... kPrefixBccAddress): the address, ASCII-lowercased,
// and "@" + each domain it is in with at least two labels, or its whole
// domain when that has one: "Bob@Mail.Corp.Example" gives "bob@mail.corp.example",
// "@mail.corp.example" and "@corp.example". None for an address without "@"
// or with white space.
std::vector<std::string> AddressTerms(std::string_view prefix, std::string_view address);

// The term under `prefix` that a search value stands for when it is an
// address ("bob@corp.example") or a domain ("corp.example", "@corp.example"),
// ASCII case folded; "" when it is neither (then it is searched as words).
std::string AddressQueryTerm(std::string_view prefix, std::string_view value);

// kPrefixDay + the UTC day of `unix_seconds` as "YYYYMMDD". Years outside
// 0000..9999 are clamped into it, which keeps the terms in the order of the
// dates: every message of a day term sorts after every message of an earlier one.
std::string DayTerm(int64_t unix_seconds);

// The kSlotYear value of `unix_seconds`: its UTC year ("2023"), clamped like DayTerm.
std::string YearValue(int64_t unix_seconds);

// What a search result shows without reading the archive: the document data,
// one "key=value" line per field, newlines in values replaced by spaces.
struct DocumentData {
  std::string id;        // lowercase hex SHA-256
  int64_t date = 0;      // unix seconds, as in kSlotDate
  std::string from;      // "Name <addr>" of the first From address
  std::string subject;   // decoded subject
  std::string text;      // first kSnippetTextBytes of the body (snippet source)
  // When not empty, `text` is empty and the snippet source is the text of the
  // document with this id (lowercase hex): per-recipient copies of a message
  // store their body text once (the copy indexed first holds it).
  std::string text_of;
};
// Bytes of body text kept in DocumentData::text for snippets; a match further
// into a long body yields a snippet from the start of the text.
inline constexpr size_t kSnippetTextBytes = 4096;

// OK when an index with `doc_count` documents and the stored metadata value
// `stored_version` (kMetadataSchemaVersion; "" when absent) can be used by this
// program: the current version, or an empty index without a version. Otherwise
// kUnsupported, naming `index_dir` and telling to run `mailvault reindex`.
Status CheckSchemaVersion(std::string_view stored_version, uint64_t doc_count,
                          std::string_view index_dir);

std::string SerializeDocumentData(const DocumentData& data);
DocumentData ParseDocumentData(std::string_view serialized);

}  // namespace mailvault::index_schema
