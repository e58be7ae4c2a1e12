// Crash during indexing, for real: `mailvault search` indexes what is pending
// before it answers; here it is killed with SIGKILL while it indexes the
// repository's corpus, again and again at different points of its batches
// (before the first commit, right after a commit, in the middle of a batch).
// After every kill the index must open, hold exactly the messages its committed
// queue position covers (each once), and the next run must resume there; at the
// end every archived message is in the index exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <xapian.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "archive/archive.h"
#include "base/sha256.h"
#include "search/index_schema.h"
#include "search/indexer.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

namespace schema = index_schema;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

struct IndexState {
  uint64_t committed = 0;  // queue position (mailvault.indexed_count)
  uint64_t documents = 0;
  std::set<std::string> ids;  // unique id terms, without the prefix
  uint64_t id_postings = 0;   // documents carrying an id term (duplicates count twice)
};

// What a reader sees of the index right now; nullopt while it does not exist.
std::optional<IndexState> ReadIndex(const std::string& index_dir) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    try {
      Xapian::Database db(index_dir);
      IndexState s;
      std::string count = db.get_metadata(schema::kMetadataIndexedCount);
      s.committed = count.empty() ? 0 : std::strtoull(count.c_str(), nullptr, 10);
      s.documents = db.get_doccount();
      for (auto t = db.allterms_begin(schema::kPrefixId); t != db.allterms_end(schema::kPrefixId);
           ++t) {
        s.ids.insert((*t).substr(std::string(schema::kPrefixId).size()));
        s.id_postings += t.get_termfreq();
      }
      return s;
    } catch (const Xapian::DatabaseModifiedError&) {
      // The writer committed while we read; read again.
    } catch (const Xapian::DatabaseOpeningError&) {
      return std::nullopt;
    }
  }
  ADD_FAILURE() << "the index kept changing under the reader";
  return std::nullopt;
}

std::set<std::string> ArchivedIds(const std::string& data) {
  ArchiveOptions o;
  o.data_dir = data;
  o.mode = ArchiveOptions::Mode::kReadOnly;
  auto archive = Archive::Open(o);
  EXPECT_TRUE(archive.ok()) << archive.status().ToString();
  std::set<std::string> ids;
  if (!archive.ok()) return ids;
  EXPECT_TRUE((*archive)
                  ->ForEachMessage([&](const MessageInfo& info) {
                    ids.insert(ToHex(info.id));
                    return Status::Ok();
                  })
                  .ok());
  return ids;
}

// The index is consistent: its documents are exactly the first `committed`
// messages of the archive's arrival order, each once.
void ExpectConsistent(const IndexState& s, const std::vector<std::string>& arrival) {
  ASSERT_LE(s.committed, arrival.size());
  EXPECT_EQ(s.documents, s.committed);
  EXPECT_EQ(s.id_postings, s.documents) << "a message is in the index twice";
  std::set<std::string> expected(arrival.begin(),
                                 arrival.begin() + static_cast<std::ptrdiff_t>(s.committed));
  EXPECT_EQ(s.ids, expected);
}

