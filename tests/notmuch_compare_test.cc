// `mailvault search` against `notmuch search` on the same messages: the
// repository's corpus (tests/data/corpus) as a Maildir, imported into a
// mailvault archive and indexed by `notmuch new` with a config of its own (no
// hooks, no excluded tags, TZ=UTC). Where the two query languages overlap (from,
// to, subject, a word, a phrase, booleans, a date range) the result sets must be
// equal; where they differ by design, the row says how and why, and the
// relation stated (ours a subset or a superset of notmuch's) must hold.
//
// The Maildir's file names are mailvault archive ids (SHA-256 of the canonical
// message), so `notmuch search --output=files` maps straight onto the ids that
// `mailvault search --json` returns.
//
// Differences of the message sets themselves, handled before any query:
//   - notmuch merges files with the same Message-ID into one message (its terms
//     the union of theirs); mailvault keeps every distinct message. A first
//     `notmuch new` finds such files; all but the first of each are removed and
//     the notmuch database is built again, so one file is one message for both.
//   - notmuch ignores files GMime does not take for a message ("non-mail
//     files"); mailvault archives and indexes them by what it can read. Every
//     comparison runs over the messages notmuch holds.
//   - Dates: notmuch stores 0 (1970-01-01) for a message with no or an
//     unparseable Date header and for dates before 1970; mailvault falls back
//     to the date of the first Received header, then the archive time
//     (flag:no-date), and keeps dates before 1970. Date ranges are compared over
//     the messages that both date by their Date header (1970 or later).
//
// notmuch comes from scripts/install-deps.sh: in CI a missing notmuch fails the
// test, elsewhere it skips.
#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "archive/canonical.h"
#include "base/sha256.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using IdSet = std::set<std::string>;

// A corpus file that both tools read as one message: no mbox (mailvault splits
// it, notmuch does not), and a header field on the first line.
bool IsSingleMessage(const fs::path& path, const std::string& bytes) {
  const std::string name = path.filename().string();
  if (name == "README.md" || name == "MANIFEST.tsv") return false;
  const std::string ext = path.extension().string();
  if (ext == ".mbox" || ext == ".json") return false;
  if (bytes.rfind("From ", 0) == 0) return false;
  static const std::regex kHeaderLine("^[!-9;-~]+:");
  return std::regex_search(bytes.substr(0, 200), kHeaderLine);
}

// The archive id a file's name starts with ("<id>:2,").
std::string IdOfFile(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  return name.substr(0, name.find(':'));
}

