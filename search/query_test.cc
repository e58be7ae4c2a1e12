// The query language (search/query.h): errors with their columns, the terms each
// field produces, and date and size ranges evaluated on a small in-memory index
// whose documents carry known values (with a fixed "now").
#include "search/query.h"

#include <gtest/gtest.h>
#include <xapian.h>

#include <chrono>
#include <set>

#include "search/index_schema.h"

namespace mailvault {
namespace {

namespace schema = index_schema;

struct BadQuery {
  std::string query;
  size_t column;
  std::string says;
};

TEST(QueryParserTest, MalformedQueriesSayWhereAndWhat) {
  const BadQuery cases[] = {
      {"", 1, "empty query"},
      {"   ", 1, "empty query"},
      {"from:", 1, "expected a value after 'from:'"},
      {"invoice form:alice", 9, "unknown field 'form'"},
      {"\"unterminated phrase", 1, "unterminated quote"},
      {"subject:\"open", 9, "unterminated quote"},
      {"a (b c", 3, "'(' is never closed"},
      {"a b)", 4, "unmatched ')'"},
      {"()", 1, "empty parentheses"},
      {"a AND", 3, "expected a term after AND"},
      {"OR a", 1, "OR needs a term before it"},
      {"a OR OR b", 3, "expected a term after OR"},
      {"NOT", 1, "expected a term after NOT"},
      {"a - b", 3, "'-' must be directly followed"},
      {"in*voice", 3, "only at the end of a word"},
      {"date:2023-13-01", 6, "invalid date '2023-13-01'"},
      {"date:2023-02-30", 6, "invalid date '2023-02-30'"},
      {"date:2024..2023", 6, "ends before it starts"},
      {"date:2023..soon", 12, "invalid date 'soon'"},
      {"date:..", 6, "needs at least one end"},
      {"size:>abc", 7, "invalid size 'abc'"},
      {"size:10q", 6, "invalid size '10q'"},
      {"size:<0", 6, "smaller than 0"},
      {"has:pdf", 5, "has: knows only 'attachment'"},
      {"flag:odd", 6, "unknown flag 'odd'"},
      {"id:<>", 4, "expected a message id"},
      // Columns count characters, not bytes.
      {"Größe form:x", 7, "unknown field 'form'"},
      {"日本 date:x", 9, "invalid date 'x'"},
  };
  for (const BadQuery& c : cases) {
    Result<Xapian::Query> q = ParseQuery(c.query, QueryParseOptions());
    ASSERT_FALSE(q.ok()) << c.query;
    EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument) << c.query;
    const std::string& m = q.status().message();
    EXPECT_EQ(m.rfind("column " + std::to_string(c.column) + ": ", 0), 0u)
        << "query [" << c.query << "]: " << m;
    EXPECT_NE(m.find(c.says), std::string::npos) << "query [" << c.query << "]: " << m;
  }
}

TEST(QueryParserTest, LimitsAreErrorsThatSayWhich) {
  auto parse = [](const std::string& q) { return ParseQuery(q, QueryParseOptions()); };
  auto expect_error = [&](const std::string& q, const std::string& says) {
    Result<Xapian::Query> r = parse(q);
    ASSERT_FALSE(r.ok()) << says;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("column ", 0), 0u) << r.status().message();
    EXPECT_NE(r.status().message().find(says), std::string::npos) << r.status().message();
  };
  // Length.
  std::string words;
  while (words.size() + 5 <= kMaxQueryBytes) words += "word ";
  EXPECT_TRUE(parse(words.substr(0, 200)).ok());
  expect_error(std::string(kMaxQueryBytes + 1, 'a'), "too long");
  // Nesting: the limit itself is fine, one more level is not.
  auto nested = [](int depth) {
    return std::string(static_cast<size_t>(depth), '(') + "a" +
           std::string(static_cast<size_t>(depth), ')');
  };
  EXPECT_TRUE(parse(nested(kMaxQueryDepth)).ok());
  expect_error(nested(kMaxQueryDepth + 1), "nested too deeply");
  expect_error(std::string(2000, '('), "nested too deeply");  // no stack overflow
  // Terms.
  auto terms = [](size_t n) {
    std::string q;
    for (size_t i = 0; i < n; ++i) q += "t" + std::to_string(i) + (i % 2 ? " OR " : " ");
    return q + "end";
  };
  EXPECT_TRUE(parse(terms(kMaxQueryTerms - 1)).ok());
  expect_error(terms(kMaxQueryTerms), "too many search terms");
  // NOT chains are a loop, not recursion.
  std::string nots;
  for (int i = 0; i < 500; ++i) nots += "NOT ";
  EXPECT_TRUE(parse(nots + "a").ok());
}

