// The JSON API over real HTTP: the daemon's HttpListener on 127.0.0.1 (port 0) serving
// WebApp's handlers, on a real archive and index in a TempDir. Every endpoint,
// every role, CSRF, session expiry, bad input, the audit chain, rate limiting.
#include "webui/web_app.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <regex>
#include <sstream>

#include "archive/archive.h"
#include "base/clock.h"
#include "daemon/http_listener.h"
#include "search/indexer.h"
#include "search/query.h"
#include "tests/testing.h"
#include "webui/static_assets.h"
#include "webui/user_store.h"

namespace mailvault {
namespace {

using Poco::JSON::Object;

const PasswordHashParams kFast{1, 1024, 1};
constexpr int64_t kStart = 1750000000;

std::string Mail(const std::string& subject, const std::string& body,
                 const std::string& attachment_name, const std::string& attachment_base64) {
  return "From: Sender <sender@example.com>\r\n"
         "To: someone@example.org\r\n"
         "Subject: " + subject + "\r\n"
         "Date: Mon, 2 Jun 2025 10:00:00 +0000\r\n"
         "Message-ID: <" + subject.substr(0, 5) + "@example.com>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
         "--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment; filename=\"" + attachment_name + "\"\r\n\r\n" +
         attachment_base64 + "\r\n--b1--\r\n";
}

class FakeControl : public CollectionControl {
 public:
  Status RunNow(const std::string& account) override {
    std::lock_guard lock(mutex_);
    run_now_.push_back(account);
    return Status::Ok();
  }
  void RunNowAll() override {}
  std::vector<LiveRun> LiveRuns() const override {
    return {LiveRun{"box1", kStart, 10, 4, 4096}};
  }
  std::vector<AccountSchedule> Schedules() const override {
    AccountSchedule s;
    s.account = "box1";
    s.running = true;
    return {s};
  }
  Status AccountsChanged() override {
    std::lock_guard lock(mutex_);
    ++changed_;
    return Status::Ok();
  }
  std::vector<std::string> run_now() {
    std::lock_guard lock(mutex_);
    return run_now_;
  }
  int changed() {
    std::lock_guard lock(mutex_);
    return changed_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> run_now_;
  int changed_ = 0;
};

// What the daemon does: WebApp's handler when it owns the path, its own otherwise.
class DaemonHandler : public Poco::Net::HTTPRequestHandler {
  void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& r) override {
    r.setContentType("text/plain");
    r.send() << "daemon";
  }
};

struct Reply {
  int status = 0;
  std::string body;
  Poco::Net::HTTPResponse head;
  Object::Ptr json() const {
    try {
      return Poco::JSON::Parser().parse(body).extract<Object::Ptr>();
    } catch (...) {
      ADD_FAILURE() << "not a JSON object: " << body.substr(0, 300);
      return new Object;
    }
  }
  std::string error() const { return json()->optValue<std::string>("error", ""); }
};

struct Login {
  std::string cookie;  // "mv_session=..."
  std::string csrf;
};

class WebAppTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {}

  void SetUp() override {
    ArchiveOptions ao;
    ao.data_dir = dir_.path() + "/data";
    ao.create = true;
    ao.clock = &clock_;
    auto archive = Archive::Open(ao);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    archive_ = std::move(*archive);

    // m1 in box1 (granted to alice), m2 in box2, m3 imported (no account).
    m1_raw_ = Mail("Quarterly budget alpha", "numbers for the budget", "../../evil name.pdf",
                   "UERGREFUQS0x");  // "PDFDATA-1"
    m2_raw_ = Mail("Secret merger beta", "the merger plan", "plan.pdf", "UExBTi0y");  // "PLAN-2"
    m3_raw_ = Mail("Imported gamma", "from a file", "g.pdf", "R0FNTUE=");
    m1_ = Ingest(m1_raw_, ProvenanceKind::kPop3, "box1");
    m2_ = Ingest(m2_raw_, ProvenanceKind::kPop3, "box2");
    m3_ = Ingest(m3_raw_, ProvenanceKind::kImport, "/import/g.mbox");
    auto indexer = Indexer::Open(IndexDirectory(ao.data_dir), IndexerOptions{});
    ASSERT_TRUE(indexer.ok()) << indexer.status().ToString();
    auto indexed = (*indexer)->IndexPending(*archive_);
    ASSERT_TRUE(indexed.ok());
    ASSERT_EQ(indexed->indexed, 3u);
    indexer->reset();

    UserStore users(archive_.get(), &clock_, kFast);
    ASSERT_TRUE(users.Add("root", Role::kAdmin, "root-pw", {}).ok());
    ASSERT_TRUE(users.Add("audrey", Role::kAuditor, "audrey-pw", {}).ok());
    ASSERT_TRUE(users.Add("alice", Role::kUser, "alice-pw", {"box1"}).ok());
    clock_.Advance(1);  // logins come after the users were written

    WebAppOptions o;
    o.archive = archive_.get();
    o.data_dir = ao.data_dir;
    o.index_dir = IndexDirectory(ao.data_dir);
    o.control = &control_;
    o.clock = &clock_;
    o.password_hash = kFast;
    o.sessions.idle = std::chrono::seconds(600);
    o.login_limits.failures_per_user = 5;
    o.max_body_bytes = 4096;
    o.probe.connect_timeout = std::chrono::milliseconds(2000);
    o.probe.io_timeout = std::chrono::milliseconds(2000);
    auto app = WebApp::Create(o);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(*app);

    // Served as the daemon serves it: through its HttpListener.
    HttpListenerOptions lo;
    lo.port = 0;
    lo.max_threads = 4;
    WebApp* web = app_.get();
    auto listener = HttpListener::Start(
        lo, [web](const Poco::Net::HTTPServerRequest& request) -> Poco::Net::HTTPRequestHandler* {
          if (auto* h = web->CreateRequestHandler(request)) return h;
          return new DaemonHandler;
        });
    ASSERT_TRUE(listener.ok()) << listener.status().ToString();
    server_ = std::move(*listener);
    port_ = static_cast<uint16_t>(server_->port());
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    app_.reset();
    archive_.reset();
  }

