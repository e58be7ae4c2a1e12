// libFuzzer target for the query language (search/query.h).
//
// Any input either parses, or fails with kInvalidArgument whose message starts
// with "column N: " (a clear error saying where): never a crash, a hang, a
// sanitizer report, another status code or an exception. A query that parses
// must also run: it is matched against a small in-memory index (documents with
// text, boolean terms and the date and size values), where the only error
// allowed is a wildcard expanding to too many terms. Built by scripts/fuzz.sh
// (clang, -fsanitize=fuzzer,address,undefined); seeds: tests/data/queries.
#include <xapian.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "search/index_schema.h"
#include "search/query.h"

namespace {

namespace schema = mailvault::index_schema;

constexpr int64_t kNow = 1700000000;  // 2023-11-14

Xapian::Database& SmallIndex() {
  static Xapian::WritableDatabase* db = [] {
    auto* d = new Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY);
    Xapian::TermGenerator gen;
    gen.set_stemmer(Xapian::Stem("english"));
    gen.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
    gen.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
    const char* texts[] = {"invoice zebrafish pay within thirty days", "会议 議事録 münchen café",
                           "agenda budget meeting wild1 wild2 wild3"};
    for (int i = 0; i < 3; ++i) {
      Xapian::Document doc;
      gen.set_document(doc);
      gen.index_text(texts[i]);
      gen.index_text("alice example", 1, schema::kPrefixFrom);
      gen.index_text("report", 1, schema::kPrefixSubject);
      doc.add_boolean_term(std::string(schema::kPrefixId) + std::string(64, 'a' + i));
      doc.add_boolean_term(schema::BooleanTerm(schema::kPrefixAccount, "work"));
      doc.add_boolean_term(std::string(schema::kPrefixHas) + schema::kHasAttachment);
      doc.add_value(schema::kSlotDate, Xapian::sortable_serialise(kNow - i * 86400.0 * 400));
      doc.add_value(schema::kSlotSize, Xapian::sortable_serialise(1000.0 * (i + 1)));
      d->add_document(doc);
    }
    d->commit();
    return d;
  }();
  return *db;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  mailvault::QueryParseOptions options;
  options.now = kNow;
  mailvault::Result<Xapian::Query> q = mailvault::ParseQuery(input, options);
  if (!q.ok()) {
    const mailvault::Status& s = q.status();
    if (s.code() != mailvault::StatusCode::kInvalidArgument || s.message().rfind("column ", 0) != 0) {
      std::fprintf(stderr, "bad error for a malformed query: %s\n", s.ToString().c_str());
      std::abort();
    }
    return 0;
  }
  try {
    Xapian::Enquire enquire(SmallIndex());
    enquire.set_query(*q);
    enquire.set_sort_by_value_then_relevance(schema::kSlotDate, true);
    enquire.get_mset(0, 10, 100);
  } catch (const Xapian::WildcardError&) {
    // A wildcard expanding to more than kMaxWildcardTerms: the documented error.
  } catch (const Xapian::Error& e) {
    std::fprintf(stderr, "a parsed query failed to run: %s: %s\n", e.get_type(),
                 e.get_msg().c_str());
    std::abort();
  }
  return 0;
}
