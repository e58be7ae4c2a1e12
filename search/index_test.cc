// The index on real mail: the repository's corpus (tests/data/corpus and
// tests/data/mime) plus a few messages made here for facts the corpus lacks (a
// PDF attachment, one attachment of each office format, damaged office attachments,
// a Latin-1 body, an HTML-only body with script and style, a
// POP3 account). A table of queries with the messages each MUST and MUST NOT
// return; reindex gives identical results (the query table and every document,
// term for term); a crash mid-batch (a child process
// that _exit()s with a batch open) is resumed with every message indexed once.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xapian.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <ctime>
#include <memory>
#include <map>
#include <set>

#include "archive/archive.h"
#include "archive/catalog.h"
#include "archive/mail_import.h"
#include "base/sha256.h"
#include "search/document_cache.h"
#include "search/index_schema.h"
#include "search/index_search.h"
#include "search/indexer.h"
#include "search/query.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using testing::TestData;

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
    if (out.size() % 77 == 76) out += "\n";
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Messages made here; each fact below is stated in its text.
std::map<std::string, std::string> MadeMessages() {
  std::map<std::string, std::string> m;
  m["pdf"] =
      "From: Billing Dept <billing@acme.example>\nTo: Carol Client <carol@client.example>\n"
      "Cc: Dave Auditor <dave@audit.example>\nBcc: Erin Hidden <erin@hidden.example>\n"
      "Subject: Your invoice for March\nDate: Tue, 14 Mar 2023 10:00:00 +0000\n"
      "Message-ID: <pdf-1@acme.example>\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=b1\n\n"
      "--b1\nContent-Type: text/plain\n\nPlease pay within thirty days.\n"
      "--b1\nContent-Type: application/pdf; name=\"invoice.pdf\"\n"
      "Content-Disposition: attachment; filename=\"invoice.pdf\"\n"
      "Content-Transfer-Encoding: base64\n\n" +
      Base64(testing::ReadFile(TestData("mime/invoice.pdf"))) + "\n--b1--\n";
  m["latin1"] =
      "From: Hans Huber <hans@example.de>\nTo: Carol Client <carol@client.example>\n"
      "Subject: Latin-1 greeting\nDate: Thu, 01 Jul 2021 08:00:00 +0200\n"
      "Message-ID: <latin1-1@example.de>\nMIME-Version: 1.0\n"
      "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n"
      "Gr\xfc\xdf" "e aus M\xfcnchen und ein Caf\xe9 f\xfcr alle.\n";
  m["html"] =
      "From: Boss <boss@corp.example>\nTo: Team <team@corp.example>\n"
      "Subject: Meeting\nDate: Wed, 30 Nov 2022 09:00:00 +0000\n"
      "Message-ID: <html-1@corp.example>\nMIME-Version: 1.0\n"
      "Content-Type: text/html; charset=utf-8\n\n"
      "<html><head><title>secrettitle</title><style>.secretstyle{color:red}</style>"
      "<script>var hiddenscript = 1;</script></head>"
      "<body><p>Quarterly <b>budget</b> meeting &amp; agenda</p></body></html>\n";
  m["encoded"] =
      "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>\n"
      "To: Carol Client <carol@client.example>\n"
      "Subject: =?UTF-8?B?UmVjaG51bmcgZsO8ciBNw6Ryeg==?=\n"
      "Date: Fri, 30 Jun 2023 18:00:00 +0000\nMessage-ID: <encoded-1@example.de>\n\n"
      "Anbei die Unterlagen.\n";
  // One message per office format (tests/data/office), each found by its word.
  struct Office {
    std::string name;  // also the file's extension
    std::string file;  // in tests/data/office
    std::string type;
  };
  const Office office[] = {
      {"docx", "marmoset.docx",
       "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xlsx", "narwhal.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"doc", "wombat.doc", "application/msword"},
      {"xls", "capybara.xls", "application/vnd.ms-excel"},
      {"odt", "axolotl.odt", "application/vnd.oasis.opendocument.text"},
      {"ods", "pangolin.ods", "application/vnd.oasis.opendocument.spreadsheet"},
      {"odp", "okapi.odp", "application/vnd.oasis.opendocument.presentation"},
      {"pptx", "quokka.pptx",
       "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
  };
  for (const Office& o : office) {
    m[o.name] = "From: Office <office@corp.example>\nTo: Team <team@corp.example>\n"
                "Subject: the " + o.name + " file\nDate: Mon, 04 Mar 2024 09:00:00 +0000\n"
                "Message-ID: <" + o.name + "-1@corp.example>\nMIME-Version: 1.0\n"
                "Content-Type: multipart/mixed; boundary=b1\n\n"
                "--b1\nContent-Type: text/plain\n\nSee the attached file.\n"
                "--b1\nContent-Type: " + o.type + "; name=\"" + o.file + "\"\n"
                "Content-Disposition: attachment; filename=\"" + o.file + "\"\n"
                "Content-Transfer-Encoding: base64\n\n" +
                Base64(testing::ReadFile(TestData("office/" + o.file))) + "\n--b1--\n";
  }
  // Damaged office attachments do not keep the rest of the message out.
  const std::string xlsx = testing::ReadFile(TestData("office/narwhal.xlsx"));
  m["damaged"] =
      "From: Office <office@corp.example>\nTo: Team <team@corp.example>\n"
      "Subject: damaged files\nDate: Mon, 04 Mar 2024 10:00:00 +0000\n"
      "Message-ID: <damaged-1@corp.example>\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=b1\n\n"
      "--b1\nContent-Type: text/plain\n\nThe quetzal survey is attached twice.\n"
      "--b1\nContent-Type: application/octet-stream; name=\"survey.docx\"\n"
      "Content-Transfer-Encoding: base64\n\n" +
      Base64(std::string("PK\x03\x04", 4) + std::string(300, 'x')) +
      "\n--b1\nContent-Type: application/octet-stream; name=\"survey.xlsx\"\n"
      "Content-Transfer-Encoding: base64\n\n" +
      Base64(xlsx.substr(0, xlsx.size() / 2)) + "\n--b1--\n";
  m["japanese"] =
      "From: Tanaka <tanaka@example.jp>\nTo: Carol Client <carol@client.example>\n"
      "Subject: =?UTF-8?B?5Lya6K2w?=\nDate: Mon, 02 Jan 2023 01:00:00 +0900\n"
      "Message-ID: <ja-1@example.jp>\nContent-Type: text/plain; charset=utf-8\n\n"
      "会議の議事録を送ります。\n";
  return m;
}

const char kPop3Message[] =
    "From: Ops <ops@pop.example>\r\nTo: Carol Client <carol@client.example>\r\n"
    "Subject: rotation schedule\r\nDate: Fri, 05 Jan 2024 12:00:00 +0000\r\n"
    "Message-ID: <pop-1@pop.example>\r\n\r\nThe on-call rotation for January.\r\n";

std::set<std::string> AllIds(Archive& archive) {
  std::set<std::string> ids;
  EXPECT_TRUE(archive
                  .ForEachMessage([&](const MessageInfo& info) {
                    ids.insert(ToHex(info.id));
                    return Status::Ok();
                  })
                  .ok());
  return ids;
}

// One archive for the whole suite (importing and indexing the corpus is the
// slow part); tests that change the index use their own copies.
class CorpusIndexTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    ArchiveOptions o;
    o.data_dir = dir_->path() + "/data";
    o.create = true;
    auto archive = Archive::Open(o);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    archive_ = archive->release();

    // Named messages first, one at a time, to learn each one's archive id.
    std::map<std::string, std::string> files;
    for (const auto& [name, text] : MadeMessages()) {
      std::string path = dir_->path() + "/" + name + ".eml";
      testing::WriteFile(path, text);
      files[name] = path;
    }
    for (const char* corpus_file :
         {"mime/spamassassin__spam_2__00977.6b7587a392363b73c8312b72b4972c24.eml",
          "mime/spamassassin__spam_2__00789.ffe4e3c5dc50f5a9ac33a653b5f8b566.eml",
          "mime/ruby-mail__multi_charset__ks_c_5601-1987.eml",
          "mime/spamassassin-testdata__nice__cjk__iso-2022-jp.1.eml",
          "mime/ruby-mail__multi_charset__japanese_iso_2022.eml",
          "corpus/ruby-mail/attachment_emails/attachment_with_quoted_filename.eml",
          "corpus/stalwart-mail-parser/legacy/045.eml",
          "corpus/spamassassin-testdata/nice/004.eml",
          "corpus/spamassassin-testdata/spam/hashbl.eml",
          "mime/spamassassin__spam_2__01359.deafa1d42658c6624c6809a446b7f369.eml"}) {
      std::string name = corpus_file;
      name = name.substr(name.rfind('/') + 1);
      files[name] = TestData(corpus_file);
    }
    for (const auto& [name, path] : files) {
      std::set<std::string> before = AllIds(*archive_);
      MailImporter importer(archive_, ImportOptions());
      ASSERT_TRUE(importer.Import(path).ok()) << path;
      ASSERT_TRUE(importer.Finish().ok());
      std::set<std::string> after = AllIds(*archive_);
      for (const std::string& id : after) {
        if (!before.count(id)) (*ids_)[name] = id;
      }
      ASSERT_TRUE(ids_->count(name)) << name << " added no message";
    }
    // A message collected by POP3, so that it has an account.
    {
      auto batch = archive_->NewBatch();
      ASSERT_TRUE(batch->BeginMessage().ok());
      ASSERT_TRUE(batch->Write(kPop3Message).ok());
      Provenance p;
      p.kind = ProvenanceKind::kPop3;
      p.source = "work-pop3";
      p.key = "uidl-1";
      auto done = batch->FinishMessage(p);
      ASSERT_TRUE(done.ok());
      ASSERT_TRUE(batch->Commit().ok());
      (*ids_)["pop3"] = ToHex(done->id);
    }
    // Then everything else.
    MailImporter importer(archive_, ImportOptions());
    ASSERT_TRUE(importer.Import(TestData("corpus")).ok());
    ASSERT_TRUE(importer.Import(TestData("mime")).ok());
    ASSERT_TRUE(importer.Finish().ok());

    auto start = std::chrono::steady_clock::now();
    auto indexer = Indexer::Open(IndexDirectory(o.data_dir), IndexerOptions());
    ASSERT_TRUE(indexer.ok()) << indexer.status().ToString();
    auto report = (*indexer)->IndexPending(*archive_);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    index_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    indexed_ = report->indexed;
  }
  static void TearDownTestSuite() {
    delete archive_;
    delete dir_;
  }

  void EveryMessageIsIndexedOnce();
  void QueriesReturnKnownFacts();
  void SharedCacheGivesTheSameAnswers();
  void IdPrefixFindsTheArchiveId();
  void SortPagingSnippetsAndFacets();
  void ReindexGivesIdenticalResults();

  static std::string Id(const std::string& name) {
    auto it = ids_->find(name);
    EXPECT_NE(it, ids_->end()) << name;
    return it == ids_->end() ? "" : it->second;
  }
  static std::string IndexDir() { return IndexDirectory(dir_->path() + "/data"); }

  static inline testing::TempDir* dir_ = nullptr;
  static inline Archive* archive_ = nullptr;
  static inline std::map<std::string, std::string>* ids_ = new std::map<std::string, std::string>;
  static inline double index_seconds_ = 0;
  static inline uint64_t indexed_ = 0;
};

