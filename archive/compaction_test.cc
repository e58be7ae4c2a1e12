// Archive::Compact: smaller packs, the same messages, and a swap that an
// interruption at any step either completes or leaves undone.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "archive/archive.h"
#include "archive/archive_testing.h"
#include "base/log.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

namespace fs = std::filesystem;

class CompactionTest : public ArchiveFixture {
 protected:
  ArchiveOptions Options() {
    ArchiveOptions o = ArchiveFixture::Options();
    o.first_dictionary_after = 20;
    o.dictionary_samples = 40;
    o.dictionary_capacity = 2048;
    o.compact_block_bytes = 64 * 1024;  // several blocks from a small archive
    return o;
  }
  std::unique_ptr<Archive> Open(const ArchiveOptions& o) { return OpenArchive(o); }

  // One committed batch per call: copies of one mail to several mailboxes
  // (near-duplicate header blocks, one body), a compressible and an
  // incompressible attachment above the small-segment size, a message seen a
  // second time (a link) and a ledger event.
  void AddBatch(Archive& a, int round, bool commit = true) {
    auto batch = a.NewBatch();
    std::mt19937 rng(static_cast<unsigned>(round));
    auto add = [&](const std::string& raw, ProvenanceKind kind, const std::string& source, const std::string& key) {
      ASSERT_TRUE(batch->BeginMessage().ok());
      ASSERT_TRUE(batch->Write(raw).ok());
      auto m = batch->FinishMessage(Provenance{kind, 1700000000 + round, source, key});
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      if (commit) mails_[m->id] = testing::CanonicalizeForTest(raw);
    };
    std::string first_mail;
    for (int i = 0; i < 12; ++i) {
      std::string body;
      for (int line = 0; line < 20 + i; ++line) {
        body += "Round " + std::to_string(round) + " mail " + std::to_string(i) + " line " +
                std::to_string(line) + ": the quarterly figures are attached " + std::to_string(rng() % 1000) + "\n";
      }
      std::string common = "Date: Tue, 15 May 2001 03:0" + std::to_string(i % 10) + ":00 -0700\nFrom: sender" +
                           std::to_string(i) + "@example.com\nSubject: report " + std::to_string(round) + "." +
                           std::to_string(i) + "\nX-Mailer: " + std::string(300, 'm') + "\n";
      for (int copy = 0; copy < 3; ++copy) {
        std::string mail = "Received: by host" + std::to_string(copy) + "\nDelivered-To: user" +
                           std::to_string(copy) + "@example.com\n" + common + "\n" + body;
        if (first_mail.empty()) first_mail = mail;
        add(mail, ProvenanceKind::kPop3, "acct", "U" + std::to_string(round) + "." + std::to_string(i) + "." +
                                               std::to_string(copy));
      }
    }
    std::string text_attachment, random_attachment;
    for (int line = 0; line < 600; ++line) text_attachment += "col1,col2," + std::to_string(line * 7) + ",round\n";
    for (int line = 0; line < 500; ++line) {
      std::string l(76, 'A');
      for (char& c : l) c = static_cast<char>('A' + rng() % 64 % 26);
      random_attachment += l + "\n";
    }
    for (const std::string* attachment : {&text_attachment, &random_attachment}) {
      add("From: files@example.com\nSubject: files " + std::to_string(round) +
              "\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nsee attached\n"
              "--b\nContent-Type: application/octet-stream\n\n" + *attachment + "--b--\n",
          ProvenanceKind::kImport, "/mail/files.mbox", std::to_string(round) + (attachment == &text_attachment ? "t" : "r"));
    }
    // The first mail again from elsewhere: a provenance link only.
    add(first_mail, ProvenanceKind::kImport, "/mail/again.mbox", std::to_string(round));
    batch->RecordEvent(EventRecord{static_cast<uint8_t>(LedgerEventKind::kUidlRemoved), 1700000900 + round, "acct",
                                   "U" + std::to_string(round) + ".0.0", ""});
    if (commit) {
      ASSERT_TRUE(batch->Commit().ok());
    }
  }