  std::string Ingest(const std::string& raw, ProvenanceKind kind, const std::string& source) {
    auto batch = archive_->NewBatch();
    EXPECT_TRUE(batch->BeginMessage().ok());
    EXPECT_TRUE(batch->Write(raw).ok());
    Provenance p;
    p.kind = kind;
    p.source = source;
    p.key = "uidl-" + source;
    p.seen_at = kStart;
    auto done = batch->FinishMessage(p);
    EXPECT_TRUE(done.ok());
    EXPECT_TRUE(batch->Commit().ok());
    return ToHex(done->id);
  }

  Reply Send(const std::string& method, const std::string& path, const Login* login = nullptr,
             const std::string& body = "", const std::string& content_type = "application/json",
             const std::map<std::string, std::string>& headers = {}) {
    Poco::Net::HTTPClientSession session("127.0.0.1", port_);
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (login != nullptr) {
      req.set("Cookie", login->cookie);
      if (!login->csrf.empty() && method != "GET") req.set("X-CSRF-Token", login->csrf);
    }
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST" || method == "PUT") {
      req.setContentType(content_type);
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(req) << body;
    Reply r;
    std::istream& in = session.receiveResponse(r.head);
    r.status = r.head.getStatus();
    Poco::StreamCopier::copyToString(in, r.body);
    return r;
  }

  Login LogIn(const std::string& user, const std::string& password) {
    Reply r = Send("POST", "/api/login", nullptr,
                   "{\"user\": \"" + user + "\", \"password\": \"" + password + "\"}");
    EXPECT_EQ(r.status, 200) << r.body;
    Login l;
    std::string cookie = r.head.get("Set-Cookie", "");
    l.cookie = cookie.substr(0, cookie.find(';'));
    l.csrf = r.json()->optValue<std::string>("csrf_token", "");
    return l;
  }

  std::vector<std::string> SearchIds(const Login& who, const std::string& q) {
    Reply r = Send("GET", "/api/search?q=" + q, &who);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> ids;
    auto results = r.json()->getArray("results");
    for (size_t i = 0; results && i < results->size(); ++i) {
      ids.push_back(results->getObject(static_cast<unsigned>(i))->getValue<std::string>("id"));
    }
    return ids;
  }

  Status Sql(const std::string& sql) {
    return archive_->WithCatalog([&](Catalog& c) { return c.database().Exec(sql); });
  }

  testing::TempDir dir_;
  ManualClock clock_{kStart};
  FakeControl control_;
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<WebApp> app_;
  std::unique_ptr<HttpListener> server_;
  uint16_t port_ = 0;
  std::string m1_raw_, m2_raw_, m3_raw_;
  std::string m1_, m2_, m3_;
};

// The query syntax the search page shows is the parser's: each field it names
// (with a value) and each example parses. It once named an `attachment:` field
// the parser does not know.
TEST(SearchPageHelpTest, EveryFieldAndExampleItShowsParses) {
  const StaticAsset* page = FindStaticAsset("/views/search.js");
  ASSERT_NE(page, nullptr);
  const std::string text(page->body);
  const std::regex code(R"(el\('code', \{\}, '([^']+)'\))");
  size_t checked = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), code);
       it != std::sregex_iterator(); ++it) {
    std::string example = (*it)[1];
    if (example == "AND OR NOT") continue;  // the operators, named together
    if (example.back() == ':') example += "word";
    auto parsed = ParseQuery(example, QueryParseOptions());
    EXPECT_TRUE(parsed.ok()) << example << ": " << parsed.status().ToString();
    ++checked;
  }
  EXPECT_GE(checked, 10u);
}

TEST_F(WebAppTest, LoginMeLogout) {
  Reply bad = Send("POST", "/api/login", nullptr, R"({"user":"alice","password":"nope"})");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.error(), "wrong user name or password");
  EXPECT_EQ(Send("GET", "/api/me").status, 401);

  Reply ok = Send("POST", "/api/login", nullptr, R"({"user":"alice","password":"alice-pw"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  std::string cookie = ok.head.get("Set-Cookie", "");
  EXPECT_NE(cookie.find("mv_session="), std::string::npos);
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain HTTP on loopback";
  EXPECT_EQ(ok.json()->getValue<std::string>("role"), "user");

  Login alice{cookie.substr(0, cookie.find(';')), ok.json()->getValue<std::string>("csrf_token")};
  Reply me = Send("GET", "/api/me", &alice);
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.json()->getValue<std::string>("user"), "alice");
  EXPECT_EQ(me.json()->getValue<std::string>("csrf_token"), alice.csrf);
  EXPECT_EQ(me.json()->getArray("accounts")->getElement<std::string>(0), "box1");

  Login no_csrf{alice.cookie, ""};
  EXPECT_EQ(Send("POST", "/api/logout", &no_csrf).status, 403);
  EXPECT_EQ(Send("POST", "/api/logout", &alice).status, 200);
  EXPECT_EQ(Send("GET", "/api/me", &alice).status, 401) << "the session ended at logout";
}