struct Fact {
  std::string query;
  std::vector<std::string> must;      // names of messages it must return
  std::vector<std::string> must_not;  // ... and must not
};

const char* kBig5 = "spamassassin__spam_2__00977.6b7587a392363b73c8312b72b4972c24.eml";
const char* kHtmlSpam = "spamassassin__spam_2__00789.ffe4e3c5dc50f5a9ac33a653b5f8b566.eml";
const char* kKorean = "ruby-mail__multi_charset__ks_c_5601-1987.eml";
const char* kSjisAttachment = "spamassassin-testdata__nice__cjk__iso-2022-jp.1.eml";
const char* kJapaneseSubject = "ruby-mail__multi_charset__japanese_iso_2022.eml";
const char* kRfc2231Latin1 = "attachment_with_quoted_filename.eml";
const char* kRfc2231Quoted = "045.eml";
const char* kRtfAsMsword = "004.eml";
const char* kXlsm = "hashbl.eml";
const char* kWord2000 = "spamassassin__spam_2__01359.deafa1d42658c6624c6809a446b7f369.eml";

std::vector<Fact> Facts() {
  return {
      // Each prefix.
      {"from:billing", {"pdf"}, {"latin1", "html"}},
      {"from:\"billing@acme.example\"", {"pdf"}, {"latin1"}},
      {"from:müller", {"encoded"}, {"pdf"}},  // RFC 2047 display name
      {"to:carol", {"pdf", "latin1", "encoded", "pop3"}, {"html"}},
      {"cc:dave", {"pdf"}, {"latin1"}},
      {"bcc:erin", {"pdf"}, {"latin1"}},
      {"to:dave", {}, {"pdf"}},  // Cc is not To
      {"subject:invoice", {"pdf"}, {"latin1"}},
      {"subject:meeting", {"html"}, {"pdf"}},
      {"id:<pdf-1@acme.example>", {"pdf"}, {"latin1"}},
      {"id:html-1@corp.example", {"html"}, {"pdf"}},
      {"filename:invoice", {"pdf"}, {"latin1"}},
      {"filename:invoice.pdf", {"pdf"}, {"latin1"}},
      {"type:application/pdf", {"pdf"}, {"html"}},
      {"has:attachment", {"pdf", kRfc2231Latin1}, {"latin1", "html", "pop3"}},
      {"account:work-pop3", {"pop3"}, {"pdf"}},
      {"account:work*", {"pop3"}, {"pdf"}},
      // Dates and sizes.
      {"date:2023-01-01..2023-06-30", {"pdf", "encoded", "japanese"}, {"latin1", "html", "pop3"}},
      {"date:2021", {"latin1"}, {"pdf"}},
      {"date:..2022-12-31", {"latin1", "html"}, {"pdf", "pop3"}},
      {"size:>500 from:billing", {"pdf"}, {}},
      {"size:<100 from:billing", {}, {"pdf"}},
      // An encoded-word subject (RFC 2047 base64, UTF-8) and big5 (Q).
      {"subject:märz", {"encoded"}, {"pdf"}},
      {"subject:rechnung", {"encoded"}, {"pdf"}},
      {"subject:找我", {kBig5}, {"japanese"}},
      {"subject:まみむめも", {kJapaneseSubject}, {kBig5}},
      // A non-UTF-8 body: Latin-1, and Korean in ks_c_5601-1987.
      {"münchen", {"latin1"}, {"pdf"}},
      {"café", {"latin1"}, {"pdf"}},
      {"스티해", {kKorean}, {"latin1"}},
      // RFC 2231 file names (ISO-8859-1, percent-encoded).
      {"filename:eelanalüüsi", {kRfc2231Latin1}, {"pdf"}},
      {"filename:hasenundfrösche", {kRfc2231Quoted}, {"pdf"}},
      // HTML only: text is found, script, style and title are not.
      {"budget agenda", {"html"}, {"pdf"}},
      {"secretstyle OR hiddenscript OR secrettitle", {}, {"html"}},
      {"деньги", {kHtmlSpam}, {"html"}},
      // Text inside a PDF attachment (pdftotext).
      {"zebrafish", {"pdf"}, {"latin1"}},
      {"\"zebrafish invoice 4711\"", {"pdf"}, {}},
      // Text inside office attachments (docx2txt, xlsx2csv, catdoc, xls2csv, odt2txt).
      {"marmoset", {"docx"}, {"pdf", "xlsx"}},
      {"\"quarterly marmoset report\"", {"docx"}, {}},
      {"narwhal", {"xlsx"}, {"docx"}},
      {"wombat", {"doc"}, {"docx"}},
      {"capybara", {"xls"}, {"xlsx"}},
      {"axolotl", {"odt"}, {"doc"}},
      {"pangolin", {"ods"}, {"odt"}},
      {"okapi", {"odp"}, {"odt"}},
      {"quokka", {"pptx"}, {"odp"}},
      {"\"launch plan\"", {"pptx"}, {}},
      {"zürich", {"docx", "xlsx", "doc", "xls", "odt", "ods", "odp", "pptx"}, {"pdf", "latin1"}},
      {"filename:marmoset.docx", {"docx"}, {"doc"}},
      {"quetzal", {"damaged"}, {"docx"}},
      // ... of real mail: RTF sent as application/msword, a Word 2000 .doc, the
      // sheet names of an .xlsm.
      {"montfaucon", {kRtfAsMsword}, {"doc"}},
      {"glissade", {kWord2000}, {"doc"}},
      {"foglio1", {kXlsm}, {"xlsx"}},
      // CJK words (n-grams): body, attachment text, UTF-8 subject.
      {"創業", {kBig5}, {"japanese"}},
      {"議事録", {"japanese"}, {kBig5}},
      {"形式", {kSjisAttachment}, {"japanese"}},
      {"subject:会議", {"japanese"}, {kBig5}},
      // Phrases, booleans, wildcards, stemming.
      {"\"pay within thirty\"", {"pdf"}, {}},
      {"\"thirty within pay\"", {}, {"pdf"}},
      {"zebrafish OR agenda", {"pdf", "html"}, {"latin1"}},
      {"invoice -zebrafish", {}, {"pdf"}},
      {"invoice NOT zebrafish", {}, {"pdf"}},
      {"zebra*", {"pdf"}, {"html"}},
      {"paying", {"pdf"}, {}},  // stems to "pay"
      {"rotation", {"pop3"}, {"pdf"}},
  };
}