  // Every message reads back byte-exact, with the provenance it had.
  void ExpectAllMessages(Archive& a) {
    EXPECT_EQ(a.Stats()->messages, mails_.size());
    for (const auto& [id, bytes] : mails_) {
      std::string out;
      Status s = ReadMessageBytes(a, id, &out);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(out, bytes);
    }
    for (const auto& [id, provenance] : provenance_) {
      auto info = a.Info(id);
      ASSERT_TRUE(info.ok());
      EXPECT_EQ(info->provenance, provenance);
    }
  }
  // The archive at `o` opens, holds every message as it was, and verifies clean.
  void ExpectIntact(const ArchiveOptions& o) {
    auto a = Open(o);
    ASSERT_NE(a, nullptr);
    ExpectAllMessages(*a);
    ExpectVerifiesClean(*a);
  }
  void RememberProvenance(Archive& a) {
    for (const auto& [id, bytes] : mails_) provenance_[id] = a.Info(id)->provenance;
  }
  std::vector<LedgerEntry> Ledger(Archive& a) {
    std::vector<LedgerEntry> rows;
    EXPECT_TRUE(a.WithCatalog([&](Catalog& c) -> Status {
      MV_ASSIGN_OR_RETURN(rows, c.LedgerOf("acct"));
      return Status::Ok();
    }).ok());
    return rows;
  }
  std::string PackPath(uint32_t id) { return Options().data_dir + "/packs/" + PackFileName(id); }

  std::map<Digest, std::string> mails_;
  std::map<Digest, std::vector<Provenance>> provenance_;
};

TEST_F(CompactionTest, RewritesTheTailSmallerAndEveryMessageReadsBack) {
  auto o = Options();
  auto a = Open(o);
  for (int round = 0; round < 4; ++round) AddBatch(*a, round);
  RememberProvenance(*a);
  ArchiveStats before = *a->Stats();
  std::vector<LedgerEntry> ledger = Ledger(*a);
  ASSERT_EQ(ledger.size(), 4u * 36);
  a.reset();

  std::vector<std::string> phases;
  auto report = Archive::Compact(o, [&](std::string_view what, uint64_t done, uint64_t total) {
    EXPECT_LE(done, total);
    if (phases.empty() || phases.back() != what) phases.emplace_back(what);
  });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->compacted);
  EXPECT_EQ(report->first_pack, 1u);
  EXPECT_EQ(report->last_pack, 1u);
  EXPECT_EQ(report->packs_written, 1u);
  EXPECT_EQ(report->messages, mails_.size());
  EXPECT_EQ(report->segments, before.segments);
  EXPECT_EQ(report->unreferenced_segments, 0u);
  EXPECT_LT(report->bytes_after, report->bytes_before);
  EXPECT_EQ(phases, (std::vector<std::string>{"segments", "messages checked"}));
  EXPECT_FALSE(fs::exists(o.data_dir + "/compact.tmp"));
  EXPECT_FALSE(fs::exists(o.data_dir + "/compact.commit"));
  EXPECT_FALSE(fs::exists(o.data_dir + "/packs.old"));

  a = Open(o);
  ArchiveStats after = *a->Stats();
  EXPECT_EQ(after.messages, before.messages);
  EXPECT_EQ(after.raw_bytes, before.raw_bytes);
  EXPECT_EQ(after.segments, before.segments);
  EXPECT_EQ(after.provenance_links, before.provenance_links);
  EXPECT_LT(after.stored_bytes, before.stored_bytes);
  ExpectAllMessages(*a);
  ExpectVerifiesClean(*a);
  std::vector<LedgerEntry> ledger_after = Ledger(*a);
  ASSERT_EQ(ledger_after.size(), ledger.size());
  for (size_t i = 0; i < ledger.size(); ++i) {
    EXPECT_EQ(ledger_after[i].uidl, ledger[i].uidl);
    EXPECT_EQ(ledger_after[i].removed_at, ledger[i].removed_at);
  }

  // The catalog comes back from the compacted packs alone.
  a.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((o.data_dir + "/catalog.sqlite" + suffix).c_str());
  VerifyReport damage;
  ASSERT_TRUE(Archive::Rebuild(o, &damage).ok());
  EXPECT_TRUE(damage.ok());
  a = Open(o);
  EXPECT_EQ(a->Stats()->segments, before.segments);
  ExpectAllMessages(*a);
  EXPECT_EQ(Ledger(*a).size(), ledger.size());
}

