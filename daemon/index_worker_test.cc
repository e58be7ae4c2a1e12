// IndexWorker on a real archive and index: it indexes what is pending, and an
// index of an older schema (mailvault upgraded) is rebuilt in the background
// instead of leaving search broken until someone runs `mailvault reindex`.
#include "daemon/index_worker.h"

#include <gtest/gtest.h>
#include <xapian.h>

#include <chrono>
#include <thread>

#include "base/file.h"
#include "search/index_schema.h"
#include "search/index_search.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

class IndexWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ArchiveOptions o;
    o.data_dir = dir_.path() + "/data";
    o.create = true;
    auto archive = Archive::Open(o);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    archive_ = std::move(*archive);
    auto batch = archive_->NewBatch();
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(batch->BeginMessage().ok());
      ASSERT_TRUE(batch
                      ->Write("From: a" + std::to_string(i) + "@example.com\nSubject: worker " +
                              std::to_string(i) +
                              "\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\nbody upgrade\n")
                      .ok());
      Provenance p;
      p.source = "worker";
      p.key = std::to_string(i);
      ASSERT_TRUE(batch->FinishMessage(p).ok());
    }
    ASSERT_TRUE(batch->Commit().ok());
  }

  std::string IndexDir() const { return IndexDirectory(dir_.path() + "/data"); }

  // Runs a worker until it has nothing pending (at most 60 s) and stops it.
  void RunWorkerUntilIdle() {
    IndexWorkerOptions o;
    o.archive = archive_.get();
    o.index_dir = IndexDir();
    o.step = 7;
    o.interval = std::chrono::milliseconds(50);
    IndexWorker worker(o);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!(worker.pending() && *worker.pending() == 0) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(worker.pending().has_value());
    EXPECT_EQ(*worker.pending(), 0u);
  }

  uint64_t Matches(const std::string& query) {
    auto searcher = IndexSearcher::Open(IndexDir());
    EXPECT_TRUE(searcher.ok()) << searcher.status().ToString();
    if (!searcher.ok()) return 0;
    auto r = (*searcher)->Search(query, SearchOptions());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->total : 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<Archive> archive_;
};

TEST_F(IndexWorkerTest, IndexesWhatIsPending) {
  RunWorkerUntilIdle();
  EXPECT_EQ(Matches("upgrade"), 30u);
}

TEST_F(IndexWorkerTest, IndexOfAnOlderSchemaIsRebuiltInTheBackground) {
  RunWorkerUntilIdle();
  {
    // What an index written by an older mailvault looks like to this one.
    Xapian::WritableDatabase db(IndexDir(), Xapian::DB_OPEN | Xapian::DB_NO_TERMLIST);
    db.set_metadata(index_schema::kMetadataSchemaVersion, "1");
    db.commit();
  }
  auto refused = IndexSearcher::Open(IndexDir());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnsupported);

  RunWorkerUntilIdle();
  EXPECT_EQ(Matches("upgrade"), 30u);
  Xapian::Database db(IndexDir());
  EXPECT_EQ(db.get_metadata(index_schema::kMetadataSchemaVersion),
            std::to_string(index_schema::kSchemaVersion));
  EXPECT_EQ(db.get_doccount(), 30u);
  EXPECT_FALSE(IsDirectory(IndexDir() + ".old"));
}

}  // namespace
}  // namespace mailvault