TEST_F(WebAppTest, SecurityHeadersOnEveryResponse) {
  Login root = LogIn("root", "root-pw");
  for (const Reply& r : {Send("GET", "/api/me"), Send("GET", "/api/me", &root),
                         Send("GET", "/api/nothing", &root), Send("GET", "/")}) {
    EXPECT_EQ(r.head.get("X-Content-Type-Options", ""), "nosniff");
    EXPECT_EQ(r.head.get("Referrer-Policy", ""), "no-referrer");
    const std::string csp = r.head.get("Content-Security-Policy", "");
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  }
  Reply page = Send("GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("/app.js"), std::string::npos) << "the embedded front end";
  const std::string etag = page.head.get("ETag", "");
  EXPECT_FALSE(etag.empty());
  EXPECT_EQ(Send("GET", "/", nullptr, "", "", {{"If-None-Match", etag}}).status, 304);
  EXPECT_EQ(Send("GET", "/app.js").head.getContentType().rfind("text/javascript", 0), 0u);
  EXPECT_EQ(Send("GET", "/../../etc/passwd").body, "daemon") << "not ours, never a file";
  // Paths the daemon owns are not taken by the web app.
  EXPECT_EQ(Send("GET", "/healthz").body, "daemon");
  EXPECT_EQ(Send("GET", "/metrics").body, "daemon");
  Reply unknown = Send("GET", "/api/nothing", &root);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.error().find("no such API endpoint"), std::string::npos);
  Reply wrong_method = Send("DELETE", "/api/search", &root);
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.head.get("Allow", ""), "GET");
}

TEST_F(WebAppTest, SearchAnswersLikeTheCliAndHonoursRoles) {
  Login audrey = LogIn("audrey", "audrey-pw");
  Login alice = LogIn("alice", "alice-pw");
  Reply all = Send("GET", "/api/search?q=*&limit=10", &audrey);
  ASSERT_EQ(all.status, 200) << all.body;
  auto doc = all.json();
  EXPECT_EQ(doc->getValue<uint64_t>("total"), 3u);
  auto first = doc->getArray("results")->getObject(0);
  for (const char* key : {"id", "date", "from", "subject", "snippet"}) {
    EXPECT_TRUE(first->has(key)) << key;
  }
  EXPECT_EQ(first->getValue<std::string>("date"), "2025-06-02T10:00:00Z");

  EXPECT_EQ(SearchIds(alice, "*"), std::vector<std::string>{m1_});
  EXPECT_TRUE(SearchIds(alice, "merger").empty()) << "box2 is not granted to alice";
  EXPECT_TRUE(SearchIds(alice, "gamma").empty()) << "imported mail belongs to no account";
  EXPECT_TRUE(SearchIds(alice, "account:box2").empty());
  EXPECT_EQ(SearchIds(audrey, "merger"), std::vector<std::string>{m2_});
  Reply facets = Send("GET", "/api/search?q=*", &alice);
  auto accounts = facets.json()->getObject("facets")->getArray("account");
  ASSERT_EQ(accounts->size(), 1u);
  EXPECT_EQ(accounts->getObject(0)->getValue<std::string>("value"), "box1");

  Reply page = Send("GET", "/api/search?q=*&limit=1&offset=1&sort=relevance", &audrey);
  EXPECT_EQ(page.json()->getArray("results")->size(), 1u);
  EXPECT_EQ(page.json()->getValue<uint64_t>("total"), 3u);

  Reply bad = Send("GET", "/api/search?q=form:x", &audrey);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.error().find("column 1"), std::string::npos) << bad.error();
  EXPECT_EQ(Send("GET", "/api/search", &audrey).status, 400);
  EXPECT_EQ(Send("GET", "/api/search?q=*&limit=100000", &audrey).status, 400);
  EXPECT_EQ(Send("GET", "/api/search?q=*&sort=size", &audrey).status, 400);
  EXPECT_EQ(Send("GET", "/api/search?q=*").status, 401);
}

TEST_F(WebAppTest, MessageViewByIdChecksTheAccount) {
  Login alice = LogIn("alice", "alice-pw");
  Login audrey = LogIn("audrey", "audrey-pw");
  Reply mine = Send("GET", "/api/messages/" + m1_, &alice);
  ASSERT_EQ(mine.status, 200) << mine.body;
  auto m = mine.json();
  EXPECT_EQ(m->getValue<std::string>("id"), m1_);
  EXPECT_EQ(m->getObject("headers")->getValue<std::string>("subject"), "Quarterly budget alpha");
  EXPECT_EQ(m->getObject("headers")->getArray("from")->getObject(0)->getValue<std::string>(
                "address"),
            "sender@example.com");
  EXPECT_NE(m->getValue<std::string>("text").find("numbers for the budget"), std::string::npos);
  auto atts = m->getArray("attachments");
  ASSERT_EQ(atts->size(), 1u);
  EXPECT_EQ(atts->getObject(0)->getValue<std::string>("filename"), "../../evil name.pdf");
  EXPECT_EQ(atts->getObject(0)->getValue<uint64_t>("size"), 9u);
  EXPECT_EQ(m->getArray("accounts")->getElement<std::string>(0), "box1");

  EXPECT_EQ(Send("GET", "/api/messages/" + m1_.substr(0, 12), &alice).status, 200) << "prefix";
  Reply theirs = Send("GET", "/api/messages/" + m2_, &alice);
  EXPECT_EQ(theirs.status, 404) << "not granted looks like missing";
  EXPECT_EQ(Send("GET", "/api/messages/" + m3_, &alice).status, 404);
  EXPECT_EQ(Send("GET", "/api/messages/" + m2_.substr(0, 12), &alice).status, 404);
  EXPECT_EQ(Send("GET", "/api/messages/" + m2_, &audrey).status, 200);
  EXPECT_EQ(Send("GET", "/api/messages/" + std::string(64, 'f'), &audrey).status, 404);
  // An encoded path is decoded into segments; ".." never names a file.
  EXPECT_EQ(Send("GET", "/api/messages/..%2F..%2Fetc%2Fpasswd", &audrey).status, 404);
  EXPECT_EQ(Send("GET", "/api/messages/%2Fetc%2Fpasswd", &audrey).status, 404);
  EXPECT_EQ(Send("GET", "/api/messages/abc", &audrey).status, 400);
}