TEST_F(CompactionTest, LaterWritesGoToANewPackAndOnlyTheyAreCompactedNext) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  AddBatch(*a, 1);
  a.reset();
  ASSERT_TRUE(Archive::Compact(o).ok());
  const std::string first_pack = testing::ReadFile(PackPath(1));

  a = Open(o);
  AddBatch(*a, 2);
  const uint64_t segments = a->Stats()->segments;
  // A copy of a compacted mail under new headers shares its compacted body.
  std::string body;
  for (const auto& [id, bytes] : mails_) {
    if (bytes.find("Round 0 mail 5 line 0") != std::string::npos) body = bytes.substr(bytes.find("\r\n\r\n") + 4);
  }
  ASSERT_FALSE(body.empty());
  auto batch = a->NewBatch();
  ASSERT_TRUE(batch->BeginMessage().ok());
  ASSERT_TRUE(batch->Write("From: late@example.com\r\nSubject: late copy\r\n\r\n" + body).ok());
  auto late = batch->FinishMessage(Provenance{ProvenanceKind::kImport, 0, "late", ""});
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(batch->Commit().ok());
  EXPECT_EQ(a->Stats()->segments, segments + 1);  // its header block only
  mails_[late->id] = "From: late@example.com\r\nSubject: late copy\r\n\r\n" + body;
  RememberProvenance(*a);
  batch.reset();  // before its archive
  a.reset();
  EXPECT_TRUE(fs::exists(PackPath(2)));  // written after the compacted pack, not into it

  auto second = Archive::Compact(o);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->compacted);
  EXPECT_EQ(second->first_pack, 2u);
  EXPECT_EQ(second->messages, 36u + 2 + 1);
  EXPECT_EQ(testing::ReadFile(PackPath(1)), first_pack);  // left as it was

  auto third = Archive::Compact(o);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->compacted);

  a = Open(o);
  EXPECT_EQ(a->Stats()->segments, segments + 1);
  ExpectAllMessages(*a);
  ExpectVerifiesClean(*a);
}

TEST_F(CompactionTest, SegmentsOfABatchNeverCommittedAreLeftOut) {
  auto o = Options();
  o.block_bytes = 0;  // every segment is written as it comes, committed or not
  auto a = Open(o);
  AddBatch(*a, 0);
  AddBatch(*a, 1, /*commit=*/false);  // dropped: its segments stay in the pack, unnamed
  AddBatch(*a, 2);
  RememberProvenance(*a);
  a.reset();
  auto report = Archive::Compact(o);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->unreferenced_segments, 12u);
  ExpectIntact(o);
}

TEST_F(CompactionTest, ATailOfLinksAndEventsOnlyIsCompactedToo) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  a.reset();
  ASSERT_TRUE(Archive::Compact(o).ok());
  a = Open(o);
  // Messages seen again elsewhere, and a ledger event: no new segment.
  auto batch = a->NewBatch();
  for (const auto& [id, bytes] : mails_) {
    ASSERT_TRUE(batch->BeginMessage().ok());
    ASSERT_TRUE(batch->Write(bytes).ok());
    ASSERT_TRUE(batch->FinishMessage(Provenance{ProvenanceKind::kImport, 1700005000, "/backup.mbox", ToHex(id)}).ok());
  }
  batch->RecordEvent(EventRecord{static_cast<uint8_t>(LedgerEventKind::kDeletedByPolicy), 1700006000, "acct",
                                 "U0.1.0", ""});
  ASSERT_TRUE(batch->Commit().ok());
  RememberProvenance(*a);
  std::vector<LedgerEntry> ledger = Ledger(*a);
  a.reset();
  auto report = Archive::Compact(o);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->compacted);
  EXPECT_EQ(report->segments, 0u);
  EXPECT_EQ(report->packs_written, 1u);
  a = Open(o);
  ExpectAllMessages(*a);
  for (const auto& [id, provenance] : provenance_) EXPECT_GE(provenance.size(), 2u);
  std::vector<LedgerEntry> after = Ledger(*a);
  ASSERT_EQ(after.size(), ledger.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].deleted_at, ledger[i].deleted_at);
  ExpectVerifiesClean(*a);
}