void CorpusIndexTest::EveryMessageIsIndexedOnce() {
  std::set<std::string> all = AllIds(*archive_);
  EXPECT_EQ(indexed_, all.size());
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok()) << searcher.status().ToString();
  EXPECT_EQ(*(*searcher)->DocumentCount(), all.size());
  auto everything = (*searcher)->MatchingIds("*", SearchOptions());
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(std::set<std::string>(everything->begin(), everything->end()), all);
  std::printf("indexed %zu messages in %.1f s\n", all.size(), index_seconds_);
}

void CheckFacts(IndexSearcher& searcher, const std::map<std::string, std::string>& ids) {
  SearchOptions o;
  for (const Fact& f : Facts()) {
    auto found = searcher.MatchingIds(f.query, o);
    ASSERT_TRUE(found.ok()) << f.query << ": " << found.status().ToString();
    std::set<std::string> got(found->begin(), found->end());
    for (const std::string& name : f.must) {
      EXPECT_TRUE(got.count(ids.at(name))) << "[" << f.query << "] must return " << name;
    }
    for (const std::string& name : f.must_not) {
      EXPECT_FALSE(got.count(ids.at(name))) << "[" << f.query << "] must not return " << name;
    }
  }
}

void CorpusIndexTest::QueriesReturnKnownFacts() {
  // pdftotext is a build dependency (scripts/install-deps.sh); without it the
  // PDF facts fail, which is the point.
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok()) << searcher.status().ToString();
  CheckFacts(**searcher, *ids_);
}

// A searcher sharing a cache answers as one without it, the first time (it
// fills the cache) and the next (the small result sets come from the cache):
// ids in order, totals, facets and snippets, Xapian's CJK and wildcard
// snippets included.
void CorpusIndexTest::SharedCacheGivesTheSameAnswers() {
  auto plain = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(plain.ok());
  size_t hits = 0;
  for (const Fact& f : Facts()) {
    // A cache of its own per query: every match set here is small, so the
    // first search keeps one entry and every later one is answered from it.
    auto counts = std::make_shared<SearchCountCache>();
    auto documents = std::make_shared<DocumentCache>();
    auto cached = IndexSearcher::Open(IndexDir(), counts, nullptr, documents);
    ASSERT_TRUE(cached.ok());
    for (SearchSort sort : {SearchSort::kDate, SearchSort::kRelevance}) {
      SCOPED_TRACE(f.query + (sort == SearchSort::kDate ? " by date" : " by relevance"));
      SearchOptions o;
      o.sort = sort;
      auto expected = (*plain)->Search(f.query, o);
      ASSERT_TRUE(expected.ok()) << expected.status().ToString();
      for (int round = 0; round < 2; ++round) {
        auto got = (*cached)->Search(f.query, o);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        EXPECT_EQ(counts->size(), 1u);
        EXPECT_EQ(documents->size() > 0, !expected->hits.empty());
        EXPECT_EQ(got->total, expected->total);
        EXPECT_EQ(got->facets.account, expected->facets.account);
        EXPECT_EQ(got->facets.sender_domain, expected->facets.sender_domain);
        EXPECT_EQ(got->facets.year, expected->facets.year);
        ASSERT_EQ(got->hits.size(), expected->hits.size());
        for (size_t i = 0; i < got->hits.size(); ++i) {
          EXPECT_EQ(got->hits[i].id, expected->hits[i].id);
          EXPECT_EQ(got->hits[i].snippet, expected->hits[i].snippet);
        }
      }
      hits += expected->hits.size();
    }
  }
  EXPECT_GT(hits, 50u);  // real pages were compared
}

void CorpusIndexTest::IdPrefixFindsTheArchiveId() {
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  std::string id = Id("latin1");
  for (const std::string& q : {"id:" + id, "id:" + id.substr(0, 12)}) {
    auto found = (*searcher)->MatchingIds(q, SearchOptions());
    ASSERT_TRUE(found.ok()) << q;
    EXPECT_EQ(*found, std::vector<std::string>{id}) << q;
  }
}