TEST_F(WebAppTest, HtmlBodyOnlyInASandboxWithoutScriptsOrRemoteLoads) {
  const std::string html_mail =
      "From: Mallory <m@example.org>\r\nTo: a@example.com\r\nSubject: html\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
      "--b\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "<p onclick=3Dalert(1)>Gr=FC=DFe</p><script>alert(2)</script>"
      "<img src=3D\"https://tracker.example.net/p.gif\">\r\n--b--\r\n";
  const std::string with_html = Ingest(html_mail, ProvenanceKind::kPop3, "box1");
  const std::string theirs = Ingest(
      "Subject: other\r\nContent-Type: text/html\r\n\r\n<p>not yours</p>\r\n",
      ProvenanceKind::kPop3, "box2");
  Login alice = LogIn("alice", "alice-pw");

  Reply view = Send("GET", "/api/messages/" + with_html, &alice);
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_TRUE(view.json()->getValue<bool>("html"));
  Reply no_html = Send("GET", "/api/messages/" + m1_, &alice);
  EXPECT_FALSE(no_html.json()->getValue<bool>("html"));

  Reply html = Send("GET", "/api/messages/" + with_html + "/html", &alice);
  ASSERT_EQ(html.status, 200) << html.body;
  EXPECT_EQ(html.head.getContentType(), "text/html; charset=utf-8");
  // Decoded from quoted-printable and Latin-1; otherwise the sender's bytes.
  EXPECT_NE(html.body.find("Gr\xc3\xbc\xc3\x9f" "e"), std::string::npos) << html.body;
  const std::string csp = html.head.get("Content-Security-Policy", "");
  EXPECT_EQ(csp.rfind("sandbox;", 0), 0u) << csp;
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("script-src"), std::string::npos) << csp;
  EXPECT_NE(csp.find("img-src data:;"), std::string::npos) << "no remote images by default: " << csp;
  EXPECT_NE(csp.find("frame-ancestors 'self'"), std::string::npos) << csp;
  EXPECT_EQ(html.head.get("X-Frame-Options", ""), "SAMEORIGIN");
  EXPECT_EQ(html.head.get("X-Content-Type-Options", ""), "nosniff");

  Reply remote = Send("GET", "/api/messages/" + with_html + "/html?remote=1", &alice);
  ASSERT_EQ(remote.status, 200);
  const std::string remote_csp = remote.head.get("Content-Security-Policy", "");
  EXPECT_NE(remote_csp.find("img-src data: https: http:"), std::string::npos) << remote_csp;
  EXPECT_EQ(remote_csp.rfind("sandbox;", 0), 0u) << "still sandboxed: " << remote_csp;

  EXPECT_EQ(Send("GET", "/api/messages/" + m1_ + "/html", &alice).status, 404) << "no HTML part";
  EXPECT_EQ(Send("GET", "/api/messages/" + theirs + "/html", &alice).status, 404) << "not granted";
  EXPECT_EQ(Send("GET", "/api/messages/" + with_html + "/html").status, 401);
  EXPECT_EQ(Send("POST", "/api/messages/" + with_html + "/html", &alice).status, 405);
}

TEST_F(WebAppTest, RawAndAttachmentDownloads) {
  Login alice = LogIn("alice", "alice-pw");
  Reply raw = Send("GET", "/api/messages/" + m1_ + "/raw", &alice);
  ASSERT_EQ(raw.status, 200);
  EXPECT_EQ(raw.body, m1_raw_);
  EXPECT_EQ(raw.head.get("Content-Disposition", ""), "attachment; filename=\"" + m1_ + ".eml\"");
  EXPECT_EQ(raw.head.get("X-Content-Type-Options", ""), "nosniff");
  EXPECT_EQ(Send("GET", "/api/messages/" + m2_ + "/raw", &alice).status, 404);

  Reply att = Send("GET", "/api/messages/" + m1_ + "/attachments/0", &alice);
  ASSERT_EQ(att.status, 200) << att.body;
  EXPECT_EQ(att.body, "PDFDATA-1");
  EXPECT_EQ(att.head.getContentType(), "application/octet-stream");
  const std::string disposition = att.head.get("Content-Disposition", "");
  EXPECT_EQ(disposition.rfind("attachment; filename=\"evil_name.pdf\"", 0), 0u) << disposition;
  EXPECT_EQ(disposition.find('/'), std::string::npos) << disposition;
  EXPECT_EQ(Send("GET", "/api/messages/" + m2_ + "/attachments/0", &alice).status, 404);
  EXPECT_EQ(Send("GET", "/api/messages/" + m1_ + "/attachments/1", &alice).status, 404);
  EXPECT_EQ(Send("GET", "/api/messages/" + m1_ + "/attachments/x", &alice).status, 400);
  Login audrey = LogIn("audrey", "audrey-pw");
  EXPECT_EQ(Send("GET", "/api/messages/" + m2_ + "/attachments/0", &audrey).body, "PLAN-2");
}