TEST_F(CompactionTest, AFullDiskStopsItAndLeavesTheArchiveAsItWas) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  AddBatch(*a, 1);
  RememberProvenance(*a);
  a.reset();
  const std::string pack = testing::ReadFile(PackPath(1));
  // How much a compaction writes, learnt on a copy: the disk fills at its
  // start, in its middle and just before its end.
  const std::string copy = dir_.path() + "/copy";
  fs::copy(o.data_dir, copy, fs::copy_options::recursive);
  ArchiveOptions co = o;
  co.data_dir = copy;
  auto whole = Archive::Compact(co);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  for (uint64_t budget : {uint64_t{0}, whole->bytes_after / 2, whole->bytes_after - 100}) {
    SCOPED_TRACE(budget);
    FullDiskFileSystem full(budget);
    ArchiveOptions fo = o;
    fo.fs = &full;
    auto report = Archive::Compact(fo);
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), StatusCode::kNoSpace) << report.status().ToString();
    EXPECT_FALSE(fs::exists(o.data_dir + "/compact.tmp"));
    EXPECT_FALSE(fs::exists(o.data_dir + "/compact.commit"));
    EXPECT_EQ(testing::ReadFile(PackPath(1)), pack);
  }
  ExpectIntact(o);
}

TEST_F(CompactionTest, ADamagedPackIsLeftAlone) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  a.reset();
  {
    // A flipped byte in the middle of the pack.
    std::fstream f(PackPath(1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(PackPath(1)) / 2));
    f.put('\x5a');
  }
  const std::string damaged = testing::ReadFile(PackPath(1));
  auto report = Archive::Compact(o);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("verify"), std::string::npos) << report.status().ToString();
  EXPECT_EQ(testing::ReadFile(PackPath(1)), damaged);
  EXPECT_FALSE(fs::exists(o.data_dir + "/compact.commit"));
}

TEST_F(CompactionTest, ASecondWriterIsRefused) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  auto report = Archive::Compact(o);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kUnavailable);
}

// The swap is committed by a marker; an open that finds it completes the
// renames from whatever step they stopped at, and an open that finds the work
// directory without it removes the work directory. Each state a crash can
// leave is built here from a finished compaction of a copy.
TEST_F(CompactionTest, AnInterruptedSwapIsCompletedOrUndoneOnOpen) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  AddBatch(*a, 1);
  RememberProvenance(*a);
  a.reset();
  const std::string original = dir_.path() + "/original";
  const std::string compacted = dir_.path() + "/compacted";
  fs::copy(o.data_dir, original, fs::copy_options::recursive);
  fs::copy(o.data_dir, compacted, fs::copy_options::recursive);
  ArchiveOptions co = o;
  co.data_dir = compacted;
  ASSERT_TRUE(Archive::Compact(co).ok());
  const std::string compacted_pack = testing::ReadFile(compacted + "/packs/" + PackFileName(1));

  enum class Step { kWorkOnly, kMarkerWritten, kOldPacksMoved, kNewPacksMoved, kCatalogMoved };
  for (Step step : {Step::kWorkOnly, Step::kMarkerWritten, Step::kOldPacksMoved, Step::kNewPacksMoved,
                    Step::kCatalogMoved}) {
    SCOPED_TRACE(static_cast<int>(step));
    fs::remove_all(o.data_dir);
    fs::copy(original, o.data_dir, fs::copy_options::recursive);
    const std::string work = o.data_dir + "/compact.tmp";
    fs::create_directories(work);
    fs::copy(compacted + "/packs", work + "/packs", fs::copy_options::recursive);
    fs::copy(compacted + "/catalog.sqlite", work + "/catalog.sqlite");
    if (step != Step::kWorkOnly) testing::WriteFile(o.data_dir + "/compact.commit", "packs 1..1\n");
    if (step >= Step::kOldPacksMoved) fs::rename(o.data_dir + "/packs", o.data_dir + "/packs.old");
    if (step >= Step::kNewPacksMoved) fs::rename(work + "/packs", o.data_dir + "/packs");
    if (step >= Step::kCatalogMoved) {
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(o.data_dir + "/catalog.sqlite" + suffix);
      fs::rename(work + "/catalog.sqlite", o.data_dir + "/catalog.sqlite");
    }
    if (step != Step::kWorkOnly) {
      // Until it is completed, a reader is told why it cannot open.
      ArchiveOptions ro = o;
      ro.mode = ArchiveOptions::Mode::kReadOnly;
      auto reader = Archive::Open(ro);
      ASSERT_FALSE(reader.ok());
      EXPECT_EQ(reader.status().code(), StatusCode::kUnavailable);
    }

    std::vector<std::string> lines;
    LogSink previous = SetLogSink([&](LogLevel, std::string_view l) { lines.emplace_back(l); });
    a = Open(o);
    SetLogSink(previous);
    ASSERT_NE(a, nullptr);
    const bool completed = step != Step::kWorkOnly;
    const std::string expected = completed ? "completing the compaction" : "stopped before it was committed";
    EXPECT_TRUE(std::any_of(lines.begin(), lines.end(),
                            [&](const std::string& l) { return l.find(expected) != std::string::npos; }));
    EXPECT_EQ(testing::ReadFile(PackPath(1)) == compacted_pack, completed);
    EXPECT_FALSE(fs::exists(work));
    EXPECT_FALSE(fs::exists(o.data_dir + "/packs.old"));
    EXPECT_FALSE(fs::exists(o.data_dir + "/compact.commit"));
    ExpectAllMessages(*a);
    ExpectVerifiesClean(*a);
    a.reset();
  }
}

