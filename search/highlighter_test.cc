#include "search/highlighter.h"

#include <gtest/gtest.h>
#include <xapian.h>

#include <string>
#include <vector>

#include "search/query.h"

namespace mailvault {
namespace {

Xapian::Query Parse(const std::string& text) {
  auto query = ParseQuery(text, QueryParseOptions());
  EXPECT_TRUE(query.ok()) << text;
  return query.ok() ? *query : Xapian::Query();
}

std::optional<std::string> Snip(const std::string& query, const std::string& text,
                                size_t bytes = 200) {
  Highlighter h(Parse(query), Xapian::Stem("english"), "english", "<b>", "</b>", "...");
  return h.Snippet(text, bytes);
}

// The words between the markers, in order.
std::vector<std::string> Marked(const std::string& snippet) {
  std::vector<std::string> out;
  for (size_t at = snippet.find("<b>"); at != std::string::npos; at = snippet.find("<b>", at)) {
    const size_t end = snippet.find("</b>", at);
    out.push_back(snippet.substr(at + 3, end - at - 3));
    at = end;
  }
  return out;
}

TEST(HighlighterTest, MarksWordsAndTheirStemsEscapedWithWhiteSpaceCollapsed) {
  EXPECT_EQ(Snip("invoices", "Three Invoices\n\n and an invoice <now> & later."),
            "Three <b>Invoices</b> and an <b>invoice</b> &lt;now&gt; &amp; later.");
  // A quoted word is not stemmed: only the word itself.
  EXPECT_EQ(Marked(*Snip("\"invoices\"", "invoices and an invoice")),
            std::vector<std::string>{"invoices"});
  // Field terms (from:, subject:) are not in the text's words.
  EXPECT_EQ(Marked(*Snip("subject:invoice report", "invoice report")),
            std::vector<std::string>{"report"});
  // Apostrophes inside a word, non-ASCII case.
  EXPECT_EQ(Marked(*Snip("don't \u00fcberweisung", "I don't know, \u00dcBERWEISUNG heute")),
            (std::vector<std::string>{"don't", "\u00dcBERWEISUNG"}));
}

TEST(HighlighterTest, TakesTheFragmentWithTheMostQueryWordsAndMarksWhatIsLeftOut) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "filler words here. ";
  text += "alpha once. ";
  for (int i = 0; i < 20; ++i) text += "more filler. ";
  text += "alpha and beta together. ";
  for (int i = 0; i < 40; ++i) text += "tail filler. ";
  const std::string snippet = *Snip("alpha beta", text, 100);
  EXPECT_NE(snippet.find("<b>alpha</b> and <b>beta</b> together."), std::string::npos) << snippet;
  EXPECT_EQ(snippet.rfind("...", 0), 0u) << snippet;
  EXPECT_TRUE(snippet.ends_with("...")) << snippet;
  EXPECT_LE(snippet.size(), 100u + 2 * 3 + 2 * 7) << snippet;
  // No query word in the text: its start.
  EXPECT_EQ(Snip("absent", "Short text.", 100), "Short text.");
}

TEST(HighlighterTest, MalformedUtf8AndHugeWordsAreNoProblem) {
  // Broken sequences are not words and pass through as bytes (the text was
  // converted to UTF-8 when indexed; this is a guard, not a repair).
  const std::optional<std::string> broken = Snip("abc", "\xff\xfe abc \xc3 \xe2\x82 end \xc3");
  ASSERT_TRUE(broken.has_value());
  EXPECT_NE(broken->find("<b>abc</b>"), std::string::npos) << *broken;
  // A word longer than the snippet is left to Xapian, which cuts it.
  EXPECT_FALSE(Snip("abc", std::string(5000, 'x'), 200).has_value());
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "abc ";
  const std::optional<std::string> long_text = Snip("abc", many, 200);
  ASSERT_TRUE(long_text.has_value());
  EXPECT_LE(long_text->size(), 200u + 3 + 50 * 7);
}

TEST(HighlighterTest, LeavesCjkTextAndWildcardsToXapian) {
  EXPECT_FALSE(Snip("\u8b70\u4e8b", "\u8b70\u4e8b\u9332 meeting").has_value());
  EXPECT_FALSE(Snip("invoi*", "invoice").has_value());
  EXPECT_TRUE(Snip("meeting", "caf\u00e9 \u2014 meeting \u2019s").has_value());
}

// On texts short enough to be shown whole, the words marked are the ones
// Xapian's MSet::snippet marks.
TEST(HighlighterTest, MarksTheWordsXapiansSnippetMarks) {
  const std::vector<std::string> texts = {
      "The invoices were paid; the invoice for March wasn't.",
      "Running runners ran a run: RUNS!",
      "Meeting at 10:30 about the budget_2023 and budgets.",
      "Caf\u00e9 Z\u00fcrich \u00c9t\u00e9 \u00e9t\u00e9s, na\u00efve naivety.",
      "it's its; O'Neil's o'neil don't dont",
      "e-mail email e.mail foo@example.com example.com",
  };
  const std::vector<std::string> queries = {
      "invoice", "\"invoices\"", "run", "runners", "budget", "budget_2023", "10",
      "caf\u00e9", "\u00e9t\u00e9", "naive", "o'neil", "don't", "email", "example", "mail OR paid",
  };
  Xapian::WritableDatabase db(std::string(), Xapian::DB_BACKEND_INMEMORY);
  Xapian::TermGenerator generator;
  generator.set_stemmer(Xapian::Stem("english"));
  generator.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
  Xapian::Document doc;
  generator.set_document(doc);
  for (const std::string& t : texts) generator.index_text(t);
  db.add_document(doc);
  size_t compared = 0;
  for (const std::string& q : queries) {
    const Xapian::Query query = Parse(q);
    Xapian::Enquire enquire(db);
    enquire.set_query(query);
    const Xapian::MSet mset = enquire.get_mset(0, 10);
    for (const std::string& text : texts) {
      SCOPED_TRACE(q + " in " + text);
      const std::string theirs =
          mset.snippet(text, 500, Xapian::Stem("english"), 0, "<b>", "</b>", "...");
      Highlighter ours(query, Xapian::Stem("english"), "english", "<b>", "</b>", "...");
      const std::optional<std::string> snippet = ours.Snippet(text, 500);
      ASSERT_TRUE(snippet.has_value());
      EXPECT_EQ(Marked(*snippet), Marked(theirs)) << *snippet << " | " << theirs;
      compared += Marked(theirs).size();
    }
  }
  EXPECT_GT(compared, 20u);  // the comparison saw marked words
}

}  // namespace
}  // namespace mailvault
