// Unit tests of the decoder's pieces: charsets, RFC 2047, HTML, dates, converters.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "search/attachment_text.h"
#include "search/charset.h"
#include "search/html_text.h"
#include "search/mail_date.h"
#include "search/rfc2047.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

struct CharsetCase {
  std::string bytes;
  std::string declared;
  std::string expected;
  std::string problem_prefix;  // "" = no problem expected
};

TEST(CharsetTest, ConvertsDeclaredWrongAndMissingCharsets) {
  const CharsetCase cases[] = {
      {"plain ascii", "", "plain ascii", ""},
      {"caf\xE9", "iso-8859-1", "caf\xC3\xA9", ""},
      {"\x93quoted\x94", "iso-8859-1", "\xE2\x80\x9Cquoted\xE2\x80\x9D", ""},  // 1252 superset
      {"\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",
       ""},
      {"\xCF\xF0\xE8\xE2\xE5\xF2", "windows-1251",
       "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", ""},
      {"\x1B$B$3$s$K$A$O\x1B(B", "iso-2022-jp",
       "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF", ""},
      {"\xA4\xA4\xA4\xE5", "big5", "\xE4\xB8\xAD\xE6\x96\x87", ""},
      {"\xC7\xD1\xB1\xDB", "ks_c_5601-1987", "\xED\x95\x9C\xEA\xB8\x80", ""},
      // No or meaningless label: UTF-8 when valid, else windows-1252, flagged.
      {"caf\xC3\xA9", "", "caf\xC3\xA9", ""},
      {"caf\xE9", "", "caf\xC3\xA9", "no charset: fell back to windows-1252"},
      {"caf\xE9", "default", "caf\xC3\xA9", "charset default: fell back"},
      {"caf\xE9", "x-unknown", "caf\xC3\xA9", "charset x-unknown: fell back to windows-1252"},
      {"caf\xE9", "us-ascii", "caf\xC3\xA9", "charset us-ascii: fell back"},
      // Declared wrong: a single-byte label on UTF-8 text.
      {"caf\xC3\xA9 \xE2\x82\xAC", "koi8-u", "caf\xC3\xA9 \xE2\x82\xAC",
       "charset koi8-u does not fit the text: read as UTF-8"},
      // Invalid bytes are replaced, never dropped.
      {"a\xFF"
       "b",
       "utf-8",
       "a\xEF\xBF\xBD"
       "b",
       "charset utf-8: invalid bytes replaced"},
      // Other spellings of UTF-8 are validated too (glibc's iconv copies UTF-8 to
      // UTF-8 unchecked), and iconv's output is checked (UCS-4 above U+10FFFF).
      {"a\xFB\x81"
       "b",
       "UTF]8",
       "a\xEF\xBF\xBD\xEF\xBF\xBD"
       "b",
       "charset UTF]8: invalid bytes replaced"},
      {std::string("\0\x7F\xFF\xFF\0\0\0A", 8), "UCS-4",
       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
       "A",
       "charset UCS-4: invalid bytes replaced"},
      // iconv options in a label are not passed on: an unknown charset.
      {"caf\xE9", "utf-8//IGNORE", "caf\xC3\xA9", "charset utf-8//IGNORE: fell back"},
  };
  for (const auto& c : cases) {
    ConvertedText t = ConvertToUtf8(c.bytes, c.declared);
    EXPECT_TRUE(IsValidUtf8(t.utf8)) << c.declared;
    EXPECT_EQ(t.utf8, c.expected) << "declared " << c.declared;
    if (c.problem_prefix.empty()) {
      EXPECT_EQ(t.problem, "") << c.declared;
    } else {
      EXPECT_EQ(t.problem.compare(0, c.problem_prefix.size(), c.problem_prefix), 0)
          << c.declared << ": " << t.problem;
    }
  }
}