void CorpusIndexTest::SortPagingSnippetsAndFacets() {
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  SearchOptions o;
  o.limit = 3;
  auto r = (*searcher)->Search("to:carol", o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto all_matches = (*searcher)->MatchingIds("to:carol", o);
  ASSERT_TRUE(all_matches.ok());
  EXPECT_EQ(r->total, all_matches->size());
  EXPECT_GE(r->total, 5u);  // pdf, latin1, encoded, japanese, pop3 (+ corpus mail to a Carol)
  EXPECT_TRUE(r->total_exact);
  ASSERT_EQ(r->hits.size(), 3u);
  // Newest first: pop3 (2024-01-05), encoded (2023-06-30), pdf (2023-03-14).
  EXPECT_EQ(r->hits[0].id, Id("pop3"));
  EXPECT_EQ(r->hits[1].id, Id("encoded"));
  EXPECT_EQ(r->hits[2].id, Id("pdf"));
  EXPECT_EQ(r->hits[1].subject, "Rechnung für März");
  EXPECT_EQ(r->hits[1].from, "Jürgen Müller <juergen@example.de>");
  o.offset = 3;
  auto page2 = (*searcher)->Search("to:carol", o);
  ASSERT_TRUE(page2.ok());
  EXPECT_EQ(page2->total, r->total);
  ASSERT_GE(page2->hits.size(), 2u);
  EXPECT_EQ(page2->hits[0].id, Id("japanese"));
  EXPECT_EQ(page2->hits[1].id, Id("latin1"));

  // Facets: counts per account, sender domain and year over all matches.
  const std::vector<FacetValue> accounts = {{"work-pop3", 1}};
  EXPECT_EQ(r->facets.account, accounts);
  auto has = [](const std::vector<FacetValue>& v, const std::string& value, uint64_t count) {
    return std::find(v.begin(), v.end(), FacetValue{value, count}) != v.end();
  };
  EXPECT_TRUE(has(r->facets.sender_domain, "acme.example", 1));
  EXPECT_TRUE(has(r->facets.sender_domain, "example.de", 2));
  EXPECT_TRUE(has(r->facets.year, "2023", 3));
  EXPECT_TRUE(has(r->facets.year, "2024", 1));
  ASSERT_FALSE(r->facets.year.empty());
  EXPECT_EQ(r->facets.year.front().value, "2024");  // newest first

  // Relevance order and a highlighted snippet.
  o = SearchOptions();
  o.sort = SearchSort::kRelevance;
  auto rel = (*searcher)->Search("thirty days", o);
  ASSERT_TRUE(rel.ok());
  ASSERT_FALSE(rel->hits.empty());
  EXPECT_EQ(rel->hits[0].id, Id("pdf"));
  EXPECT_NE(rel->hits[0].snippet.find("<b>thirty</b> <b>days</b>"), std::string::npos)
      << rel->hits[0].snippet;
  EXPECT_GT(rel->hits[0].relevance, 0);

  // A query of fields and filters only has no word of the text to highlight:
  // the snippet is the start of the text, white space collapsed.
  auto filtered = (*searcher)->Search("id:<pdf-1@acme.example> has:attachment", o);
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ(filtered->hits.size(), 1u);
  EXPECT_EQ(filtered->hits[0].snippet, "Please pay within thirty days.");

  // Malformed queries are errors, not empty results.
  auto bad = (*searcher)->Search("from:(", o);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

// Everything each document holds, as text, by docid: terms with wdf and
// positions, values, data. Read through the postings: the index keeps no
// termlists (index_schema.h), so Document::termlist_begin() is not there.
std::map<Xapian::docid, std::string> DocumentSummaries(const Xapian::Database& db) {
  std::map<Xapian::docid, std::string> out;
  for (auto t = db.allterms_begin(); t != db.allterms_end(); ++t) {
    for (auto p = db.postlist_begin(*t); p != db.postlist_end(*t); ++p) {
      std::string& s = out[*p];
      s += *t + " wdf=" + std::to_string(p.get_wdf()) + " pos=";
      for (auto pos = p.positionlist_begin(); pos != p.positionlist_end(); ++pos) {
        s += std::to_string(*pos) + ",";
      }
      s += "\n";
    }
  }
  for (auto& [docid, s] : out) {
    Xapian::Document doc = db.get_document(docid);
    for (Xapian::valueno slot = 0; slot <= index_schema::kSlotYear; ++slot) {
      s += "value " + std::to_string(slot) + "=" + doc.get_value(slot) + "\n";
    }
    s += "data=" + doc.get_data();
  }
  return out;
}

void CorpusIndexTest::ReindexGivesIdenticalResults() {
  // Rebuild a copy so that the suite's index stays as it was.
  testing::TempDir copy;
  std::string index = copy.path() + "/index";
  auto report = RebuildIndex(*archive_, index, IndexerOptions());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(PathExists(index + ".new"));
  EXPECT_FALSE(PathExists(index + ".compact"));
  auto original = IndexSearcher::Open(IndexDir());
  auto rebuilt = IndexSearcher::Open(index);
  ASSERT_TRUE(original.ok() && rebuilt.ok());
  EXPECT_EQ(*(*rebuilt)->DocumentCount(), *(*original)->DocumentCount());
  for (const Fact& f : Facts()) {
    auto a = (*original)->MatchingIds(f.query, SearchOptions());
    auto b = (*rebuilt)->MatchingIds(f.query, SearchOptions());
    ASSERT_TRUE(a.ok() && b.ok()) << f.query;
    EXPECT_EQ(std::set<std::string>(a->begin(), a->end()), std::set<std::string>(b->begin(), b->end()))
        << f.query;
  }
  // Beyond the query table: every document is the same, term for term (with
  // positions and frequencies), value for value, and its data.
  {
    Xapian::Database a(IndexDir());
    Xapian::Database b(index);
    std::map<Xapian::docid, std::string> in_a = DocumentSummaries(a), in_b = DocumentSummaries(b);
    EXPECT_EQ(in_a.size(), a.get_doccount());
    uint64_t compared = 0;
    for (auto id = a.allterms_begin(index_schema::kPrefixId);
         id != a.allterms_end(index_schema::kPrefixId); ++id) {
      SCOPED_TRACE(*id);
      auto docid_b = b.postlist_begin(*id);
      ASSERT_NE(docid_b, b.postlist_end(*id)) << "missing from the rebuilt index";
      EXPECT_EQ(in_a[*a.postlist_begin(*id)], in_b[*docid_b]);
      ++compared;
    }
    EXPECT_EQ(compared, a.get_doccount());
  }
  // A second rebuild replaces the first in place (the swap path).
  auto again = RebuildIndex(*archive_, index, IndexerOptions());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto reopened = IndexSearcher::Open(index);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*(*reopened)->DocumentCount(), *(*original)->DocumentCount());
  CheckFacts(**reopened, *ids_);
}

// One test, not five: CTest runs every test in a process of its own, and each
// would import and index the corpus again.
TEST_F(CorpusIndexTest, IndexQueryAndReindexTheCorpus) {
  {
    SCOPED_TRACE("every message indexed once");
    EveryMessageIsIndexedOnce();
  }
  {
    SCOPED_TRACE("queries return known facts");
    QueriesReturnKnownFacts();
  }
  {
    SCOPED_TRACE("shared cache");
    SharedCacheGivesTheSameAnswers();
  }
  {
    SCOPED_TRACE("id prefix");
    IdPrefixFindsTheArchiveId();
  }
  {
    SCOPED_TRACE("sort, paging, snippets, facets");
    SortPagingSnippetsAndFacets();
  }
  {
    SCOPED_TRACE("reindex");
    ReindexGivesIdenticalResults();
  }
}

// ---- a small archive of its own for crash, schema and queue tests ----

class SmallIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ArchiveOptions o;
    o.data_dir = dir_.path() + "/data";
    o.create = true;
    auto archive = Archive::Open(o);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    archive_ = std::move(*archive);
    Add(20);
  }
  void Add(int n) {
    auto batch = archive_->NewBatch();
    for (int i = 0; i < n; ++i, ++added_) {
      ASSERT_TRUE(batch->BeginMessage().ok());
      std::string text = "From: sender" + std::to_string(added_) +
                         "@example.com\nSubject: message number " + std::to_string(added_) +
                         "\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\nbody word" +
                         std::to_string(added_) + " common\n";
      ASSERT_TRUE(batch->Write(text).ok());
      Provenance p;
      p.source = "test";
      p.key = std::to_string(added_);
      ASSERT_TRUE(batch->FinishMessage(p).ok());
    }
    ASSERT_TRUE(batch->Commit().ok());
  }
  std::string IndexDir() const { return IndexDirectory(dir_.path() + "/data"); }

  // Archives `texts` in one batch, with provenance keys key_prefix + 0, 1, ...
  void AddTexts(const std::vector<std::string>& texts, const std::string& key_prefix) {
    auto batch = archive_->NewBatch();
    for (size_t i = 0; i < texts.size(); ++i) {
      ASSERT_TRUE(batch->BeginMessage().ok());
      ASSERT_TRUE(batch->Write(texts[i]).ok());
      Provenance p;
      p.source = "test";
      p.key = key_prefix + std::to_string(i);
      ASSERT_TRUE(batch->FinishMessage(p).ok());
    }
    ASSERT_TRUE(batch->Commit().ok());
  }
  void IndexAll() {
    auto indexer = Indexer::Open(IndexDir(), IndexerOptions());
    ASSERT_TRUE(indexer.ok()) << indexer.status().ToString();
    ASSERT_TRUE((*indexer)->IndexPending(*archive_).ok());
  }

  // Indexes everything, then overwrites one metadata value behind the indexer's back.
  void IndexAllThenSetMetadata(const std::string& key, const std::string& value) {
    {
      auto indexer = Indexer::Open(IndexDir(), IndexerOptions());
      ASSERT_TRUE(indexer.ok());
      ASSERT_TRUE((*indexer)->IndexPending(*archive_).ok());
    }
    Xapian::WritableDatabase db(IndexDir(), Xapian::DB_OPEN | Xapian::DB_NO_TERMLIST);
    db.set_metadata(key, value);
    db.commit();
  }

  // The indexer and searches refuse the index with kUnsupported and advice;
  // `mailvault reindex` (RebuildIndex) replaces it with all 20 messages.
  void ExpectRefusedThenRebuilt() {
    auto indexer = Indexer::Open(IndexDir(), IndexerOptions());
    ASSERT_FALSE(indexer.ok());
    EXPECT_EQ(indexer.status().code(), StatusCode::kUnsupported) << indexer.status().ToString();
    EXPECT_NE(indexer.status().message().find("mailvault reindex"), std::string::npos);
    auto searcher = IndexSearcher::Open(IndexDir());
    ASSERT_FALSE(searcher.ok());
    EXPECT_EQ(searcher.status().code(), StatusCode::kUnsupported);
    auto report = RebuildIndex(*archive_, IndexDir(), IndexerOptions());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->indexed, 20u);
  }

  // Every archived message is in the index exactly once, and nothing else is.
  void ExpectIndexedExactlyOnce() {
    std::set<std::string> all = AllIds(*archive_);
    Xapian::Database db(IndexDir());
    EXPECT_EQ(db.get_doccount(), all.size());
    for (const std::string& id : all) {
      EXPECT_EQ(db.get_termfreq(index_schema::kPrefixId + id), 1u) << id;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<Archive> archive_;
  int added_ = 0;
};

TEST_F(SmallIndexTest, ResumesAfterACrashMidBatch) {
  IndexerOptions o;
  o.batch_messages = 6;
  std::fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child indexes one batch (6), then dies with the second batch open.
    IndexerOptions crash = o;
    crash.on_message = [](uint64_t handled) {
      if (handled == 9) _exit(0);
    };
    auto indexer = Indexer::Open(IndexDir(), crash);
    if (!indexer.ok()) _exit(2);
    (void)(*indexer)->IndexPending(*archive_);
    _exit(3);  // not reached
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto indexer = Indexer::Open(IndexDir(), o);
  ASSERT_TRUE(indexer.ok()) << indexer.status().ToString();
  EXPECT_EQ(*(*indexer)->DocumentCount(), 6u);  // only the committed batch
  EXPECT_EQ(*(*indexer)->PendingCount(*archive_), 14u);
  auto report = (*indexer)->IndexPending(*archive_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->indexed, 14u);
  EXPECT_FALSE(report->rescanned);
  EXPECT_EQ(*(*indexer)->PendingCount(*archive_), 0u);
  indexer->reset();
  ExpectIndexedExactlyOnce();
}

TEST_F(SmallIndexTest, DrainsTheQueueInBoundedStepsAndPicksUpNewMail) {
  IndexerOptions o;
  o.batch_messages = 4;
  auto indexer = Indexer::Open(IndexDir(), o);
  ASSERT_TRUE(indexer.ok());
  auto first = (*indexer)->IndexPending(*archive_, 7);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->indexed, 7u);
  EXPECT_EQ(first->pending, 13u);
  // A reader sees committed batches while the writer is open.
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  EXPECT_EQ((*searcher)->MatchingIds("common", SearchOptions())->size(), 7u);
  auto rest = (*indexer)->IndexPending(*archive_);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->indexed, 13u);
  Add(3);  // new mail after indexing: only it is pending
  EXPECT_EQ(*(*indexer)->PendingCount(*archive_), 3u);
  auto more = (*indexer)->IndexPending(*archive_);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->indexed, 3u);
  auto none = (*indexer)->IndexPending(*archive_);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->indexed, 0u);
  ASSERT_TRUE((*searcher)->Refresh().ok());
  EXPECT_EQ((*searcher)->MatchingIds("common", SearchOptions())->size(), 23u);
  indexer->reset();
  ExpectIndexedExactlyOnce();
}