TEST(SearchCrashTest, SigkillDuringIndexingResumesWithEveryMessageOnce) {
  testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string index_dir = IndexDirectory(data);
  testing::ProcessResult imported = testing::RunProcess(
      {testing::MailvaultBinary(), "--data", data, "import", testing::TestData("corpus"),
       testing::TestData("mime")});
  // Exit 2: the corpus holds a few blank files the importer refuses.
  ASSERT_TRUE(imported.exit_code == 0 || imported.exit_code == 2) << imported.err;

  std::vector<std::string> arrival;
  {
    ArchiveOptions o;
    o.data_dir = data;
    o.mode = ArchiveOptions::Mode::kReadOnly;
    auto archive = Archive::Open(o);
    ASSERT_TRUE(archive.ok());
    ASSERT_TRUE((*archive)
                    ->ForEachMessage([&](const MessageInfo& info) {
                      arrival.push_back(ToHex(info.id));
                      return Status::Ok();
                    })
                    .ok());
  }
  // Several batches (IndexerOptions::batch_messages, 500 by default) to kill in.
  ASSERT_GT(arrival.size(), 2 * IndexerOptions().batch_messages);

  std::mt19937 rng(std::random_device{}());
  const std::string log = dir.path() + "/search.log";
  const std::string tmp = dir.path() + "/tmp";
  std::filesystem::create_directories(tmp);
  uint64_t kills = 0, kills_after_a_commit = 0;
  uint64_t committed_before = 0;
  bool finished_by_itself = false;
  for (int round = 0; round < 8 && !finished_by_itself; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // A killed run cannot remove its temporary files (attachments handed to
    // pdftotext): keep them in the test's directory.
    testing::BackgroundProcess search({testing::MailvaultBinary(), "--data", data, "search", "*"},
                                      {"TMPDIR=" + tmp}, log);
    // Round 0 is killed after a random moment, most likely before its first
    // commit; later rounds once they have committed a batch of their own, then
    // after a random part of the next one.
    const auto deadline = steady_clock::now() + std::chrono::seconds(120);
    std::optional<testing::ProcessResult> ended;
    bool committed_here = false;
    if (round == 0) {
      ended = search.Wait(milliseconds(50 + rng() % 400));
    } else {
      while (!ended && !committed_here && steady_clock::now() < deadline) {
        std::optional<IndexState> s = ReadIndex(index_dir);
        if (s && s->committed > committed_before) {
          committed_here = true;
        } else {
          ended = search.Wait(milliseconds(20));
        }
      }
      if (!ended) ended = search.Wait(milliseconds(rng() % 300));
    }
    if (ended) {
      ASSERT_EQ(ended->exit_code, 0) << testing::ReadFile(log);
      finished_by_itself = true;
    } else {
      search.Signal(SIGKILL);  // our child, not reaped yet: its PID cannot be another's
      auto killed = search.Wait(milliseconds(10000));
      ASSERT_TRUE(killed.has_value());
      if (killed->signal == 0) {
        // It ended by itself between the last wait and the signal.
        ASSERT_EQ(killed->exit_code, 0) << testing::ReadFile(log);
        finished_by_itself = true;
      } else {
        EXPECT_EQ(killed->signal, SIGKILL);
        ++kills;
        if (committed_here) ++kills_after_a_commit;
      }
    }
    std::optional<IndexState> s = ReadIndex(index_dir);
    if (!s) continue;  // killed before Xapian created the database
    ASSERT_NO_FATAL_FAILURE(ExpectConsistent(*s, arrival));
    // Resumed, not restarted: nothing committed earlier was lost, and the
    // queue the next start drains is exactly what is not committed.
    EXPECT_GE(s->committed, committed_before);
    {
      ArchiveOptions o;
      o.data_dir = data;
      o.mode = ArchiveOptions::Mode::kReadOnly;
      auto archive = Archive::Open(o);
      ASSERT_TRUE(archive.ok());
      auto indexer = Indexer::Open(index_dir, IndexerOptions());
      ASSERT_TRUE(indexer.ok()) << indexer.status().ToString();
      auto pending = (*indexer)->PendingCount(**archive);
      ASSERT_TRUE(pending.ok());
      EXPECT_EQ(*pending, arrival.size() - s->committed);
    }
    std::printf("round %d: %s with %llu of %zu messages committed\n", round,
                finished_by_itself ? "finished" : "killed",
                static_cast<unsigned long long>(s->committed), arrival.size());
    committed_before = s->committed;
  }
  EXPECT_GE(kills, 2u);
  EXPECT_GE(kills_after_a_commit, 1u) << "no kill landed after a committed batch";

  // The next start resumes and completes; every message is there exactly once.
  testing::ProcessResult done = testing::RunProcess(
      {testing::MailvaultBinary(), "--data", data, "search", "--limit", "1", "*"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  std::optional<IndexState> final_state = ReadIndex(index_dir);
  ASSERT_TRUE(final_state.has_value());
  EXPECT_EQ(final_state->committed, arrival.size());
  ExpectConsistent(*final_state, arrival);
  EXPECT_EQ(final_state->ids, ArchivedIds(data));
}

}  // namespace
}  // namespace mailvault
