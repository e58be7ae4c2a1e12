#include "archive/pack.h"

#include <gtest/gtest.h>

#include "tests/testing.h"

namespace mailvault {
namespace {

Provenance Prov() { return Provenance{ProvenanceKind::kPop3, 1700000000, "acme", "UID-1"}; }

TEST(PackFormatTest, RecordsRoundTrip) {
  MessageRecord m;
  m.id = Sha256::Of("m");
  m.raw_length = 1234;
  m.archived_at = 99;
  m.segments = {Sha256::Of("a"), Sha256::Of("b")};
  m.provenance = Prov();
  auto back = DecodeMessage(EncodeMessage(m));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id, m.id);
  EXPECT_EQ(back->segments, m.segments);
  EXPECT_EQ(back->provenance, m.provenance);
  EXPECT_EQ(back->raw_length, 1234u);

  auto seg = DecodeSegment(EncodeSegment(Sha256::Of("a"), 5, 2, "frame"));
  ASSERT_TRUE(seg.ok());
  EXPECT_EQ(seg->frame, "frame");
  EXPECT_EQ(seg->dictionary, 2u);

  auto link = DecodeLink(EncodeLink(LinkRecord{m.id, Prov()}));
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->provenance.key, "UID-1");
}

TEST(PackFormatTest, LocatedMessagesRoundTrip) {
  LocatedMessageRecord m;
  m.id = Sha256::Of("m");
  m.raw_length = 77;
  m.archived_at = 1700000001;
  m.segments = {{1, 8, -1}, {3, 300000000, 0}, {0xffffffffu, 0xffffffffffffffffull, 0xfffffffe}};
  m.provenance = Prov();
  std::string payload = EncodeLocatedMessage(m);
  auto back = DecodeLocatedMessage(payload);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, m.id);
  EXPECT_EQ(back->raw_length, 77u);
  EXPECT_EQ(back->archived_at, 1700000001);
  EXPECT_EQ(back->segments, m.segments);
  EXPECT_EQ(back->provenance, m.provenance);
  // A small reference costs 3 bytes, not a 32-byte hash.
  LocatedMessageRecord one = m;
  one.segments = {{1, 8, -1}};
  EXPECT_EQ(EncodeLocatedMessage(one).size(), 52u + 3u + 4u + 1u + 8u + 4u + 4u + 5u);

  for (size_t cut = 0; cut < payload.size(); cut += 3) {
    EXPECT_EQ(DecodeLocatedMessage(payload.substr(0, cut)).status().code(), StatusCode::kCorruption) << cut;
  }
  std::string pack0 = EncodeLocatedMessage(LocatedMessageRecord{m.id, 1, 1, {{0, 8, -1}}, Prov()});
  EXPECT_FALSE(DecodeLocatedMessage(pack0).ok());  // pack ids start at 1
  std::string endless = payload.substr(0, 52) + std::string(11, '\xff') + "\x01";
  EXPECT_FALSE(DecodeLocatedMessage(endless).ok());  // a varint longer than 64 bits

  // Inside a manifests record, next to the older entry types.
  auto manifests = EncodeManifests({{RecordType::kLocatedMessage, payload},
                                    {RecordType::kLink, EncodeLink(LinkRecord{m.id, Prov()})}}, 3);
  ASSERT_TRUE(manifests.ok());
  auto entries = DecodeManifests(*manifests);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].type, RecordType::kLocatedMessage);
  EXPECT_EQ((*entries)[0].payload, payload);
  // On its own it is no record type.
  RecordType type;
  uint32_t length;
  EXPECT_FALSE(DecodeRecordHeader(EncodeRecord(RecordType::kLocatedMessage, payload), &type, &length).ok());
}

TEST(PackFormatTest, BlocksRoundTrip) {
  std::vector<BlockEntry> entries{{Sha256::Of("a"), 3}, {Sha256::Of("b"), 0}, {Sha256::Of("c"), 9}};
  std::string payload = EncodeBlock(4, 12, entries, "zstd frame");
  auto back = DecodeBlock(payload);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->dictionary, 4u);
  EXPECT_EQ(back->raw_length, 12u);
  ASSERT_EQ(back->entries.size(), 3u);
  EXPECT_EQ(back->entries[2].hash, Sha256::Of("c"));
  EXPECT_EQ(back->entries[2].length, 9u);
  EXPECT_EQ(back->frame, "zstd frame");

  for (size_t cut = 0; cut < 13 + 3 * 36; cut += 5) {
    EXPECT_EQ(DecodeBlock(payload.substr(0, cut)).status().code(), StatusCode::kCorruption) << cut;
  }
  EXPECT_FALSE(DecodeBlock(EncodeBlock(4, 13, entries, "f")).ok());  // lengths do not add up
  std::string future = payload;
  future[0] = 2;  // a block version this reader does not know
  EXPECT_NE(DecodeBlock(future).status().message().find("version"), std::string::npos);
}

