#include "archive/archive.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "archive/archive_testing.h"
#include "base/log.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

std::string Mail(int i, const std::string& body = "") {
  return "From: a" + std::to_string(i) + "@example.com\nSubject: message " + std::to_string(i) +
         "\n\n" + (body.empty() ? "body of message " + std::to_string(i) + "\n" : body);
}

class ArchiveTest : public ArchiveFixture {
 protected:
  static Result<IngestedMessage> Add(IngestBatch& batch, const std::string& raw,
                                     const std::string& key, size_t chunk = 100) {
    MV_RETURN_IF_ERROR(batch.BeginMessage());
    for (size_t i = 0; i < raw.size(); i += chunk) {
      MV_RETURN_IF_ERROR(batch.Write(std::string_view(raw).substr(i, chunk)));
    }
    return batch.FinishMessage(Provenance{ProvenanceKind::kImport, 0, "test", key});
  }
  // Deletes the catalog and rebuilds it from the packs; expects no damage.
  static void RebuildFromPacks(const ArchiveOptions& o) {
    for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((o.data_dir + "/catalog.sqlite" + suffix).c_str());
    VerifyReport damage;
    Status s = Archive::Rebuild(o, &damage);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(damage.ok());
  }
  // What a rebuild must give back: the same catalogued content.
  static void ExpectSameContent(const ArchiveStats& after, const ArchiveStats& before) {
    EXPECT_EQ(after.messages, before.messages);
    EXPECT_EQ(after.raw_bytes, before.raw_bytes);
    EXPECT_EQ(after.segments, before.segments);
    EXPECT_EQ(after.unique_bytes, before.unique_bytes);
    EXPECT_EQ(after.provenance_links, before.provenance_links);
    EXPECT_EQ(after.dictionaries, before.dictionaries);
  }
  static std::string Read(Archive& a, const Digest& id) {
    std::string out;
    Status s = ReadMessageBytes(a, id, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
};

TEST_F(ArchiveTest, StoresAndReturnsCanonicalBytes) {
  auto a = OpenArchive(Options());
  auto batch = a->NewBatch();
  std::string raw = Mail(1);
  auto m = Add(*batch, raw, "k1", 3);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FALSE(m->duplicate);
  std::string canonical = testing::CanonicalizeForTest(raw);
  EXPECT_EQ(m->id, Sha256::Of(canonical));
  auto report = batch->Commit();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->new_messages, 1u);
  EXPECT_EQ(Read(*a, m->id), canonical);

  // Still there after reopening.
  a.reset();
  a = OpenArchive(Options());
  EXPECT_EQ(Read(*a, m->id), canonical);
  auto info = a->Info(m->id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->archived_at, 1700000000);
  ASSERT_EQ(info->provenance.size(), 1u);
  EXPECT_EQ(info->provenance[0].key, "k1");
}

TEST_F(ArchiveTest, DuplicatesAddOnlyProvenance) {
  auto a = OpenArchive(Options());
  auto batch = a->NewBatch();
  auto first = Add(*batch, Mail(1), "k1");
  auto again_in_batch = Add(*batch, Mail(1), "k2");
  ASSERT_TRUE(first.ok() && again_in_batch.ok());
  EXPECT_TRUE(again_in_batch->duplicate);
  ASSERT_TRUE(batch->Commit().ok());
  auto later = Add(*batch, Mail(1), "k1");  // same provenance as before
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->duplicate);
  auto report = batch->Commit();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->new_messages, 0u);
  EXPECT_EQ(report->new_links, 0u);
  auto stats = a->Stats();
  EXPECT_EQ(stats->messages, 1u);
  EXPECT_EQ(stats->provenance_links, 2u);
}

TEST_F(ArchiveTest, CopiesWithDifferentHeadersShareTheBody) {
  auto a = OpenArchive(Options());
  auto batch = a->NewBatch();
  std::string body(20000, 'q');
  body += "\n";
  ASSERT_TRUE(Add(*batch, "Delivered-To: alice\n\n" + body, "a").ok());
  ASSERT_TRUE(Add(*batch, "Delivered-To: bob\n\n" + body, "b").ok());
  ASSERT_TRUE(batch->Commit().ok());
  auto stats = a->Stats();
  EXPECT_EQ(stats->messages, 2u);
  EXPECT_EQ(stats->segments, 3u);  // two header blocks, one body
  EXPECT_LT(stats->unique_bytes, stats->raw_bytes - 19000);
}