TEST(CharsetTest, NormalizesLabels) {
  EXPECT_EQ(NormalizeCharsetLabel(" \"KS_C_5601-1987\" "), "CP949");
  EXPECT_EQ(NormalizeCharsetLabel("default_charset"), "");
  EXPECT_EQ(NormalizeCharsetLabel("utf-8*en"), "UTF-8");
  EXPECT_EQ(NormalizeCharsetLabel("koi8-r"), "KOI8-R");
  EXPECT_TRUE(IsKnownCharset("KOI8-R"));
  EXPECT_FALSE(IsKnownCharset("X-NO-SUCH-CHARSET"));
  EXPECT_EQ(NormalizeCharsetLabel("UTF]8"), "UTF-8");
  EXPECT_EQ(NormalizeCharsetLabel("utf_8"), "UTF-8");
  EXPECT_FALSE(IsKnownCharset("UTF-8//IGNORE"));
  EXPECT_FALSE(IsKnownCharset("ISO-10646/UTF8/"));
}

TEST(CharsetTest, ToValidUtf8ReplacesEachInvalidByte) {
  bool replaced = false;
  EXPECT_EQ(ToValidUtf8("caf\xC3\xA9", &replaced), "caf\xC3\xA9");
  EXPECT_FALSE(replaced);
  EXPECT_EQ(ToValidUtf8("a\xC3(\xED\xA0\x80", &replaced),
            "a\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // cut, surrogate
  EXPECT_TRUE(replaced);
}

TEST(CharsetTest, Utf8PrefixNeverSplitsASequence) {
  std::string s = "a\xC3\xA9z";
  EXPECT_EQ(Utf8PrefixLength(s, 2), 1u);
  EXPECT_EQ(Utf8PrefixLength(s, 3), 3u);
  EXPECT_EQ(Utf8PrefixLength(s, 10), 4u);
}

struct HeaderCase {
  std::string raw;
  std::string expected;
};

TEST(Rfc2047Test, DecodesWellFormedAndMalformedEncodedWords) {
  const HeaderCase cases[] = {
      {"=?iso-8859-1?Q?Andr=E9?= Pirard", "Andr\xC3\xA9 Pirard"},
      {"=?utf-8?b?w6k=?=", "\xC3\xA9"},
      {"=?UTF-8?Q?a_b?= =?UTF-8?Q?_c?=", "a b c"},  // space between words dropped
      {"=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab"},    // folded
      {"=?UTF-8?Q?a?==?UTF-8?Q?b?=", "ab"},         // no space at all
      {"Re:=?UTF-8?Q?x?=", "Re:x"},                 // glued to text
      {"\"=?UTF-8?Q?Quoted?=\"", "\"Quoted\""},     // inside quotes
      {"=?koi8-r?B?8NLJ18XU?=", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"},
      {"=?utf-8*en?Q?lang?=", "lang"},               // RFC 2231 language
      {"=?UTF-8?B?w6k?=", "\xC3\xA9"},               // missing padding
      {"=?UTF-8?B?w6 k=?=", "\xC3\xA9"},             // stray space in base64
      {"=?UTF-8?Q?unclosed", "=?UTF-8?Q?unclosed"},  // left as text
      {"=?UTF-8?X?bad?=", "=?UTF-8?X?bad?="},        // unknown encoding
      {"=?x-unknown?Q?caf=E9?=", "caf\xC3\xA9"},     // unknown charset: fallback
      // A UTF-8 character split over two words (legal per RFC 2047's spirit? no,
      // but mailers do it): the bytes are joined before conversion.
      {"=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "\xE2\x82\xAC"},
      {"caf\xE9 raw 8-bit", "caf\xC3\xA9 raw 8-bit"},
      {"", ""},
  };
  for (const auto& c : cases) {
    std::vector<std::string> problems;
    EXPECT_EQ(DecodeHeaderText(c.raw, "windows-1252", &problems), c.expected) << c.raw;
  }
}

// GMime 3.2.13: text after a `=`-padded base64 word followed by another encoded
// word is lost. Our decoder must keep all of it.
TEST(Rfc2047Test, GmimePaddedBase64BugKeepsAllText) {
  std::vector<std::string> problems;
  EXPECT_EQ(DecodeHeaderText("=?UTF-8?B?SGVsbG8gV29ybGQ=?=\r\n =?UTF-8?B?Zm9v?= tail text",
                             "windows-1252", &problems),
            "Hello Worldfoo tail text");
  EXPECT_TRUE(problems.empty());
}

TEST(Rfc2047Test, NormalizedAddressesUseUtf8QWords) {
  std::vector<std::string> problems;
  std::string n = NormalizeEncodedWords("=?UTF-8?B?SGk=?= =?UTF-8?B?w6k=?= <a@b.example>, c@d",
                                        "windows-1252", &problems);
  EXPECT_EQ(n, "=?UTF-8?Q?Hi=C3=A9?= <a@b.example>, c@d");
}

TEST(Rfc2047Test, LenientBase64) {
  EXPECT_EQ(DecodeBase64Lenient("SGVsbG8="), "Hello");
  EXPECT_EQ(DecodeBase64Lenient("SGVs\r\nbG8"), "Hello");
  EXPECT_EQ(DecodeBase64Lenient("SGk=SGk="), "HiHi");
  EXPECT_EQ(DecodeBase64Lenient("!!S*G*k"), "Hi");
}

TEST(Rfc2047Test, HostileHeaderIsLinear) {
  std::string raw;
  for (int i = 0; i < 100000; ++i) raw += "=?a?q?";
  auto start = std::chrono::steady_clock::now();
  std::string out = DecodeHeaderText(raw, "windows-1252", nullptr);
  EXPECT_EQ(out, raw);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(HtmlToTextTest, Table) {
  const HeaderCase cases[] = {
      {"<p>Hello <b>world</b></p><p>next</p>", "Hello world\n\nnext"},
      {"<html><head><title>T</title><style>p{color:red}</style></head><body>Body</body></html>",
       "Body"},
      {"a<script>var x = '<p>no</p>';</script>b", "ab"},
      {"a<SCRIPT type=x>alert(1)</SCRIPT >b", "ab"},
      {"x &amp; y &lt;3 &eacute;&#233;&#xE9; &euro; &bogus; &#150;",
       "x & y <3 \xC3\xA9\xC3\xA9\xC3\xA9 \xE2\x82\xAC &bogus; \xE2\x80\x93"},
      {"line1<br>line2<div>block</div>", "line1\nline2\nblock"},
      {"<a href=\"http://x.example/?a=1&b=2\">link text</a>", "link text"},
      {"<!-- hidden <p>comment</p> -->shown", "shown"},
      {"<td>a</td><td>b</td>", "a b"},
      {"1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
      {"<p title=\"a > b\">text</p>", "text"},
      {"unclosed <b", "unclosed"},
      {"a&nbsp;&nbsp;b", "a b"},
  };
  for (const auto& c : cases) EXPECT_EQ(HtmlToText(c.raw, 1 << 20), c.expected) << c.raw;
}

TEST(HtmlToTextTest, BoundedOutputAndTime) {
  std::string html;
  for (int i = 0; i < 200000; ++i) html += "<head><p>word ";
  auto start = std::chrono::steady_clock::now();
  std::string text = HtmlToText(html, 1000);
  EXPECT_LE(text.size(), 1000u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(
      SniffHtmlCharset("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\">"),
      "koi8-r");
  EXPECT_EQ(SniffHtmlCharset("<meta charset='big5'>"), "big5");
}

struct DateCase {
  std::string text;
  bool ok;
  int64_t unix_seconds;
  std::string problem;
};

TEST(MailDateTest, Table) {
  const DateCase cases[] = {
      {"Mon, 31 Dec 1979 16:00:00 -0800", true, 315532800, ""},
      {"Tue, 30 Jul 0102 07:06:00 -0600", true, 1028034360, "date year 0102 read as 2002"},
      {"Thu, 22 Aug 02 20:38:44 +0100", true, 1030045124, ""},
      {"22 Aug 1999 20:38 GMT", true, 935354280, ""},
      {"Sat, 30 Jun 2012 17:05:55 +0400 (MSK)", true, 1341061555, ""},
      {"Tue Aug 20 10:00:00 2002", true, 1029837600, ""},
      {"2002-08-23 12:00:00", true, 1030104000, ""},
      {"Wed, 1 Aug 2001 14:43:21 PDT", true, 996702201, ""},
      {"<HR>", false, 0, ""},
      {"", false, 0, ""},
      {"31 Feb 2002 00:00:00 +0000", false, 0, ""},
  };
  for (const auto& c : cases) {
    MailDate d = ParseMailDate(c.text);
    EXPECT_EQ(d.ok, c.ok) << c.text;
    EXPECT_EQ(d.unix_seconds, c.unix_seconds) << c.text;
    EXPECT_EQ(d.problem, c.problem) << c.text;
  }
}

TEST(AttachmentTextTest, ChoosesConverters) {
  struct Case {
    std::string mime_type;
    std::string filename;
    std::string converter;
  };
  const Case cases[] = {
      {"application/pdf", "", "pdftotext"},
      {"application/octet-stream", "Report.PDF", "pdftotext"},
      {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "", "docx2txt"},
      {"application/octet-stream", "letter.docx", "docx2txt"},
      {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "", "xlsx2csv"},
      {"application/vnd.ms-excel.sheet.macroEnabled.12", "", "xlsx2csv"},
      {"application/octet-stream", "macro.xlsm", "xlsx2csv"},
      {"application/msword", "", "catdoc"},
      {"application/msword", "homily.rtf", "catdoc"},
      {"application/octet-stream", "Yinxiang Motorcycles.DOC", "catdoc"},
      {"application/vnd.ms-excel", "", "xls2csv"},
      {"application/octet-stream", "q3.xls", "xls2csv"},
      {"application/vnd.ms-powerpoint", "", "catppt"},
      {"application/octet-stream", "deck.ppt", "catppt"},
      {"application/vnd.oasis.opendocument.text", "", "odt2txt"},
      {"application/vnd.oasis.opendocument.spreadsheet", "", "odt2txt"},
      {"application/vnd.oasis.opendocument.presentation", "", "odt2txt"},
      {"application/octet-stream", "slides.odp", "odt2txt"},
      // The MIME type decides over the extension.
      {"application/msword", "mislabelled.xlsx", "catdoc"},
      {"image/png", "x.png", ""},
      {"application/octet-stream", "docx", ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ConverterFor(c.mime_type, c.filename), c.converter) << c.mime_type << " " << c.filename;
  }
}

TEST(AttachmentTextTest, KillsAConverterAtItsTimeLimit) {
  ConverterLimits limits;
  limits.timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  ConverterResult r = RunConverter({"/bin/sleep", "30"}, "", limits);
  EXPECT_EQ(r.outcome, ConverterOutcome::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(AttachmentTextTest, CapsConverterOutput) {
  ConverterLimits limits;
  limits.max_output_bytes = 1000;
  ConverterResult r = RunConverter({"/usr/bin/yes", "{in}"}, "x", limits);
  EXPECT_EQ(r.outcome, ConverterOutcome::kOk);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.text.size(), 1000u);
}

TEST(AttachmentTextTest, KeepsTheStartOfStderrForTheDetail) {
  ConverterLimits limits;
  ConverterResult r = RunConverter(
      {"/bin/sh", "-c", "printf 'cannot read %s\\nsecond line\\n' \"$0\" >&2; exit 3", "{in}"},
      "bytes", limits);
  EXPECT_EQ(r.outcome, ConverterOutcome::kFailed);
  EXPECT_EQ(r.error_output, "cannot read <input>; second line");
  EXPECT_EQ(r.detail, "sh exited with status 3: cannot read <input>");
  // Much stderr: the child is not blocked by it, and only its start is kept.
  r = RunConverter({"/bin/sh", "-c", "yes error | head -c 1000000 >&2; echo text"}, "", limits);
  EXPECT_EQ(r.outcome, ConverterOutcome::kOk) << r.detail;
  EXPECT_EQ(r.text, "text\n");
  EXPECT_LE(r.error_output.size(), 1024u);
  EXPECT_EQ(r.error_output.substr(0, 12), "error; error");
}

// Whether `pid` still runs (a zombie waiting for its reaper does not).
bool Running(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

TEST(AttachmentTextTest, KillsHelpersTheConverterStarted) {
  // The shell exits at once; the helper it leaves behind holds stdout open.
  ConverterLimits limits;
  limits.timeout = std::chrono::milliseconds(500);
  auto start = std::chrono::steady_clock::now();
  ConverterResult r = RunConverter({"/bin/sh", "-c", "sleep 30 & echo $!"}, "", limits);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(r.outcome, ConverterOutcome::kTimeout);
  std::string helper = r.text.substr(0, r.text.find('\n'));
  ASSERT_FALSE(helper.empty());
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {  // its reaper may take a moment
    gone = !Running(helper);
    if (!gone) ::usleep(10000);
  }
  EXPECT_TRUE(gone) << "helper " << helper << " still runs";
}

TEST(AttachmentTextTest, PassesInputAsAFileAndReportsFailures) {
  ConverterLimits limits;
  ConverterResult r = RunConverter({"/bin/cat", "{in}"}, "attachment bytes", limits);
  EXPECT_EQ(r.outcome, ConverterOutcome::kOk);
  EXPECT_EQ(r.text, "attachment bytes");
  r = RunConverter({"/bin/false"}, "", limits);
  EXPECT_EQ(r.outcome, ConverterOutcome::kFailed);
  r = RunConverter({"/nonexistent/converter"}, "", limits);
  EXPECT_EQ(r.outcome, ConverterOutcome::kFailed);
}

TEST(AttachmentTextTest, ExtractsPdfTextOrSaysTheConverterIsMissing) {
  std::string pdf = testing::ReadFile(testing::TestData("mime/invoice.pdf"));
  ConverterResult r =
      ExtractAttachmentText("application/pdf", "invoice.pdf", pdf, ConverterLimits());
  if (r.outcome == ConverterOutcome::kMissing) {
    GTEST_SKIP() << "pdftotext not installed (scripts/install-deps.sh installs poppler-utils)";
  }
  EXPECT_EQ(r.outcome, ConverterOutcome::kOk) << r.detail;
  EXPECT_NE(r.text.find("Quarterly zebrafish invoice 4711"), std::string::npos) << r.text;
}


// The office documents of tests/data/office (made by its make-fixtures.py), each
// with one distinctive word and "Zürich" (UTF-8 output).
struct OfficeCase {
  std::string file;
  std::string mime_type;
  std::string converter;
  std::string word;
};

std::vector<OfficeCase> OfficeCases() {
  return {
      {"marmoset.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
       "docx2txt", "Quarterly marmoset report"},
      {"narwhal.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
       "xlsx2csv", "narwhal tusks,4711"},
      {"wombat.doc", "application/msword", "catdoc", "Wombat contract draft"},
      {"capybara.xls", "application/vnd.ms-excel", "xls2csv", "capybara forecast"},
      {"axolotl.odt", "application/vnd.oasis.opendocument.text", "odt2txt",
       "Axolotl minutes of the meeting"},
      {"pangolin.ods", "application/vnd.oasis.opendocument.spreadsheet", "odt2txt",
       "pangolin scales"},
      {"okapi.odp", "application/vnd.oasis.opendocument.presentation", "odt2txt", "Okapi roadmap"},
      {"quokka.pptx",
       "application/vnd.openxmlformats-officedocument.presentationml.presentation", "unzip",
       "Quokka launch plan\nGreetings from Z\xC3\xBCrich\nTom & Jerry\n"},
  };
}

// Fails (in CI, or skips elsewhere) when scripts/install-deps.sh was not run.
bool ConvertersInstalled() {
  for (const char* tool : {"docx2txt", "xlsx2csv", "catdoc", "xls2csv", "catppt", "odt2txt", "unzip"}) {
    if (testing::FindProgram(tool).empty()) {
      if (testing::InCi()) ADD_FAILURE() << tool << " not installed (scripts/install-deps.sh)";
      return false;
    }
  }
  return true;
}

TEST(AttachmentTextTest, ExtractsOfficeDocumentText) {
  if (!ConvertersInstalled()) GTEST_SKIP() << "office converters not installed";
  for (const OfficeCase& c : OfficeCases()) {
    std::string data = testing::ReadFile(testing::TestData("office/" + c.file));
    // By MIME type, and by file name when sent as application/octet-stream.
    for (const auto& [type, name] : {std::pair<std::string, std::string>{c.mime_type, "a.bin"},
                                     {"application/octet-stream", c.file}}) {
      ConverterResult r = ExtractAttachmentText(type, name, data, ConverterLimits());
      EXPECT_EQ(r.outcome, ConverterOutcome::kOk) << c.file << ": " << r.detail;
      EXPECT_EQ(r.converter, c.converter) << c.file;
      EXPECT_NE(r.text.find(c.word), std::string::npos) << c.file << ": " << r.text;
      EXPECT_NE(r.text.find("Z\xC3\xBCrich"), std::string::npos) << c.file << ": " << r.text;
      EXPECT_FALSE(r.truncated) << c.file;
    }
  }
}

// Mail clients send a .docx as application/msword or an .xlsx as
// application/vnd.ms-excel: when the bytes are of a kind the type's converter
// does not read and the name's converter does, the name decides.
TEST(AttachmentTextTest, MislabelledOfficeDocumentsGoToTheConverterThatReadsThem) {
  if (!ConvertersInstalled()) GTEST_SKIP() << "office converters not installed";
  struct Case {
    std::string file;
    std::string mime_type;
    std::string filename;
    std::string converter;
    std::string word;
  };
  const Case cases[] = {
      {"marmoset.docx", "application/msword", "report.docx", "docx2txt", "marmoset"},
      {"narwhal.xlsx", "application/vnd.ms-excel", "stock.xlsx", "xlsx2csv", "narwhal"},
      {"wombat.doc", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
       "contract.doc", "catdoc", "Wombat"},
      {"axolotl.odt", "application/msword", "minutes.odt", "odt2txt", "Axolotl"},
      // The name's converter does not read these bytes either: the type decides.
      {"capybara.xls", "application/msword", "forecast.docx", "catdoc", ""},
      // The type's converter reads them: the name is not asked.
      {"wombat.doc", "application/msword", "contract.xls", "catdoc", "Wombat"},
  };
  for (const Case& c : cases) {
    std::string data = testing::ReadFile(testing::TestData("office/" + c.file));
    ConverterResult r = ExtractAttachmentText(c.mime_type, c.filename, data, ConverterLimits());
    EXPECT_EQ(r.converter, c.converter) << c.file << " as " << c.mime_type << " " << c.filename;
    if (!c.word.empty()) {
      EXPECT_EQ(r.outcome, ConverterOutcome::kOk) << c.file << ": " << r.detail;
      EXPECT_NE(r.text.find(c.word), std::string::npos) << c.file << ": " << r.text;
    }
  }
}

// Damaged documents: every converter reports a failure instead of exiting 0
// with no text (xls2csv and catppt do exit 0 and say so only on stderr).
TEST(AttachmentTextTest, DamagedOfficeDocumentsAreFailures) {
  if (!ConvertersInstalled()) GTEST_SKIP() << "office converters not installed";
  const std::string zip_garbage = std::string("PK\x03\x04", 4) + std::string(200, '\x5a');
  const std::string ole_garbage =
      std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + std::string(600, '\x00');
  for (const OfficeCase& c : OfficeCases()) {
    std::string data = testing::ReadFile(testing::TestData("office/" + c.file));
    const bool zip = data.compare(0, 2, "PK") == 0;
    for (const std::string& bad : {data.substr(0, data.size() / 2), zip ? zip_garbage : ole_garbage,
                                   std::string("not a document at all\n")}) {
      if (c.converter == "catdoc" && bad[0] == 'n') continue;  // catdoc passes plain text on
      auto start = std::chrono::steady_clock::now();
      ConverterResult r = ExtractAttachmentText(c.mime_type, c.file, bad, ConverterLimits());
      EXPECT_EQ(r.outcome, ConverterOutcome::kFailed)
          << c.file << " (" << bad.size() << " bytes): " << r.text;
      EXPECT_EQ(r.detail.compare(0, c.converter.size(), c.converter), 0) << r.detail;
      EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << c.file;
    }
  }
  ConverterResult r = ExtractAttachmentText("application/vnd.ms-powerpoint", "deck.ppt",
                                            ole_garbage, ConverterLimits());
  EXPECT_EQ(r.outcome, ConverterOutcome::kFailed) << r.text;
  EXPECT_EQ(r.detail.compare(0, 6, "catppt"), 0) << r.detail;
  r = ExtractAttachmentText("application/msword", "plain.doc", "not a document at all\n",
                            ConverterLimits());
  EXPECT_EQ(r.outcome, ConverterOutcome::kOk) << r.detail;
  EXPECT_EQ(r.text, "not a document at all\n");
}

// A .pptx whose one slide inflates to 22 MiB of XML: unzip is killed at the
// output cap and the text of what it wrote until then is read.
TEST(AttachmentTextTest, ZipBombPptxStopsAtTheOutputCap) {
  if (!ConvertersInstalled()) GTEST_SKIP() << "office converters not installed";
  std::string bomb = testing::ReadFile(testing::TestData("office/bomb.pptx"));
  ConverterLimits limits;
  limits.max_output_bytes = 256 << 10;
  auto start = std::chrono::steady_clock::now();
  ConverterResult r = ExtractAttachmentText("", "bomb.pptx", bomb, limits);
  EXPECT_LT(std::chrono::steady_clock::now() - start, limits.timeout + std::chrono::seconds(2));
  EXPECT_EQ(r.outcome, ConverterOutcome::kOk) << r.detail;
  EXPECT_EQ(r.converter, "unzip");
  EXPECT_TRUE(r.truncated);
  EXPECT_LT(r.text.size(), limits.max_output_bytes);
  EXPECT_EQ(r.text.compare(0, 28, "filler filler filler filler\n"), 0) << r.text.substr(0, 100);
  EXPECT_EQ(r.text.find('<'), std::string::npos);
}

// A .docx whose document.xml inflates 300-fold to 32 MiB: the output cap holds
// and the converter is killed at it.
TEST(AttachmentTextTest, ZipBombDocxStopsAtTheOutputCap) {
  if (!ConvertersInstalled()) GTEST_SKIP() << "office converters not installed";
  std::string bomb = testing::ReadFile(testing::TestData("office/bomb.docx"));
  ConverterLimits limits;
  limits.max_output_bytes = 256 << 10;
  limits.timeout = std::chrono::seconds(20);
  auto start = std::chrono::steady_clock::now();
  ConverterResult r = ExtractAttachmentText("", "bomb.docx", bomb, limits);
  EXPECT_LT(std::chrono::steady_clock::now() - start, limits.timeout + std::chrono::seconds(2));
  EXPECT_EQ(r.outcome, ConverterOutcome::kOk) << r.detail;
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.text.size(), limits.max_output_bytes);
  EXPECT_EQ(r.text.compare(0, 6, "filler"), 0);
  // With a time limit shorter than it needs to inflate and parse, it is killed.
  limits.timeout = std::chrono::milliseconds(300);
  start = std::chrono::steady_clock::now();
  r = ExtractAttachmentText("", "bomb.docx", bomb, limits);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(r.outcome, ConverterOutcome::kTimeout) << r.detail;
  EXPECT_LE(r.text.size(), limits.max_output_bytes);
}

}  // namespace
}  // namespace mailvault
