#include "archive/mail_import.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "archive/mail_export.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using testing::CanonicalizeForTest;
using testing::WriteFile;

class MailImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ArchiveOptions o;
    o.data_dir = dir_.path() + "/data";
    o.create = true;
    archive_ = std::move(Archive::Open(o)).value();
  }
  ImportSummary Import(const std::vector<std::string>& paths, MboxQuoting q = MboxQuoting::kMboxrd) {
    ImportOptions o;
    o.quoting = q;
    o.commit_every_messages = 2;
    MailImporter importer(archive_.get(), o);
    for (const auto& p : paths) EXPECT_TRUE(importer.Import(p).ok());
    EXPECT_TRUE(importer.Finish().ok());
    return importer.summary();
  }
  std::string Path(const std::string& name) { return dir_.path() + "/" + name; }
  bool Has(const std::string& canonical) {
    auto info = archive_->Info(Sha256::Of(canonical));
    return info.ok();
  }
  std::string Read(const Digest& id) {
    std::string out;
    EXPECT_TRUE(archive_->ReadMessage(id, [&](std::string_view c) { out.append(c); return Status::Ok(); }).ok());
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Archive> archive_;
};

TEST_F(MailImportTest, MboxrdSplitsAndUnquotes) {
  WriteFile(Path("box.mbox"),
            "From alice@example.com Mon Jan  1 00:00:00 2001\n"
            "Subject: one\n\nbody\n>From here\n>>From there\n\n"
            "From bob@example.com Mon Jan  1 00:00:01 2001\n"
            "Subject: two\n\nsecond\n\n\n"
            "From carol Mon Jan  1 00:00:02 2001\n"
            "Subject: three\n\nlast\n");
  auto s = Import({Path("box.mbox")});
  EXPECT_EQ(s.read, 3u);
  EXPECT_EQ(s.added, 3u);
  EXPECT_TRUE(s.refused.empty());
  EXPECT_TRUE(Has(CanonicalizeForTest("Subject: one\n\nbody\nFrom here\n>From there\n")));
  EXPECT_TRUE(Has(CanonicalizeForTest("Subject: two\n\nsecond\n\n")));  // one blank kept
  EXPECT_TRUE(Has(CanonicalizeForTest("Subject: three\n\nlast\n")));
}

TEST_F(MailImportTest, MboxoUnquotesOneLevelOnly) {
  WriteFile(Path("o.mbox"), "From x Mon Jan  1 00:00:00 2001\nSubject: o\n\n>From a\n>>From b\n");
  Import({Path("o.mbox")}, MboxQuoting::kMboxo);
  EXPECT_TRUE(Has(CanonicalizeForTest("Subject: o\n\nFrom a\n>>From b\n")));
}

TEST_F(MailImportTest, FromLinesWithoutABlankLineBeforeThemStillSeparate) {
  WriteFile(Path("tight.mbox"), "From -\nSubject: a\n\nA\nFrom -\nSubject: b\n\nB\n");
  auto s = Import({Path("tight.mbox")});
  EXPECT_EQ(s.added, 2u);
  EXPECT_TRUE(Has(CanonicalizeForTest("Subject: a\n\nA\n")));
}

TEST_F(MailImportTest, CrlfMboxWithByteOrderMark) {
  WriteFile(Path("crlf.mbx"), "\xEF\xBB\xBF" "From -\r\nSubject: a\r\n\r\nA\r\n\r\nFrom -\r\nSubject: b\r\n\r\nB\r\n");
  auto s = Import({Path("crlf.mbx")});
  EXPECT_EQ(s.added, 2u);
  EXPECT_TRUE(Has("Subject: a\r\n\r\nA\r\n"));
  EXPECT_TRUE(Has("Subject: b\r\n\r\nB\r\n"));
}