TEST_F(ArchiveTest, PagesArrivalOrderBySeq) {
  auto a = OpenArchive(Options());
  auto batch = a->NewBatch();
  std::vector<Digest> ids;
  for (int i = 0; i < 7; ++i) {
    auto m = Add(*batch, Mail(i), "k" + std::to_string(i));
    ASSERT_TRUE(m.ok());
    ids.push_back(m->id);
  }
  ASSERT_TRUE(Add(*batch, Mail(3), "again").ok());  // a duplicate takes no new place
  ASSERT_TRUE(batch->Commit().ok());

  // Pages of 3 from the start, each after the last seq of the one before.
  std::vector<Digest> paged;
  int64_t after = 0;
  for (;;) {
    auto page = a->MessagesAfter(after, 3);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_LE(page->size(), 3u);
    if (page->empty()) break;
    for (const MessageInfo& info : *page) {
      EXPECT_GT(info.seq, after);
      paged.push_back(info.id);
      after = info.seq;
    }
  }
  EXPECT_EQ(paged, ids);

  // A page carries provenance, as Info does.
  auto third = a->ArrivalPositionOf(ids[3]);
  ASSERT_TRUE(third.ok());
  ASSERT_TRUE(third->has_value());
  EXPECT_EQ((*third)->count, 4u);
  auto from_third = a->MessagesAfter((*third)->seq - 1, 1);
  ASSERT_TRUE(from_third.ok());
  ASSERT_EQ(from_third->size(), 1u);
  EXPECT_EQ(from_third->front().id, ids[3]);
  EXPECT_EQ(from_third->front().provenance.size(), 2u);

  // After the newest: nothing; an unknown id has no position.
  auto last = a->ArrivalPositionOf(ids.back());
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->count, 7u);
  EXPECT_TRUE(a->MessagesAfter((*last)->seq, 10)->empty());
  auto unknown = a->ArrivalPositionOf(Sha256::Of("not archived"));
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(ArchiveTest, ResolvesPrefixes) {
  auto a = OpenArchive(Options());
  auto batch = a->NewBatch();
  auto m = Add(*batch, Mail(1), "k");
  ASSERT_TRUE(batch->Commit().ok());
  std::string hex = ToHex(m->id);
  EXPECT_EQ(*a->Resolve(hex), m->id);
  EXPECT_EQ(*a->Resolve(hex.substr(0, 12)), m->id);
  std::string upper = hex.substr(0, 13);
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(*a->Resolve(upper), m->id);
  EXPECT_EQ(a->Resolve(hex.substr(0, 11)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a->Resolve("zzzzzzzzzzzzzz").status().code(), StatusCode::kInvalidArgument);
  std::string other = hex.substr(0, 12);
  other[0] = other[0] == '0' ? '1' : '0';
  EXPECT_EQ(a->Resolve(other).status().code(), StatusCode::kNotFound);
}

TEST_F(ArchiveTest, UncommittedMessagesAreNotThereAfterReopen) {
  auto a = OpenArchive(Options());
  {
    auto batch = a->NewBatch();
    ASSERT_TRUE(Add(*batch, Mail(1), "k").ok());
  }  // dropped without Commit
  a.reset();
  a = OpenArchive(Options());
  EXPECT_EQ(a->Stats()->messages, 0u);
}

TEST_F(ArchiveTest, TornTailIsCutWithALogLine) {
  auto a = OpenArchive(Options());
  auto batch = a->NewBatch();
  auto m = Add(*batch, Mail(1), "k");
  ASSERT_TRUE(batch->Commit().ok());
  a.reset();
  std::string pack = Options().data_dir + "/packs/" + PackFileName(1);
  std::string bytes = testing::ReadFile(pack);
  testing::WriteFile(pack, bytes + std::string("\x01\x00\x00\x00\xff\x00\x00\x00garbage", 19));

  std::vector<std::string> lines;
  LogSink previous = SetLogSink([&](LogLevel, std::string_view line) { lines.emplace_back(line); });
  a = OpenArchive(Options());
  SetLogSink(previous);
  EXPECT_EQ(testing::ReadFile(pack), bytes);
  bool told = false;
  for (const auto& l : lines) told |= l.find("torn tail") != std::string::npos;
  EXPECT_TRUE(told);
  EXPECT_EQ(Read(*a, m->id), testing::CanonicalizeForTest(Mail(1)));
  ExpectVerifiesClean(*a);
}

TEST_F(ArchiveTest, RecordsWrittenBeforeALostCatalogCommitAreRecovered) {
  // Simulate a crash after the pack fsync but before the catalog commit: keep the
  // catalog from before the commit and the packs from after it.
  auto o = Options();
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  ASSERT_TRUE(Add(*batch, Mail(1), "k1").ok());
  ASSERT_TRUE(batch->Commit().ok());
  a.reset();
  std::string catalog = o.data_dir + "/catalog.sqlite";
  auto before = testing::RunProcess({"/usr/bin/sqlite3", catalog, "PRAGMA wal_checkpoint(TRUNCATE);"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  std::string saved = testing::ReadFile(catalog);
  a = OpenArchive(o);
  batch = a->NewBatch();
  auto m2 = Add(*batch, Mail(2), "k2");
  ASSERT_TRUE(batch->Commit().ok());
  a.reset();
  ::unlink((catalog + "-wal").c_str());
  ::unlink((catalog + "-shm").c_str());
  testing::WriteFile(catalog, saved);

  a = OpenArchive(o);
  EXPECT_EQ(a->Stats()->messages, 2u);
  EXPECT_EQ(Read(*a, m2->id), testing::CanonicalizeForTest(Mail(2)));
}

// With one record per segment (the format before blocks; see also the block
// variant below).
TEST_F(ArchiveTest, VerifyNamesMessagesHitByAFlippedByte) {
  auto o = Options();
  o.block_bytes = 0;
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  auto m1 = Add(*batch, Mail(1, std::string(5000, 'x') + "\n"), "1");
  auto m2 = Add(*batch, Mail(2), "2");
  ASSERT_TRUE(batch->Commit().ok());
  a.reset();
  std::string pack = Options().data_dir + "/packs/" + PackFileName(1);
  std::string bytes = testing::ReadFile(pack);
  // The first message's body segment is the second record; flip a byte inside it.
  size_t second = kPackMagic.size();
  for (int i = 0; i < 1; ++i) {
    uint32_t len = static_cast<uint8_t>(bytes[second + 4]) | static_cast<uint8_t>(bytes[second + 5]) << 8 |
                   static_cast<uint8_t>(bytes[second + 6]) << 16;
    second += kRecordHeaderSize + len;
  }
  bytes[second + kRecordHeaderSize + 40] ^= 0x01;
  testing::WriteFile(pack, bytes);

  a = OpenArchive(o);
  VerifyReport report;
  ASSERT_TRUE(a->Verify(&report).ok());
  ASSERT_FALSE(report.ok());
  bool names_m1 = false, names_m2 = false, names_pack = false;
  for (const auto& f : report.faults) {
    names_m1 |= f.where == "message " + ToHex(m1->id);
    names_m2 |= f.where == "message " + ToHex(m2->id);
    names_pack |= f.where.find(PackFileName(1) + " offset " + std::to_string(second)) != std::string::npos;
  }
  EXPECT_TRUE(names_m1);
  EXPECT_FALSE(names_m2);
  EXPECT_TRUE(names_pack);
  std::string out;
  EXPECT_EQ(a->ReadMessage(m1->id, [&](std::string_view c) { out.append(c); return Status::Ok(); }).code(),
            StatusCode::kCorruption);
}

TEST_F(ArchiveTest, RebuildGivesTheSameMessagesAndStats) {
  auto o = Options();
  o.first_dictionary_after = 20;  // exercise dictionaries too
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  std::vector<Digest> ids;
  for (int i = 0; i < 120; ++i) {
    auto m = Add(*batch, Mail(i), "k" + std::to_string(i));
    ASSERT_TRUE(m.ok());
    ids.push_back(m->id);
    if (i % 10 == 9) {
      ASSERT_TRUE(batch->Commit().ok());
    }
  }
  auto before = *a->Stats();
  EXPECT_GE(before.dictionaries, 1u);
  a.reset();
  RebuildFromPacks(o);
  a = OpenArchive(o);
  ExpectSameContent(*a->Stats(), before);
  for (int i = 0; i < 120; ++i) EXPECT_EQ(Read(*a, ids[i]), testing::CanonicalizeForTest(Mail(i)));
}

TEST_F(ArchiveTest, RebuildRestoresTheUidlLedgerAndKeepsAccountsAndRuns) {
  auto o = Options();
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  auto pop3 = [&](int i, const std::string& uidl) -> Result<IngestedMessage> {
    MV_RETURN_IF_ERROR(batch->BeginMessage());
    MV_RETURN_IF_ERROR(batch->Write(Mail(i)));
    return batch->FinishMessage(Provenance{ProvenanceKind::kPop3, 1700000100 + i, "acct", uidl});
  };
  ASSERT_TRUE(pop3(1, "U1").ok());
  ASSERT_TRUE(pop3(2, "U2").ok());
  ASSERT_TRUE(pop3(1, "U3").ok());  // the same message under a second UIDL: a link
  ASSERT_TRUE(batch->Commit().ok());
  batch->RecordEvent(EventRecord{static_cast<uint8_t>(LedgerEventKind::kUidlRemoved), 1700000500, "acct", "U1", ""});
  batch->RecordEvent(EventRecord{static_cast<uint8_t>(LedgerEventKind::kDeletedByPolicy), 1700000600, "acct", "U2", ""});
  ASSERT_TRUE(batch->Commit().ok());  // events alone make a commit
  // Operational data that packs do not hold.
  ASSERT_TRUE(a->WithCatalog([](Catalog& c) {
    return c.database().Exec(
        "INSERT INTO accounts VALUES('acct','h',995,'u',x'00','pop3s','','','keep','',1,1);"
        "INSERT INTO collection_runs(account, started_at, state) VALUES('acct', 5, 'ok');");
  }).ok());
  auto ledger = [&](Archive& archive) {
    std::vector<LedgerEntry> rows;
    EXPECT_TRUE(archive.WithCatalog([&](Catalog& c) -> Status {
      MV_ASSIGN_OR_RETURN(rows, c.LedgerOf("acct"));
      return Status::Ok();
    }).ok());
    return rows;
  };
  std::vector<LedgerEntry> before = ledger(*a);
  ASSERT_EQ(before.size(), 3u);
  EXPECT_EQ(before[0].removed_at.value_or(0), 1700000500);
  EXPECT_FALSE(before[0].deleted_at.has_value());
  EXPECT_EQ(before[1].deleted_at.value_or(0), 1700000600);
  EXPECT_EQ(before[0].message, before[2].message);
  a.reset();

  VerifyReport damage;
  ASSERT_TRUE(Archive::Rebuild(o, &damage).ok());
  a = OpenArchive(o);
  std::vector<LedgerEntry> after = ledger(*a);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].uidl, before[i].uidl);
    EXPECT_EQ(after[i].message, before[i].message);
    EXPECT_EQ(after[i].first_seen, before[i].first_seen);
    EXPECT_EQ(after[i].removed_at, before[i].removed_at);
    EXPECT_EQ(after[i].deleted_at, before[i].deleted_at);
  }
  int64_t accounts = 0, runs = 0;
  ASSERT_TRUE(a->WithCatalog([&](Catalog& c) -> Status {
    MV_ASSIGN_OR_RETURN(accounts, c.database().QueryInt("SELECT count(*) FROM accounts"));
    MV_ASSIGN_OR_RETURN(runs, c.database().QueryInt("SELECT count(*) FROM collection_runs"));
    return Status::Ok();
  }).ok());
  EXPECT_EQ(accounts, 1);
  EXPECT_EQ(runs, 1);

  // With the old catalog gone, the ledger still comes back from the packs alone.
  a.reset();
  for (const char* sfx : {"", "-wal", "-shm"}) ::unlink((o.data_dir + "/catalog.sqlite" + sfx).c_str());
  ASSERT_TRUE(Archive::Rebuild(o, &damage).ok());
  a = OpenArchive(o);
  EXPECT_EQ(ledger(*a).size(), 3u);
}

