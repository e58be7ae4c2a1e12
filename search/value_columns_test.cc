#include "search/value_columns.h"

#include <gtest/gtest.h>
#include <xapian.h>

#include <string>
#include <thread>
#include <vector>

#include "search/index_schema.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

namespace schema = index_schema;
using testing::TempDir;

// Adds documents to the index at `path` with the values the columns read;
// every third has no sender domain, every fifth no date, and accounts repeat
// so names are shared.
void AddDocuments(const std::string& path, int from, int count,
                  int flags = Xapian::DB_CREATE_OR_OPEN) {
  Xapian::WritableDatabase db(path, flags);
  for (int i = from; i < from + count; ++i) {
    Xapian::Document doc;
    if (i % 5 != 0) doc.add_value(schema::kSlotDate, Xapian::sortable_serialise(1.6e9 + i * 1000.0));
    doc.add_value(schema::kSlotAccount, i % 4 == 0 ? "a\nb" : "acct" + std::to_string(i % 3));
    if (i % 3 != 0) doc.add_value(schema::kSlotSenderDomain, "d" + std::to_string(i % 7) + ".example");
    doc.add_value(schema::kSlotYear, std::to_string(2000 + i % 2));
    doc.add_term("Xall");
    db.add_document(doc);
  }
  db.commit();
}

// Each column against what Xapian reads for the same document.
void ExpectSameAsXapian(const ValueColumns& columns, const Xapian::Database& db) {
  ASSERT_EQ(columns.last_docid(), db.get_lastdocid());
  const std::pair<ValueColumns::Facet, Xapian::valueno> facets[] = {
      {ValueColumns::kAccount, schema::kSlotAccount},
      {ValueColumns::kSenderDomain, schema::kSlotSenderDomain},
      {ValueColumns::kYear, schema::kSlotYear}};
  for (Xapian::docid did = 1; did <= db.get_lastdocid(); ++did) {
    SCOPED_TRACE("docid " + std::to_string(did));
    const Xapian::Document doc = db.get_document(did);
    const std::string date = doc.get_value(schema::kSlotDate);
    EXPECT_EQ(columns.Date(did),
              date.empty() ? ValueColumns::kNoDate : Xapian::sortable_unserialise(date));
    for (const auto& [facet, slot] : facets) {
      const std::string value = doc.get_value(slot);
      const uint32_t id = columns.Id(facet, did);
      if (value.empty()) {
        EXPECT_EQ(id, 0u);
      } else {
        ASSERT_GT(id, 0u);
        ASSERT_LE(id, columns.names(facet).size());
        EXPECT_EQ(columns.names(facet)[id - 1], value);
      }
    }
  }
}

TEST(ValueColumnsTest, ReadsEveryDocumentAndExtendsWithWhatIsAddedLater) {
  TempDir dir;
  const std::string path = dir.path() + "/index";
  AddDocuments(path, 0, 300);
  ValueColumnsCache cache;
  Xapian::Database first(path);
  auto columns = cache.For(first);
  ExpectSameAsXapian(*columns, first);
  EXPECT_EQ(columns->names(ValueColumns::kYear).size(), 2u);  // interned, not per document
  EXPECT_EQ(cache.For(first), columns);  // nothing new: the same columns

  AddDocuments(path, 300, 50);
  Xapian::Database second(path);
  auto extended = cache.For(second);
  EXPECT_NE(extended, columns);
  ExpectSameAsXapian(*extended, second);
  // The earlier columns are unchanged for the searchers still holding them.
  ExpectSameAsXapian(*columns, first);
  // A searcher still at the earlier revision gets the newest columns: a
  // superset of what it can match.
  EXPECT_EQ(cache.For(first), extended);
  // Out of range reads as no values.
  EXPECT_EQ(extended->Id(ValueColumns::kYear, 351), 0u);
  EXPECT_EQ(extended->Date(0), ValueColumns::kNoDate);
}

TEST(ValueColumnsTest, AnIndexBuiltAnewIsReadAnew) {
  TempDir dir;
  const std::string path = dir.path() + "/index";
  ValueColumnsCache cache;
  AddDocuments(path, 0, 40);
  auto before = cache.For(Xapian::Database(path));
  // Rebuilt (as `mailvault reindex` does) with other values under the same docids.
  AddDocuments(path, 1000, 60, Xapian::DB_CREATE_OR_OVERWRITE);
  Xapian::Database rebuilt(path);
  auto after = cache.For(rebuilt);
  EXPECT_NE(after->uuid(), before->uuid());
  ExpectSameAsXapian(*after, rebuilt);
}

TEST(ValueColumnsTest, SearchersOnManyThreadsShareOneLoad) {
  TempDir dir;
  const std::string path = dir.path() + "/index";
  AddDocuments(path, 0, 2000);
  ValueColumnsCache cache;
  std::vector<std::shared_ptr<const ValueColumns>> got(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] { got[t] = cache.For(Xapian::Database(path)); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& columns : got) EXPECT_EQ(columns, got[0]);
  ExpectSameAsXapian(*got[0], Xapian::Database(path));
}

}  // namespace
}  // namespace mailvault