TEST_F(SmallIndexTest, BuilderThreadAheadOfManySmallCommitsIndexesEachMessageOnce) {
  // The builder thread reads the queue, checks "already indexed" with its own
  // reader and waits whenever it is a full queue ahead, while the writer
  // commits a batch per message: every message is written once, in order,
  // and the position ends after the last.
  Add(280);
  IndexerOptions o;
  o.batch_messages = 1;
  o.durable_batches = false;
  auto indexer = Indexer::Open(IndexDir(), o);
  ASSERT_TRUE(indexer.ok());
  auto report = (*indexer)->IndexPending(*archive_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->indexed, 300u);
  EXPECT_EQ(report->pending, 0u);
  indexer->reset();
  ExpectIndexedExactlyOnce();
  // Written in arrival order: docids ascend with the archive's order.
  Xapian::Database db(IndexDir());
  Xapian::docid previous = 0;
  ASSERT_TRUE(archive_
                  ->ForEachMessage([&](const MessageInfo& info) {
                    const std::string term = index_schema::kPrefixId + ToHex(info.id);
                    auto doc = db.postlist_begin(term);
                    EXPECT_NE(doc, db.postlist_end(term));
                    if (doc != db.postlist_end(term)) {
                      EXPECT_GT(*doc, previous);
                      previous = *doc;
                    }
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(previous, 300u);
}

TEST_F(SmallIndexTest, PendingMessagesAreReadBySeqNotByListingTheArchive) {
  // `listed` counts the catalog rows the indexer read to find its work. Had it
  // listed the archive, every call below would have read all of it (20, then
  // 23 rows); paged by seq after the last message indexed, it reads what it
  // indexes.
  IndexerOptions o;
  o.batch_messages = 4;
  auto indexer = Indexer::Open(IndexDir(), o);
  ASSERT_TRUE(indexer.ok());
  auto first = (*indexer)->IndexPending(*archive_, 7);  // pages of 4 and 3
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->indexed, 7u);
  EXPECT_EQ(first->listed, 7u);
  EXPECT_EQ(first->pending, 13u);
  for (int step = 0; step < 3; ++step) {  // a daemon's bounded steps: one message each
    auto one = (*indexer)->IndexPending(*archive_, 1);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->indexed, 1u);
    EXPECT_EQ(one->listed, 1u);
  }
  auto rest = (*indexer)->IndexPending(*archive_);  // 10: pages of 4, 4, 2 and an empty one
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->indexed, 10u);
  EXPECT_EQ(rest->listed, 10u);
  EXPECT_EQ(rest->pending, 0u);
  Add(3);
  auto fresh = (*indexer)->IndexPending(*archive_);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->indexed, 3u);
  EXPECT_EQ(fresh->listed, 3u);
  auto idle = (*indexer)->IndexPending(*archive_);
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(idle->listed, 0u);
  indexer->reset();
  ExpectIndexedExactlyOnce();
}

TEST_F(SmallIndexTest, PerRecipientCopiesStoreTheirTextOnceAndShowTheSameSnippet) {
  std::string body;
  for (int i = 0; i < 12; ++i) body += "Filler sentence number " + std::to_string(i) + " of the notice.\n";
  body += "The zebra crossing closes on Monday.\n";
  {
    auto batch = archive_->NewBatch();
    for (const char* to : {"alice@example.com", "bob@example.com"}) {
      ASSERT_TRUE(batch->BeginMessage().ok());
      ASSERT_TRUE(batch->Write(std::string("From: office@example.com\nTo: ") + to +
                               "\nSubject: road works\nMessage-ID: <works@example.com>\n\n" + body)
                      .ok());
      Provenance p;
      p.source = "test";
      p.key = to;
      ASSERT_TRUE(batch->FinishMessage(p).ok());
    }
    ASSERT_TRUE(batch->Commit().ok());
  }
  {
    auto indexer = Indexer::Open(IndexDir(), IndexerOptions());
    ASSERT_TRUE(indexer.ok());
    ASSERT_TRUE((*indexer)->IndexPending(*archive_).ok());
  }
  // Stored once: the first copy holds the text, the second names it.
  {
    Xapian::Database db(IndexDir());
    std::vector<index_schema::DocumentData> copies;
    const std::string mid = index_schema::BooleanTerm(index_schema::kPrefixMessageId, "works@example.com");
    for (auto p = db.postlist_begin(mid); p != db.postlist_end(mid); ++p) {
      copies.push_back(index_schema::ParseDocumentData(db.get_document(*p).get_data()));
    }
    ASSERT_EQ(copies.size(), 2u);
    EXPECT_NE(copies[0].text.find("zebra crossing"), std::string::npos);
    EXPECT_TRUE(copies[0].text_of.empty());
    EXPECT_TRUE(copies[1].text.empty());
    EXPECT_EQ(copies[1].text_of, copies[0].id);
  }
  // Shown the same: both hits highlight the word deep in the shared text.
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  auto found = (*searcher)->Search("zebra", SearchOptions());
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->hits.size(), 2u);
  EXPECT_NE(found->hits[0].snippet.find("<b>zebra</b> crossing"), std::string::npos)
      << found->hits[0].snippet;
  EXPECT_EQ(found->hits[0].snippet, found->hits[1].snippet);
  // A short text (the 20 messages of SetUp) is kept in each document.
  auto common = (*searcher)->Search("common", SearchOptions());
  ASSERT_TRUE(common.ok());
  ASSERT_FALSE(common->hits.empty());
  EXPECT_NE(common->hits[0].snippet.find("<b>common</b>"), std::string::npos);
}

// ---- accounts a message gains after it was indexed ----

class LateAccountTest : public SmallIndexTest {
 protected:
  // Archives `text` as collected from POP3 account `account` under `uidl`;
  // a message archived before gains only the link.
  void Collect(const std::string& text, const std::string& account, const std::string& uidl) {
    auto batch = archive_->NewBatch();
    ASSERT_TRUE(batch->BeginMessage().ok());
    ASSERT_TRUE(batch->Write(text).ok());
    Provenance p;
    p.kind = ProvenanceKind::kPop3;
    p.source = account;
    p.key = uidl;
    ASSERT_TRUE(batch->FinishMessage(p).ok());
    ASSERT_TRUE(batch->Commit().ok());
  }
  IndexReport IndexPending() {
    auto indexer = Indexer::Open(IndexDir(), IndexerOptions());
    EXPECT_TRUE(indexer.ok()) << indexer.status().ToString();
    if (!indexer.ok()) return IndexReport();
    auto report = (*indexer)->IndexPending(*archive_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : IndexReport();
  }
  // The subjects of what `query` finds, sorted.
  static std::vector<std::string> Subjects(IndexSearcher& searcher, const std::string& query,
                                           SearchOptions options = SearchOptions()) {
    options.limit = 100;
    auto found = searcher.Search(query, options);
    EXPECT_TRUE(found.ok()) << query << ": " << found.status().ToString();
    std::vector<std::string> subjects;
    if (!found.ok()) return subjects;
    for (const SearchHit& hit : found->hits) subjects.push_back(hit.subject);
    std::sort(subjects.begin(), subjects.end());
    return subjects;
  }
  // What `query` finds in a searcher opened now.
  std::vector<std::string> SubjectsNow(const std::string& query) {
    auto searcher = IndexSearcher::Open(IndexDir());
    EXPECT_TRUE(searcher.ok()) << searcher.status().ToString();
    return searcher.ok() ? Subjects(**searcher, query) : std::vector<std::string>{"(no index)"};
  }
  // One IndexPending, which must write `indexed` documents and `late_links` links.
  void ExpectPass(uint64_t indexed, uint64_t late_links) {
    IndexReport report = IndexPending();
    EXPECT_EQ(report.indexed, indexed);
    EXPECT_EQ(report.late_links, late_links);
  }
  // The account facet of what `query` finds: account -> messages.
  static std::map<std::string, uint64_t> AccountFacet(IndexSearcher& searcher,
                                                      const std::string& query) {
    auto found = searcher.Search(query, SearchOptions());
    EXPECT_TRUE(found.ok()) << query << ": " << found.status().ToString();
    std::map<std::string, uint64_t> facet;
    if (found.ok()) {
      for (const FacetValue& v : found->facets.account) facet[v.value] = v.count;
    }
    return facet;
  }
  static SearchOptions GrantedOnly(std::vector<std::string> accounts) {
    SearchOptions o;
    o.accounts = std::move(accounts);
    return o;
  }
  // Message number `n` of SetUp (imported, no account).
  static std::string Imported(int n) {
    return "From: sender" + std::to_string(n) + "@example.com\nSubject: message number " +
           std::to_string(n) + "\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\nbody word" +
           std::to_string(n) + " common\n";
  }
  const std::string shared_ = "From: boss@example.com\nSubject: quarterly plan\n\nthe plan\n";
  const std::string alpha_only_ = "From: boss@example.com\nSubject: alpha only\n\nalpha\n";
};

TEST_F(LateAccountTest, MessageLinkedToAnotherAccountAfterIndexingIsFoundByIt) {
  Collect(shared_, "alpha", "1");
  Collect(alpha_only_, "alpha", "2");
  EXPECT_EQ(IndexPending().indexed, 22u);
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  EXPECT_TRUE(Subjects(**searcher, "account:beta").empty());

  // The same mail in a second mailbox, and an imported one found on a server.
  Collect(shared_, "beta", "7");
  Collect(Imported(3), "beta", "8");
  ExpectPass(0, 2);

  // A searcher open since before sees them once it refreshes, as the web's do.
  ASSERT_TRUE((*searcher)->Refresh().ok());
  const std::vector<std::string> beta = {"message number 3", "quarterly plan"};
  EXPECT_EQ(Subjects(**searcher, "account:beta"), beta);
  EXPECT_EQ(Subjects(**searcher, "account:bet*"), beta);
  EXPECT_EQ(Subjects(**searcher, "account:beta AND plan"), std::vector<std::string>{"quarterly plan"});
  EXPECT_EQ(Subjects(**searcher, "plan NOT account:beta"), std::vector<std::string>{});
  EXPECT_EQ(Subjects(**searcher, "account:alpha"),
            (std::vector<std::string>{"alpha only", "quarterly plan"}));
  // A user granted beta finds both, one granted alpha does not see message 3.
  EXPECT_EQ(Subjects(**searcher, "*", GrantedOnly({"beta"})), beta);
  EXPECT_EQ(Subjects(**searcher, "number", GrantedOnly({"alpha"})), std::vector<std::string>{});
  EXPECT_EQ(Subjects(**searcher, "*", GrantedOnly({"gamma"})), std::vector<std::string>{});
  auto ids = (*searcher)->MatchingIds("account:beta", SearchOptions());
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 2u);
  // Counted under each account it has, however late it came.
  EXPECT_EQ(AccountFacet(**searcher, "*"),
            (std::map<std::string, uint64_t>{{"alpha", 2}, {"beta", 2}}));
  EXPECT_EQ(AccountFacet(**searcher, "plan"),
            (std::map<std::string, uint64_t>{{"alpha", 1}, {"beta", 1}}));