TEST_F(ArchiveTest, DictionaryIsTrainedAndUsedAcrossReopen) {
  auto o = Options();
  o.first_dictionary_after = 50;
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  std::vector<Digest> ids;
  for (int i = 0; i < 200; ++i) {
    auto m = Add(*batch, Mail(i, "Hello team,\nthe quarterly numbers for region " + std::to_string(i) +
                                     " are attached.\nRegards\n"), "k" + std::to_string(i));
    ids.push_back(m->id);
    ASSERT_TRUE(batch->Commit().ok());
  }
  // Trained at 50 small segments, retrained at 8 x 50 = 400 (two per message).
  EXPECT_EQ(a->Stats()->dictionaries, 2u);
  a.reset();
  a = OpenArchive(o);
  for (int i = 0; i < 200; i += 17) EXPECT_FALSE(Read(*a, ids[i]).empty());
  ExpectVerifiesClean(*a);
}

TEST_F(ArchiveTest, FullDiskRefusesWithoutHarmingWhatIsArchived) {
  FullDiskFileSystem fs(1 << 30);
  auto o = Options();
  o.fs = &fs;
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  auto m1 = Add(*batch, Mail(1), "1");
  ASSERT_TRUE(batch->Commit().ok());

  fs.set_budget(3000);
  std::string noise;  // incompressible, so the pack really grows
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245 + 12345;
    noise += static_cast<char>('!' + (x >> 16) % 90);
    if (i % 76 == 75) noise += '\n';
  }
  std::string big = Mail(2, noise + "\n");
  auto m2 = Add(*batch, big, "2", 4096);
  Status failed = m2.ok() ? batch->Commit().status() : m2.status();
  EXPECT_EQ(failed.code(), StatusCode::kNoSpace) << failed.ToString();

  fs.set_budget(1 << 30);
  a.reset();
  a = OpenArchive(o);
  EXPECT_EQ(a->Stats()->messages, 1u);
  EXPECT_EQ(Read(*a, m1->id), testing::CanonicalizeForTest(Mail(1)));
  ExpectVerifiesClean(*a);
  // Space is back: the same message goes in now.
  batch = a->NewBatch();
  ASSERT_TRUE(Add(*batch, big, "2", 4096).ok());
  ASSERT_TRUE(batch->Commit().ok());
  EXPECT_EQ(a->Stats()->messages, 2u);
}