// The daemon's compaction: the archive stays open, readers read throughout,
// and writes go on after it in a new pack.
TEST_F(CompactionTest, InPlaceWhileReadersReadKeepsEveryMessage) {
  auto o = Options();
  auto a = Open(o);
  for (int round = 0; round < 3; ++round) AddBatch(*a, round);
  RememberProvenance(*a);
  const ArchiveStats before = *a->Stats();
  std::vector<Digest> ids;
  for (const auto& [id, bytes] : mails_) ids.push_back(id);

  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> bad{0};
  std::string first_bad;
  std::mutex first_bad_mutex;
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      for (size_t i = t; !stop; i += 7) {
        const Digest& id = ids[i % ids.size()];
        std::string out;
        Status s = ReadMessageBytes(*a, id, &out);
        if (!s.ok() || out != mails_.at(id)) {
          if (++bad == 1) {
            std::lock_guard lock(first_bad_mutex);
            first_bad = s.ToString();
          }
        }
        ++reads;
      }
    });
  }
  std::vector<std::string> phases;
  auto report = a->CompactInPlace([&](std::string_view what, uint64_t, uint64_t) {
    if (phases.empty() || phases.back() != what) phases.emplace_back(what);
  });
  const int reads_during = reads;
  // Reads after the swap, from the new packs.
  while (reads < reads_during + 200) std::this_thread::yield();
  stop = true;
  for (std::thread& t : readers) t.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->compacted);
  EXPECT_EQ(report->messages, mails_.size());
  EXPECT_EQ(phases, (std::vector<std::string>{"segments", "messages checked"}));
  EXPECT_EQ(bad, 0) << first_bad;
  EXPECT_GT(reads_during, 0);
  EXPECT_FALSE(fs::exists(o.data_dir + "/compact.tmp"));
  EXPECT_FALSE(fs::exists(o.data_dir + "/compact.commit"));
  EXPECT_FALSE(fs::exists(o.data_dir + "/packs.old"));

  ArchiveStats after = *a->Stats();
  EXPECT_EQ(after.messages, before.messages);
  EXPECT_EQ(after.segments, before.segments);
  EXPECT_LT(after.stored_bytes, before.stored_bytes);
  EXPECT_EQ(after.uncompacted_bytes, 0u);
  ExpectAllMessages(*a);
  ExpectVerifiesClean(*a);

  // The same object writes on, into a pack after the compacted one.
  AddBatch(*a, 3);
  EXPECT_GT(a->Stats()->uncompacted_bytes, 0u);
  EXPECT_TRUE(fs::exists(PackPath(2)));
  RememberProvenance(*a);
  ExpectAllMessages(*a);
  a.reset();
  ExpectIntact(o);
}

TEST_F(CompactionTest, InPlaceWaitsForWritersToPause) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  const uint64_t packs_bytes = a->Stats()->stored_bytes;
  {
    auto idle_batch = a->NewBatch();  // a collection run in progress
    auto report = a->CompactInPlace();
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), StatusCode::kUnavailable);
  }
  EXPECT_EQ(a->Stats()->stored_bytes, packs_bytes);
  // A batch that begins a message while the compaction runs is refused.
  Status begun;
  auto report = a->CompactInPlace([&](std::string_view, uint64_t done, uint64_t) {
    if (done == 1 && begun.ok()) {
      auto batch = a->NewBatch();
      begun = batch->BeginMessage();
      if (begun.ok()) begun = Status::Internal("a message began during the compaction");
    }
  });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(begun.code(), StatusCode::kUnavailable) << begun.ToString();
  AddBatch(*a, 1);  // and accepted after it
  ExpectAllMessages(*a);
}

