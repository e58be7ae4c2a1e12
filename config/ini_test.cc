#include "config/ini.h"

#include <gtest/gtest.h>

namespace mailvault {
namespace {

TEST(IniTest, ReadsSectionsEntriesCommentsAndLineNumbers) {
  const char* text =
      "\xEF\xBB\xBF; leading comment\r\n"
      "# another\n"
      "\n"
      "[first]   ; header comment\n"
      "  key = value  \n"
      "empty =\n"
      "commented =   ; nothing but a comment\n"
      "inline = a;b ; the first ; has no space before it\n"
      "quoted = \"x ; y\"  ; a comment after quotes\n"
      "[ second ]\n"
      "cron = 0 2 * * *\n"
      "hash = a#b";
  auto parsed = ParseIni(text, "t.ini");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2u);
  const IniSection& first = (*parsed)[0];
  EXPECT_EQ(first.name, "first");
  EXPECT_EQ(first.line, 4);
  ASSERT_EQ(first.entries.size(), 5u);
  struct Expected {
    const char* key;
    const char* value;
    int line;
  };
  const Expected expected[] = {{"key", "value", 5},
                               {"empty", "", 6},
                               {"commented", "", 7},
                               {"inline", "a;b", 8},
                               {"quoted", "x ; y", 9}};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(first.entries[i].key, expected[i].key);
    EXPECT_EQ(first.entries[i].value, expected[i].value) << expected[i].key;
    EXPECT_EQ(first.entries[i].line, expected[i].line) << expected[i].key;
  }
  const IniSection& second = (*parsed)[1];
  EXPECT_EQ(second.name, "second");
  EXPECT_EQ(second.entries[0].value, "0 2 * * *");
  EXPECT_EQ(second.entries[1].value, "a#b");
  EXPECT_EQ(second.entries[1].line, 12);
}

struct BadIni {
  std::string text;
  const char* message;  // the whole expected message
};

TEST(IniTest, RefusesBadSyntaxNamingTheLine) {
  const BadIni cases[] = {
      {"[a]\njust words\n",
       "t.ini:2: syntax error: expected \"key = value\" or \"[section]\", "
       "got \"just words\""},
      {"key = 1\n",
       "t.ini:1: key: key outside any section (put it under [archive], [web], "
       "[collector], [log] or [account.NAME])"},
      {"[a\n", "t.ini:1: syntax error: section header \"[a\" does not end with \"]\""},
      {"[]\n", "t.ini:1: syntax error: empty section name"},
      {"[a]\n= 1\n", "t.ini:2: syntax error: a key is missing before \"=\""},
      {"[a]\nmy key = 1\n", "t.ini:2: syntax error: \"my key\" is not a key name"},
      {"[a]\nk = 1\n\nk = 2\n", "t.ini:4: [a] k: duplicate key (first at line 2)"},
      {"[a]\n[b]\n[a]\n", "t.ini:3: [a]: duplicate section (first at line 1)"},
      {"[a]\nk = \"open\n", "t.ini:2: [a] k: syntax error: unterminated quoted value"},
      {"[a]\nk = \"x\" y\n", "t.ini:2: [a] k: syntax error: text after the closing quote"},
      {"[a]\nk = " + std::string(5000, 'x') + "\n",
       "t.ini:2: syntax error: line longer than 4096 characters"},
      {std::string("[a]\nk = a\0b\n", 12), "t.ini:2: syntax error: NUL byte in line"},
      {std::string(kMaxIniBytes + 1, ';'), "t.ini: larger than 1048576 bytes"},
  };
  for (const BadIni& c : cases) {
    auto parsed = ParseIni(c.text, "t.ini");
    ASSERT_FALSE(parsed.ok()) << c.message;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(), c.message);
  }
}

}  // namespace
}  // namespace mailvault