TEST_F(WebAppTest, ExportsAreStreamedAndRestricted) {
  Login alice = LogIn("alice", "alice-pw");
  Login audrey = LogIn("audrey", "audrey-pw");
  Reply mbox = Send("GET", "/api/export?q=*&format=mbox", &alice);
  ASSERT_EQ(mbox.status, 200) << mbox.body;
  EXPECT_EQ(mbox.head.get("Transfer-Encoding", ""), "chunked");
  EXPECT_EQ(mbox.head.get("Content-Disposition", "").rfind("attachment; filename=\"mailvault-export-", 0), 0u);
  EXPECT_EQ(mbox.body.rfind("From mailvault ", 0), 0u);
  EXPECT_NE(mbox.body.find("Quarterly budget alpha"), std::string::npos);
  EXPECT_EQ(mbox.body.find("Secret merger"), std::string::npos);
  EXPECT_EQ(mbox.body.find("Imported gamma"), std::string::npos);

  auto list_zip = [&](const Reply& r) {
    testing::WriteFile(dir_.path() + "/e.zip", r.body);
    auto py = testing::RunProcess(
        {"/usr/bin/python3", "-c",
         "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\n"
         "print(' '.join(sorted(n for n in z.namelist())))",
         dir_.path() + "/e.zip"});
    EXPECT_EQ(py.exit_code, 0) << py.err;
    return py.out;
  };
  Reply zip_alice = Send("GET", "/api/export?q=*&format=zip", &alice);
  ASSERT_EQ(zip_alice.status, 200);
  EXPECT_EQ(list_zip(zip_alice), m1_ + ".eml\n");
  Reply zip_all = Send("GET", "/api/export?q=*&format=zip", &audrey);
  std::vector<std::string> ids{m1_, m2_, m3_};
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(list_zip(zip_all), ids[0] + ".eml " + ids[1] + ".eml " + ids[2] + ".eml\n");
  EXPECT_EQ(Send("GET", "/api/export?q=merger&format=zip", &alice).body.find(m2_),
            std::string::npos);
  EXPECT_EQ(Send("GET", "/api/export?q=*&format=tar", &alice).status, 400);
}

TEST_F(WebAppTest, CsrfIsRequiredForChanges) {
  Login root = LogIn("root", "root-pw");
  const std::string body = R"({"name":"bob","role":"user","password":"bob-pw"})";
  Login none{root.cookie, ""};
  Reply missing = Send("POST", "/api/users", &none, body);
  EXPECT_EQ(missing.status, 403);
  EXPECT_NE(missing.error().find("X-CSRF-Token"), std::string::npos);
  Login wrong{root.cookie, std::string(43, 'A')};
  EXPECT_EQ(Send("POST", "/api/users", &wrong, body).status, 403);
  Login other_session = LogIn("root", "root-pw");
  Login mixed{root.cookie, other_session.csrf};
  EXPECT_EQ(Send("POST", "/api/users", &mixed, body).status, 403) << "a token is per session";
  Reply cross = Send("POST", "/api/users", &root, body, "application/json",
                     {{"Origin", "https://evil.example"}});
  EXPECT_EQ(cross.status, 403);
  EXPECT_EQ(Send("POST", "/api/users", &root, body, "application/json",
                 {{"Origin", "http://127.0.0.1:" + std::to_string(port_)}}).status, 201);
}

TEST_F(WebAppTest, ExpiredSessionsAreRejected) {
  Login alice = LogIn("alice", "alice-pw");
  clock_.Advance(500);
  EXPECT_EQ(Send("GET", "/api/me", &alice).status, 200);
  clock_.Advance(601);
  Reply r = Send("GET", "/api/me", &alice);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.error().find("expired"), std::string::npos);
  // Absolute expiry: kept busy, it still ends after 12 hours.
  Login busy = LogIn("alice", "alice-pw");
  for (int i = 0; i < 80; ++i) {
    clock_.Advance(550);
    if (Send("GET", "/api/me", &busy).status != 200) {
      EXPECT_GT(i, 70);
      return;
    }
  }
  ADD_FAILURE() << "the session outlived its absolute limit";
}

