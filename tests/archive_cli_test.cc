// End-to-end tests of the archive commands, driving the built `mailvault` binary.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "archive/canonical.h"
#include "base/sha256.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::RunProcess;

ProcessResult Mailvault(const std::string& data, std::vector<std::string> args) {
  std::vector<std::string> argv = {testing::MailvaultBinary(), "--data", data};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv);
}

// What the test expects the archive to hold for one input file, computed the
// simple way: a whole .eml canonicalised, or an mbox split at "From " lines.
std::vector<std::string> ExpectedMessages(const std::string& path) {
  std::string raw = testing::ReadFile(path);
  std::string_view view = raw;
  if (view.substr(0, 3) == "\xEF\xBB\xBF") view.remove_prefix(3);
  if (view.substr(0, 5) != "From ") return {testing::CanonicalizeForTest(raw)};
  std::vector<std::string> out;
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < view.size()) {
    size_t nl = view.find('\n', pos);
    size_t end = nl == std::string_view::npos ? view.size() : nl + 1;
    lines.emplace_back(view.substr(pos, end - pos));
    pos = end;
  }
  std::string current;
  bool open = false;
  auto close = [&] {
    // One empty line before the next "From " belongs to the mbox, not the message.
    if (current.size() >= 2 && current.compare(current.size() - 2, 2, "\r\n") == 0 &&
        (current.size() == 2 || current[current.size() - 3] == '\n')) {
      current.resize(current.size() - 2);
    } else if (!current.empty() && current.back() == '\n' &&
               (current.size() == 1 || current[current.size() - 2] == '\n')) {
      current.pop_back();
    }
    out.push_back(testing::CanonicalizeForTest(current));
  };
  for (const std::string& line : lines) {
    if (line.rfind("From ", 0) == 0) {
      if (open) close();
      current.clear();
      open = true;
      continue;
    }
    size_t q = line.find_first_not_of('>');
    if (q != std::string::npos && q >= 1 && line.compare(q, 5, "From ") == 0) {
      current += line.substr(1);
    } else {
      current += line;
    }
  }
  if (open) close();
  return out;
}

bool LooksLikeMailFile(const fs::path& p) {
  std::string name = p.filename().string();
  return name != "README.md" && name != "MANIFEST.tsv";
}

class ArchiveCliTest : public ::testing::Test {
 protected:
  std::string Data() const { return dir_.path() + "/data"; }
  testing::TempDir dir_;
};

TEST_F(ArchiveCliTest, CorpusRoundTripsByteExactAndImportIsIdempotent) {
  std::vector<std::string> corpora = {testing::TestData("corpus")};
  // The full shared corpus too, when it is beside the checkout (developers, CI).
  std::string shared = testing::SourceDir() + "/../shared/corpus";
  if (fs::is_directory(shared)) corpora.push_back(shared);

  for (const std::string& corpus : corpora) {
    SCOPED_TRACE(corpus);
    testing::TempDir dir;
    std::string data = dir.path() + "/data";
    ProcessResult first = Mailvault(data, {"import", corpus});
    ASSERT_TRUE(first.exit_code == 0 || first.exit_code == 2) << first.err;

    // Every input message, computed independently, must come back byte-exact.
    std::set<Digest> expected;
    std::set<std::string> refused_files;
    for (const auto& line : {first.err}) {
      size_t p = 0;
      while ((p = line.find("refused: ", p)) != std::string::npos) {
        size_t at = line.find(" at byte ", p);
        refused_files.insert(line.substr(p + 9, at - p - 9));
        p = at;
      }
    }
    size_t files = 0;
    for (const auto& e : fs::recursive_directory_iterator(corpus)) {
      if (!e.is_regular_file() || !LooksLikeMailFile(e.path())) continue;
      std::string ext = e.path().extension().string();
      if (ext == ".json" || e.path().filename() == "COPYING") continue;
      ++files;
      if (refused_files.count(e.path().string())) continue;
      for (const std::string& m : ExpectedMessages(e.path().string())) expected.insert(Sha256::Of(m));
    }
    // The only refusal in these corpora: a file holding a single empty line.
    ASSERT_EQ(refused_files.size(), 1u) << first.err;
    EXPECT_NE(refused_files.begin()->find("bsmtpnull.eml"), std::string::npos);
    EXPECT_GT(files, 1000u);

    // As imported, and again after a compaction rewrote every pack.
    for (const char* stage : {"imported", "compacted"}) {
      SCOPED_TRACE(stage);
      if (std::string(stage) == "compacted") {
        ProcessResult compact = Mailvault(data, {"compact"});
        ASSERT_EQ(compact.exit_code, 0) << compact.err;
        EXPECT_NE(compact.out.find("compact: packs 1..1"), std::string::npos) << compact.out;
      }
      std::string out = dir.path() + "/eml-" + stage;
      ProcessResult exp = Mailvault(data, {"export", "--format", "eml", "--out", out});
      ASSERT_EQ(exp.exit_code, 0) << exp.err;
      std::set<Digest> exported;
      for (const auto& e : fs::directory_iterator(out)) {
        std::string content = testing::ReadFile(e.path().string());
        Digest d = Sha256::Of(content);
        EXPECT_EQ(e.path().filename().string(), ToHex(d) + ".eml");
        exported.insert(d);
      }
      std::vector<std::string> missing, extra;
      for (const Digest& d : expected) {
        if (!exported.count(d)) missing.push_back(ToHex(d));
      }
      for (const Digest& d : exported) {
        if (!expected.count(d)) extra.push_back(ToHex(d));
      }
      EXPECT_TRUE(missing.empty()) << missing.size() << " expected messages not exported, e.g. " << missing[0];
      EXPECT_TRUE(extra.empty()) << extra.size() << " unexpected messages exported, e.g. " << extra[0];
    }

    ProcessResult second = Mailvault(data, {"import", corpus});
    EXPECT_NE(second.out.find(", new 0,"), std::string::npos) << second.out;
    ProcessResult stats = Mailvault(data, {"stats", "--json"});
    EXPECT_NE(stats.out.find("\"messages\":" + std::to_string(expected.size())), std::string::npos)
        << stats.out;
  }
}