TEST_F(MailImportTest, MaildirAndFoldersAreWalked) {
  std::filesystem::create_directories(Path("md/cur"));
  std::filesystem::create_directories(Path("md/new"));
  std::filesystem::create_directories(Path("md/tmp"));
  std::filesystem::create_directories(Path("md/.Sent/cur"));
  std::filesystem::create_directories(Path("md/.Sent/new"));
  WriteFile(Path("md/cur/1:2,S"), "Subject: cur\n\nc\n");
  WriteFile(Path("md/new/2"), "Subject: new\n\nn\n");
  WriteFile(Path("md/tmp/3"), "Subject: tmp (half-delivered, not mail yet)\n\n");
  WriteFile(Path("md/dovecot-uidlist"), "3 V1 N4\n");
  WriteFile(Path("md/.Sent/cur/4"), "Subject: sent\n\ns\n");
  std::filesystem::create_directories(Path("emls/sub"));
  WriteFile(Path("emls/a.eml"), "Subject: a\n\na\n");
  WriteFile(Path("emls/sub/b.msg"), "Subject: b\n\nb\n");
  WriteFile(Path("emls/README"), "not mail\n");
  auto s = Import({Path("md"), Path("emls")});
  EXPECT_EQ(s.added, 5u);
  EXPECT_EQ(s.skipped_files, 1u);
  EXPECT_TRUE(Has(CanonicalizeForTest("Subject: sent\n\ns\n")));
  EXPECT_FALSE(Has(CanonicalizeForTest("Subject: tmp (half-delivered, not mail yet)\n\n")));
}

TEST_F(MailImportTest, ImportingTwiceAddsNothing) {
  WriteFile(Path("a.eml"), "Subject: a\n\na\n");
  WriteFile(Path("b.mbox"), "From x Mon Jan  1 00:00:00 2001\nSubject: b\n\nb\n");
  auto first = Import({Path("a.eml"), Path("b.mbox")});
  auto second = Import({Path("a.eml"), Path("b.mbox")});
  EXPECT_EQ(first.added, 2u);
  EXPECT_EQ(second.added, 0u);
  EXPECT_EQ(second.duplicate, 2u);
  EXPECT_EQ(archive_->Stats()->messages, 2u);
  EXPECT_EQ(archive_->Stats()->provenance_links, 2u);  // same places: no new links
}

struct BadInput {
  const char* name;
  std::string content;
  bool archived;               // else refused
  const char* reason_part;     // for refusals
};

TEST_F(MailImportTest, BadInputIsArchivedByteExactOrRefusedWithAReason) {
  std::string garbage;
  for (int i = 0; i < 3000; ++i) garbage += static_cast<char>((i * 7919) % 256);
  const BadInput cases[] = {
      {"empty.eml", "", false, "empty message"},
      {"blank.eml", "\n\n  \n", false, "only blank lines"},
      {"garbage.eml", garbage, false, "binary data"},
      {"nul.eml", std::string("Subject: nul\n\nbody\0with\0nuls\n", 29), true, ""},
      {"noseparator.eml", "Subject: only headers\nFrom: x\n", true, ""},
      {"headerless.eml", "This is a simple message not having headers.\n", true, ""},
      {"longline.eml", "Subject: " + std::string(2 << 20, 'L') + "\n\nbody\n", true, ""},
      {"nofrom.mbox", "Subject: an mbox without From lines\n\nx\n", false, "does not start"},
      {"spaces.eml", "    \nSubject: starts with a line of spaces\n\nx\n", true, ""},
  };
  for (const auto& c : cases) WriteFile(Path(c.name), c.content);
  std::vector<std::string> paths;
  for (const auto& c : cases) paths.push_back(Path(c.name));
  paths.push_back(Path("vanished.eml"));
  auto s = Import(paths);
  for (const auto& c : cases) {
    if (c.archived) {
      EXPECT_TRUE(Has(CanonicalizeForTest(c.content))) << c.name;
      EXPECT_EQ(Read(Sha256::Of(CanonicalizeForTest(c.content))), CanonicalizeForTest(c.content)) << c.name;
    } else {
      bool found = false;
      for (const auto& r : s.refused) {
        if (r.path == Path(c.name)) {
          found = true;
          EXPECT_NE(r.reason.find(c.reason_part), std::string::npos) << c.name << ": " << r.reason;
          EXPECT_EQ(r.offset, 0u);
        }
      }
      EXPECT_TRUE(found) << c.name << " was not refused";
    }
  }
  ASSERT_FALSE(s.refused.empty());
  EXPECT_EQ(s.refused.back().path, Path("vanished.eml"));
  EXPECT_NE(s.refused.back().reason.find("no such file"), std::string::npos);
}