TEST_F(WebAppTest, BadJsonAndOversizedBodies) {
  Reply malformed = Send("POST", "/api/login", nullptr, "{\"user\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.error().find("malformed JSON"), std::string::npos) << malformed.error();
  Reply not_object = Send("POST", "/api/login", nullptr, "[1, 2]");
  EXPECT_EQ(not_object.status, 400);
  EXPECT_NE(not_object.error().find("JSON object"), std::string::npos) << not_object.error();
  Reply missing = Send("POST", "/api/login", nullptr, R"({"user": "alice"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.error(), "field 'password' is required");
  Reply wrong_type = Send("POST", "/api/login", nullptr, R"({"user": 5, "password": "x"})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(wrong_type.error(), "field 'user' must be a string");
  Reply form = Send("POST", "/api/login", nullptr, "user=alice", "application/x-www-form-urlencoded");
  EXPECT_EQ(form.status, 400);
  EXPECT_NE(form.error().find("Content-Type: application/json"), std::string::npos);
  Reply huge = Send("POST", "/api/login", nullptr,
                    R"({"user": "alice", "password": ")" + std::string(10000, 'x') + "\"}");
  EXPECT_EQ(huge.status, 413);
  EXPECT_NE(huge.error().find("larger than 4096 bytes"), std::string::npos);
  Login root = LogIn("root", "root-pw");
  EXPECT_EQ(Send("POST", "/api/users", &root, "{nope").status, 400);
  EXPECT_EQ(Send("PUT", "/api/users/alice", &root, std::string(5000, ' ')).status, 413);
}

TEST_F(WebAppTest, EveryReadIsAuditedAndTheChainVerifies) {
  Login alice = LogIn("alice", "alice-pw");
  ASSERT_EQ(Send("GET", "/api/search?q=budget", &alice).status, 200);
  ASSERT_EQ(Send("GET", "/api/messages/" + m1_, &alice).status, 200);
  ASSERT_EQ(Send("GET", "/api/messages/" + m2_, &alice).status, 404);
  ASSERT_EQ(Send("GET", "/api/messages/" + m1_ + "/raw", &alice).status, 200);
  ASSERT_EQ(Send("GET", "/api/messages/" + m1_ + "/attachments/0", &alice).status, 200);
  ASSERT_EQ(Send("GET", "/api/export?q=*", &alice).status, 200);
  EXPECT_EQ(Send("GET", "/api/audit", &alice).status, 403) << "users do not read the audit log";

  Login audrey = LogIn("audrey", "audrey-pw");
  Reply log = Send("GET", "/api/audit?user=alice&limit=50", &audrey);
  ASSERT_EQ(log.status, 200) << log.body;
  auto entries = log.json()->getArray("entries");
  std::vector<std::string> seen;
  for (size_t i = entries->size(); i-- > 0;) {
    auto e = entries->getObject(static_cast<unsigned>(i));
    EXPECT_EQ(e->getValue<std::string>("address"), "127.0.0.1");
    seen.push_back(e->getValue<std::string>("action") + " " + e->getValue<std::string>("outcome") +
                   " " + e->getValue<std::string>("target").substr(0, 12));
  }
  const std::vector<std::string> expected = {
      "login ok alice",          "search ok budget",        "view ok " + m1_.substr(0, 12),
      "view denied " + m2_.substr(0, 12), "raw ok " + m1_.substr(0, 12),
      "attachment ok " + m1_.substr(0, 12), "export ok *", "forbidden denied GET /api/aud"};
  EXPECT_EQ(seen, expected);

  Reply verify = Send("GET", "/api/audit/verify", &audrey);
  ASSERT_EQ(verify.status, 200);
  EXPECT_TRUE(verify.json()->getValue<bool>("ok"));
  ASSERT_TRUE(Sql("UPDATE audit_log SET target='nothing to see' WHERE id=3").ok());
  verify = Send("GET", "/api/audit/verify", &audrey);
  EXPECT_FALSE(verify.json()->getValue<bool>("ok"));
  EXPECT_EQ(verify.json()->getValue<int64_t>("first_broken_id"), 3);
}

TEST_F(WebAppTest, LoginRateLimit) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Send("POST", "/api/login", nullptr, R"({"user":"root","password":"guess"})").status,
              401);
  }
  Reply limited = Send("POST", "/api/login", nullptr, R"({"user":"root","password":"root-pw"})");
  EXPECT_EQ(limited.status, 429) << "even the right password waits";
  EXPECT_GT(std::stoi(limited.head.get("Retry-After", "0")), 0);
  EXPECT_NE(limited.error().find("too many failed logins"), std::string::npos);
  EXPECT_EQ(Send("POST", "/api/login", nullptr, R"({"user":"alice","password":"alice-pw"})").status,
            200) << "other users are not locked out";
  clock_.Advance(15 * 60);
  EXPECT_EQ(Send("POST", "/api/login", nullptr, R"({"user":"root","password":"root-pw"})").status,
            200);
}

