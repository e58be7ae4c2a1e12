// End-to-end tests of `mailvault search` and `mailvault reindex`, driving the
// built binary on tests/data/mime: the JSON shape of the CLI contract, paging,
// sorting, the human table, errors with their column, reindex, and that search
// indexes what was imported after the last search.
#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <set>

#include "tests/testing.h"

namespace mailvault {
namespace {

using testing::ProcessResult;

ProcessResult Mailvault(const std::string& data, std::vector<std::string> args) {
  std::vector<std::string> argv = {testing::MailvaultBinary(), "--data", data};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunProcess(argv);
}

Poco::JSON::Object::Ptr Json(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::set<std::string> ResultIds(const Poco::JSON::Object::Ptr& doc) {
  std::set<std::string> ids;
  auto results = doc->getArray("results");
  for (size_t i = 0; i < results->size(); ++i) {
    ids.insert(results->getObject(static_cast<unsigned>(i))->getValue<std::string>("id"));
  }
  return ids;
}

class SearchCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() + "/data";
    ProcessResult r = Mailvault(data_, {"import", testing::TestData("mime")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  testing::TempDir dir_;
  std::string data_;
};

TEST_F(SearchCliTest, JsonFollowsTheContract) {
  ProcessResult r = Mailvault(data_, {"search", "--json", "subject:test"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = Json(r.out);
  // ks_c_5601-1987 ("test") and the two ruby-mail "testing" messages (stemmed).
  EXPECT_EQ(doc->getValue<uint64_t>("total"), 3u);
  auto results = doc->getArray("results");
  ASSERT_EQ(results->size(), 3u);
  auto first = results->getObject(0);
  for (const char* key : {"id", "date", "from", "subject", "snippet"}) {
    EXPECT_TRUE(first->has(key)) << key;
  }
  EXPECT_EQ(first->getValue<std::string>("id").size(), 64u);
  EXPECT_EQ(first->getValue<std::string>("date"), "2014-05-28T08:18:19Z");  // newest first
  EXPECT_EQ(first->getValue<std::string>("from"), "from@example.com");
  EXPECT_EQ(first->getValue<std::string>("subject"), "test");
  auto facets = doc->getObject("facets");
  ASSERT_TRUE(facets);
  for (const char* key : {"account", "sender_domain", "year"}) EXPECT_TRUE(facets->has(key)) << key;
  auto domains = facets->getArray("sender_domain");
  ASSERT_EQ(domains->size(), 1u);
  EXPECT_EQ(domains->getObject(0)->getValue<std::string>("value"), "example.com");
  EXPECT_EQ(domains->getObject(0)->getValue<uint64_t>("count"), 3u);

  // The id is what `cat` takes.
  ProcessResult cat = Mailvault(data_, {"cat", first->getValue<std::string>("id").substr(0, 12)});
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_NE(cat.out.find("Subject: test"), std::string::npos);
}

TEST_F(SearchCliTest, PagingSortingAndExclusion) {
  ProcessResult all = Mailvault(data_, {"search", "--json", "--limit", "100", "*"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto everything = Json(all.out);
  const uint64_t total = everything->getValue<uint64_t>("total");
  EXPECT_GE(total, 15u);
  std::set<std::string> paged;
  for (uint64_t offset = 0; offset < total; offset += 4) {
    ProcessResult page = Mailvault(
        data_, {"search", "--json", "--offset", std::to_string(offset), "--limit", "4", "*"});
    ASSERT_EQ(page.exit_code, 0) << page.err;
    auto ids = ResultIds(Json(page.out));
    paged.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(paged, ResultIds(everything));

  ProcessResult rel = Mailvault(data_, {"search", "--json", "--sort", "relevance", "創業"});
  ASSERT_EQ(rel.exit_code, 0) << rel.err;
  EXPECT_EQ(Json(rel.out)->getValue<uint64_t>("total"), 1u);

  // "-term" after the first query word excludes; it is not an option.
  ProcessResult minus = Mailvault(data_, {"search", "--json", "subject:test", "-from:foo"});
  ASSERT_EQ(minus.exit_code, 0) << minus.err;
  EXPECT_EQ(Json(minus.out)->getValue<uint64_t>("total"), 1u);

  ProcessResult bad_sort = Mailvault(data_, {"search", "--sort", "size", "x"});
  EXPECT_EQ(bad_sort.exit_code, 1);
  EXPECT_NE(bad_sort.err.find("--sort must be date or relevance"), std::string::npos);
}

TEST_F(SearchCliTest, HumanTableAndErrors) {
  ProcessResult r = Mailvault(data_, {"search", "subject:test"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("DATE (UTC)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2014-05-28 08:18  from@example.com"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 messages"), std::string::npos) << r.out;

  ProcessResult none = Mailvault(data_, {"search", "nosuchwordanywhere"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("0 messages"), std::string::npos) << none.out;

  ProcessResult bad = Mailvault(data_, {"search", "subject:test", "date:2023-13"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("column 19: invalid date '2023-13'"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty());
}

TEST_F(SearchCliTest, SearchIndexesNewMailAndReindexRebuilds) {
  ProcessResult before = Mailvault(data_, {"search", "--json", "zanzibarquartz"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(Json(before.out)->getValue<uint64_t>("total"), 0u);
  std::string eml = dir_.path() + "/new.eml";
  testing::WriteFile(eml, "From: new@example.org\nSubject: arrived later\n"
                          "Date: Sat, 01 Jun 2024 10:00:00 +0000\n\nzanzibarquartz\n");
  ASSERT_EQ(Mailvault(data_, {"import", eml}).exit_code, 0);
  ProcessResult after = Mailvault(data_, {"search", "--json", "zanzibarquartz"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  auto found = Json(after.out);
  EXPECT_EQ(found->getValue<uint64_t>("total"), 1u);

  ProcessResult all_before = Mailvault(data_, {"search", "--json", "--limit", "1000", "*"});
  ProcessResult reindex = Mailvault(data_, {"reindex"});
  ASSERT_EQ(reindex.exit_code, 0) << reindex.err;
  EXPECT_NE(reindex.out.find("reindex: "), std::string::npos);
  ProcessResult all_after = Mailvault(data_, {"search", "--json", "--limit", "1000", "*"});
  ASSERT_EQ(all_after.exit_code, 0) << all_after.err;
  EXPECT_EQ(ResultIds(Json(all_before.out)), ResultIds(Json(all_after.out)));
  EXPECT_EQ(ResultIds(Json(Mailvault(data_, {"search", "--json", "zanzibarquartz"}).out)),
            ResultIds(found));
}

// Compaction moves every segment and renumbers the catalog: the index, which
// names messages by id, answers as before, and mail that arrives afterwards is
// indexed.
TEST_F(SearchCliTest, SearchAnswersTheSameAfterCompaction) {
  ProcessResult before = Mailvault(data_, {"search", "--json", "--limit", "1000", "*"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  ASSERT_GT(Json(before.out)->getValue<uint64_t>("total"), 10u);
  ProcessResult compact = Mailvault(data_, {"compact"});
  ASSERT_EQ(compact.exit_code, 0) << compact.err;
  ProcessResult after = Mailvault(data_, {"search", "--json", "--limit", "1000", "*"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(ResultIds(Json(after.out)), ResultIds(Json(before.out)));
  ProcessResult subject = Mailvault(data_, {"search", "--json", "subject:test"});
  auto first = Json(subject.out)->getArray("results")->getObject(0);
  ProcessResult cat = Mailvault(data_, {"cat", first->getValue<std::string>("id")});
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_NE(cat.out.find("Subject: test"), std::string::npos);

  std::string eml = dir_.path() + "/later.eml";
  testing::WriteFile(eml, "From: later@example.org\nSubject: after compaction\n"
                          "Date: Sun, 02 Jun 2024 10:00:00 +0000\n\nquokkaparallax\n");
  ASSERT_EQ(Mailvault(data_, {"import", eml}).exit_code, 0);
  ProcessResult later = Mailvault(data_, {"search", "--json", "quokkaparallax"});
  ASSERT_EQ(later.exit_code, 0) << later.err;
  EXPECT_EQ(Json(later.out)->getValue<uint64_t>("total"), 1u);
  ProcessResult all = Mailvault(data_, {"search", "--json", "--limit", "1000", "*"});
  EXPECT_EQ(Json(all.out)->getValue<uint64_t>("total"), Json(before.out)->getValue<uint64_t>("total") + 1);
}

}  // namespace
}  // namespace mailvault