TEST(PackFormatTest, MalformedPayloadsAreCorruption) {
  MessageRecord m;
  m.segments = {Sha256::Of("a")};
  std::string good = EncodeMessage(m);
  for (size_t cut = 0; cut < good.size(); cut += 7) {
    EXPECT_EQ(DecodeMessage(good.substr(0, cut)).status().code(), StatusCode::kCorruption);
  }
  std::string huge_count = good;
  huge_count[48] = '\xff';  // segment count
  EXPECT_FALSE(DecodeMessage(huge_count).ok());
  EXPECT_FALSE(DecodeLink("short").ok());
  EXPECT_FALSE(DecodeDictionary(std::string(8, '\0')).ok());  // id 0 is reserved
}

class PackTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::string path() const { return dir_.path() + "/" + PackFileName(1); }
};

TEST_F(PackTest, FileNames) {
  EXPECT_EQ(PackFileName(7), "pack-000007.mvp");
  EXPECT_EQ(ParsePackFileName("pack-000007.mvp"), 7u);
  EXPECT_EQ(ParsePackFileName("pack-7.mvp"), 0u);
  EXPECT_EQ(ParsePackFileName("catalog.sqlite"), 0u);
}

TEST_F(PackTest, AppendReadAndScan) {
  auto w = PackWriter::Open(FileSystem::Posix(), dir_.path(), 1);
  ASSERT_TRUE(w.ok());
  auto a = (*w)->Append(RecordType::kLink, EncodeLink(LinkRecord{Sha256::Of("x"), Prov()}));
  auto b = (*w)->Append(RecordType::kSegment, EncodeSegment(Sha256::Of("y"), 1, 0, "zz"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*w)->Sync().ok());
  EXPECT_EQ(a->offset, kPackMagic.size());
  EXPECT_EQ(b->offset, a->offset + a->length);

  auto r = PackReader::Open(path(), 1);
  ASSERT_TRUE(r.ok());
  std::string payload;
  ASSERT_TRUE((*r)->ReadRecord(b->offset, RecordType::kSegment, &payload).ok());
  EXPECT_EQ(DecodeSegment(payload)->frame, "zz");
  EXPECT_EQ((*r)->ReadRecord(b->offset, RecordType::kMessage, &payload).code(), StatusCode::kCorruption);

  std::vector<RecordType> seen;
  ScanOutcome outcome;
  ASSERT_TRUE(ScanPack(path(), {}, [&](const ScannedRecord& rec) {
    seen.push_back(rec.type);
    return Status::Ok();
  }, &outcome).ok());
  EXPECT_EQ(seen, (std::vector<RecordType>{RecordType::kLink, RecordType::kSegment}));
  EXPECT_FALSE(outcome.damaged);
  EXPECT_EQ(outcome.end, b->offset + b->length);
}

TEST_F(PackTest, TornTailAndMidFileDamageAreTold) {
  auto w = PackWriter::Open(FileSystem::Posix(), dir_.path(), 1);
  ASSERT_TRUE(w.ok());
  std::vector<RecordLocation> locs;
  for (int i = 0; i < 3; ++i) {
    locs.push_back(*(*w)->Append(RecordType::kSegment, EncodeSegment(Sha256::Of("s"), 1, 0, "frame")));
  }
  std::string bytes = testing::ReadFile(path());

  // A record cut short at the end: a torn tail.
  testing::WriteFile(path(), bytes.substr(0, bytes.size() - 3));
  ScanOutcome outcome;
  auto count = [](const ScannedRecord&) { return Status::Ok(); };
  ASSERT_TRUE(ScanPack(path(), {}, count, &outcome).ok());
  EXPECT_TRUE(outcome.damaged);
  EXPECT_TRUE(outcome.damage_is_tail);
  EXPECT_EQ(outcome.damage_offset, locs[2].offset);
  EXPECT_EQ(outcome.end, locs[2].offset);

  // A flipped byte in the middle record: stop there, or skip it when asked.
  std::string flipped = bytes;
  flipped[locs[1].offset + kRecordHeaderSize + 3] ^= 0x40;
  testing::WriteFile(path(), flipped);
  ASSERT_TRUE(ScanPack(path(), {}, count, &outcome).ok());
  EXPECT_TRUE(outcome.damaged);
  EXPECT_FALSE(outcome.damage_is_tail);
  EXPECT_EQ(outcome.damage_offset, locs[1].offset);
  ScanOptions skip;
  skip.skip_bad_records = true;
  int good = 0;
  ASSERT_TRUE(ScanPack(path(), skip, [&](const ScannedRecord&) { ++good; return Status::Ok(); }, &outcome).ok());
  EXPECT_EQ(good, 2);
  ASSERT_EQ(outcome.skipped.size(), 1u);
  EXPECT_EQ(outcome.skipped[0].first, locs[1].offset);

  testing::WriteFile(path(), "not a pack");
  EXPECT_EQ(ScanPack(path(), {}, count, &outcome).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace mailvault