TEST_F(ArchiveCliTest, MboxExportReimportsToTheSameIds) {
  ASSERT_EQ(Mailvault(Data(), {"import", testing::TestData("corpus/mimekit")}).exit_code, 0);
  std::string box = dir_.path() + "/all.mbox";
  ASSERT_EQ(Mailvault(Data(), {"export", "--format", "mbox", "--out", box}).exit_code, 0);
  std::string other = dir_.path() + "/other";
  ProcessResult r = Mailvault(other, {"import", box});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = Mailvault(Data(), {"stats", "--json"});
  auto b = Mailvault(other, {"stats", "--json"});
  auto field = [](const std::string& json, const std::string& key) {
    size_t p = json.find("\"" + key + "\":");
    return json.substr(p, json.find_first_of(",}", p) - p);
  };
  EXPECT_EQ(field(a.out, "messages"), field(b.out, "messages"));
  EXPECT_EQ(field(a.out, "raw_bytes"), field(b.out, "raw_bytes"));
}

TEST_F(ArchiveCliTest, RebuildFromPacksGivesTheSameStats) {
  ASSERT_EQ(Mailvault(Data(), {"import", testing::TestData("corpus/enron")}).exit_code, 0);
  ProcessResult before = Mailvault(Data(), {"stats", "--json"});
  for (const char* s : {"", "-wal", "-shm"}) fs::remove(Data() + "/catalog.sqlite" + s);
  ProcessResult rebuild = Mailvault(Data(), {"rebuild"});
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.err;
  ProcessResult after = Mailvault(Data(), {"stats", "--json"});
  // Catalog size may differ (fresh file); everything else must match.
  auto strip = [](std::string json) {
    size_t p = json.find("\"catalog_bytes\":");
    json.erase(p, json.find_first_of(",}", p) + 1 - p);
    return json;
  };
  EXPECT_EQ(strip(after.out), strip(before.out));
  EXPECT_EQ(Mailvault(Data(), {"verify"}).exit_code, 0);
}