TEST_F(CompactionTest, InPlaceKeepsWhatOtherComponentsWroteToTheCatalogMeanwhile) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  auto audit = [&](int n) {
    return a->WithCatalog([&](Catalog& c) {
      return c.database().Exec("INSERT INTO audit_log(at, user, address, action, target, outcome, detail, "
                               "prev_hash, hash) VALUES(" + std::to_string(1700000000 + n) +
                               ", 'admin', 'cli', 'view', 'm" + std::to_string(n) +
                               "', 'ok', '', zeroblob(32), zeroblob(32))");
    });
  };
  ASSERT_TRUE(audit(0).ok());
  int written = 1;
  // Entries while segments are rewritten and while messages are checked
  // (after the candidate catalog took its first copy).
  auto report = a->CompactInPlace([&](std::string_view, uint64_t, uint64_t) {
    Status s = audit(written++);
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_GT(written, 3);
  auto count = [&](Archive& archive) {
    int64_t n = -1;
    EXPECT_TRUE(archive.WithCatalog([&](Catalog& c) -> Status {
      MV_ASSIGN_OR_RETURN(n, c.database().QueryInt("SELECT count(*) FROM audit_log"));
      return Status::Ok();
    }).ok());
    return n;
  };
  EXPECT_EQ(count(*a), written);
  a.reset();
  a = Open(o);
  EXPECT_EQ(count(*a), written);
}

TEST_F(CompactionTest, InPlaceStoppedLeavesTheArchiveAsItWas) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  AddBatch(*a, 1);
  const uint64_t packs_bytes = a->Stats()->stored_bytes;
  int seen = 0;
  auto report = a->CompactInPlace([&](std::string_view, uint64_t, uint64_t) { ++seen; },
                                  [&] { return seen >= 5; });
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kCancelled);
  EXPECT_FALSE(fs::exists(o.data_dir + "/compact.tmp"));
  EXPECT_EQ(a->Stats()->stored_bytes, packs_bytes);
  AddBatch(*a, 2);  // the archive writes on
  ExpectAllMessages(*a);
  const uint64_t more_bytes = a->Stats()->stored_bytes;
  ASSERT_TRUE(a->CompactInPlace().ok());
  EXPECT_LT(a->Stats()->stored_bytes, more_bytes);
  ExpectAllMessages(*a);
}

// Another process that only reads (a CLI beside the daemon) and had packs open
// when the writer swapped a compaction in: it says so and asks to run again,
// instead of reporting damage that is not there.
TEST_F(CompactionTest, AReaderInAnotherProcessIsToldOfTheSwapNotOfDamage) {
  auto o = Options();
  auto a = Open(o);
  AddBatch(*a, 0);
  AddBatch(*a, 1);
  ArchiveOptions ro = o;
  ro.mode = ArchiveOptions::Mode::kReadOnly;
  ro.create = false;
  auto reader = Open(ro);
  ASSERT_NE(reader, nullptr);
  // Packs it opened before the swap still read (it keeps them open); one it
  // opens after it is the new one, where its catalog's locations are wrong.
  ASSERT_TRUE(a->CompactInPlace().ok());
  int unavailable = 0;
  for (const auto& [mail, bytes] : mails_) {
    std::string out;
    Status s = ReadMessageBytes(*reader, mail, &out);
    if (s.ok()) {
      EXPECT_EQ(out, bytes);  // a message the old catalog still locates rightly
    } else {
      EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
      ++unavailable;
    }
  }
  EXPECT_GT(unavailable, 0);
  VerifyReport report;
  Status verified = reader->Verify(&report);
  EXPECT_EQ(verified.code(), StatusCode::kUnavailable) << verified.ToString();
  EXPECT_TRUE(report.ok());
  // Opened again, it reads the compacted archive.
  reader = Open(ro);
  ExpectAllMessages(*reader);
}

}  // namespace
}  // namespace mailvault