TEST_F(ArchiveTest, ConcurrentBatchesShareSegmentsSafely) {
  auto a = OpenArchive(Options());
  std::string shared_body = std::string(30000, 's') + "\n";
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto batch = a->NewBatch();
      for (int i = 0; i < 50; ++i) {
        auto m = Add(*batch, "X-Thread: " + std::to_string(t) + "\nX-N: " + std::to_string(i) + "\n\n" +
                                 shared_body, std::to_string(t) + "/" + std::to_string(i));
        if (!m.ok()) ++failures;
        if (i % 7 == 0 && !batch->Commit().ok()) ++failures;
      }
      if (!batch->Commit().ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  auto stats = a->Stats();
  EXPECT_EQ(stats->messages, 200u);
  EXPECT_EQ(stats->segments, 201u);  // 200 header blocks + one shared body
  a.reset();
  a = OpenArchive(Options());
  ExpectVerifiesClean(*a);
}

TEST_F(ArchiveTest, SecondWriterIsRefusedAndReadOnlyWorks) {
  auto a = OpenArchive(Options());
  auto o = Options();
  EXPECT_EQ(Archive::Open(o).status().code(), StatusCode::kUnavailable);
  o.mode = ArchiveOptions::Mode::kReadWriteIfFree;
  auto ro = Archive::Open(o);
  ASSERT_TRUE(ro.ok());
  EXPECT_FALSE((*ro)->writable());
  auto batch = (*ro)->NewBatch();
  EXPECT_EQ(batch->BeginMessage().code(), StatusCode::kPermissionDenied);
}

TEST_F(ArchiveTest, MissingArchiveIsAClearError) {
  auto o = Options();
  o.create = false;
  auto a = Archive::Open(o);
  EXPECT_EQ(a.status().code(), StatusCode::kNotFound);
  EXPECT_NE(a.status().message().find("mailvault init"), std::string::npos);
}


// Copies in one batch share a block, which compresses them together; deltas are
// for copies whose first copy is already stored. Here without blocks.
TEST_F(ArchiveTest, NearDuplicateHeaderBlocksAreStoredAsDeltas) {
  auto o = Options();
  o.block_bytes = 0;
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  std::string common = "Date: Tue, 15 May 2001 03:05:00 -0700\nFrom: sherri@example.com\n"
                       "To: team@example.com\nSubject: the quarterly report\n"
                       "X-Mailer: " + std::string(600, 'm') + "\n";
  std::vector<Digest> ids;
  for (int i = 0; i < 5; ++i) {
    std::string mail = "Message-ID: <" + std::to_string(i) + "@example.com>\nX-Folder: folder " +
                       std::to_string(i) + "\n" + common + "\nthe same body\n";
    auto m = Add(*batch, mail, "copy" + std::to_string(i));
    ASSERT_TRUE(m.ok());
    ids.push_back(m->id);
  }
  ASSERT_TRUE(batch->Commit().ok());
  auto before = *a->Stats();
  EXPECT_EQ(before.segments, 6u);  // five header blocks, one body
  a.reset();

  // Four of the five header blocks are delta records against the first.
  std::string pack = o.data_dir + "/packs/" + PackFileName(1);
  int deltas = 0;
  ScanOutcome outcome;
  ASSERT_TRUE(ScanPack(pack, {}, [&](const ScannedRecord& r) {
    deltas += r.type == RecordType::kDeltaSegment;
    return Status::Ok();
  }, &outcome).ok());
  EXPECT_EQ(deltas, 4);

  // They read back byte-exact, also after the catalog is rebuilt from the packs.
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((o.data_dir + "/catalog.sqlite" + suffix).c_str());
  VerifyReport damage;
  ASSERT_TRUE(Archive::Rebuild(o, &damage).ok());
  a = OpenArchive(o);
  EXPECT_EQ(a->Stats()->messages, 5u);
  for (int i = 0; i < 5; ++i) {
    std::string mail = "Message-ID: <" + std::to_string(i) + "@example.com>\nX-Folder: folder " +
                       std::to_string(i) + "\n" + common + "\nthe same body\n";
    EXPECT_EQ(Read(*a, ids[i]), testing::CanonicalizeForTest(mail));
  }
  ExpectVerifiesClean(*a);
}

// Records of one type in a pack, in order: offset and payload.
std::vector<std::pair<uint64_t, std::string>> RecordsOfType(const std::string& pack, RecordType type) {
  std::vector<std::pair<uint64_t, std::string>> out;
  ScanOutcome outcome;
  Status s = ScanPack(pack, {}, [&](const ScannedRecord& r) {
    if (r.type == type) out.emplace_back(r.offset, std::string(r.payload));
    return Status::Ok();
  }, &outcome);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST_F(ArchiveTest, SmallSegmentsOfABatchShareBlocks) {
  auto o = Options();
  o.first_dictionary_after = 20;
  o.dictionary_capacity = 1024;  // no more than the samples hold
  o.dictionary_samples = 20;     // train from what this batch holds
  o.block_bytes = 4096;
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  std::vector<std::pair<Digest, std::string>> mails;
  for (int i = 0; i < 60; ++i) {
    std::string body;
    for (int line = 0; line < 8; ++line) {
      body += "line " + std::to_string(line) + " of a body that mails " + std::to_string(i % 7) +
              " share, about the quarterly figures of unit " + std::to_string(line * (i % 7)) + "\n";
    }
    std::string mail = Mail(i, body);
    auto m = Add(*batch, mail, "k" + std::to_string(i));
    ASSERT_TRUE(m.ok());
    mails.emplace_back(m->id, mail);
  }
  // A large segment keeps a record of its own.
  std::string big = Mail(100, std::string(40000, 'z') + "\n");
  auto mb = Add(*batch, big, "big");
  ASSERT_TRUE(mb.ok());
  mails.emplace_back(mb->id, big);
  ASSERT_TRUE(batch->Commit().ok());
  auto stats = *a->Stats();
  EXPECT_EQ(stats.segments, 61u + 7u + 1u);  // headers, shared bodies, the big body
  a.reset();

  std::string pack = o.data_dir + "/packs/" + PackFileName(1);
  auto blocks = RecordsOfType(pack, RecordType::kBlock);
  auto segments = RecordsOfType(pack, RecordType::kSegment);
  ASSERT_GE(blocks.size(), 2u);     // headers and bodies apart, and more than 4 KiB of them
  ASSERT_EQ(segments.size(), 1u);   // only the large body
  size_t in_blocks = 0;
  bool header_only_block = false, compressed_with_dictionary = false;
  for (const auto& [offset, payload] : blocks) {
    auto b = DecodeBlock(payload);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_LE(b->raw_length, 4096u);
    EXPECT_GT(b->raw_length, 0u);
    in_blocks += b->entries.size();
    compressed_with_dictionary |= b->dictionary != 0;
    header_only_block |= b->entries.size() > 1 && b->entries.size() == static_cast<size_t>(std::count_if(
        b->entries.begin(), b->entries.end(), [](const BlockEntry& e) { return e.length > 40; }));
  }
  EXPECT_EQ(in_blocks, 61u + 7u);
  EXPECT_TRUE(compressed_with_dictionary);
  EXPECT_TRUE(header_only_block);

  // Each message reads back byte-exact, from a fresh process's view and after a rebuild.
  a = OpenArchive(o);
  for (const auto& [id, mail] : mails) EXPECT_EQ(Read(*a, id), testing::CanonicalizeForTest(mail));
  ExpectVerifiesClean(*a);
  a.reset();
  RebuildFromPacks(o);
  a = OpenArchive(o);
  ExpectSameContent(*a->Stats(), stats);
  for (const auto& [id, mail] : mails) EXPECT_EQ(Read(*a, id), testing::CanonicalizeForTest(mail));
}

// A first read of a block decompresses only up to its segment; later reads
// further into the block decompress the rest. Any order reads the same bytes.
TEST_F(ArchiveTest, ReadsInAnyOrderFromPartlyDecompressedBlocks) {
  auto o = Options();
  o.block_cache_bytes = 1 << 20;
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  std::vector<std::pair<Digest, std::string>> mails;
  for (int i = 0; i < 200; ++i) {
    std::string mail = Mail(i, "body " + std::to_string(i) + ": " + std::string(500 + i, 'a' + i % 26) + "\n");
    auto m = Add(*batch, mail, "k" + std::to_string(i));
    ASSERT_TRUE(m.ok());
    mails.emplace_back(m->id, mail);
  }
  ASSERT_TRUE(batch->Commit().ok());
  for (int order = 0; order < 3; ++order) {
    a.reset();
    a = OpenArchive(o);  // an empty cache
    std::vector<size_t> picks;
    for (size_t i = 0; i < mails.size(); ++i) picks.push_back(i);
    if (order == 1) std::reverse(picks.begin(), picks.end());  // last segment of a block first
    if (order == 2) picks = {0, 199, 1, 100, 2, 150, 3, 50};  // a prefix, then further, then back
    for (size_t i : picks) EXPECT_EQ(Read(*a, mails[i].first), testing::CanonicalizeForTest(mails[i].second));
  }
}

TEST_F(ArchiveTest, VerifyNamesEveryMessageOfABlockWithAFlippedByte) {
  auto o = Options();
  auto a = OpenArchive(o);
  auto first = a->NewBatch();
  auto m1 = Add(*first, Mail(1), "1");
  auto m2 = Add(*first, Mail(2), "2");
  ASSERT_TRUE(first->Commit().ok());
  auto second = a->NewBatch();
  auto m3 = Add(*second, Mail(3), "3");
  ASSERT_TRUE(second->Commit().ok());
  a.reset();

  // The first batch's bodies block: the second block record of the pack.
  std::string pack = o.data_dir + "/packs/" + PackFileName(1);
  auto blocks = RecordsOfType(pack, RecordType::kBlock);
  ASSERT_EQ(blocks.size(), 4u);  // headers and bodies of each batch
  uint64_t offset = blocks[1].first;
  std::string bytes = testing::ReadFile(pack);
  bytes[offset + kRecordHeaderSize + bytes.size() % 7 + 60] ^= 0x01;
  testing::WriteFile(pack, bytes);

  a = OpenArchive(o);
  VerifyReport report;
  ASSERT_TRUE(a->Verify(&report).ok());
  ASSERT_FALSE(report.ok());
  bool names_m1 = false, names_m2 = false, names_m3 = false, names_block = false;
  for (const auto& f : report.faults) {
    names_m1 |= f.where == "message " + ToHex(m1->id);
    names_m2 |= f.where == "message " + ToHex(m2->id);
    names_m3 |= f.where == "message " + ToHex(m3->id);
    names_block |= f.where.find(PackFileName(1) + " offset " + std::to_string(offset)) != std::string::npos;
  }
  EXPECT_TRUE(names_m1);
  EXPECT_TRUE(names_m2);
  EXPECT_FALSE(names_m3);
  EXPECT_TRUE(names_block);
  EXPECT_EQ(Read(*a, m3->id), testing::CanonicalizeForTest(Mail(3)));
  std::string out;
  EXPECT_EQ(a->ReadMessage(m1->id, [&](std::string_view c) { out.append(c); return Status::Ok(); }).code(),
            StatusCode::kCorruption);

  // A rebuild skips the damaged block and names the messages that needed it;
  // opening the archive afterwards keeps what follows the damage (it is no torn
  // tail: regression test, a rebuild's watermark used to stop at the damage).
  a.reset();
  const size_t pack_size = testing::ReadFile(pack).size();
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((o.data_dir + "/catalog.sqlite" + suffix).c_str());
  VerifyReport damage;
  ASSERT_TRUE(Archive::Rebuild(o, &damage).ok());
  std::string faults;
  for (const auto& f : damage.faults) faults += f.where + ": " + f.problem + "\n";
  EXPECT_NE(faults.find(ToHex(m1->id)), std::string::npos) << faults;
  EXPECT_NE(faults.find(ToHex(m2->id)), std::string::npos) << faults;
  a = OpenArchive(o);
  EXPECT_EQ(testing::ReadFile(pack).size(), pack_size);
  EXPECT_EQ(a->Stats()->messages, 1u);
  EXPECT_EQ(Read(*a, m3->id), testing::CanonicalizeForTest(Mail(3)));
  auto more = a->NewBatch();
  auto m4 = Add(*more, Mail(4), "4");
  ASSERT_TRUE(more->Commit().ok());
  a.reset();
  a = OpenArchive(o);
  EXPECT_EQ(Read(*a, m4->id), testing::CanonicalizeForTest(Mail(4)));
}

TEST_F(ArchiveTest, ATornBlockRecordIsCutOnOpen) {
  auto o = Options();
  auto a = OpenArchive(o);
  auto batch = a->NewBatch();
  auto m1 = Add(*batch, Mail(1), "1");
  ASSERT_TRUE(batch->Commit().ok());
  a.reset();
  std::string pack = o.data_dir + "/packs/" + PackFileName(1);
  const size_t committed = testing::ReadFile(pack).size();
  // A crash while a later batch's block was being written: half a block record.
  std::vector<BlockEntry> entries{{Sha256::Of("torn"), 4}};
  std::string record = EncodeRecord(RecordType::kBlock, EncodeBlock(0, 4, entries, "frame bytes"));
  testing::WriteFile(pack, testing::ReadFile(pack) + record.substr(0, record.size() - 5));

  a = OpenArchive(o);
  EXPECT_EQ(testing::ReadFile(pack).size(), committed);
  EXPECT_EQ(Read(*a, m1->id), testing::CanonicalizeForTest(Mail(1)));
  auto more = a->NewBatch();
  auto m2 = Add(*more, Mail(2), "2");
  ASSERT_TRUE(more->Commit().ok());
  ExpectVerifiesClean(*a);
  EXPECT_EQ(Read(*a, m2->id), testing::CanonicalizeForTest(Mail(2)));
}

// An archive written before blocks (one record per segment) reads on, takes
// new mail in blocks, and rebuilds from its mix of records.
TEST_F(ArchiveTest, RecordsWrittenBeforeBlocksStillRead) {
  auto o = Options();
  o.first_dictionary_after = 10;
  std::vector<std::pair<Digest, std::string>> mails;
  auto add = [&](ArchiveOptions options, int from, int to) {
    auto a = OpenArchive(options);
    auto batch = a->NewBatch();
    for (int i = from; i < to; ++i) {
      std::string mail = Mail(i, "shared body " + std::to_string(i % 3) + "\n");
      auto m = Add(*batch, mail, "k" + std::to_string(i));
      ASSERT_TRUE(m.ok());
      mails.emplace_back(m->id, mail);
    }
    ASSERT_TRUE(batch->Commit().ok());
  };
  auto old_format = o;
  old_format.block_bytes = 0;
  add(old_format, 0, 30);
  std::string pack = o.data_dir + "/packs/" + PackFileName(1);
  EXPECT_TRUE(RecordsOfType(pack, RecordType::kBlock).empty());
  add(o, 30, 60);  // bodies 0..2 are already stored in segment records
  EXPECT_FALSE(RecordsOfType(pack, RecordType::kBlock).empty());

  auto check = [&] {
    auto a = OpenArchive(o);
    EXPECT_EQ(a->Stats()->messages, 60u);
    for (const auto& [id, mail] : mails) EXPECT_EQ(Read(*a, id), testing::CanonicalizeForTest(mail));
    ExpectVerifiesClean(*a);
  };
  check();
  RebuildFromPacks(o);
  check();
}

// Manifests written before located messages name segments by hash (entry type 2).
TEST_F(ArchiveTest, MessagesNamingSegmentsByHashStillRebuild) {
  auto o = Options();
  ASSERT_NE(OpenArchive(o), nullptr);  // creates the data directory and an empty pack
  std::string header = "From: a@example.com\r\nSubject: old\r\n\r\n", body = "an old body\r\n";
  std::string mail = header + body;
  {
    auto writer = PackWriter::Open(FileSystem::Posix(), o.data_dir + "/packs", 1);
    ASSERT_TRUE(writer.ok());
    SegmentCodec codec;
    for (const std::string& segment : {header, body}) {
      std::string frame;
      ASSERT_TRUE(codec.Compress(segment, nullptr, 3, &frame).ok());
      ASSERT_TRUE((*writer)->Append(RecordType::kSegment,
                                    EncodeSegment(Sha256::Of(segment), static_cast<uint32_t>(segment.size()), 0, frame)).ok());
    }
    MessageRecord m{Sha256::Of(mail), mail.size(), 1700000000, {Sha256::Of(header), Sha256::Of(body)},
                    Provenance{ProvenanceKind::kImport, 1700000000, "old.mbox", "0"}};
    auto manifests = EncodeManifests({{RecordType::kMessage, EncodeMessage(m)}}, 3);
    ASSERT_TRUE(manifests.ok());
    ASSERT_TRUE((*writer)->Append(RecordType::kManifests, *manifests).ok());
    ASSERT_TRUE((*writer)->Sync().ok());
  }
  RebuildFromPacks(o);
  auto a = OpenArchive(o);
  EXPECT_EQ(a->Stats()->messages, 1u);
  EXPECT_EQ(Read(*a, Sha256::Of(mail)), mail);
  ExpectVerifiesClean(*a);
}

// A copy whose first copy is already stored (in a block of an earlier batch)
// becomes a delta against a segment inside a block.
TEST_F(ArchiveTest, DeltasAgainstABaseInABlock) {
  auto o = Options();
  auto a = OpenArchive(o);
  std::string common = "Date: Tue, 15 May 2001 03:05:00 -0700\nFrom: sherri@example.com\n"
                       "To: team@example.com\nSubject: the quarterly report\n"
                       "X-Mailer: " + std::string(600, 'm') + "\n";
  auto copy = [&](int i) {
    return "Message-ID: <" + std::to_string(i) + "@example.com>\nX-Folder: folder " + std::to_string(i) +
           "\n" + common + "\nthe same body\n";
  };
  std::vector<Digest> ids;
  for (int i = 0; i < 3; ++i) {
    auto batch = a->NewBatch();
    auto m = Add(*batch, copy(i), "copy" + std::to_string(i));
    ASSERT_TRUE(m.ok());
    ids.push_back(m->id);
    ASSERT_TRUE(batch->Commit().ok());
  }
  a.reset();
  std::string pack = o.data_dir + "/packs/" + PackFileName(1);
  EXPECT_EQ(RecordsOfType(pack, RecordType::kDeltaSegment).size(), 2u);
  RebuildFromPacks(o);
  a = OpenArchive(o);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Read(*a, ids[i]), testing::CanonicalizeForTest(copy(i)));
  ExpectVerifiesClean(*a);
}

// Catalog schema 4 adds segments.block_offset; rows from before are whole records.
TEST(CatalogMigrationTest, SegmentsFromBeforeBlocksAreWholeRecords) {
  testing::TempDir dir;
  std::string path = dir.path() + "/catalog.sqlite";
  {
    auto db = SqliteDatabase::Open(path, /*create=*/true);
    ASSERT_TRUE(db.ok());
    // Schema 3 as released, with one segment row.
    ASSERT_TRUE(db->Exec("PRAGMA user_version = 0").ok());
    auto full = MigrateCatalog(*db);
    ASSERT_TRUE(full.ok());
    ASSERT_TRUE(db->Exec("DROP TABLE segments; CREATE TABLE segments(hash BLOB PRIMARY KEY, "
                         "pack INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, "
                         "raw_length INTEGER NOT NULL, dictionary INTEGER NOT NULL) WITHOUT ROWID; "
                         "PRAGMA user_version = 3;").ok());
    std::string hash(AsBytes(Sha256::Of("s")));
    auto st = db->Prepare("INSERT INTO segments VALUES(?, 1, 8, 100, 60, 0)");
    ASSERT_TRUE(st.ok());
    st->BindBlob(1, hash);
    ASSERT_TRUE(st->Run().ok());
  }
  auto catalog = Catalog::Open(path);
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  EXPECT_EQ(*(*catalog)->database().QueryInt("PRAGMA user_version"), CatalogSchemaVersion());
  auto found = (*catalog)->FindSegment(Sha256::Of("s"));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_FALSE((*found)->in_block());
  EXPECT_EQ((*found)->record.offset, 8u);
  EXPECT_EQ((*found)->raw_length, 60u);
}

TEST(HeaderSimilarityKeyTest, UsesDateFromAndSubjectOnly) {
  auto k1 = HeaderSimilarityKey("Received: a\r\nDate: d\r\nFrom: f\r\nSubject: s\r\n\r\n");
  auto k2 = HeaderSimilarityKey("Received: b\r\nfrom: f\r\nDATE: d\r\nSubject: s\r\nX: y\r\n\r\n");
  auto k3 = HeaderSimilarityKey("Date: d\r\nFrom: f\r\nSubject: other\r\n\r\n");
  ASSERT_TRUE(k1 && k2 && k3);
  EXPECT_EQ(*k1, *k2);
  EXPECT_NE(*k1, *k3);
  EXPECT_FALSE(HeaderSimilarityKey("Subject: s\r\n\r\n").has_value());
  EXPECT_FALSE(HeaderSimilarityKey("Date: d\r\n\r\nFrom: f in the body\r\n").has_value());
}

}  // namespace
}  // namespace mailvault