  // Looked at once: the next pass finds nothing new, and a new searcher
  // reads the same from the index.
  ExpectPass(0, 0);
  EXPECT_EQ(SubjectsNow("account:beta"), beta);
  ExpectIndexedExactlyOnce();
}

TEST_F(LateAccountTest, LinksMadeBeforeTheMessageWasIndexedAreInItsDocument) {
  // Into an empty index: every link is in the documents; nothing is late.
  Collect(shared_, "alpha", "1");
  Collect(shared_, "beta", "7");
  ExpectPass(21, 0);
  // Into a filled index: a new message and its second link, both before indexing.
  Collect(alpha_only_, "alpha", "2");
  Collect(alpha_only_, "beta", "9");
  ExpectPass(1, 0);
  EXPECT_EQ(SubjectsNow("account:beta"), (std::vector<std::string>{"alpha only", "quarterly plan"}));
  // Both accounts of each are in its document, and both are counted.
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  EXPECT_EQ(AccountFacet(**searcher, "*"),
            (std::map<std::string, uint64_t>{{"alpha", 2}, {"beta", 2}}));
  Xapian::Database db(IndexDir());
  EXPECT_EQ(db.get_termfreq(index_schema::BooleanTerm(index_schema::kPrefixAccount, "beta")), 2u);
}