TEST_F(MailImportTest, GarbageInsideAnMboxIsRefusedAtItsOffset) {
  std::string garbage(600, '\x01');
  std::string box = "From a Mon Jan  1 00:00:00 2001\nSubject: ok\n\nfine\n\n";
  uint64_t offset = box.size();
  box += "From b Mon Jan  1 00:00:00 2001\n" + garbage + "\n\nFrom c Mon Jan  1 00:00:00 2001\nSubject: ok2\n\nx\n";
  WriteFile(Path("mixed.mbox"), box);
  auto s = Import({Path("mixed.mbox")});
  EXPECT_EQ(s.added, 2u);
  ASSERT_EQ(s.refused.size(), 1u);
  EXPECT_EQ(s.refused[0].offset, offset);
}

TEST_F(MailImportTest, ExportRoundTrips) {
  WriteFile(Path("box.mbox"),
            "From a Mon Jan  1 00:00:00 2001\nSubject: one\n\n>From quoted\nFromage\n\n"
            "From b Mon Jan  1 00:00:00 2001\nSubject: two\n\nends with blank\n\n\n");
  WriteFile(Path("c.eml"), "Subject: three\r\n\r\nbare\rcr and crlf\r\n");
  Import({Path("box.mbox"), Path("c.eml")});
  std::set<Digest> ids;
  ASSERT_TRUE(archive_->ForEachMessage([&](const MessageInfo& i) { ids.insert(i.id); return Status::Ok(); }).ok());
  ASSERT_EQ(ids.size(), 3u);

  ExportSummary summary;
  ASSERT_TRUE(ExportMessages(*archive_, {}, ExportFormat::kEml, Path("out"), nullptr, &summary).ok());
  EXPECT_EQ(summary.messages, 3u);
  for (const Digest& id : ids) {
    std::string file = testing::ReadFile(Path("out/" + ToHex(id) + ".eml"));
    EXPECT_EQ(Sha256::Of(file), id);
  }

  ASSERT_TRUE(ExportMessages(*archive_, {}, ExportFormat::kMbox, Path("all.mbox"), nullptr, &summary).ok());
  testing::TempDir other;
  ArchiveOptions o;
  o.data_dir = other.path() + "/data";
  o.create = true;
  auto second = std::move(Archive::Open(o)).value();
  MailImporter importer(second.get(), {});
  ASSERT_TRUE(importer.Import(Path("all.mbox")).ok());
  ASSERT_TRUE(importer.Finish().ok());
  std::set<Digest> again;
  ASSERT_TRUE(second->ForEachMessage([&](const MessageInfo& i) { again.insert(i.id); return Status::Ok(); }).ok());
  EXPECT_EQ(again, ids);
}

TEST(MboxQuoterTest, QuotesFromLinesAcrossAnyChunking) {
  const std::string in = "From x\r\n>From y\r\n>>>From z\r\nFrom\r\nFro\r\nhello From w\r\n>>>\r\n>";
  const std::string want = ">From x\r\n>>From y\r\n>>>>From z\r\nFrom\r\nFro\r\nhello From w\r\n>>>\r\n>";
  for (size_t chunk = 1; chunk <= in.size(); ++chunk) {
    MboxQuoter q;
    std::string out;
    for (size_t i = 0; i < in.size(); i += chunk) q.Feed(std::string_view(in).substr(i, chunk), &out);
    q.Finish(&out);
    ASSERT_EQ(out, want) << "chunk " << chunk;
  }
}

TEST(WhyNotMailTest, Table) {
  EXPECT_EQ(WhyNotMail("Subject: x\r\n"), "");
  EXPECT_EQ(WhyNotMail("X-Weird-Name_1 : y\r\n"), "");
  EXPECT_EQ(WhyNotMail("plain text, no headers\r\n"), "");
  EXPECT_NE(WhyNotMail(std::string("\x7f" "ELF\x02\x01\x01\0\0\0", 10)), "");
  EXPECT_NE(WhyNotMail(""), "");
  EXPECT_NE(WhyNotMail("\r\n\r\n"), "");
}

}  // namespace
}  // namespace mailvault
