// The indexer: what goes into a document (schema in search/index_schema.h), the
// queue position kept in Xapian metadata, batches as Xapian transactions.
#include "search/indexer.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <xapian.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "archive/catalog.h"
#include "base/bounded_queue.h"
#include "base/file.h"
#include "base/log.h"
#include "base/sha256.h"
#include "search/index_schema.h"
#include "search/late_account_links.h"

namespace mailvault {
namespace {

namespace schema = index_schema;

// Every Xapian exception becomes a Status here, with what we were doing.
Status XapianStatus(const Xapian::Error& e, std::string_view what) {
  std::string_view err = e.get_error_string() != nullptr ? e.get_error_string() : "";
  std::string message = std::string(what) + ": " + e.get_type() + ": " + e.get_msg();
  if (!err.empty()) message += " (" + std::string(err) + ")";
  std::string_view type = e.get_type();
  if (type == "DatabaseLockError") {
    return Status::Unavailable(message + "; another process is writing the index");
  }
  if (type == "DatabaseCorruptError") {
    return Status::Corruption(message + "; run `mailvault reindex`");
  }
  if (type == "DatabaseVersionError") {
    return Status::Unsupported(message + "; run `mailvault reindex`");
  }
  if (err.find("No space") != std::string_view::npos) return Status::NoSpace(message);
  return Status::IoError(message);
}

// `scratch`: an index being rebuilt, which a crash discards anyway: its
// batches need not be fsynced (RebuildIndex syncs the result before the swap).
Result<std::unique_ptr<Xapian::WritableDatabase>> OpenWritable(const std::string& dir,
                                                               bool scratch = false) {
  try {
    MV_RETURN_IF_ERROR(MakeDirs(std::filesystem::path(dir).parent_path().string()));
    // No termlist table (schema version 2): a fifth of the index and of the
    // indexing time, needed only to delete or replace a document, which the
    // indexer never does (a message's document never changes; see IndexPending).
    return std::make_unique<Xapian::WritableDatabase>(
        dir, Xapian::DB_CREATE_OR_OPEN | Xapian::DB_BACKEND_GLASS | Xapian::DB_NO_TERMLIST |
                 (scratch ? Xapian::DB_NO_SYNC : 0));
  } catch (const Xapian::Error& e) {
    return XapianStatus(e, "open search index " + dir);
  }
}

// The longest prefix of `s` of at most `n` bytes that ends on a UTF-8 boundary.
std::string_view Utf8Prefix(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string DisplayAddress(const MailAddress& a) {
  if (a.name.empty()) return a.address;
  if (a.address.empty()) return a.name;
  return a.name + " <" + a.address + ">";
}

// Writes one message's document. Not thread-safe (one TermGenerator).
class DocumentBuilder {
 public:
  explicit DocumentBuilder(const std::string& language) {
    generator_.set_stemmer(Xapian::Stem(language));
    generator_.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
    generator_.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
  }

  // `decoded` is null when the archive could not read the message. The
  // document returned is the only handle on it (the generator lets go of it),
  // so another thread may take it: Xapian's reference counts are not atomic.
  Xapian::Document Build(const MessageInfo& info, const DecodedMessage* decoded) {
    Xapian::Document doc = BuildWithGenerator(info, decoded);
    generator_.set_document(idle_);
    return doc;
  }

 private:
  Xapian::Document BuildWithGenerator(const MessageInfo& info, const DecodedMessage* decoded) {
    Xapian::Document doc;
    generator_.set_document(doc);
    const std::string id = ToHex(info.id);
    doc.add_boolean_term(schema::kPrefixId + id);

    schema::DocumentData data;
    data.id = id;
    int64_t date = info.archived_at;
    if (decoded != nullptr) {
      const DecodedMessage& m = *decoded;
      if (m.date_valid) date = m.date;
      IndexMessageText(m, /*outer=*/true, &doc);
      if (!m.message_id.empty()) {
        doc.add_boolean_term(schema::BooleanTerm(schema::kPrefixMessageId, m.message_id));
      }
      if (!m.attachments.empty() || !m.inner_messages.empty()) {
        doc.add_boolean_term(std::string(schema::kPrefixHas) + schema::kHasAttachment);
      }
      auto flag = [&](const char* f) { doc.add_boolean_term(std::string(schema::kPrefixFlag) + f); };
      if (!m.problems.empty()) flag(schema::kFlagProblem);
      if (m.structure_failed) flag(schema::kFlagStructureFailed);
      if (m.budget_exceeded) flag(schema::kFlagBudgetExceeded);
      if (m.truncated) flag(schema::kFlagTruncated);
      if (!m.date_valid) flag(schema::kFlagNoDate);
      if (!m.from.empty()) {
        data.from = DisplayAddress(m.from[0]);
        const std::string& address = m.from[0].address;
        size_t at = address.rfind('@');
        if (at != std::string::npos && at + 1 < address.size()) {
          doc.add_value(schema::kSlotSenderDomain, Lower(address.substr(at + 1)));
        }
      }
      data.subject = m.subject;
      std::string_view text = m.body_text;
      for (size_t i = 0; text.empty() && i < m.attachments.size(); ++i) text = m.attachments[i].text;
      SetSnippetText(Utf8Prefix(text, schema::kSnippetTextBytes), id, &data);
    } else {
      doc.add_boolean_term(std::string(schema::kPrefixFlag) + schema::kFlagUnreadable);
      doc.add_boolean_term(std::string(schema::kPrefixFlag) + schema::kFlagNoDate);
    }
    data.date = date;

    std::vector<std::string> accounts;  // each once, in provenance order
    for (const Provenance& p : info.provenance) {
      if (p.kind != ProvenanceKind::kPop3) continue;
      doc.add_boolean_term(schema::BooleanTerm(schema::kPrefixAccount, p.source));
      if (std::find(accounts.begin(), accounts.end(), p.source) == accounts.end()) {
        accounts.push_back(p.source);
      }
    }
    doc.add_value(schema::kSlotDate, Xapian::sortable_serialise(static_cast<double>(date)));
    doc.add_value(schema::kSlotSize,
                  Xapian::sortable_serialise(static_cast<double>(info.raw_length)));
    if (!accounts.empty()) {
      std::string lines = accounts[0];
      for (size_t i = 1; i < accounts.size(); ++i) lines += "\n" + accounts[i];
      doc.add_value(schema::kSlotAccount, lines);
    }
    doc.add_value(schema::kSlotYear, schema::YearValue(date));
    doc.add_boolean_term(schema::DayTerm(date));
    doc.set_data(schema::SerializeDocumentData(data));
    return doc;
  }

  // Texts shorter than this are stored in every document that has them: a
  // reference (text_of=<64 hex>) would save little or nothing.
  static constexpr size_t kSharedTextMinBytes = 256;
  // Texts remembered for sharing; when full, forgotten and started afresh
  // (per-recipient copies arrive together, so little is lost).
  static constexpr size_t kSharedTextsRemembered = 50000;

  // Per-recipient copies of a message have the same body: the first document
  // with a text keeps it, later ones name that document (DocumentData::text_of).
  // Only documents built by this builder are named, all written in the same
  // IndexPending call, so the named document is committed with or before the
  // one naming it.
  void SetSnippetText(std::string_view text, const std::string& id, schema::DocumentData* data) {
    if (text.size() < kSharedTextMinBytes) {
      data->text = std::string(text);
      return;
    }
    Digest hash = Sha256::Of(text);
    auto [it, inserted] = text_owner_.try_emplace(std::string(AsBytes(hash)), id);
    if (!inserted) {
      data->text_of = it->second;
      return;
    }
    data->text = std::string(text);
    if (text_owner_.size() > kSharedTextsRemembered) text_owner_.clear();
  }

  // Text indexed both under `prefix` and as free text, as its own "sentence"
  // so that phrases do not run from one field into the next.
  void Field(const std::string& text, const char* prefix) {
    if (text.empty()) return;
    if (prefix != nullptr) {
      generator_.index_text(text, 1, prefix);
      generator_.increase_termpos();
    }
    generator_.index_text(text);
    generator_.increase_termpos();
  }

  // Names and addresses as text (under `prefix` when not null) and, with
  // `address_prefix`, each address and its domains as exact terms.
  void Addresses(const std::vector<MailAddress>& list, const char* prefix,
                 const char* address_prefix, Xapian::Document* doc) {
    for (const MailAddress& a : list) {
      Field(a.name + " " + a.address, prefix);
      if (address_prefix == nullptr) continue;
      for (const std::string& term : schema::AddressTerms(address_prefix, a.address)) {
        doc->add_boolean_term(term);
      }
    }
  }

  // The outer message fills the field prefixes; inner (attached) messages add
  // free text and their attachments' names and types.
  void IndexMessageText(const DecodedMessage& m, bool outer, Xapian::Document* doc) {
    Field(m.subject, outer ? schema::kPrefixSubject : nullptr);
    Addresses(m.from, outer ? schema::kPrefixFrom : nullptr,
              outer ? schema::kPrefixFromAddress : nullptr, doc);
    Addresses(m.to, outer ? schema::kPrefixTo : nullptr, outer ? schema::kPrefixToAddress : nullptr,
              doc);
    Addresses(m.cc, outer ? schema::kPrefixCc : nullptr, outer ? schema::kPrefixCcAddress : nullptr,
              doc);
    Addresses(m.bcc, outer ? schema::kPrefixBcc : nullptr,
              outer ? schema::kPrefixBccAddress : nullptr, doc);
    Field(m.body_text, nullptr);
    for (const DecodedAttachment& a : m.attachments) {
      Field(a.filename, schema::kPrefixFilename);
      if (!a.content_type.empty()) {
        doc->add_boolean_term(schema::BooleanTerm(schema::kPrefixAttachmentType, a.content_type));
      }
      Field(a.text, nullptr);
    }
    for (const DecodedMessage& inner : m.inner_messages) {
      doc->add_boolean_term(schema::BooleanTerm(schema::kPrefixAttachmentType, "message/rfc822"));
      IndexMessageText(inner, false, doc);
    }
  }

  Xapian::TermGenerator generator_;
  Xapian::Document idle_;  // the generator's document between messages
  std::unordered_map<std::string, std::string> text_owner_;  // SHA-256 of a text -> id
};

}  // namespace

std::string IndexDirectory(const std::string& data_dir) { return data_dir + "/index"; }

struct Indexer::State {
  std::unique_ptr<Xapian::WritableDatabase> db;
};

Indexer::Indexer(std::string index_dir, IndexerOptions options)
    : index_dir_(std::move(index_dir)), options_(std::move(options)), state_(new State) {}

Indexer::~Indexer() {
  if (state_ && state_->db) {
    try {
      state_->db->close();
    } catch (const Xapian::Error& e) {
      LogWarning("closing search index " + index_dir_ + ": " + e.get_msg());
    }
  }
}

Result<std::unique_ptr<Indexer>> Indexer::Open(const std::string& index_dir,
                                               IndexerOptions options) {
  std::unique_ptr<Indexer> indexer(new Indexer(index_dir, std::move(options)));
  MV_ASSIGN_OR_RETURN(indexer->state_->db,
                      OpenWritable(index_dir, /*scratch=*/!indexer->options_.durable_batches));
  try {
    Xapian::WritableDatabase& db = *indexer->state_->db;
    std::string version = db.get_metadata(schema::kMetadataSchemaVersion);
    MV_RETURN_IF_ERROR(schema::CheckSchemaVersion(version, db.get_doccount(), index_dir));
    if (version.empty()) {
      db.set_metadata(schema::kMetadataSchemaVersion, std::to_string(schema::kSchemaVersion));
      db.commit();
    }
  } catch (const Xapian::Error& e) {
    return XapianStatus(e, "open search index " + index_dir);
  }
  return indexer;
}

Result<uint64_t> Indexer::DocumentCount() {
  try {
    return static_cast<uint64_t>(state_->db->get_doccount());
  } catch (const Xapian::Error& e) {
    return XapianStatus(e, "search index " + index_dir_);
  }
}

namespace {

uint64_t StoredCount(const Xapian::Database& db) {
  std::string text = db.get_metadata(schema::kMetadataIndexedCount);
  return text.empty() ? 0 : std::strtoull(text.c_str(), nullptr, 10);
}

// Where the queue starts: after the seq of the last message indexed, when
// that message still has the recorded number of messages up to it in arrival
// order; else from the first message, checking each against the index
// (`rescan`). `count` is how many messages come before the start.
struct QueueStart {
  int64_t after_seq = 0;
  uint64_t count = 0;
  bool rescan = false;
};

Result<QueueStart> FindQueueStart(Archive& archive, const Xapian::Database& db,
                                  const std::string& index_dir) {
  QueueStart start;
  uint64_t count = 0;
  std::string last_id;
  try {
    count = StoredCount(db);
    last_id = db.get_metadata(schema::kMetadataIndexedLastId);
  } catch (const Xapian::Error& e) {
    return XapianStatus(e, "search index " + index_dir);
  }
  if (count == 0) return start;
  std::optional<Digest> id = DigestFromHex(last_id);
  if (id) {
    MV_ASSIGN_OR_RETURN(std::optional<Archive::ArrivalPosition> at, archive.ArrivalPositionOf(*id));
    if (at && at->count == count) {
      start.after_seq = at->seq;
      start.count = count;
      return start;
    }
  }
  start.rescan = true;
  return start;
}

// True when the committed queue position covers the whole archive: the
// catalog holds exactly `indexed_count` messages and the newest is the last one
// indexed. One COUNT instead of listing every message, so that a search or an
// idle daemon pass on a large archive with nothing new costs next to nothing.
// Also gives the catalog's message count.
Result<bool> NothingPending(Archive& archive, const Xapian::Database& db,
                            const std::string& index_dir, uint64_t* archived = nullptr) {
  Catalog::MessageTail tail;
  MV_RETURN_IF_ERROR(archive.WithCatalog([&](Catalog& catalog) {
    MV_ASSIGN_OR_RETURN(tail, catalog.Tail());
    return Status::Ok();
  }));
  if (archived != nullptr) *archived = tail.count;
  try {
    uint64_t count = StoredCount(db);
    if (tail.count != count) return false;
    if (count == 0) return true;
    return tail.last_id && ToHex(*tail.last_id) == db.get_metadata(schema::kMetadataIndexedLastId);
  } catch (const Xapian::Error& e) {
    return XapianStatus(e, "search index " + index_dir);
  }
}

// Where the search for late account links starts: the catalog's links
// after `after_rowid`, unless `up_to_date` (the newest link was looked at).
struct LinkCheck {
  bool up_to_date = true;
  int64_t after_rowid = 0;
  std::optional<LinkRow> last;  // the newest link
};

// What kMetadataLinksChecked holds for having looked at links up to `link`.
std::string LinkMarker(const LinkRow& link) {
  return std::to_string(link.rowid) + " " + ToHex(link.message) + " " +
         std::to_string(static_cast<int>(link.provenance.kind)) + " " + link.provenance.source +
         " " + link.provenance.key;
}

Result<LinkCheck> FindLinkCheck(Archive& archive, const Xapian::Database& db,
                                const std::string& index_dir) {
  std::string stored;
  try {
    stored = db.get_metadata(schema::kMetadataLinksChecked);
  } catch (const Xapian::Error& e) {
    return XapianStatus(e, "search index " + index_dir);
  }
  LinkCheck check;
  MV_RETURN_IF_ERROR(archive.WithCatalog([&](Catalog& catalog) {
    MV_ASSIGN_OR_RETURN(check.last, catalog.LastLink());
    if (!check.last || LinkMarker(*check.last) == stored) return Status::Ok();
    check.up_to_date = false;
    const int64_t rowid = std::strtoll(stored.c_str(), nullptr, 10);
    if (rowid <= 0) return Status::Ok();
    MV_ASSIGN_OR_RETURN(std::optional<LinkRow> at, catalog.LinkAt(rowid));
    // Another link under that number: the catalog was rebuilt and numbered
    // its links anew, so every link is looked at again.
    if (at && LinkMarker(*at) == stored) check.after_rowid = rowid;
    return Status::Ok();
  }));
  return check;
}

}  // namespace

Status Indexer::AddLateLinks(Archive& archive, int64_t after_rowid, IndexReport* report) {
  constexpr size_t kPage = 5000;
  Xapian::WritableDatabase& db = *state_->db;
  try {
    LateAccountLinks late = LateAccountLinks::Load(db);
    for (;;) {
      std::vector<LinkRow> page;
      MV_RETURN_IF_ERROR(archive.WithCatalog([&](Catalog& catalog) {
        MV_ASSIGN_OR_RETURN(page, catalog.LinksAfter(after_rowid, kPage));
        return Status::Ok();
      }));
      if (page.empty()) break;
      for (const LinkRow& link : page) {
        if (link.provenance.kind != ProvenanceKind::kPop3) continue;
        // A message not indexed yet gets every link it has when it is.
        const std::string id_term = schema::kPrefixId + ToHex(link.message);
        Xapian::PostingIterator doc = db.postlist_begin(id_term);
        if (doc == db.postlist_end(id_term)) continue;
        const Xapian::docid did = *doc;
        const std::string account = schema::BooleanTerm(schema::kPrefixAccount,
                                                         link.provenance.source);
        Xapian::PostingIterator has = db.postlist_begin(account);
        if (has != db.postlist_end(account)) has.skip_to(did);
        if (has != db.postlist_end(account) && *has == did) continue;
        if (late.Add(account, did)) ++report->late_links;
      }
      after_rowid = page.back().rowid;
      late.Save(db);
      db.set_metadata(schema::kMetadataLinksChecked, LinkMarker(page.back()));
      db.commit();
      if (page.size() < kPage) break;
    }
  } catch (const Xapian::Error& e) {
    return XapianStatus(e, "write search index " + index_dir_);
  }
  return Status::Ok();
}

Result<uint64_t> Indexer::PendingCount(Archive& archive) {
  uint64_t archived = 0;
  MV_ASSIGN_OR_RETURN(bool nothing, NothingPending(archive, *state_->db, index_dir_, &archived));
  if (nothing) return uint64_t{0};
  MV_ASSIGN_OR_RETURN(QueueStart start, FindQueueStart(archive, *state_->db, index_dir_));
  return archived > start.count ? archived - start.count : 0;
}

Result<IndexReport> Indexer::IndexPending(Archive& archive, uint64_t limit) {
  IndexReport report;
  // Read before the messages: a link made after this is looked at next time,
  // or comes with its message's document if that is written now.
  Xapian::WritableDatabase& db = *state_->db;
  MV_ASSIGN_OR_RETURN(LinkCheck links, FindLinkCheck(archive, db, index_dir_));
  bool was_empty = false;
  try {
    was_empty = db.get_doccount() == 0;
  } catch (const Xapian::Error& e) {
    return XapianStatus(e, "search index " + index_dir_);
  }
  MV_ASSIGN_OR_RETURN(bool nothing, NothingPending(archive, db, index_dir_));
  if (!nothing) MV_RETURN_IF_ERROR(IndexMessages(archive, limit, &report));
  if (links.up_to_date) return report;
  if (!was_empty) {
    MV_RETURN_IF_ERROR(AddLateLinks(archive, links.after_rowid, &report));
    return report;
  }
  // Every document was written by this call, after the links were read:
  // they all hold every account they had up to links.last.
  try {
    db.set_metadata(schema::kMetadataLinksChecked, LinkMarker(*links.last));
    db.commit();
  } catch (const Xapian::Error& e) {
    return XapianStatus(e, "write search index " + index_dir_);
  }
  return report;
}

namespace {

// One message of the queue as the builder thread hands it to the writer.
struct BuiltMessage {
  MessageInfo info;
  std::optional<Xapian::Document> doc;  // nullopt: already in the index
  bool unreadable = false;
  bool flagged = false;
};

// Between the builder thread and the writer: built messages in queue order
// (base/bounded_queue.h), then how the builder ended.
constexpr size_t kBuiltAhead = 64;

// Whether `db` (a reader) has `term`, reopening it when the writer's commits
// have moved on past the revision it reads (glass then throws
// DatabaseModifiedError). Throws other Xapian errors.
bool InIndex(Xapian::Database& db, const std::string& term) {
  for (int attempt = 0;; ++attempt) {
    try {
      return db.term_exists(term);
    } catch (const Xapian::DatabaseModifiedError&) {
      if (attempt >= 3) throw;
      db.reopen();
    }
  }
}

}  // namespace

// Reading, decoding and building documents (the TermGenerator) is about a
// third of indexing; adding them to the index and committing (Xapian's
// inverter and B-tree merges) the rest, and only one thread may write. So a
// builder thread reads the queue and builds each document while this thread
// writes the ones before it: on two cores indexing takes the time of the
// writing alone. The builder hands documents over in queue order and keeps no
// reference to them (Xapian's handles are not thread-safe; see
// DocumentBuilder::Build), and it checks "already in the index" against a
// reader of the index: a message after the queue position can be in the
// index only from before this call (the ids in the queue are distinct), so
// the reader answers as the writer would, whichever batches it sees.
Status Indexer::IndexMessages(Archive& archive, uint64_t limit, IndexReport* out) {
  IndexReport& report = *out;
  MV_ASSIGN_OR_RETURN(QueueStart start, FindQueueStart(archive, *state_->db, index_dir_));
  report.rescanned = start.rescan;
  if (report.rescanned) {
    LogWarning("search index " + index_dir_ +
               ": the archive's message order changed (catalog rebuilt?); checking every message");
  }
  Xapian::WritableDatabase& db = *state_->db;
  const size_t page_size = std::max<size_t>(options_.batch_messages, 1);
  std::atomic<uint64_t> listed{0};
  BoundedQueue<BuiltMessage> queue(kBuiltAhead);
  // The queue is read a page at a time, by seq from where the last one
  // ended: the cost is the messages indexed, not the size of the archive.
  std::thread builder_thread([&, after_seq = start.after_seq] () mutable {
    Status status;
    try {
      Xapian::Database snapshot(index_dir_);
      DocumentBuilder builder(options_.stem_language);
      for (uint64_t built = 0; built < limit && status.ok();) {
        Result<std::vector<MessageInfo>> page =
            archive.MessagesAfter(after_seq, std::min<uint64_t>(page_size, limit - built));
        if (!page.ok()) {
          status = page.status();
          break;
        }
        listed += page->size();
        if (page->empty()) break;
        for (MessageInfo& info : *page) {
          BuiltMessage message;
          if (!InIndex(snapshot, schema::kPrefixId + ToHex(info.id))) {
            Result<DecodedMessage> decoded = DecodeArchived(archive, info);
            if (!decoded.ok()) {
              LogWarning("search index: message " + ToHex(info.id) +
                         " cannot be read from the archive, indexed by id only: " +
                         decoded.status().ToString());
              message.unreadable = true;
            } else {
              message.flagged = !decoded->problems.empty();
            }
            message.doc = builder.Build(info, decoded.ok() ? &*decoded : nullptr);
          }
          after_seq = info.seq;
          message.info = std::move(info);
          ++built;
          if (!queue.Push(std::move(message)).ok()) return;  // the writer stopped
        }
      }
    } catch (const Xapian::Error& e) {
      status = XapianStatus(e, "read search index " + index_dir_);
    } catch (const std::exception& e) {
      status = Status::Internal(std::string("search index builder: ") + e.what());
    }
    queue.Close(std::move(status));
  });
  struct Join {
    BoundedQueue<BuiltMessage>& queue;
    std::thread& thread;
    ~Join() {
      queue.Fail(Status::Cancelled("the index writer stopped"));
      thread.join();
    }
  } join{queue, builder_thread};

  uint64_t position = start.count;
  uint64_t handled = 0;
  bool in_transaction = false;
  uint64_t batch_bytes = 0, batch_messages = 0, batch_indexed = 0;
  std::string last_id;
  try {
    for (;;) {
      std::optional<BuiltMessage> message = queue.Pop();
      if (message && !in_transaction) {
        db.begin_transaction(/*flushed=*/true);
        in_transaction = true;
      }
      if (message) {
        // A message already in the index (a catalog rebuilt in another order)
        // keeps its document: the id is the SHA-256 of the message, so the
        // document would be the same, and without termlists Xapian cannot
        // replace one anyway.
        if (!message->doc) {
          ++report.skipped;
        } else {
          db.add_document(*message->doc);
          ++batch_indexed;
          if (message->unreadable) ++report.unreadable;
          if (message->flagged) ++report.flagged;
        }
        batch_bytes += message->info.raw_length;
        ++batch_messages;
        last_id = ToHex(message->info.id);
        ++position;
        ++handled;
        if (options_.on_message) options_.on_message(handled);
      }
      const bool batch_full = batch_messages >= page_size || batch_bytes >= options_.batch_bytes;
      if (in_transaction && (!message || batch_full)) {
        db.set_metadata(schema::kMetadataIndexedCount, std::to_string(position));
        db.set_metadata(schema::kMetadataIndexedLastId, last_id);
        db.commit_transaction();
        in_transaction = false;
        report.indexed += batch_indexed;
        batch_bytes = batch_messages = batch_indexed = 0;
      }
      if (!message) break;
    }
  } catch (const Xapian::Error& e) {
    if (in_transaction) {
      try {
        db.cancel_transaction();
      } catch (const Xapian::Error&) {
        // The database is unusable; the error below says why.
      }
    }
    return XapianStatus(e, "write search index " + index_dir_);
  }
  report.listed = listed;
  MV_RETURN_IF_ERROR(queue.close_status());
  uint64_t archived = 0;
  MV_ASSIGN_OR_RETURN(bool done, NothingPending(archive, db, index_dir_, &archived));
  report.pending = done || archived < position ? 0 : archived - position;
  return Status::Ok();
}

Result<DecodedMessage> Indexer::DecodeArchived(Archive& archive, const MessageInfo& info) {
  if (info.raw_length <= options_.max_in_memory_bytes) {
    std::string bytes;
    bytes.reserve(info.raw_length);
    MV_RETURN_IF_ERROR(archive.ReadMessage(info.id, [&](std::string_view chunk) {
      bytes.append(chunk);
      return Status::Ok();
    }));
    return DecodeMessage(bytes, options_.decode);
  }
  // Large: through a private temporary file, so memory stays bounded.
  std::string dir = options_.temp_dir;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string path = dir + "/mailvault-index-XXXXXX";
  UniqueFd fd(::mkstemp(path.data()));
  if (!fd.valid()) return ErrnoToStatus(errno, "create temporary file in " + dir);
  struct Remove {
    std::string path;
    ~Remove() { ::unlink(path.c_str()); }
  } remove{path};
  MV_RETURN_IF_ERROR(archive.ReadMessage(info.id, [&](std::string_view chunk) {
    return WriteAll(fd.get(), chunk, "write " + path);
  }));
  return DecodeMessageFile(path, options_.decode);
}

namespace {

// fsync of every file of the index directory `dir` and of the directory:
// the scratch index was written without syncs (durable_batches = false).
Status SyncIndexFiles(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string path = entry.path().string();
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoToStatus(errno, "open " + path);
    if (::fsync(fd.get()) != 0) return ErrnoToStatus(errno, "fsync " + path);
  }
  if (ec) return ErrnoToStatus(ec.value(), "list " + dir);
  return FileSystem::Posix().SyncDir(dir);
}

}  // namespace

Result<IndexReport> RebuildIndex(Archive& archive, const std::string& index_dir,
                                 const IndexerOptions& options) {
  namespace fs = std::filesystem;
  // Hold the current index's write lock throughout, so that no other writer
  // adds to the index that is about to be replaced.
  MV_ASSIGN_OR_RETURN(std::unique_ptr<Xapian::WritableDatabase> current, OpenWritable(index_dir));
  const std::string fresh = index_dir + ".new";
  std::error_code ec;
  fs::remove_all(fresh, ec);
  if (ec) return ErrnoToStatus(ec.value(), "remove " + fresh);
  const std::string compacted = index_dir + ".compact";
  fs::remove_all(compacted, ec);
  if (ec) return ErrnoToStatus(ec.value(), "remove " + compacted);
  IndexReport report;
  {
    IndexerOptions scratch = options;
    scratch.durable_batches = false;
    MV_ASSIGN_OR_RETURN(std::unique_ptr<Indexer> indexer, Indexer::Open(fresh, scratch));
    MV_ASSIGN_OR_RETURN(report, indexer->IndexPending(archive));
  }
  // Batches leave Xapian's B-trees part empty; a compacted copy is about half
  // the size (bench/README.md, "Search benchmark") and faster to search. The
  // metadata (schema version, queue position) is copied with the documents.
  std::string complete = fresh;
  try {
    Xapian::Database(fresh).compact(compacted);
    complete = compacted;
  } catch (const Xapian::Error& e) {
    LogWarning("search index: compacting the rebuilt index failed, keeping it as written: " +
               std::string(e.get_type()) + ": " + e.get_msg());
    fs::remove_all(compacted, ec);
  }
  MV_RETURN_IF_ERROR(SyncIndexFiles(complete));
  if (::renameat2(AT_FDCWD, complete.c_str(), AT_FDCWD, index_dir.c_str(), RENAME_EXCHANGE) != 0) {
    return ErrnoToStatus(errno, "swap " + complete + " with " + index_dir);
  }
  if (complete != fresh) {
    fs::remove_all(fresh, ec);
    if (ec) LogWarning("could not remove " + fresh + ": " + ec.message());
  }
  // `complete` now names the old index; its lock is still ours until `current` closes.
  try {
    current->close();
  } catch (const Xapian::Error& e) {
    LogWarning("closing the old search index: " + e.get_msg());
  }
  current.reset();
  fs::remove_all(complete, ec);
  if (ec) LogWarning("could not remove the old search index " + complete + ": " + ec.message());
  return report;
}

}  // namespace mailvault