TEST_F(LateAccountTest, CatalogRebuiltUnderNewNumbersLooksAtEveryLinkAgain) {
  Collect(shared_, "alpha", "1");
  IndexPending();
  Collect(shared_, "beta", "7");  // not looked at yet
  int64_t newest = 0;
  ASSERT_TRUE(archive_
                  ->WithCatalog([&](Catalog& c) {
                    MV_ASSIGN_OR_RETURN(std::optional<LinkRow> last, c.LastLink());
                    if (last) newest = last->rowid;
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_GT(newest, 0);
  // As if the catalog had been rebuilt and its newest link had once been
  // another one, already looked at: the number alone would skip beta's link.
  {
    Xapian::WritableDatabase db(IndexDir(), Xapian::DB_OPEN | Xapian::DB_NO_TERMLIST);
    db.set_metadata(index_schema::kMetadataLinksChecked,
                    std::to_string(newest) + " " + std::string(64, '0') + " 2 gamma 5");
    db.commit();
  }
  Collect(alpha_only_, "alpha", "2");
  ExpectPass(1, 1);
  EXPECT_EQ(SubjectsNow("account:beta"), std::vector<std::string>{"quarterly plan"});
  // Recorded as looked at up to the newest link, which is that of "alpha only".
  Xapian::Database db(IndexDir());
  std::string marker = db.get_metadata(index_schema::kMetadataLinksChecked);
  EXPECT_NE(marker.find(" alpha 2"), std::string::npos) << marker;
  ExpectPass(0, 0);
}

TEST_F(LateAccountTest, DamagedListInTheIndexIsReadUpToTheDamage) {
  Collect(shared_, "alpha", "1");
  IndexPending();
  Collect(shared_, "beta", "7");
  IndexPending();
  const std::string key = std::string(index_schema::kMetadataLateAccountPrefix) +
                          index_schema::BooleanTerm(index_schema::kPrefixAccount, "beta");
  {
    Xapian::WritableDatabase db(IndexDir(), Xapian::DB_OPEN | Xapian::DB_NO_TERMLIST);
    const std::string good = db.get_metadata(key);
    ASSERT_FALSE(good.empty());
    // A varint cut short, then a zero distance (not ascending).
    db.set_metadata(key, good + "\x80");
    db.set_metadata(key + "x", std::string("\x00\x05", 2));
    db.commit();
  }
  EXPECT_EQ(SubjectsNow("account:beta"), std::vector<std::string>{"quarterly plan"});
  EXPECT_EQ(SubjectsNow("account:betax"), std::vector<std::string>{});
}

TEST_F(SmallIndexTest, CatalogTailIsTheCountAndTheNewestMessage) {
  // What the indexer's "nothing pending" check reads instead of listing.
  std::string newest;
  ASSERT_TRUE(archive_
                  ->ForEachMessage([&](const MessageInfo& info) {
                    newest = ToHex(info.id);
                    return Status::Ok();
                  })
                  .ok());
  Catalog::MessageTail tail;
  ASSERT_TRUE(archive_
                  ->WithCatalog([&](Catalog& c) {
                    MV_ASSIGN_OR_RETURN(tail, c.Tail());
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(tail.count, 20u);
  ASSERT_TRUE(tail.last_id.has_value());
  EXPECT_EQ(ToHex(*tail.last_id), newest);
}

TEST_F(SmallIndexTest, LostQueuePositionRescansWithoutDuplicates) {
  // As if the catalog were rebuilt in another order: the recorded last id no
  // longer sits at the recorded position.
  IndexAllThenSetMetadata(index_schema::kMetadataIndexedLastId, std::string(64, '0'));
  auto indexer = Indexer::Open(IndexDir(), IndexerOptions());
  ASSERT_TRUE(indexer.ok());
  auto report = (*indexer)->IndexPending(*archive_);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->rescanned);
  EXPECT_EQ(report->indexed, 0u);
  EXPECT_EQ(report->skipped, 20u);
  indexer->reset();
  ExpectIndexedExactlyOnce();
}

TEST_F(SmallIndexTest, UnknownSchemaVersionIsRefusedWithAdvice) {
  IndexAllThenSetMetadata(index_schema::kMetadataSchemaVersion, "99");
  ExpectRefusedThenRebuilt();
  EXPECT_TRUE(IndexSearcher::Open(IndexDir()).ok());
}

TEST_F(SmallIndexTest, IndexOfSchemaVersion1WithTermlistsIsRefusedThenRebuilt) {
  {
    // As version 1 wrote it: a termlist table, replace_document on the id.
    Xapian::WritableDatabase old(IndexDir(), Xapian::DB_CREATE_OR_OPEN | Xapian::DB_BACKEND_GLASS);
    Xapian::Document doc;
    doc.add_boolean_term(std::string(index_schema::kPrefixId) + std::string(64, 'a'));
    doc.add_term("common");
    old.replace_document(std::string(index_schema::kPrefixId) + std::string(64, 'a'), doc);
    old.set_metadata(index_schema::kMetadataSchemaVersion, "1");
    old.commit();
  }
  ASSERT_TRUE(PathExists(IndexDir() + "/termlist.glass"));
  ExpectRefusedThenRebuilt();
  EXPECT_FALSE(PathExists(IndexDir() + "/termlist.glass"));
  auto rebuilt = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ((*rebuilt)->MatchingIds("common", SearchOptions())->size(), 20u);
  // The rebuilt index takes new mail.
  Add(2);
  auto more = Indexer::Open(IndexDir(), IndexerOptions());
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  auto added = (*more)->IndexPending(*archive_);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->indexed, 2u);
  more->reset();
  ExpectIndexedExactlyOnce();
}

TEST_F(SmallIndexTest, WildcardMatchingTooManyWordsIsAnErrorNotAShortResult) {
  {
    std::string text = "From: many@example.com\nSubject: many words\n\n";
    for (unsigned i = 0; i <= kMaxWildcardTerms; ++i) text += "wild" + std::to_string(i) + " ";
    AddTexts({text + "\n"}, "many");
  }
  IndexAll();
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  auto too_many = (*searcher)->Search("wild*", SearchOptions());
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_many.status().message().find("make it longer"), std::string::npos)
      << too_many.status().ToString();
  auto ids = (*searcher)->MatchingIds("wild*", SearchOptions());
  EXPECT_EQ(ids.status().code(), StatusCode::kInvalidArgument);
  // wild1, wild10..wild19, wild100..wild199, wild1000..wild1999: 1111 words.
  auto fewer = (*searcher)->Search("wild1*", SearchOptions());
  ASSERT_TRUE(fewer.ok()) << fewer.status().ToString();
  EXPECT_EQ(fewer->total, 1u);
}

// Messages spread over five months, several to a day, with ties on the same
// second and dates outside the usual years: enough for a date-sorted search to
// take the path that reads only the newest days (sort_whole_up_to = 0) and be
// compared with sorting every match (sort_whole_up_to = max).
class DateSpreadIndexTest : public SmallIndexTest {
 protected:
  void SetUp() override {
    SmallIndexTest::SetUp();  // 20 messages of 2024-01-01
    const int64_t start = 1672531200;  // 2023-01-01T00:00:00Z
    std::vector<std::string> texts;
    for (int i = 0; i < 700; ++i) {
      int64_t date = start + (i * 37 % 150) * 86400 + (i * 13 % 24) * 3600;
      if (i % 50 == 0) date = start + 40 * 86400;  // the same second as others
      std::string date_header;
      if (i == 3) {
        date_header = "Date: Sat, 01 Jan 1910 00:00:00 +0000\n";
      } else if (i == 4) {
        date_header = "Date: Fri, 01 Jan 2100 12:00:00 +0000\n";
      } else if (i != 5) {  // 5: no Date header, dated by its archive time
        char buf[64];
        time_t t = static_cast<time_t>(date);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S +0000\n", &tm);
        date_header = buf;
      }
      std::string words = "common";
      if (i % 2 == 0) words += " even";
      if (i % 7 == 0) words += " seventh";
      if (i % 97 == 0) words += " rare";
      if (i * 37 % 150 < 10) words += " early";
      texts.push_back("From: s" + std::to_string(i) + "@d" + std::to_string(i % 5) +
                      ".example\nSubject: spread " + std::to_string(i) + "\n" + date_header +
                      "\n" + words + "\n");
    }
    AddTexts(texts, "spread");
    IndexAll();
  }

  static std::vector<std::string> Ids(const SearchResults& r) {
    std::vector<std::string> ids;
    for (const SearchHit& h : r.hits) ids.push_back(h.id);
    return ids;
  }
};

TEST_F(DateSpreadIndexTest, EveryWayToAPageGivesXapiansOwnOrder) {
  // whole: all matches sorted in memory (the small result set path);
  // counted: one pass counts and finds the page (no shared counts);
  // windowed: counts come from the shared cache, so the page is read from
  // the newest days, or by a pass when that window would be every day.
  auto searcher = IndexSearcher::Open(IndexDir());
  auto counts = std::make_shared<SearchCountCache>();
  auto cached = IndexSearcher::Open(IndexDir(), counts);
  ASSERT_TRUE(searcher.ok());
  ASSERT_TRUE(cached.ok());
  Xapian::Database db(IndexDir());
  size_t compared_hits = 0;
  for (const char* q : {"common", "even", "seventh", "rare", "early", "common -even",
                        "even OR seventh", "*", "from:d3.example", "nothingmatches"}) {
    for (SearchSort sort : {SearchSort::kDate, SearchSort::kRelevance}) {
      for (uint64_t offset : {0, 5, 37, 300, 690, 715, 900}) {
        for (uint64_t limit : {1, 10, 25}) {
          SCOPED_TRACE(std::string(q) + " offset " + std::to_string(offset) + " limit " +
                       std::to_string(limit) +
                       (sort == SearchSort::kDate ? " date" : " relevance"));
          SearchOptions whole;
          whole.sort = sort;
          whole.offset = offset;
          whole.limit = limit;
          whole.sort_whole_up_to = UINT64_MAX;
          SearchOptions newest = whole;
          newest.sort_whole_up_to = 0;
          auto expected = (*searcher)->Search(q, whole);
          auto counted = (*searcher)->Search(q, newest);
          ASSERT_TRUE((*cached)->Search(q, newest).ok());  // counts it into the cache
          auto windowed = (*cached)->Search(q, newest);
          ASSERT_TRUE(expected.ok()) << expected.status().ToString();
          ASSERT_TRUE(counted.ok()) << counted.status().ToString();
          ASSERT_TRUE(windowed.ok()) << windowed.status().ToString();
          if (sort == SearchSort::kDate) {
            // Xapian's own value sort of the same query is the reference.
            auto query = ParseQuery(q, QueryParseOptions());
            ASSERT_TRUE(query.ok());
            Xapian::Enquire enquire(db);
            enquire.set_query(*query);
            enquire.set_weighting_scheme(Xapian::BoolWeight());
            enquire.set_sort_by_value(index_schema::kSlotDate, /*reverse=*/true);
            enquire.set_docid_order(Xapian::Enquire::DESCENDING);
            std::vector<std::string> reference;
            const Xapian::MSet page = enquire.get_mset(offset, limit);
            for (auto it = page.begin(); it != page.end(); ++it) {
              reference.push_back(index_schema::ParseDocumentData(it.get_document().get_data()).id);
            }
            EXPECT_EQ(Ids(*expected), reference);
            if (offset == 0 && limit == 1) {
              // And Xapian's own counts of the sender domains and years.
              Xapian::ValueCountMatchSpy domains(index_schema::kSlotSenderDomain);
              Xapian::ValueCountMatchSpy years(index_schema::kSlotYear);
              enquire.add_matchspy(&domains);
              enquire.add_matchspy(&years);
              enquire.get_mset(0, 0, db.get_doccount());
              auto counts_of = [](const Xapian::ValueCountMatchSpy& spy) {
                std::vector<FacetValue> values;
                for (auto v = spy.values_begin(); v != spy.values_end(); ++v) {
                  if (!(*v).empty()) values.push_back({*v, v.get_termfreq()});
                }
                return values;
              };
              std::vector<FacetValue> domain_counts = counts_of(domains);
              std::sort(domain_counts.begin(), domain_counts.end(),
                        [](const FacetValue& a, const FacetValue& b) {
                          return a.count != b.count ? a.count > b.count : a.value < b.value;
                        });
              if (domain_counts.size() > whole.facet_values) domain_counts.resize(whole.facet_values);
              std::vector<FacetValue> year_counts = counts_of(years);
              std::reverse(year_counts.begin(), year_counts.end());
              EXPECT_EQ(expected->facets.sender_domain, domain_counts);
              EXPECT_EQ(expected->facets.year, year_counts);
            }
          }
          for (const SearchResults* got : {&*counted, &*windowed}) {
            EXPECT_EQ(Ids(*got), Ids(*expected));
            EXPECT_EQ(got->total, expected->total);
            EXPECT_EQ(got->total_exact, expected->total_exact);
            EXPECT_EQ(got->facets.account, expected->facets.account);
            EXPECT_EQ(got->facets.sender_domain, expected->facets.sender_domain);
            EXPECT_EQ(got->facets.year, expected->facets.year);
          }
          compared_hits += expected->hits.size();
        }
      }
    }
  }
  EXPECT_GT(compared_hits, 2000u);  // the comparison saw real pages, not empty ones

  // And the date order itself: "common" page by page is the whole archive,
  // newest first, against the dates the index stores.
  SearchOptions o;
  o.sort_whole_up_to = 0;
  o.limit = 50;
  int64_t previous = INT64_MAX;
  std::set<std::string> seen;
  for (o.offset = 0; o.offset < 720; o.offset += o.limit) {
    auto page = (*searcher)->Search("common", o);
    ASSERT_TRUE(page.ok());
    for (const SearchHit& h : page->hits) {
      EXPECT_LE(h.date, previous) << h.subject;
      previous = h.date;
      EXPECT_TRUE(seen.insert(h.id).second) << "twice: " << h.subject;
    }
  }
  EXPECT_EQ(seen.size(), 720u);  // and the 20 of SmallIndexTest
}

TEST_F(DateSpreadIndexTest, SharedCountsAreKeptPerIndexRevision) {
  auto counts = std::make_shared<SearchCountCache>(2);
  auto searcher = IndexSearcher::Open(IndexDir(), counts);
  ASSERT_TRUE(searcher.ok());
  SearchOptions o;
  o.sort_whole_up_to = 0;
  auto first = (*searcher)->Search("common", o);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->total, 720u);
  EXPECT_EQ(counts->size(), 1u);
  auto again = (*searcher)->Search("common", o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->total, 720u);
  EXPECT_EQ(again->facets.sender_domain, first->facets.sender_domain);
  EXPECT_EQ(counts->size(), 1u);  // counted once

  // Few matches are kept as they are (their counts and pages come from them).
  o.sort_whole_up_to = 5000;
  ASSERT_TRUE((*searcher)->Search("rare", o).ok());
  EXPECT_EQ(counts->size(), 2u);

  // What the indexer commits next is counted anew, not read from the cache.
  Add(30);
  IndexAll();
  ASSERT_TRUE((*searcher)->Refresh().ok());
  o.sort_whole_up_to = 0;
  auto after = (*searcher)->Search("common", o);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->total, 750u);
  ASSERT_FALSE(after->facets.year.empty());
  EXPECT_EQ(after->facets.year.front(), (FacetValue{"2100", 1}));

  // The least recently used entry goes when the cache is full.
  ASSERT_TRUE((*searcher)->Search("even", o).ok());
  ASSERT_TRUE((*searcher)->Search("seventh", o).ok());
  EXPECT_EQ(counts->size(), 2u);
}

TEST_F(SmallIndexTest, AddressesAndDomainsAreMatchedExactly) {
  AddTexts({"From: Bob <bob@corp.example>\nTo: carol@mail.corp.example\nSubject: a1\n\nx\n",
            "From: \"Corp Example news\" <news@other.example>\nSubject: a2 display name\n\nx\n",
            "From: bob@corp.example.evil.test\nSubject: a3 longer domain\n\nx\n",
            "From: x@corp-example.org\nSubject: a4 hyphen\n\nx\n",
            "From: BOB@CORP.EXAMPLE\nCc: Dave <dave@Corp.Example>\nSubject: a5 case\n\nx\n",
            "From: y@else.example\nSubject: a6 inner\nMIME-Version: 1.0\n"
            "Content-Type: message/rfc822\n\nFrom: inner@corp.example\nSubject: in\n\nz\n",
            "From: Jo Smith <jo.smith@else.example>\nSubject: a7 person\n\nx\n"},
           "addr");
  IndexAll();
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  auto subjects = [&](const std::string& q) {
    SearchOptions o;
    o.limit = 100;
    auto found = (*searcher)->Search(q, o);
    EXPECT_TRUE(found.ok()) << q << ": " << found.status().ToString();
    std::vector<std::string> out;
    if (!found.ok()) return out;
    for (const SearchHit& hit : found->hits) {
      if (hit.subject.rfind("a", 0) == 0) out.push_back(hit.subject.substr(0, 2));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  using V = std::vector<std::string>;
  // The domain and its subdomains; not a longer domain, another one that
  // shares its words, or a display name; case folded.
  EXPECT_EQ(subjects("from:corp.example"), (V{"a1", "a5"}));
  EXPECT_EQ(subjects("from:@CORP.example"), (V{"a1", "a5"}));
  EXPECT_EQ(subjects("from:bob@corp.example"), (V{"a1", "a5"}));
  EXPECT_EQ(subjects("from:bob@corp.example.evil.test"), (V{"a3"}));
  EXPECT_EQ(subjects("from:evil.test"), (V{"a3"}));
  EXPECT_EQ(subjects("to:corp.example"), (V{"a1"}));
  EXPECT_EQ(subjects("to:mail.corp.example"), (V{"a1"}));
  EXPECT_EQ(subjects("to:carol@corp.example"), V{});
  EXPECT_EQ(subjects("cc:dave@corp.example"), (V{"a5"}));
  EXPECT_EQ(subjects("cc:corp.example"), (V{"a5"}));
  EXPECT_EQ(subjects("bcc:corp.example"), V{});
  // A dotted value that is no sender's domain is the words of the header: a
  // person's address or name.
  EXPECT_EQ(subjects("from:jo.smith"), (V{"a7"}));
  EXPECT_EQ(subjects("from:jo.smith@else.example"), (V{"a7"}));
  EXPECT_EQ(subjects("from:else.example"), (V{"a6", "a7"}));
  // The header of an attached message is text, not the message's sender.
  EXPECT_EQ(subjects("from:inner@corp.example"), V{});
  EXPECT_EQ(subjects("inner"), (V{"a6"}));
  // Quoted, it is the words of the header, wherever they are in it.
  const V phrase = subjects("from:\"corp example\"");
  for (const char* s : {"a1", "a2", "a3", "a4", "a5"}) {
    EXPECT_NE(std::find(phrase.begin(), phrase.end(), s), phrase.end()) << s;
  }
}

TEST_F(SmallIndexTest, SnippetWithoutHighlightsKeepsEveryWholeCharacter) {
  std::string two_byte, three_byte;
  for (int i = 0; i < 300; ++i) two_byte += "\xC3\xA9";      // é
  for (int i = 0; i < 300; ++i) three_byte += "\xE2\x82\xAC";  // €
  const std::string header = "From: a@example.com\nContent-Type: text/plain; charset=utf-8\n";
  AddTexts({header + "Subject: cut0\n\n" + two_byte + "\n",
            header + "Subject: cut1\n\n" + three_byte + "\n"},
           "cut");
  IndexAll();
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  SearchOptions o;
  o.snippet_bytes = 200;
  // Subject-only queries highlight nothing: the snippet is the start of the text.
  auto two = (*searcher)->Search("subject:cut0", o);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->hits.size(), 1u);
  EXPECT_EQ(two->hits[0].snippet, two_byte.substr(0, 200) + "...");  // 100 whole é
  auto three = (*searcher)->Search("subject:cut1", o);
  ASSERT_TRUE(three.ok());
  ASSERT_EQ(three->hits.size(), 1u);
  EXPECT_EQ(three->hits[0].snippet, three_byte.substr(0, 198) + "...");  // 66 whole €, not half
}

TEST_F(SmallIndexTest, SnippetComesFromAroundTheFirstMatchOfALongText) {
  std::string filler;
  while (filler.size() < 2500) filler += "lorem ipsum dolor sit amet ";
  AddTexts({"From: a@example.com\nSubject: deep\n\n" + filler + "the Needle is here " + filler +
                "\n",
            "From: a@example.com\nSubject: umlaut\nContent-Type: text/plain; charset=utf-8\n\n" +
                filler + "\xC3\x9C" "BERWEISUNG heute " + filler + "\n"},
           "window");
  IndexAll();
  auto searcher = IndexSearcher::Open(IndexDir());
  ASSERT_TRUE(searcher.ok());
  SearchOptions o;
  o.snippet_bytes = 120;
  auto deep = (*searcher)->Search("needle", o);
  ASSERT_TRUE(deep.ok());
  ASSERT_EQ(deep->hits.size(), 1u);
  const std::string& snippet = deep->hits[0].snippet;
  EXPECT_NE(snippet.find("<b>Needle</b> is here"), std::string::npos) << snippet;
  EXPECT_EQ(snippet.rfind("...", 0), 0u) << snippet;  // the text before it is left out
  EXPECT_TRUE(snippet.ends_with("...")) << snippet;
  EXPECT_LE(snippet.size(), 120u + 2 * 3 + 7) << snippet;  // + markers and <b></b>

  // Upper-case non-ASCII is not found by the window's ASCII folding: the whole
  // text is given to Xapian, which still finds and highlights it.
  auto umlaut = (*searcher)->Search("überweisung", o);
  ASSERT_TRUE(umlaut.ok());
  ASSERT_EQ(umlaut->hits.size(), 1u);
  EXPECT_NE(umlaut->hits[0].snippet.find("<b>\xC3\x9C" "BERWEISUNG</b>"), std::string::npos)
      << umlaut->hits[0].snippet;
}

TEST_F(SmallIndexTest, SecondWriterIsToldTheIndexIsBusy) {
  auto first = Indexer::Open(IndexDir(), IndexerOptions());
  ASSERT_TRUE(first.ok());
  auto second = Indexer::Open(IndexDir(), IndexerOptions());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().ToString();
}

}  // namespace
}  // namespace mailvault