struct TermCase {
  std::string query;
  std::vector<std::string> contains;  // substrings of Query::get_description()
};

TEST(QueryParserTest, FieldsBuildTheSchemaTerms) {
  const TermCase cases[] = {
      {"from:alice", {"ZXFROMalic"}},
      {"to:bob", {"ZXTObob"}},
      {"cc:carol", {"ZXCCcarol"}},
      {"bcc:dave", {"ZXBCCdave"}},
      {"subject:invoices", {"ZSinvoic"}},
      {"filename:report", {"ZXFNreport"}},
      {"from:\"alice@example.com\"", {"PHRASE", "XFROMalice", "XFROMexample", "XFROMcom"}},
      // Unquoted, an address or a domain is its exact term, case folded.
      {"from:Alice@Example.com", {"0 * XADDRFROMalice@example.com"}},
      {"from:corp.example", {"0 * XADDRFROM@corp.example"}},
      {"to:@corp.example", {"0 * XADDRTO@corp.example"}},
      {"cc:bob@mail.corp.example", {"0 * XADDRCCbob@mail.corp.example"}},
      {"bcc:corp.example", {"0 * XADDRBCC@corp.example"}},
      // Not an address: words of the header.
      {"from:bob@", {"XFROMbob"}},
      {"from:bob@corp..example", {"XFROMbob", "XFROMcorp"}},
      {"from:alice.smith*", {"WILDCARD", "XFROMalice.smith"}},
      {"account:work-pop3", {"XACCOUNTwork-pop3"}},
      {"account:work*", {"WILDCARD", "XACCOUNTwork"}},
      {"type:Application/PDF", {"XTYPEapplication/pdf"}},
      {"type:image/*", {"WILDCARD", "XTYPEimage/"}},
      {"has:attachment", {"XHASattachment"}},
      {"flag:structure-failed", {"XFLAGstructure-failed"}},
      {"id:<abc@example.com>", {"XMIDabc@example.com"}},
      {"id:0123456789ABCDEF", {"WILDCARD", "Q0123456789abcdef", "XMID0123456789ABCDEF"}},
      {"id:" + std::string(64, 'a'), {"Q" + std::string(64, 'a')}},
      {"invoic*", {"WILDCARD", "invoic"}},
      {"subject:Invoic*", {"WILDCARD", "Sinvoic"}},
      {"\"quarterly report\"", {"PHRASE", "quarterly", "report"}},
      {"a OR b", {"OR"}},
      {"a b", {"AND"}},
      {"a AND b", {"AND"}},
      {"a -b", {"AND_NOT"}},
      {"a NOT b", {"AND_NOT"}},
      {"NOT a", {"AND_NOT", "<alldocuments>"}},
      {"-(a OR b) c", {"AND_NOT", "OR"}},
      {"*", {"<alldocuments>"}},
      {"議事録", {"議", "事", "録", "議事"}},
      {"date:2023", {"VALUE_RANGE 0"}},
      {"date:2023..", {"VALUE_GE 0"}},
      {"date:..2023", {"VALUE_LE 0"}},
      // Whole days, up to a quarter, are day terms; longer ranges value ranges.
      {"date:2024-02", {"XDAY20240201", "XDAY20240229", "0 * "}},
      {"date:2023-12-30..2024-01-02", {"XDAY20231230", "XDAY20240102"}},
      {"date:2023-01..2023-06", {"VALUE_RANGE 0"}},
      {"size:>1M", {"VALUE_GE 1"}},
  };
  for (const TermCase& c : cases) {
    Result<Xapian::Query> q = ParseQuery(c.query, QueryParseOptions());
    ASSERT_TRUE(q.ok()) << c.query << ": " << q.status().ToString();
    std::string d = q->get_description();
    for (const std::string& s : c.contains) {
      EXPECT_NE(d.find(s), std::string::npos) << c.query << " -> " << d << " lacks " << s;
    }
  }
}