TEST_F(WebAppTest, AccountsAdminAndRunNow) {
  Login root = LogIn("root", "root-pw");
  Login alice = LogIn("alice", "alice-pw");
  const std::string add =
      R"({"name":"box1","host":"127.0.0.1","port":1,"user":"u","password":"p","tls":"none"})";
  EXPECT_EQ(Send("POST", "/api/accounts", &alice, add).status, 403);
  Reply added = Send("POST", "/api/accounts", &root, add);
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(added.json()->getValue<std::string>("host"), "127.0.0.1");
  EXPECT_FALSE(added.json()->has("password"));
  EXPECT_EQ(Send("POST", "/api/accounts", &root, add).status, 409);
  ASSERT_EQ(Send("POST", "/api/accounts", &root,
                 R"({"name":"box2","host":"h","user":"u","password":"p","tls":"pop3s"})").status,
            201);
  Reply with_ca = Send("POST", "/api/accounts", &root,
                       R"({"name":"b3","host":"h","user":"u","password":"p","ca":"/etc/passwd"})");
  EXPECT_EQ(with_ca.status, 400);
  EXPECT_NE(with_ca.error().find("'ca'"), std::string::npos);
  Reply bad_name = Send("POST", "/api/accounts", &root,
                        R"({"name":"../x","host":"h","user":"u","password":"p"})");
  EXPECT_EQ(bad_name.status, 400);

  Reply list = Send("GET", "/api/accounts", &root);
  EXPECT_EQ(list.json()->getArray("accounts")->size(), 2u);
  Reply mine = Send("GET", "/api/accounts", &alice);
  auto mine_list = mine.json()->getArray("accounts");
  ASSERT_EQ(mine_list->size(), 1u);
  EXPECT_EQ(mine_list->getObject(0)->getValue<std::string>("name"), "box1");
  EXPECT_FALSE(mine_list->getObject(0)->has("host"));

  Reply edited = Send("PUT", "/api/accounts/box1", &root, R"({"port": 2, "policy": "keep"})");
  ASSERT_EQ(edited.status, 200) << edited.body;
  EXPECT_EQ(edited.json()->getValue<int>("port"), 2);
  EXPECT_EQ(Send("PUT", "/api/accounts/nope", &root, R"({"port": 2})").status, 404);

  Reply test = Send("POST", "/api/accounts/box1/test", &root);
  ASSERT_EQ(test.status, 200) << test.body;
  EXPECT_FALSE(test.json()->getValue<bool>("ok")) << "nothing listens on port 2";
  EXPECT_FALSE(test.json()->getValue<std::string>("error").empty());
  Reply probe = Send("POST", "/api/probe", &root,
                     R"({"host":"127.0.0.1","port":1,"user":"u","password":"p","tls":"none"})");
  ASSERT_EQ(probe.status, 200) << probe.body;
  EXPECT_FALSE(probe.json()->getValue<bool>("ok"));
  Reply probe_alias = Send("POST", "/api/accounts/test", &root,
                           R"({"host":"127.0.0.1","port":1,"user":"u","password":"p","tls":"none"})");
  ASSERT_EQ(probe_alias.status, 200) << probe_alias.body;
  EXPECT_FALSE(probe_alias.json()->getValue<bool>("ok"));

  EXPECT_EQ(Send("POST", "/api/accounts/box1/run", &alice).status, 403);
  EXPECT_EQ(Send("POST", "/api/accounts/box1/run", &root).status, 202);
  EXPECT_EQ(Send("POST", "/api/accounts/nope/run", &root).status, 404);
  EXPECT_EQ(control_.run_now(), std::vector<std::string>{"box1"});

  EXPECT_EQ(Send("DELETE", "/api/accounts/box2", &root).status, 200);
  EXPECT_EQ(Send("DELETE", "/api/accounts/box2", &root).status, 404);
  EXPECT_EQ(control_.changed(), 4) << "add, add, edit, remove";
}

// A browser reuses its connection: a body the endpoint has no use for (run-now,
// logout, a refused request) must not be read as the start of the next request.
TEST_F(WebAppTest, UnreadRequestBodiesDoNotLeakIntoTheNextRequestOnTheConnection) {
  Login root = LogIn("root", "root-pw");
  ASSERT_EQ(Send("POST", "/api/accounts", &root,
                 R"({"name":"box1","host":"127.0.0.1","port":1,"user":"u","password":"p"})")
                .status,
            201);
  Poco::Net::HTTPClientSession session("127.0.0.1", port_);
  session.setKeepAlive(true);
  auto exchange = [&](const std::string& method, const std::string& path, const std::string& body) {
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    req.setKeepAlive(true);
    req.set("Cookie", root.cookie);
    req.set("X-CSRF-Token", root.csrf);
    if (method != "GET") {
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(req) << body;
    Reply r;
    Poco::StreamCopier::copyToString(session.receiveResponse(r.head), r.body);
    r.status = r.head.getStatus();
    return r;
  };
  Reply run = exchange("POST", "/api/accounts/box1/run", R"({"ignored": "by this endpoint"})");
  EXPECT_EQ(run.status, 202) << run.body;
  Reply stats = exchange("GET", "/api/stats", "");
  EXPECT_EQ(stats.status, 200) << stats.body;
  Reply refused = exchange("POST", "/api/nothing-here", std::string(100000, 'x'));
  EXPECT_EQ(refused.status, 404) << refused.body;
  Reply me = exchange("GET", "/api/me", "");
  EXPECT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json()->getValue<std::string>("name"), "root");
}

// The dashboard's "last run" column: every account's newest run, from one
// listing, however many runs other accounts had since.
TEST_F(WebAppTest, AccountsCarryTheirNewestRun) {
  Login root = LogIn("root", "root-pw");
  Login alice = LogIn("alice", "alice-pw");
  for (const char* name : {"box1", "box2"}) {
    ASSERT_EQ(Send("POST", "/api/accounts", &root,
                   std::string(R"({"name":")") + name +
                       R"(","host":"127.0.0.1","port":1,"user":"u","password":"p"})")
                  .status,
              201);
  }
  ASSERT_TRUE(Sql("INSERT INTO collection_runs(id, account, started_at, ended_at, state, new) "
                  "VALUES(1, 'box1', 100, 110, 'ok', 7), (2, 'box1', 200, 210, 'failed', 0)")
                  .ok());
  ASSERT_TRUE(Sql("WITH RECURSIVE n(i) AS (SELECT 3 UNION ALL SELECT i + 1 FROM n WHERE i < 1002) "
                  "INSERT INTO collection_runs(id, account, started_at, state) "
                  "SELECT i, 'elsewhere', 300 + i, 'ok' FROM n")
                  .ok());
  Reply list = Send("GET", "/api/accounts", &root);
  ASSERT_EQ(list.status, 200) << list.body;
  std::map<std::string, Object::Ptr> by_name;
  auto accounts = list.json()->getArray("accounts");
  for (size_t i = 0; i < accounts->size(); ++i) {
    Object::Ptr a = accounts->getObject(static_cast<unsigned>(i));
    by_name[a->getValue<std::string>("name")] = a;
  }
  ASSERT_EQ(by_name.count("box1"), 1u);
  Object::Ptr box1_run = by_name["box1"]->getObject("last_run");
  ASSERT_TRUE(box1_run) << list.body;
  EXPECT_EQ(box1_run->getValue<int64_t>("id"), 2);
  EXPECT_EQ(box1_run->getValue<std::string>("state"), "failed");
  ASSERT_EQ(by_name.count("box2"), 1u);
  EXPECT_TRUE(by_name["box2"]->isNull("last_run")) << list.body;
  Reply mine = Send("GET", "/api/accounts", &alice);
  ASSERT_EQ(mine.status, 200);
  EXPECT_FALSE(mine.json()->getArray("accounts")->getObject(0)->has("last_run"));
}

