#include "archive/canonical.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/testing.h"

namespace mailvault {
namespace {

struct Case {
  std::string raw;
  std::string canonical;
};

TEST(CanonicalTest, Table) {
  const Case cases[] = {
      {"a\nb\n", "a\r\nb\r\n"},
      {"a\r\nb\r\n", "a\r\nb\r\n"},
      {"a\r\nb", "a\r\nb\r\n"},          // final CRLF added
      {"a\rb\n", "a\rb\r\n"},            // bare CR kept
      {"\n\n", "\r\n\r\n"},
      {"x", "x\r\n"},
      {"", "\r\n"},
      {"a\r", "a\r\r\n"},                // a trailing lone CR is data
      {std::string("a\0b\n", 4), std::string("a\0b\r\n", 5)},  // NUL bytes kept
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Canonicalize(c.raw), c.canonical) << "raw: " << c.raw;
    EXPECT_EQ(testing::CanonicalizeForTest(c.raw), c.canonical);
  }
}

TEST(CanonicalTest, AnyChunkingGivesTheSameBytes) {
  std::mt19937 rng(42);
  const std::string alphabet = "ab\r\n\n\r.";
  for (int round = 0; round < 300; ++round) {
    std::string raw;
    size_t len = rng() % 200;
    for (size_t i = 0; i < len; ++i) raw += alphabet[rng() % alphabet.size()];
    Canonicalizer c;
    std::string out;
    size_t pos = 0;
    while (pos < raw.size()) {
      size_t n = 1 + rng() % 7;
      c.Feed(std::string_view(raw).substr(pos, n), &out);
      pos += n;
    }
    c.Finish(&out);
    ASSERT_EQ(out, testing::CanonicalizeForTest(raw)) << "round " << round;
  }
}

}  // namespace
}  // namespace mailvault