IdSet Difference(const IdSet& a, const IdSet& b) {
  IdSet out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

IdSet Intersection(const IdSet& a, const IdSet& b) {
  IdSet out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

std::string Sample(const IdSet& ids) {
  std::string out;
  int n = 0;
  for (const std::string& id : ids) {
    if (n++ == 5) return out + " ...";
    out += " " + id.substr(0, 12);
  }
  return out;
}

class Notmuch {
 public:
  Notmuch(std::string binary, const std::string& dir) : binary_(std::move(binary)) {
    config_ = dir + "/notmuch-config";
    database_ = dir + "/notmuch-db";
    mail_root_ = dir + "/mail";
    hooks_ = dir + "/notmuch-hooks";  // empty: no hook runs
    fs::create_directories(hooks_);
    testing::WriteFile(config_,
                       "[database]\npath=" + database_ + "\nmail_root=" + mail_root_ +
                           "\nhook_dir=" + hooks_ +
                           "\n[new]\ntags=inbox;\nignore=\n[search]\nexclude_tags=\n"
                           "[maildir]\nsynchronize_flags=false\n");
  }
  const std::string& mail_root() const { return mail_root_; }

  // A new database of what the Maildir holds now.
  void Index() {
    fs::remove_all(database_);
    fs::create_directories(database_);
    ProcessResult r = Run({"new", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Paths of the files of the messages matching `query`; `duplicate` N > 0:
  // only the Nth file of each message.
  std::vector<std::string> Files(const std::string& query, int duplicate = 0) {
    std::vector<std::string> args = {"search", "--output=files"};
    if (duplicate > 0) args.push_back("--duplicate=" + std::to_string(duplicate));
    args.push_back(query);
    ProcessResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << query << ": " << r.err;
    std::vector<std::string> files;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) files.push_back(line);
    }
    return files;
  }

  IdSet Search(const std::string& query) {
    IdSet ids;
    for (const std::string& f : Files(query)) ids.insert(IdOfFile(f));
    return ids;
  }

 private:
  ProcessResult Run(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {testing::FindProgram("env"), "NOTMUCH_CONFIG=" + config_,
                                     "TZ=UTC", binary_};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProcess(argv);
  }

  std::string binary_, config_, database_, mail_root_, hooks_;
};

IdSet MailvaultSearch(const std::string& data, const std::string& query) {
  ProcessResult r = testing::RunProcess(
      {testing::MailvaultBinary(), "--data", data, "search", "--json", "--limit", "1000000", query});
  EXPECT_EQ(r.exit_code, 0) << query << ": " << r.err;
  IdSet ids;
  if (r.exit_code != 0) return ids;
  Poco::JSON::Parser parser;
  auto doc = parser.parse(r.out).extract<Poco::JSON::Object::Ptr>();
  auto results = doc->getArray("results");
  for (size_t i = 0; i < results->size(); ++i) {
    ids.insert(results->getObject(static_cast<unsigned>(i))->getValue<std::string>("id"));
  }
  EXPECT_EQ(doc->getValue<uint64_t>("total"), ids.size()) << query;
  return ids;
}

enum class Relation {
  kEqual,
  kOursSubset,    // every message we return, notmuch returns too
  kOursSuperset,  // every message notmuch returns, we return too
};

struct Row {
  std::string ours;
  std::string notmuch;
  Relation relation = Relation::kEqual;
  bool dated = false;  // compared over messages with a usable Date (see the top)
  const char* why = "";  // for anything but the same query text with kEqual
};

std::vector<Row> Rows() {
  const Relation kEqual = Relation::kEqual;
  return {
      // Senders: the name or the address, a whole address domain, a phrase.
      {"from:skilling", "from:skilling", kEqual},
      {"from:jeff", "from:jeff", kEqual},
      {"from:\"jeff skilling\"", "from:\"jeff skilling\"", kEqual},
      {"from:example.com", "from:example.com", Relation::kOursSubset, false,
       "ours is the sender's address domain, notmuch's the words anywhere in From: "
       "it also finds the spoofs \"test@example.com\" <test1@gmail.com>"},
      {"from:\"example.com\"", "from:example.com", kEqual, false,
       "quoted, ours is the words of the header too"},
      // Recipients.
      {"to:jeff OR cc:jeff OR bcc:jeff", "to:jeff", kEqual,
       false, "notmuch's to: covers To, Cc and Bcc; ours has a prefix per header"},
      {"to:jeff", "to:jeff", Relation::kOursSubset, false,
       "our to: is the To header alone (notmuch's adds Cc and Bcc)"},
      {"to:sherri OR cc:sherri OR bcc:sherri", "to:sherri", kEqual, false, "as to:jeff"},
      // Subjects. notmuch's subject: goes through its regexp field processor,
      // which does not stem; ours stems like free text, so a quoted (unstemmed)
      // word is the same query as notmuch's.
      {"subject:\"meeting\"", "subject:meeting", kEqual, false, "quoted: unstemmed, as notmuch's"},
      {"subject:\"test\"", "subject:test", kEqual, false, "quoted: unstemmed, as notmuch's"},
      {"subject:meeting", "subject:meeting", Relation::kOursSuperset, false,
       "ours stems: subject:meeting also finds \"Meet the new MacBook\""},
      {"subject:test", "subject:test", Relation::kOursSuperset, false,
       "ours stems: subject:test also finds \"testing\""},
      // Words (both stem free text the same way), phrases, booleans, wildcards.
      {"money", "money", kEqual},
      {"energy", "energy", kEqual},
      {"schedule", "schedule", kEqual},
      {"meeting", "meeting", kEqual},
      {"\"natural gas\"", "\"natural gas\"", kEqual},
      {"money OR energy", "money OR energy", kEqual},
      {"energy -money", "energy AND NOT money", kEqual, false, "notmuch has no '-' for NOT"},
      {"price*", "price*", kEqual},
      {"contract", "contract", Relation::kOursSubset, false,
       "of a multipart/alternative we index the text/plain part alone, notmuch every "
       "alternative: spam hides words in the HTML part only"},
      // Date ranges (UTC; a bound covers its whole day or year in both).
      {"date:2001-05-01..2001-05-31", "date:2001-05-01..2001-05-31", kEqual, true},
      {"date:2000-06-01..2000-12-31", "date:2000-06-01..2000-12-31", kEqual, true},
      {"date:2002", "date:2002", kEqual, true},
      {"date:..1999-12-31", "date:..1999-12-31", kEqual, true},
      {"date:2001-01-01..2001-12-31", "date:2001-01-01..2001-12-31", kEqual, true},
      // Combinations.
      {"from:skilling date:2001", "from:skilling date:2001-01-01..2001-12-31", kEqual, true,
       "a year alone"},
      {"from:example.com meeting", "from:example.com AND meeting", kEqual},
  };
}

TEST(NotmuchCompareTest, SameResultsWhereTheQueryLanguagesOverlap) {
  const std::string notmuch_binary = testing::FindProgram("notmuch");
  if (notmuch_binary.empty()) {
    if (testing::InCi()) FAIL() << "notmuch is not installed (scripts/install-deps.sh installs it)";
    GTEST_SKIP() << "notmuch is not installed (scripts/install-deps.sh installs it)";
  }
  testing::TempDir dir;
  Notmuch notmuch(notmuch_binary, dir.path());
  const std::string cur = notmuch.mail_root() + "/cur";
  for (const char* sub : {"/cur", "/new", "/tmp"}) fs::create_directories(notmuch.mail_root() + sub);

  // The corpus as a Maildir, each file named by its archive id (identical
  // files collapse into one, as in the archive).
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(testing::TestData("corpus"))) {
    if (!entry.is_regular_file()) continue;
    std::string bytes = testing::ReadFile(entry.path().string());
    if (!IsSingleMessage(entry.path(), bytes)) continue;
    testing::WriteFile(cur + "/" + ToHex(Sha256::Of(Canonicalize(bytes))) + ":2,", bytes);
    ++files;
  }
  ASSERT_GT(files, 1000u);

  // One file per notmuch message (see the top).
  ASSERT_NO_FATAL_FAILURE(notmuch.Index());
  std::vector<std::string> all = notmuch.Files("*");
  std::vector<std::string> first = notmuch.Files("*", 1);
  std::set<std::string> keep(first.begin(), first.end());
  size_t merged = 0;
  for (const std::string& f : all) {
    if (!keep.count(f)) {
      fs::remove(f);
      ++merged;
    }
  }
  ASSERT_NO_FATAL_FAILURE(notmuch.Index());
  const IdSet universe = notmuch.Search("*");
  ASSERT_EQ(universe.size(), first.size());

  const std::string data = dir.path() + "/data";
  ProcessResult imported =
      testing::RunProcess({testing::MailvaultBinary(), "--data", data, "import", notmuch.mail_root()});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  const IdSet archived = MailvaultSearch(data, "*");
  const IdSet non_mail = Difference(archived, universe);
  ASSERT_TRUE(Difference(universe, archived).empty()) << "notmuch holds messages we do not";
  std::printf("corpus: %zu single-message files (identical ones written once), %zu merged by notmuch (same Message-ID), %zu messages in both, "
              "%zu ignored by notmuch as non-mail\n",
              files, merged, universe.size(), non_mail.size());

  // Messages without a usable Date header: notmuch dates them 0 (1970-01-01),
  // we take the Received header's date or the archive time (flag:no-date), and
  // keep dates before 1970.
  IdSet undated = MailvaultSearch(data, "flag:no-date OR date:..1969");
  for (const std::string& id : notmuch.Search("date:@0..@1")) undated.insert(id);
  const IdSet dated = Difference(universe, undated);
  ASSERT_GT(dated.size(), universe.size() * 9 / 10);

  for (const Row& row : Rows()) {
    SCOPED_TRACE("ours [" + row.ours + "] notmuch [" + row.notmuch + "] " + row.why);
    const IdSet& over = row.dated ? dated : universe;
    IdSet ours = Intersection(MailvaultSearch(data, row.ours), over);
    IdSet theirs = Intersection(notmuch.Search(row.notmuch), over);
    IdSet only_ours = Difference(ours, theirs);
    IdSet only_theirs = Difference(theirs, ours);
    std::printf("%-45s %5zu   notmuch %-45s %5zu   only ours %zu, only notmuch %zu\n",
                row.ours.c_str(), ours.size(), row.notmuch.c_str(), theirs.size(),
                only_ours.size(), only_theirs.size());
    // A row that matches nothing would compare nothing.
    EXPECT_FALSE(ours.empty() && theirs.empty());
    if (row.relation != Relation::kOursSuperset) {
      EXPECT_TRUE(only_ours.empty()) << only_ours.size() << " only ours:" << Sample(only_ours);
    }
    if (row.relation != Relation::kOursSubset) {
      EXPECT_TRUE(only_theirs.empty()) << only_theirs.size()
                                       << " only notmuch's:" << Sample(only_theirs);
    }
    if (row.relation != Relation::kEqual) {
      // The row documents a difference: it must show one.
      EXPECT_NE(ours, theirs);
    }
  }
}

}  // namespace
}  // namespace mailvault