TEST_F(WebAppTest, RunsLiveAndStats) {
  Login root = LogIn("root", "root-pw");
  Login alice = LogIn("alice", "alice-pw");
  Reply runs = Send("GET", "/api/runs?limit=5", &root);
  ASSERT_EQ(runs.status, 200) << runs.body;
  EXPECT_EQ(runs.json()->getArray("runs")->size(), 0u);
  EXPECT_EQ(Send("GET", "/api/runs/1/items", &root).status, 200);
  EXPECT_EQ(Send("GET", "/api/runs", &alice).status, 403);

  Reply live = Send("GET", "/api/live", &root);
  ASSERT_EQ(live.status, 200);
  EXPECT_EQ(Send("GET", "/api/runs/live", &root).body, live.body);
  auto run = live.json()->getArray("runs")->getObject(0);
  EXPECT_EQ(run->getValue<std::string>("account"), "box1");
  EXPECT_EQ(run->getValue<uint64_t>("fetched"), 4u);
  EXPECT_EQ(run->getValue<uint64_t>("to_fetch"), 10u);
  EXPECT_TRUE(live.json()->getArray("schedules")->getObject(0)->getValue<bool>("running"));

  Reply stats = Send("GET", "/api/stats", &root);
  ASSERT_EQ(stats.status, 200) << stats.body;
  EXPECT_EQ(stats.json()->getValue<uint64_t>("messages"), 3u);
  EXPECT_EQ(stats.json()->getValue<uint64_t>("indexed"), 3u);
  EXPECT_GT(stats.json()->getValue<uint64_t>("stored_bytes"), 0u);
  // Nothing compacted yet: every pack byte is still to be compacted.
  EXPECT_EQ(stats.json()->getValue<uint64_t>("uncompacted_bytes"),
            stats.json()->getValue<uint64_t>("stored_bytes"));
  auto per_day = stats.json()->getArray("archived_per_day");
  ASSERT_EQ(per_day->size(), 1u);
  EXPECT_EQ(per_day->getObject(0)->getValue<uint64_t>("messages"), 3u);
  EXPECT_EQ(Send("GET", "/api/stats", &alice).status, 403);

  // Mail archived since is counted (the per-day counts are kept between calls).
  Ingest("From: x@example.com\nSubject: later\n\nlater\n", ProvenanceKind::kImport, "later");
  Reply again = Send("GET", "/api/stats", &root);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()->getValue<uint64_t>("messages"), 4u);
  auto per_day_again = again.json()->getArray("archived_per_day");
  ASSERT_EQ(per_day_again->size(), 1u);
  EXPECT_EQ(per_day_again->getObject(0)->getValue<uint64_t>("messages"), 4u);
}

TEST_F(WebAppTest, UsersAdmin) {
  Login root = LogIn("root", "root-pw");
  Login alice = LogIn("alice", "alice-pw");
  EXPECT_EQ(Send("GET", "/api/users", &alice).status, 403);
  Reply list = Send("GET", "/api/users", &root);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json()->getArray("users")->size(), 3u);
  EXPECT_EQ(list.body.find("argon2"), std::string::npos) << "hashes never leave the server";

  Reply added = Send("POST", "/api/users", &root, R"({"name":"bob","role":"user","accounts":["box2"]})");
  ASSERT_EQ(added.status, 201) << added.body;
  const std::string generated = added.json()->getValue<std::string>("password");
  EXPECT_EQ(generated.size(), 20u);
  Login bob = LogIn("bob", generated);
  EXPECT_EQ(SearchIds(bob, "*"), std::vector<std::string>{m2_});

  clock_.Advance(1);
  Reply changed = Send("PUT", "/api/users/bob", &root, R"({"accounts":["box1"]})");
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(Send("GET", "/api/me", &bob).status, 401) << "changed users log in again";
  bob = LogIn("bob", generated);
  EXPECT_EQ(SearchIds(bob, "*"), std::vector<std::string>{m1_});

  EXPECT_EQ(Send("PUT", "/api/users/bob", &root, R"({"role":"boss"})").status, 400);
  EXPECT_EQ(Send("PUT", "/api/users/root", &root, R"({"role":"user"})").status, 400)
      << "the last admin stays admin";
  EXPECT_EQ(Send("DELETE", "/api/users/bob", &root).status, 200);
  EXPECT_EQ(Send("GET", "/api/me", &bob).status, 401);
  EXPECT_EQ(Send("DELETE", "/api/users/bob", &root).status, 404);

  // A password changed by the CLI (another process) ends the sessions too.
  clock_.Advance(1);
  ASSERT_TRUE(UserStore(archive_.get(), &clock_, kFast).SetPassword("alice", "new-pw").ok());
  EXPECT_EQ(Send("GET", "/api/me", &alice).status, 401);
}

}  // namespace
}  // namespace mailvault