TEST_F(ArchiveCliTest, CompactShrinksThePacksAndKeepsEveryMessage) {
  ASSERT_EQ(Mailvault(Data(), {"import", testing::TestData("corpus/enron")}).exit_code, 0);
  auto field = [](const std::string& json, const std::string& key) {
    size_t p = json.find("\"" + key + "\":") + key.size() + 3;
    return std::stoull(json.substr(p, json.find_first_of(",}", p) - p));
  };
  ProcessResult before = Mailvault(Data(), {"stats", "--json"});
  ProcessResult compact = Mailvault(Data(), {"compact"});
  ASSERT_EQ(compact.exit_code, 0) << compact.err;
  EXPECT_NE(compact.out.find(std::to_string(field(before.out, "messages")) + " messages checked"),
            std::string::npos)
      << compact.out;
  ProcessResult after = Mailvault(Data(), {"stats", "--json"});
  EXPECT_EQ(field(before.out, "uncompacted_bytes"), field(before.out, "stored_bytes"));
  EXPECT_EQ(field(after.out, "uncompacted_bytes"), 0u);
  EXPECT_EQ(field(after.out, "messages"), field(before.out, "messages"));
  EXPECT_EQ(field(after.out, "raw_bytes"), field(before.out, "raw_bytes"));
  EXPECT_LT(field(after.out, "stored_bytes"), field(before.out, "stored_bytes") * 9 / 10);
  ProcessResult again = Mailvault(Data(), {"compact"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("nothing written since the last compaction"), std::string::npos) << again.out;
  EXPECT_EQ(Mailvault(Data(), {"verify"}).exit_code, 0);
  ProcessResult missing = Mailvault(dir_.path() + "/nowhere", {"compact"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no archive at"), std::string::npos) << missing.err;
}

TEST_F(ArchiveCliTest, VerifyFindsAFlippedByteAndNamesTheMessage) {
  std::string eml = dir_.path() + "/one.eml";
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "line " + std::to_string(i * 7919 % 10007) + " of the body\n";
  testing::WriteFile(eml, "Subject: victim\n\n" + body);
  ASSERT_EQ(Mailvault(Data(), {"import", eml}).exit_code, 0);
  ASSERT_EQ(Mailvault(Data(), {"verify"}).exit_code, 0);
  std::string id = ToHex(Sha256::Of(testing::CanonicalizeForTest("Subject: victim\n\n" + body)));

  std::string pack = Data() + "/packs/pack-000001.mvp";
  std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  f.seekp(size / 2);  // inside the body segment, the biggest record
  char c;
  f.seekg(size / 2);
  f.get(c);
  f.seekp(size / 2);
  f.put(static_cast<char>(c ^ 0x10));
  f.close();

  ProcessResult v = Mailvault(Data(), {"verify"});
  EXPECT_NE(v.exit_code, 0);
  EXPECT_NE(v.err.find("message " + id), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("pack-000001.mvp offset"), std::string::npos) << v.err;
  ProcessResult cat = Mailvault(Data(), {"cat", id.substr(0, 12)});
  EXPECT_NE(cat.exit_code, 0);
  EXPECT_NE(cat.err.find("corruption"), std::string::npos);
}

TEST_F(ArchiveCliTest, CatAcceptsPrefixesAndRefusesBadIds) {
  std::string eml = dir_.path() + "/m.eml";
  testing::WriteFile(eml, "Subject: hi\n\nhello\n");
  ASSERT_EQ(Mailvault(Data(), {"import", eml}).exit_code, 0);
  std::string canonical = testing::CanonicalizeForTest("Subject: hi\n\nhello\n");
  std::string id = ToHex(Sha256::Of(canonical));
  ProcessResult cat = Mailvault(Data(), {"cat", id.substr(0, 12)});
  EXPECT_EQ(cat.exit_code, 0);
  EXPECT_EQ(cat.out, canonical);
  EXPECT_NE(Mailvault(Data(), {"cat", "abc"}).exit_code, 0);
  EXPECT_NE(Mailvault(Data(), {"cat", std::string(64, '0')}).err.find("no message"), std::string::npos);
  ProcessResult missing = Mailvault(dir_.path() + "/nowhere", {"stats"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("mailvault init"), std::string::npos);
}

// Writes a message of about `bytes` bytes with LF lines and returns the SHA-256 of
// its canonical form, computed while writing.
Digest WriteHugeMessage(const std::string& path, uint64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  Sha256 hash;
  Canonicalizer canon;
  std::string canonical;
  auto emit = [&](const std::string& raw) {
    out.write(raw.data(), static_cast<std::streamsize>(raw.size()));
    canonical.clear();
    canon.Feed(raw, &canonical);
    hash.Update(canonical);
  };
  emit("Subject: a very large message\nContent-Type: application/octet-stream\n\n");
  uint32_t x = 2463534242u;
  std::string block;
  uint64_t written = 0;
  while (written < bytes) {
    block.clear();
    for (int line = 0; line < 1000; ++line) {
      for (int i = 0; i < 76; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        block += static_cast<char>('A' + x % 26);
      }
      block += '\n';
    }
    emit(block);
    written += block.size();
  }
  canonical.clear();
  canon.Finish(&canonical);
  hash.Update(canonical);
  return hash.Finish();
}

TEST_F(ArchiveCliTest, AHugeMessageStreamsThroughBoundedMemory) {
  std::string path = dir_.path() + "/huge.eml";
  Digest id = WriteHugeMessage(path, 200ull << 20);
  ProcessResult imp = Mailvault(Data(), {"import", path});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  std::printf("200 MB message: import peak RSS %ld KiB\n", imp.max_rss_kib);
  EXPECT_LT(imp.max_rss_kib, 96 * 1024) << "import peak RSS " << imp.max_rss_kib << " KiB";

  std::string out = dir_.path() + "/out";
  ProcessResult exp = Mailvault(Data(), {"export", "--format", "eml", "--out", out});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  EXPECT_LT(exp.max_rss_kib, 96 * 1024) << "export peak RSS " << exp.max_rss_kib << " KiB";
  std::string exported = out + "/" + ToHex(id) + ".eml";
  ASSERT_TRUE(fs::exists(exported));
  EXPECT_GT(fs::file_size(exported), 200ull << 20);
  ProcessResult verify = Mailvault(Data(), {"verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_LT(verify.max_rss_kib, 96 * 1024);
}

TEST_F(ArchiveCliTest, AFullDiskRefusesCleanlyAndKeepsWhatWasCommitted) {
  std::string small = dir_.path() + "/small";
  fs::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=3m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{small};

  // 60 incompressible messages of 100 KB: far more than 3 MB.
  std::string box = dir_.path() + "/big.mbox";
  {
    std::ofstream out(box, std::ios::binary);
    uint32_t x = 88172645u;
    for (int m = 0; m < 60; ++m) {
      out << "From sender Mon Jan  1 00:00:00 2001\nSubject: filler " << m << "\n\n";
      for (int line = 0; line < 1300; ++line) {
        std::string l;
        for (int i = 0; i < 76; ++i) {
          x ^= x << 13;
          x ^= x >> 17;
          x ^= x << 5;
          l += static_cast<char>('!' + x % 90);
        }
        if (l[0] == 'F') l[0] = 'G';
        out << l << "\n";
      }
      out << "\n";
    }
  }
  std::string data = small + "/data";
  ProcessResult imp = Mailvault(data, {"import", "--commit-every", "5", "--report-commits", box});
  EXPECT_EQ(imp.exit_code, 1);
  EXPECT_NE(imp.err.find("no space"), std::string::npos) << imp.err;
  std::set<std::string> committed;
  size_t p = 0;
  while ((p = imp.out.find("committed ", p)) != std::string::npos) {
    committed.insert(imp.out.substr(p + 10, 64));
    p += 10;
  }
  EXPECT_GE(committed.size(), 5u);
  EXPECT_LT(committed.size(), 60u);

  // What was committed is intact and readable.
  ProcessResult verify = Mailvault(data, {"verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;
  for (const std::string& id : committed) {
    ProcessResult cat = Mailvault(data, {"cat", id});
    ASSERT_EQ(cat.exit_code, 0) << cat.err;
    EXPECT_EQ(ToHex(Sha256::Of(cat.out)), id);
  }
}


TEST_F(ArchiveCliTest, ExportByQueryWritesOnlyTheMatches) {
  std::string a = dir_.path() + "/a.eml", b = dir_.path() + "/b.eml";
  testing::WriteFile(a, "Subject: alpha report\nFrom: a@example.com\nDate: Mon, 1 Jan 2001 00:00:00 +0000\n\none\n");
  testing::WriteFile(b, "Subject: beta plan\nFrom: b@example.org\nDate: Mon, 1 Jan 2001 00:00:00 +0000\n\ntwo\n");
  ASSERT_EQ(Mailvault(Data(), {"import", a, b}).exit_code, 0);
  std::string out = dir_.path() + "/out";
  ProcessResult r = Mailvault(Data(), {"export", "--format", "eml", "--out", out, "subject:alpha"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(out)) files.push_back(e.path().filename().string());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], ToHex(Sha256::Of(testing::CanonicalizeForTest(testing::ReadFile(a)))) + ".eml");

  ProcessResult none = Mailvault(Data(), {"export", "--format", "mbox", "--out", dir_.path() + "/x.mbox", "zzzunmatched"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_NE(none.out.find("no message matches"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_.path() + "/x.mbox"));
  ProcessResult bad = Mailvault(Data(), {"export", "--format", "eml", "--out", out, "subject:("});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("column"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace mailvault
