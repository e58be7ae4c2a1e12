// Indexer: archived messages -> the Xapian index in <data_dir>/index.
//
// The index queue is the archive's arrival order (catalog messages.seq):
// everything after the first `mailvault.indexed_count` messages is pending.
// That count (and the id of the last message it covers) is Xapian metadata
// written in the same transaction as the batch's documents, so after a crash
// the next IndexPending redoes exactly the uncommitted batch. The pending
// messages are read a batch at a time by seq, after the last one indexed
// (Archive::MessagesAfter), so a backlog costs what is indexed, not a listing
// of the whole archive per batch. Every document is written with replace_document() on
// its unique id term, so a message redone (or seen twice because the catalog
// was rebuilt in another order) replaces its document; the index never holds a
// message twice. When the catalog's message count and newest id match the
// committed position, nothing is listed at all (Catalog::Tail: one query), so
// checking an up-to-date index is cheap however large the archive. Ingest
// never waits for this: the archive knows nothing of the
// index, and IndexPending can run whenever the caller likes (`search` runs it
// first; a daemon can call it in the background in bounded steps via `limit`).
//
// A message is decoded with DecodeMessage under IndexerOptions::decode's budget;
// what cannot be decoded is indexed by what could be read and flagged (terms
// XFLAG..., query `flag:`); a message the archive cannot read at all (a
// corrupt segment) is indexed by its id, size and time, flagged `unreadable`,
// and does not stop the queue.
//
// Errors: every Xapian exception is caught here and becomes a Status:
// kUnavailable when another process holds the index's write lock, kCorruption
// for a damaged index, kUnsupported for an unknown schema version (run
// `mailvault reindex`), kIoError / kNoSpace otherwise.
//
// A message that gains a POP3 link after its document was written (the same
// mail collected from a second account) is found by that account too: each
// IndexPending also reads the catalog's links made since it last looked
// (Catalog::LinksAfter, one cheap query when there are none) and records the
// new accounts of documents already written in the index's LateAccountLinks,
// committed with the position up to which the links were read.
//
// Thread-safety: one Indexer is used by one thread at a time. Xapian allows one
// writer per index directory (across processes); readers (IndexSearcher) may
// run concurrently and see each committed batch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "archive/archive.h"
#include "base/status.h"
#include "search/mime_decoder.h"

namespace Xapian {
class WritableDatabase;
}

namespace mailvault {

// Where a data directory keeps its index.
std::string IndexDirectory(const std::string& data_dir);

struct IndexerOptions {
  DecodeOptions decode;              // budget per message (see mime_decoder.h)
  size_t batch_messages = 500;       // commit after this many messages ...
  uint64_t batch_bytes = 64ull << 20;  // ... or this many canonical bytes
  std::string stem_language = "english";  // must match QueryParseOptions
  // Messages larger than this are copied to a temporary file and decoded from
  // there, so memory stays bounded whatever the message size. Default 16 MiB.
  uint64_t max_in_memory_bytes = 16ull << 20;
  std::string temp_dir;  // for those files; "" = $TMPDIR or /tmp
  // false: committed batches are not fsynced, so a crash can lose any of them
  // (the queue position with them). Only for an index that is thrown away
  // after a crash: RebuildIndex's scratch index, synced once when complete.
  bool durable_batches = true;
  // Called after each message is added to the open batch (not yet committed),
  // with the number of messages handled so far in this call.
  std::function<void(uint64_t handled)> on_message;
};

struct IndexReport {
  uint64_t indexed = 0;     // documents written and committed by this call
  uint64_t skipped = 0;     // already in the index (after a catalog rebuild)
  uint64_t flagged = 0;     // decoded with problems (flag:problem)
  uint64_t unreadable = 0;  // the archive could not read them (flag:unreadable)
  uint64_t pending = 0;     // still queued when `limit` stopped this call
  // POP3 links that documents indexed before them gained (a duplicate
  // collected from another account): LateAccountLinks.
  uint64_t late_links = 0;
  // Catalog rows read to find the work: the queue is paged by seq from the
  // last message indexed, so this is about `indexed` + `skipped`, never the
  // whole archive (unless `rescanned`).
  uint64_t listed = 0;
  bool rescanned = false;   // the archive's order changed; every message was checked
};

class Indexer {
 public:
  // Opens or creates the index in `index_dir` and takes Xapian's write lock.
  static Result<std::unique_ptr<Indexer>> Open(const std::string& index_dir,
                                               IndexerOptions options);
  ~Indexer();  // closes the database; an uncommitted batch is discarded
  Indexer(const Indexer&) = delete;
  Indexer& operator=(const Indexer&) = delete;

  // Indexes up to `limit` pending messages of `archive` (borrowed for the call),
  // committing every batch. On an index error the batch in progress is
  // discarded; when the catalog cannot be read, what was built before is
  // committed with its position first. Either way the error is returned and
  // the next call goes on from the committed position.
  Result<IndexReport> IndexPending(Archive& archive, uint64_t limit = UINT64_MAX);

  // Messages of `archive` not yet covered by the committed queue position.
  Result<uint64_t> PendingCount(Archive& archive);
  // Documents in the index.
  Result<uint64_t> DocumentCount();

  const std::string& index_dir() const { return index_dir_; }

 private:
  struct State;
  Indexer(std::string index_dir, IndexerOptions options);
  // IndexPending's two parts: the messages after the queue position, and
  // the POP3 links after `after_rowid` of documents already written.
  Status IndexMessages(Archive& archive, uint64_t limit, IndexReport* report);
  Status AddLateLinks(Archive& archive, int64_t after_rowid, IndexReport* report);
  // Reads and decodes one message (large ones through a temporary file).
  // Errors: the archive could not read it.
  Result<DecodedMessage> DecodeArchived(Archive& archive, const MessageInfo& info);

  std::string index_dir_;
  IndexerOptions options_;
  std::unique_ptr<State> state_;
};

// `mailvault reindex`: builds a new index of every message of `archive` in
// `index_dir` + ".new" (removed first if a previous attempt left it; batches
// not fsynced, see durable_batches), compacts it
// into `index_dir` + ".compact" (Xapian::Database::compact; if that fails the
// uncompacted one is used), swaps that with `index_dir` atomically (renameat2
// RENAME_EXCHANGE), then deletes the old one. Until the swap, searches use the old index; a crash
// leaves the old index in place. kUnavailable when another process is writing
// the current index.
Result<IndexReport> RebuildIndex(Archive& archive, const std::string& index_dir,
                                 const IndexerOptions& options);

}  // namespace mailvault