TEST(QueryParserTest, FiltersDoNotWeigh) {
  // Boolean fields and ranges must not change relevance ranking.
  Result<Xapian::Query> q = ParseQuery("has:attachment", QueryParseOptions());
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->get_description().find("0 * "), std::string::npos) << q->get_description();
}

int64_t Utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  using namespace std::chrono;
  return sys_days(year_month_day(year(y), month(m), day(d))).time_since_epoch().count() * 86400 +
         hh * 3600 + mm * 60 + ss;
}

// Documents 1..6 with known dates and sizes, in an in-memory database.
class QueryRangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY);
    Add(Utc(2022, 12, 31, 23, 59, 59), 500);
    Add(Utc(2023, 1, 1), 1024);
    Add(Utc(2023, 6, 30, 12), 1025);
    Add(Utc(2023, 7, 1), 1 << 20);
    Add(Utc(2024, 2, 29, 10), (1 << 20) + 1);
    Add(Utc(2024, 3, 9, 23), int64_t{3} << 30);
  }
  void Add(int64_t date, int64_t size) {
    Xapian::Document doc;
    doc.add_value(schema::kSlotDate, Xapian::sortable_serialise(static_cast<double>(date)));
    doc.add_value(schema::kSlotSize, Xapian::sortable_serialise(static_cast<double>(size)));
    doc.add_boolean_term(schema::DayTerm(date));  // as the indexer writes it
    doc.add_boolean_term("Xall");
    db_.add_document(doc);
  }
  std::set<unsigned> Match(const std::string& query, int64_t now) {
    QueryParseOptions o;
    o.now = now;
    Result<Xapian::Query> q = ParseQuery(query, o);
    EXPECT_TRUE(q.ok()) << query << ": " << q.status().ToString();
    if (!q.ok()) return {};
    Xapian::Enquire enquire(db_);
    enquire.set_query(*q);
    Xapian::MSet mset = enquire.get_mset(0, 100);
    std::set<unsigned> out;
    for (auto it = mset.begin(); it != mset.end(); ++it) out.insert(*it);
    return out;
  }
  Xapian::WritableDatabase db_;
};

TEST_F(QueryRangeTest, DatesAndSizes) {
  const int64_t now = Utc(2024, 3, 10);  // injected "now"
  const std::pair<std::string, std::set<unsigned>> cases[] = {
      {"date:2023", {2, 3, 4}},
      {"date:2023-01-01..2023-06-30", {2, 3}},
      {"date:2023-06..2023-07", {3, 4}},
      {"date:..2023", {1, 2, 3, 4}},
      {"date:2024..", {5, 6}},
      {"date:2024-02", {5}},
      {"date:2024-02-29", {5}},
      {"date:2022-12-31", {1}},  // 23:59:59 is still that day
      {"date:2023-01-01", {2}},  // midnight is the next one
      {"date:2022-12-31..2023-01-01", {1, 2}},
      {"date:2022-12..2023-01", {1, 2}},
      {"date:30d..", {5, 6}},  // since 2024-02-09
      {"date:30d", {5, 6}},    // a single relative point means "since"
      {"date:1w..", {6}},
      {"date:2h..", {6}},
      {"date:1y..", {3, 4, 5, 6}},  // since 2023-03-11 (365 days)
      {"date:..1y", {1, 2}},
      {"date:1y..30d", {3, 4}},
      {"date:yesterday", {6}},
      {"date:today", {}},
      {"size:>1M", {5, 6}},
      {"size:>=1M", {4, 5, 6}},
      {"size:>1mb", {5, 6}},
      {"size:<1k", {1}},
      {"size:<=1k", {1, 2}},
      {"size:1k..1M", {2, 3, 4}},
      {"size:1024", {2}},
      {"size:>2G", {6}},
      {"size:..1k", {1, 2}},
      {"date:2023 size:>1k", {3, 4}},
      {"date:2023 -size:>1k", {2}},
      {"date:2022 OR size:>2G", {1, 6}},
      {"NOT date:2023", {1, 5, 6}},
  };
  for (const auto& [query, expected] : cases) {
    EXPECT_EQ(Match(query, now), expected) << query;
  }
}

}  // namespace
}  // namespace mailvault
