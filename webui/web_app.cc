#include "webui/web_app.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "archive/mail_export.h"
#include "base/fifo_slots.h"
#include "base/log.h"
#include "collector/account_store.h"
#include "collector/secret_box.h"
#include "search/document_cache.h"
#include "search/index_search.h"
#include "search/mime_decoder.h"
#include "search/value_columns.h"
#include "webui/audit_log.h"
#include "webui/message_parts.h"
#include "webui/static_assets.h"
#include "webui/user_store.h"
#include "webui/zip_stream.h"

namespace mailvault {

using Poco::JSON::Array;
using Poco::JSON::Object;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

namespace {

constexpr const char* kCookie = "mv_session";
constexpr const char* kApiCsp =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
// The HTML body of a message, shown in a frame of the message page. `sandbox`
// (also when the URL is opened on its own): no scripts, forms, popups or
// navigation of other frames; no scripts, plugins, fonts or connections at all;
// inline styles only; images only from data: URLs unless the viewer asked for
// remote content (kHtmlRemoteImages). Links cannot leave the frame: the page's
// frame-src is 'self'.
constexpr const char* kHtmlCsp =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'";
constexpr const char* kHtmlRemoteCsp =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: https: http:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'";
// Served HTML bodies are cut here (a page, not an archive: the .eml is whole).
constexpr size_t kMaxHtmlBytes = 4u << 20;
constexpr const char* kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'";

std::string IsoTime(int64_t unix_seconds) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(unix_seconds),
                                         "%Y-%m-%dT%H:%M:%SZ");
}

std::string Stringify(const Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

// A name safe in a Content-Disposition filename="" and on any file system:
// the last path component only, ASCII letters, digits and ". _ -" kept,
// anything else '_', no leading dot.
std::string SafeFilename(const std::string& full_name, const std::string& fallback) {
  const size_t slash = full_name.find_last_of("/\\");
  const std::string name = slash == std::string::npos ? full_name : full_name.substr(slash + 1);
  std::string out;
  for (char c : name) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
    out += keep ? c : '_';
    if (out.size() >= 100) break;
  }
  while (!out.empty() && out[0] == '.') out.erase(0, 1);
  if (out.find_first_not_of("._-") == std::string::npos) return fallback;
  return out;
}

// RFC 5987 ext-value of a UTF-8 file name, for filename*=: every byte outside
// the unreserved set percent-encoded (path separators and controls dropped).
std::string Rfc5987(const std::string& name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "UTF-8''";
  size_t kept = 0;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') continue;
    if (++kept > 200) break;
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Array Addresses(const std::vector<MailAddress>& list) {
  Array a;
  for (const MailAddress& m : list) {
    Object o;
    o.set("name", m.name);
    o.set("address", m.address);
    a.add(o);
  }
  return a;
}

Array Strings(const std::vector<std::string>& list) {
  Array a;
  for (const std::string& s : list) a.add(s);
  return a;
}

// One request in flight.
struct Call {
  HTTPServerRequest& req;
  HTTPServerResponse& resp;
  std::string method;
  std::vector<std::string> path;  // segments after "/api/"
  Poco::URI::QueryParameters query;
  std::string address;
  std::string token;  // the session cookie, when sent
  std::optional<Session> session;
  std::optional<User> user;

  std::string Param(const std::string& name, const std::string& fallback = "") const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return fallback;
  }
  const std::string& who() const {
    static const std::string kNobody;
    return user ? user->name : kNobody;
  }
};

// Sends `body` as JSON with `status`. Returns OK: the request is answered.
Status SendJson(Call& c, int status, const Object& body) {
  c.resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  c.resp.setContentType("application/json; charset=utf-8");
  std::string text = Stringify(body);
  c.resp.sendBuffer(text.data(), text.size());
  return Status::Ok();
}

Status SendError(Call& c, int status, const std::string& message) {
  Object o;
  o.set("error", message);
  return SendJson(c, status, o);
}

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kAuthFailed: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kTimeout: return 504;
    default: return 500;
  }
}

Status SendStatus(Call& c, const Status& s) {
  int http = HttpStatusOf(s.code());
  if (http == 500) {
    LogError("web: " + c.method + " " + c.req.getURI() + ": " + s.ToString());
    return SendError(c, 500, "internal error (logged on the server)");
  }
  return SendError(c, http, s.message());
}

// Optional string field: nullopt when absent; kInvalidArgument when not a string.
Result<std::optional<std::string>> StringField(const Object& o, const std::string& key) {
  if (!o.has(key) || o.isNull(key)) return std::optional<std::string>();
  Poco::Dynamic::Var v = o.get(key);
  if (!v.isString()) return Status::InvalidArgument("field '" + key + "' must be a string");
  return std::optional<std::string>(v.extract<std::string>());
}

Result<std::string> RequiredString(const Object& o, const std::string& key) {
  MV_ASSIGN_OR_RETURN(std::optional<std::string> v, StringField(o, key));
  if (!v) return Status::InvalidArgument("field '" + key + "' is required");
  return std::move(*v);
}

Result<std::optional<std::vector<std::string>>> StringListField(const Object& o,
                                                                 const std::string& key) {
  if (!o.has(key) || o.isNull(key)) return std::optional<std::vector<std::string>>();
  Array::Ptr a = o.getArray(key);
  if (!a) return Status::InvalidArgument("field '" + key + "' must be an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < a->size(); ++i) {
    Poco::Dynamic::Var v = a->get(static_cast<unsigned>(i));
    if (!v.isString())
      return Status::InvalidArgument("field '" + key + "' must be an array of strings");
    out.push_back(v.extract<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::optional<int64_t>> IntField(const Object& o, const std::string& key) {
  if (!o.has(key) || o.isNull(key)) return std::optional<int64_t>();
  Poco::Dynamic::Var v = o.get(key);
  if (!v.isInteger()) return Status::InvalidArgument("field '" + key + "' must be a whole number");
  return std::optional<int64_t>(v.convert<int64_t>());
}

Result<uint64_t> ParseCount(const std::string& text, const std::string& name, uint64_t fallback,
                            uint64_t max) {
  if (text.empty()) return fallback;
  uint64_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9' || v > (UINT64_MAX - 9) / 10)
      return Status::InvalidArgument("parameter '" + name + "' must be a whole number");
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (v > max) {
    return Status::InvalidArgument("parameter '" + name + "' must be at most " +
                                   std::to_string(max));
  }
  return v;
}

Object AccountJson(const Account& a) {
  Object o;
  o.set("name", a.name);
  o.set("host", a.host);
  o.set("port", a.EffectivePort());
  o.set("user", a.user);
  o.set("tls", std::string(TlsModeName(a.tls)));
  o.set("fingerprint", a.fingerprint);
  o.set("ca", a.ca);
  o.set("policy", a.policy.ToString());
  o.set("schedule", a.schedule);
  o.set("created_at", IsoTime(a.created_at));
  o.set("updated_at", IsoTime(a.updated_at));
  return o;
}

Object UserJson(const User& u) {
  Object o;
  o.set("name", u.name);
  o.set("role", std::string(RoleName(u.role)));
  o.set("accounts", Strings(u.accounts));
  o.set("created_at", IsoTime(u.created_at));
  o.set("updated_at", IsoTime(u.updated_at));
  return o;
}

// Reusable index readers: IndexSearcher is one per thread; opening one per
// request costs a few file opens, so idle ones are kept and refreshed. At most
// max_active are leased at once and further requests wait for one: a search is
// CPU work, so beyond a few per core more at once only adds Xapian handles,
// each reading its own copies of the index's blocks.
class SearcherPool {
 public:
  explicit SearcherPool(std::string index_dir)
      : index_dir_(std::move(index_dir)),
        // One search per core and one more, to keep the cores busy while a
        // search's thread is off them (woken, reading, answering). On 2 cores
        // with 64 clients: 2 slots 932-1,047 searches/s, p99 91-99 ms; 3 slots
        // 1,147-1,176/s, 86-91 ms; 4 slots 1,164-1,242/s, 96-109 ms.
        max_active_(std::max(3u, std::thread::hardware_concurrency() + 1)),
        slots_(max_active_) {}

  class Lease {
   public:
    Lease(SearcherPool* pool, std::unique_ptr<IndexSearcher> s) : pool_(pool), s_(std::move(s)) {}
    ~Lease() {
      if (s_) pool_->Return(std::move(s_));
    }
    Lease(Lease&& other) noexcept : pool_(other.pool_), s_(std::move(other.s_)) {}
    Lease& operator=(Lease&&) = delete;
    IndexSearcher* operator->() { return s_.get(); }

   private:
    SearcherPool* pool_;
    std::unique_ptr<IndexSearcher> s_;
  };

  // Waits for one of max_active_ searches, first come first served (FifoSlots:
  // with 64 connections on 2 cores, a condition variable let new requests pass
  // woken ones, and the slowest 1 % of answers took 2.2-2.3 times the median;
  // in turn, 1.5-2.0 times).
  Result<Lease> Acquire() {
    slots_.Acquire();
    std::unique_ptr<IndexSearcher> s;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        s = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    Result<Lease> lease = Open(std::move(s));
    if (!lease.ok()) Return(nullptr);
    return lease;
  }

 private:
  Result<Lease> Open(std::unique_ptr<IndexSearcher> s) {
    // See what the indexer committed since; an index the daemon started over
    // (IndexWorker, after an upgrade) cannot be refreshed, only opened anew.
    if (s && !s->Refresh().ok()) s.reset();
    if (!s) {
      auto opened = IndexSearcher::Open(index_dir_, counts_, columns_, documents_);
      if (!opened.ok()) {
        if (opened.status().code() == StatusCode::kNotFound) {
          return Status::Unavailable("the search index is not built yet; try again shortly");
        }
        if (opened.status().code() == StatusCode::kUnsupported) {
          return Status::Unavailable(
              "the search index is being rebuilt for this version of mailvault; try again "
              "shortly");
        }
        return opened.status();
      }
      s = std::move(*opened);
    }
    return Lease(this, std::move(s));
  }

  void Return(std::unique_ptr<IndexSearcher> s) {
    {
      std::lock_guard lock(mutex_);
      if (s && idle_.size() < max_active_) idle_.push_back(std::move(s));
    }
    slots_.Release();
  }
  std::string index_dir_;
  const unsigned max_active_;
  FifoSlots slots_;
  std::shared_ptr<SearchCountCache> counts_ = std::make_shared<SearchCountCache>();
  std::shared_ptr<ValueColumnsCache> columns_ = std::make_shared<ValueColumnsCache>();
  std::shared_ptr<DocumentCache> documents_ = std::make_shared<DocumentCache>();
  std::mutex mutex_;
  std::vector<std::unique_ptr<IndexSearcher>> idle_;
};

}  // namespace

struct WebApp::Impl {
  explicit Impl(WebAppOptions options, std::unique_ptr<SecretBox> secret_box)
      : o(std::move(options)),
        clock(o.clock ? o.clock : &SystemClock::Instance()),
        box(std::move(secret_box)),
        users(o.archive, clock, o.password_hash),
        audit(o.archive, clock),
        accounts(o.archive, box.get(), clock),
        sessions(clock, o.sessions),
        limiter(clock, o.login_limits),
        searchers(o.index_dir) {}

  void Handle(HTTPServerRequest& req, HTTPServerResponse& resp);

  // Messages archived per day (unix day, count), newest first, at most 366.
  using DayCounts = std::vector<std::pair<int64_t, uint64_t>>;
  Result<std::shared_ptr<const DayCounts>> ArchivedPerDay(const ArchiveStats& totals);
  std::mutex per_day_mutex;
  std::shared_ptr<const DayCounts> per_day_counts;  // of the archive's totals per_day_key
  std::pair<uint64_t, uint64_t> per_day_key;
  Status Route(Call& c);
  Status Authenticate(Call& c);
  Status Require(Call& c, std::initializer_list<Role> roles);
  Status Audit(Call& c, const std::string& action, const std::string& target,
               const std::string& outcome, const std::string& detail = "");
  Result<Object::Ptr> Body(Call& c);
  Status MethodNotAllowed(Call& c, const std::string& allowed);
  // Resolves `id` and checks that the caller may read it: kNotFound otherwise
  // (a message a user may not read is indistinguishable from a missing one).
  Result<MessageInfo> Readable(Call& c, const std::string& id, const std::string& action);
  bool MayRead(const User& u, const MessageInfo& info) const;
  std::optional<std::vector<std::string>> Restriction(const Call& c) const;
  // Streams through the response; aborts the connection on a failure midway
  // so the client sees a broken transfer, not a complete-looking short one.
  void AbortConnection(Call& c);

  Status Login(Call& c);
  Status Logout(Call& c);
  Status Me(Call& c);
  Status Search(Call& c);
  Status Message(Call& c, const std::string& id);
  Status Raw(Call& c, const std::string& id);
  Status Html(Call& c, const std::string& id);
  Status Attachment(Call& c, const std::string& id, const std::string& index);
  Status Export(Call& c);
  Status Accounts(Call& c);
  Status AccountItem(Call& c, const std::string& name);
  Status AccountTest(Call& c, const std::string& name);
  Status AccountRun(Call& c, const std::string& name);
  Status Probe(Call& c);
  Status Runs(Call& c);
  Status RunItemsOf(Call& c, const std::string& id);
  Status Live(Call& c);
  Status Users(Call& c);
  Status UserItem(Call& c, const std::string& name);
  Status AuditList(Call& c);
  Status AuditVerify(Call& c);
  Status Stats(Call& c);
  Result<Account> AccountFromJson(const Object& body, const std::string& name,
                                  const Account* base);

  WebAppOptions o;
  const Clock* clock;
  std::unique_ptr<SecretBox> box;
  UserStore users;
  AuditLog audit;
  AccountStore accounts;
  SessionStore sessions;
  LoginLimiter limiter;
  SearcherPool searchers;
};

namespace {

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(WebApp::Impl* app) : app_(app) {}
  void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
    app_->Handle(req, resp);
  }

 private:
  WebApp::Impl* app_;
};

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  std::string current;
  for (char ch : path) {
    if (ch == '/') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += ch;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

}  // namespace

void WebApp::Impl::AbortConnection(Call& c) {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&c.req);
  if (impl != nullptr) impl->session().abort();
}

void WebApp::Impl::Handle(HTTPServerRequest& req, HTTPServerResponse& resp) {
  Call c{req, resp, req.getMethod(), {}, {}, {}, {}, {}, {}};
  resp.set("X-Content-Type-Options", "nosniff");
  resp.set("Referrer-Policy", "no-referrer");
  resp.set("X-Frame-Options", "DENY");
  resp.set("Cross-Origin-Opener-Policy", "same-origin");
  resp.set("Cross-Origin-Resource-Policy", "same-origin");
  resp.set("Cache-Control", "no-store");
  if (o.https) resp.set("Strict-Transport-Security", "max-age=31536000");
  try {
    c.address = req.clientAddress().host().toString();
    Poco::URI uri(req.getURI());
    std::string path = uri.getPath();
    if (path.rfind("/api/", 0) != 0) {
      resp.set("Content-Security-Policy", kPageCsp);
      const StaticAsset* file = FindStaticAsset(path);
      if (file == nullptr) {
        resp.set("Content-Security-Policy", kApiCsp);
        SendError(c, 404, "no such page").IgnoreError();
        return;
      }
      if (c.method != "GET" && c.method != "HEAD") {
        MethodNotAllowed(c, "GET, HEAD").IgnoreError();
        return;
      }
      // The files change only with the binary: revalidate by ETag.
      resp.set("Cache-Control", "no-cache");
      resp.set("ETag", std::string(file->etag));
      if (req.get("If-None-Match", "") == file->etag) {
        resp.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_MODIFIED);
        resp.send();
        return;
      }
      resp.setContentType(std::string(file->content_type));
      resp.sendBuffer(file->body.data(), file->body.size());
      return;
    }
    resp.set("Content-Security-Policy", kApiCsp);
    c.path = Segments(path.substr(5));
    c.query = uri.getQueryParameters();
    Status s = Route(c);
    if (!s.ok()) {
      if (resp.sent()) {
        LogWarning("web: " + c.method + " " + req.getURI() + " failed midway: " + s.ToString());
        AbortConnection(c);
      } else {
        SendStatus(c, s).IgnoreError();
      }
    }
  } catch (const Poco::SyntaxException& e) {
    if (!resp.sent()) SendError(c, 400, "malformed request: " + e.displayText()).IgnoreError();
  } catch (const Poco::Exception& e) {
    LogError("web: " + req.getURI() + ": " + e.displayText());
    if (!resp.sent()) SendError(c, 500, "internal error (logged on the server)").IgnoreError();
  } catch (const std::exception& e) {
    LogError(std::string("web: ") + req.getURI() + ": " + e.what());
    if (!resp.sent()) SendError(c, 500, "internal error (logged on the server)").IgnoreError();
  }
}

Status WebApp::Impl::MethodNotAllowed(Call& c, const std::string& allowed) {
  c.resp.set("Allow", allowed);
  return SendError(c, 405, "method " + c.method + " is not allowed here (allowed: " + allowed + ")");
}

Status WebApp::Impl::Route(Call& c) {
  const auto& p = c.path;
  const std::string& m = c.method;
  if (p.size() == 1 && p[0] == "login") {
    if (m != "POST") return MethodNotAllowed(c, "POST");
    return Login(c);
  }
  MV_RETURN_IF_ERROR(Authenticate(c));
  if (c.resp.sent()) return Status::Ok();
  auto is = [&](std::initializer_list<const char*> shape) {
    if (p.size() != shape.size()) return false;
    size_t i = 0;
    for (const char* s : shape) {
      if (*s != '*' && p[i] != s) return false;
      ++i;
    }
    return true;
  };
  auto only = [&](const char* method) { return m == method; };
  if (is({"logout"})) return only("POST") ? Logout(c) : MethodNotAllowed(c, "POST");
  if (is({"me"})) return only("GET") ? Me(c) : MethodNotAllowed(c, "GET");
  if (is({"search"})) return only("GET") ? Search(c) : MethodNotAllowed(c, "GET");
  if (is({"messages", "*"})) return only("GET") ? Message(c, p[1]) : MethodNotAllowed(c, "GET");
  if (is({"messages", "*", "raw"})) return only("GET") ? Raw(c, p[1]) : MethodNotAllowed(c, "GET");
  if (is({"messages", "*", "html"})) return only("GET") ? Html(c, p[1]) : MethodNotAllowed(c, "GET");
  if (is({"messages", "*", "attachments", "*"})) {
    return only("GET") ? Attachment(c, p[1], p[3]) : MethodNotAllowed(c, "GET");
  }
  if (is({"export"})) return only("GET") ? Export(c) : MethodNotAllowed(c, "GET");
  if (is({"accounts"})) return Accounts(c);
  // The front end's name for a test of settings not saved yet (an account
  // named "test" is still reached by GET, PUT and DELETE).
  if (is({"accounts", "test"}) && m == "POST") return Probe(c);
  if (is({"accounts", "*"})) return AccountItem(c, p[1]);
  if (is({"accounts", "*", "test"})) {
    return only("POST") ? AccountTest(c, p[1]) : MethodNotAllowed(c, "POST");
  }
  if (is({"accounts", "*", "run"})) {
    return only("POST") ? AccountRun(c, p[1]) : MethodNotAllowed(c, "POST");
  }
  if (is({"probe"})) return only("POST") ? Probe(c) : MethodNotAllowed(c, "POST");
  if (is({"runs"})) return only("GET") ? Runs(c) : MethodNotAllowed(c, "GET");
  if (is({"runs", "*", "items"})) {
    return only("GET") ? RunItemsOf(c, p[1]) : MethodNotAllowed(c, "GET");
  }
  if (is({"live"}) || is({"runs", "live"})) return only("GET") ? Live(c) : MethodNotAllowed(c, "GET");
  if (is({"users"})) return Users(c);
  if (is({"users", "*"})) return UserItem(c, p[1]);
  if (is({"audit"})) return only("GET") ? AuditList(c) : MethodNotAllowed(c, "GET");
  if (is({"audit", "verify"})) return only("GET") ? AuditVerify(c) : MethodNotAllowed(c, "GET");
  if (is({"stats"})) return only("GET") ? Stats(c) : MethodNotAllowed(c, "GET");
  return SendError(c, 404, "no such API endpoint: /api/" + [&] {
    std::string joined;
    for (const auto& s : p) joined += (joined.empty() ? "" : "/") + s;
    return joined;
  }());
}

Status WebApp::Impl::Authenticate(Call& c) {
  Poco::Net::NameValueCollection cookies;
  c.req.getCookies(cookies);
  c.token = cookies.get(kCookie, "");
  c.session = c.token.empty() ? std::nullopt : sessions.Touch(c.token);
  if (!c.session) return SendError(c, 401, "not logged in (or the session expired)");
  auto user = users.Get(c.session->user);
  if (!user.ok() && user.status().code() != StatusCode::kNotFound) return user.status();
  // A user removed or changed (password, role, grants) since this login.
  if (!user.ok() || user->updated_at > c.session->created_at) {
    sessions.Revoke(c.token);
    return SendError(c, 401, "the session ended because the user was changed; log in again");
  }
  c.user = std::move(*user);
  if (c.method != "GET" && c.method != "HEAD") {
    if (!ConstantTimeEquals(c.req.get("X-CSRF-Token", ""), c.session->csrf_token)) {
      Audit(c, "csrf", c.req.getURI(), "denied").IgnoreError();
      return SendError(c, 403, "missing or wrong X-CSRF-Token header (see GET /api/me)");
    }
    // Defence in depth: a browser's cross-site request names its origin.
    const std::string origin = c.req.get("Origin", "");
    if (!origin.empty() && origin != "null") {
      Poco::URI ou(origin);
      std::string host = c.req.getHost();
      const unsigned default_port = ou.getScheme() == "https" ? 443 : 80;
      std::string origin_host =
          ou.getHost() + (ou.getPort() != default_port ? ":" + std::to_string(ou.getPort()) : "");
      if (origin_host != host) {
        Audit(c, "csrf", c.req.getURI(), "denied", "origin " + origin).IgnoreError();
        return SendError(c, 403, "cross-origin request refused");
      }
    }
  }
  return Status::Ok();
}

Status WebApp::Impl::Require(Call& c, std::initializer_list<Role> roles) {
  if (std::find(roles.begin(), roles.end(), c.user->role) != roles.end()) return Status::Ok();
  std::string names;
  for (Role r : roles) names += (names.empty() ? "" : " or ") + std::string(RoleName(r));
  MV_RETURN_IF_ERROR(Audit(c, "forbidden", c.method + " " + c.req.getURI(), "denied"));
  return Status::PermissionDenied("this needs the " + names + " role");
}

Status WebApp::Impl::Audit(Call& c, const std::string& action, const std::string& target,
                           const std::string& outcome, const std::string& detail) {
  AuditEntry e;
  e.user = c.who();
  e.address = c.address;
  e.action = action;
  e.target = target.substr(0, 4096);
  e.outcome = outcome;
  e.detail = detail;
  auto id = audit.Append(std::move(e));
  if (!id.ok()) {
    LogError("web: the audit log cannot be written: " + id.status().ToString());
    return Status::Internal("the audit log cannot be written: " + id.status().message());
  }
  return Status::Ok();
}

Result<Object::Ptr> WebApp::Impl::Body(Call& c) {
  const std::string type = c.req.getContentType();
  if (type.rfind("application/json", 0) != 0) {
    return Status::InvalidArgument("the request body must be JSON (Content-Type: "
                                   "application/json)");
  }
  const Status too_large(StatusCode::kNoSpace, "the request body is larger than " +
                                                   std::to_string(o.max_body_bytes) + " bytes");
  std::istream& in = c.req.stream();
  char buf[8192];
  // A refused body is still read (up to 1 MiB, then the connection is dropped),
  // so that the client, still sending, gets to read the 413 instead of a reset.
  auto drain = [&] {
    uint64_t discarded = 0;
    while (discarded < (1u << 20) && (in.read(buf, sizeof buf) || in.gcount() > 0)) {
      discarded += static_cast<uint64_t>(in.gcount());
    }
    c.resp.setKeepAlive(false);
  };
  if (c.req.hasContentLength() &&
      c.req.getContentLength64() > static_cast<int64_t>(o.max_body_bytes)) {
    drain();
    return too_large;
  }
  std::string text;
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > o.max_body_bytes) {
      drain();
      return too_large;
    }
  }
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(text);
    if (v.type() != typeid(Object::Ptr)) {
      return Status::InvalidArgument("the request body must be a JSON object");
    }
    Object::Ptr obj = v.extract<Object::Ptr>();
    if (!obj) return Status::InvalidArgument("the request body must be a JSON object");
    return obj;
  } catch (const Poco::Exception& e) {
    return Status::InvalidArgument("malformed JSON: " + e.message());
  } catch (const std::exception&) {
    return Status::InvalidArgument("malformed JSON: the body must be a JSON object");
  }
}

bool WebApp::Impl::MayRead(const User& u, const MessageInfo& info) const {
  if (u.reads_all_mail()) return true;
  for (const Provenance& p : info.provenance) {
    if (p.kind == ProvenanceKind::kPop3 &&
        std::binary_search(u.accounts.begin(), u.accounts.end(), p.source)) {
      return true;
    }
  }
  return false;
}

std::optional<std::vector<std::string>> WebApp::Impl::Restriction(const Call& c) const {
  if (c.user->reads_all_mail()) return std::nullopt;
  return c.user->accounts;
}

Result<MessageInfo> WebApp::Impl::Readable(Call& c, const std::string& id,
                                           const std::string& action) {
  if (id.size() < 12 || id.size() > 64 || !IsHex(id)) {
    return Status::InvalidArgument("a message id is 12 to 64 hex characters");
  }
  const Status missing = Status::NotFound("no message " + id);
  auto digest = o.archive->Resolve(id);
  if (!digest.ok()) {
    if (digest.status().code() == StatusCode::kNotFound) return missing;
    return digest.status();
  }
  MV_ASSIGN_OR_RETURN(MessageInfo info, o.archive->Info(*digest));
  if (!MayRead(*c.user, info)) {
    MV_RETURN_IF_ERROR(Audit(c, action, ToHex(info.id), "denied"));
    return missing;
  }
  return info;
}

// ---- session ----

Status WebApp::Impl::Login(Call& c) {
  auto body = Body(c);
  if (!body.ok()) return body.status().code() == StatusCode::kNoSpace
                            ? SendError(c, 413, body.status().message())
                            : body.status();
  MV_ASSIGN_OR_RETURN(std::string name, RequiredString(**body, "user"));
  MV_ASSIGN_OR_RETURN(std::string password, RequiredString(**body, "password"));
  if (name.size() > 64) name.resize(64);  // bounded keys for the limiter and the log
  if (int64_t wait = limiter.RetryAfter(name, c.address); wait > 0) {
    MV_RETURN_IF_ERROR(Audit(c, "login", name, "denied", "rate limited"));
    c.resp.set("Retry-After", std::to_string(wait));
    return SendError(c, 429, "too many failed logins; try again in " + std::to_string(wait) +
                                 " seconds");
  }
  auto user = users.Authenticate(name, password);
  if (!user.ok()) {
    if (user.status().code() != StatusCode::kAuthFailed) return user.status();
    limiter.RecordFailure(name, c.address);
    MV_RETURN_IF_ERROR(Audit(c, "login", name, "failed"));
    return SendError(c, 401, user.status().message());
  }
  limiter.RecordSuccess(name);
  MV_ASSIGN_OR_RETURN(std::string token, sessions.Create(user->name));
  c.user = *user;
  c.session = sessions.Touch(token);
  MV_RETURN_IF_ERROR(Audit(c, "login", name, "ok"));
  c.resp.add("Set-Cookie", std::string(kCookie) + "=" + token +
                               "; Path=/; HttpOnly; SameSite=Strict" + (o.https ? "; Secure" : ""));
  return Me(c);
}

Status WebApp::Impl::Logout(Call& c) {
  sessions.Revoke(c.token);
  MV_RETURN_IF_ERROR(Audit(c, "logout", c.who(), "ok"));
  c.resp.add("Set-Cookie", std::string(kCookie) + "=; Path=/; Max-Age=0; HttpOnly; "
                                                  "SameSite=Strict" + (o.https ? "; Secure" : ""));
  Object out;
  out.set("ok", true);
  return SendJson(c, 200, out);
}

Status WebApp::Impl::Me(Call& c) {
  Object out = UserJson(*c.user);
  out.set("user", c.user->name);
  out.set("csrf_token", c.session ? c.session->csrf_token : "");
  out.set("collection_control", o.control != nullptr);
  return SendJson(c, 200, out);
}

// ---- reading mail ----

Status WebApp::Impl::Search(Call& c) {
  const std::string q = c.Param("q");
  if (q.empty()) return Status::InvalidArgument("parameter 'q' is required (\"*\" for everything)");
  SearchOptions so;
  const std::string sort = c.Param("sort", "date");
  if (sort == "relevance") {
    so.sort = SearchSort::kRelevance;
  } else if (sort != "date") {
    return Status::InvalidArgument("parameter 'sort' must be date or relevance");
  }
  MV_ASSIGN_OR_RETURN(so.offset, ParseCount(c.Param("offset"), "offset", 0, 1'000'000));
  MV_ASSIGN_OR_RETURN(so.limit, ParseCount(c.Param("limit"), "limit", 20, o.max_page));
  so.facets = c.Param("facets", "1") != "0";
  so.now = clock->NowUnixSeconds();
  so.accounts = Restriction(c);
  Result<SearchResults> results = Status::Unavailable("");
  {
    MV_ASSIGN_OR_RETURN(auto searcher, searchers.Acquire());
    results = searcher->Search(q, so);
  }  // the searcher goes back before the audit entry waits for its fsync
  if (!results.ok()) {
    MV_RETURN_IF_ERROR(Audit(c, "search", q, "failed", results.status().message()));
    return results.status();
  }
  Object detail;
  detail.set("sort", sort);
  detail.set("offset", so.offset);
  detail.set("total", results->total);
  MV_RETURN_IF_ERROR(Audit(c, "search", q, "ok", Stringify(detail)));
  // Nested objects and arrays by pointer: Poco's Var copies an Object or
  // Array it holds by value whole, at every level (a tenth of a search's CPU).
  Object out;
  out.set("total", results->total);
  out.set("total_exact", results->total_exact);
  out.set("offset", so.offset);
  out.set("limit", so.limit);
  Array::Ptr hits = new Array;
  for (const SearchHit& h : results->hits) {
    Object::Ptr hit = new Object;
    hit->set("id", h.id);
    hit->set("date", IsoTime(h.date));
    hit->set("from", h.from);
    hit->set("subject", h.subject);
    hit->set("snippet", h.snippet);
    hit->set("relevance", h.relevance);
    hits->add(hit);
  }
  out.set("results", hits);
  auto facet = [](const std::vector<FacetValue>& values, const std::vector<std::string>* only) {
    Array::Ptr a = new Array;
    for (const FacetValue& v : values) {
      // The account facet counts a message under each of its accounts, some
      // of which a user may not be granted: show users only their own
      // accounts' names.
      if (only != nullptr && !std::binary_search(only->begin(), only->end(), v.value)) continue;
      Object::Ptr f = new Object;
      f->set("value", v.value);
      f->set("count", v.count);
      a->add(f);
    }
    return a;
  };
  Object::Ptr facets = new Object;
  facets->set("account", facet(results->facets.account, so.accounts ? &*so.accounts : nullptr));
  facets->set("sender_domain", facet(results->facets.sender_domain, nullptr));
  facets->set("year", facet(results->facets.year, nullptr));
  out.set("facets", facets);
  return SendJson(c, 200, out);
}

Status WebApp::Impl::Message(Call& c, const std::string& id) {
  MV_ASSIGN_OR_RETURN(MessageInfo info, Readable(c, id, "view"));
  const std::string hex = ToHex(info.id);
  MV_ASSIGN_OR_RETURN(MessageFile file, MessageFile::Spool(*o.archive, info.id, o.temp_dir));
  DecodeOptions d;
  d.extract_attachment_text = false;
  d.time_budget = std::chrono::milliseconds(5000);
  MV_ASSIGN_OR_RETURN(DecodedMessage m, DecodeMessageFile(file.path(), d));
  MV_ASSIGN_OR_RETURN(MessageOutline outline, ReadOutline(file));
  MV_RETURN_IF_ERROR(Audit(c, "view", hex, "ok"));
  Object out;
  out.set("id", hex);
  out.set("size", info.raw_length);
  out.set("archived_at", IsoTime(info.archived_at));
  std::set<std::string> visible;
  for (const Provenance& p : info.provenance) {
    if (p.kind != ProvenanceKind::kPop3) continue;
    if (c.user->reads_all_mail() ||
        std::binary_search(c.user->accounts.begin(), c.user->accounts.end(), p.source)) {
      visible.insert(p.source);
    }
  }
  out.set("accounts", Strings({visible.begin(), visible.end()}));
  Object headers;
  headers.set("from", Addresses(m.from));
  headers.set("to", Addresses(m.to));
  headers.set("cc", Addresses(m.cc));
  headers.set("subject", m.subject);
  headers.set("date", m.date_valid ? IsoTime(m.date) : "");
  headers.set("date_raw", m.date_raw);
  headers.set("message_id", m.message_id);
  out.set("headers", headers);
  out.set("text", m.body_text);
  out.set("html", outline.has_html_body);
  Array attachments;
  for (const AttachmentPart& a : outline.attachments) {
    Object att;
    att.set("index", a.index);
    att.set("filename", a.filename);
    att.set("content_type", a.content_type);
    att.set("size", a.size);
    attachments.add(att);
  }
  out.set("attachments", attachments);
  out.set("problems", Strings(m.problems));
  return SendJson(c, 200, out);
}

Status WebApp::Impl::Raw(Call& c, const std::string& id) {
  MV_ASSIGN_OR_RETURN(MessageInfo info, Readable(c, id, "raw"));
  const std::string hex = ToHex(info.id);
  MV_RETURN_IF_ERROR(Audit(c, "raw", hex, "ok"));
  c.resp.setContentType("message/rfc822");
  c.resp.set("Content-Disposition", "attachment; filename=\"" + hex + ".eml\"");
  c.resp.setContentLength64(static_cast<Poco::Int64>(info.raw_length));
  std::ostream& out = c.resp.send();
  return o.archive->ReadMessage(info.id, [&](std::string_view chunk) -> Status {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    return out ? Status::Ok() : Status::IoError("the client went away");
  });
}

Status WebApp::Impl::Html(Call& c, const std::string& id) {
  MV_ASSIGN_OR_RETURN(MessageInfo info, Readable(c, id, "html"));
  const std::string hex = ToHex(info.id);
  MV_ASSIGN_OR_RETURN(MessageFile file, MessageFile::Spool(*o.archive, info.id, o.temp_dir));
  MV_ASSIGN_OR_RETURN(std::optional<std::string> html, ReadHtmlBody(file, kMaxHtmlBytes));
  if (!html) return Status::NotFound("message " + id + " has no HTML body");
  const bool remote = c.Param("remote") == "1";
  MV_RETURN_IF_ERROR(Audit(c, "html", hex, "ok", remote ? "remote content allowed" : ""));
  c.resp.set("Content-Security-Policy", remote ? kHtmlRemoteCsp : kHtmlCsp);
  c.resp.set("X-Frame-Options", "SAMEORIGIN");
  c.resp.setContentType("text/html; charset=utf-8");
  c.resp.sendBuffer(html->data(), html->size());
  return Status::Ok();
}

Status WebApp::Impl::Attachment(Call& c, const std::string& id, const std::string& index_text) {
  MV_ASSIGN_OR_RETURN(uint64_t index, ParseCount(index_text, "attachment index", 0, 100000));
  MV_ASSIGN_OR_RETURN(MessageInfo info, Readable(c, id, "attachment"));
  const std::string hex = ToHex(info.id);
  MV_ASSIGN_OR_RETURN(MessageFile file, MessageFile::Spool(*o.archive, info.id, o.temp_dir));
  // The listing first, so that the audit entry names the file and a missing
  // attachment is a clean 404 before anything is sent.
  MV_ASSIGN_OR_RETURN(MessageOutline outline, ReadOutline(file));
  const std::vector<AttachmentPart>& parts = outline.attachments;
  if (index >= parts.size()) return Status::NotFound("message " + id + " has no attachment " + index_text);
  const AttachmentPart& part = parts[index];
  MV_RETURN_IF_ERROR(Audit(c, "attachment", hex + "/" + index_text, "ok", part.filename));
  // Sent as an opaque download whatever it claims to be: the browser must
  // neither render nor sniff mail content.
  c.resp.setContentType("application/octet-stream");
  c.resp.set("Content-Disposition",
             "attachment; filename=\"" +
                 SafeFilename(part.filename, "attachment-" + index_text + ".bin") +
                 "\"; filename*=" + Rfc5987(part.filename.empty() ? "attachment" : part.filename));
  c.resp.setContentLength64(static_cast<Poco::Int64>(part.size));
  std::ostream& out = c.resp.send();
  return ReadAttachment(file, index, nullptr, [&](std::string_view chunk) -> Status {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    return out ? Status::Ok() : Status::IoError("the client went away");
  });
}

Status WebApp::Impl::Export(Call& c) {
  const std::string q = c.Param("q");
  if (q.empty()) return Status::InvalidArgument("parameter 'q' is required (\"*\" for everything)");
  const std::string format = c.Param("format", "mbox");
  if (format != "mbox" && format != "zip") {
    return Status::InvalidArgument("parameter 'format' must be mbox or zip");
  }
  SearchOptions so;
  so.now = clock->NowUnixSeconds();
  so.accounts = Restriction(c);
  std::vector<std::string> ids;
  {
    MV_ASSIGN_OR_RETURN(auto searcher, searchers.Acquire());
    MV_ASSIGN_OR_RETURN(ids, searcher->MatchingIds(q, so));
  }
  std::sort(ids.begin(), ids.end());
  Object detail;
  detail.set("format", format);
  detail.set("messages", ids.size());
  MV_RETURN_IF_ERROR(Audit(c, "export", q, "ok", Stringify(detail)));

  const std::string stamp = Poco::DateTimeFormatter::format(
      Poco::Timestamp::fromEpochTime(clock->NowUnixSeconds()), "%Y%m%d-%H%M%S");
  c.resp.setContentType(format == "zip" ? "application/zip" : "application/mbox");
  c.resp.set("Content-Disposition", "attachment; filename=\"mailvault-export-" + stamp + "." +
                                        format + "\"");
  c.resp.setChunkedTransferEncoding(true);
  std::ostream& out = c.resp.send();
  auto sink = [&](std::string_view data) -> Status {
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    return out ? Status::Ok() : Status::IoError("the client went away");
  };
  ZipStreamWriter zip(sink);
  std::string buffer;
  for (const std::string& hex : ids) {
    auto id = DigestFromHex(hex);
    if (!id) return Status::Internal("the index returned a malformed id: " + hex);
    MV_ASSIGN_OR_RETURN(MessageInfo info, o.archive->Info(*id));
    // The index said the account matches; the archive must agree.
    if (!MayRead(*c.user, info)) continue;
    if (format == "zip") {
      MV_RETURN_IF_ERROR(zip.BeginEntry(hex + ".eml", info.archived_at));
      MV_RETURN_IF_ERROR(o.archive->ReadMessage(*id, [&](std::string_view chunk) {
        return zip.Write(chunk);
      }));
      MV_RETURN_IF_ERROR(zip.EndEntry());
    } else {
      MV_RETURN_IF_ERROR(sink(EnvelopeLine(info.archived_at)));
      MboxQuoter quoter;
      MV_RETURN_IF_ERROR(o.archive->ReadMessage(*id, [&](std::string_view chunk) {
        buffer.clear();
        quoter.Feed(chunk, &buffer);
        return sink(buffer);
      }));
      buffer.clear();
      quoter.Finish(&buffer);
      buffer += "\r\n";
      MV_RETURN_IF_ERROR(sink(buffer));
    }
  }
  if (format == "zip") MV_RETURN_IF_ERROR(zip.Finish());
  return Status::Ok();
}

// ---- accounts and runs ----

Result<Account> WebApp::Impl::AccountFromJson(const Object& body, const std::string& name,
                                              const Account* base) {
  Account a = base != nullptr ? *base : Account{};
  a.name = name;
  MV_ASSIGN_OR_RETURN(auto host, StringField(body, "host"));
  MV_ASSIGN_OR_RETURN(auto user, StringField(body, "user"));
  MV_ASSIGN_OR_RETURN(auto tls, StringField(body, "tls"));
  MV_ASSIGN_OR_RETURN(auto fingerprint, StringField(body, "fingerprint"));
  MV_ASSIGN_OR_RETURN(auto policy, StringField(body, "policy"));
  MV_ASSIGN_OR_RETURN(auto schedule, StringField(body, "schedule"));
  MV_ASSIGN_OR_RETURN(auto port, IntField(body, "port"));
  if (body.has("ca")) {
    return Status::InvalidArgument("field 'ca' names a file on the server and cannot be set "
                                   "through the API; pin a 'fingerprint' or use `mailvault "
                                   "account add --ca`");
  }
  if (host) a.host = *host;
  if (user) a.user = *user;
  if (port) {
    if (*port < 0 || *port > 65535) return Status::InvalidArgument("field 'port' must be 1-65535");
    a.port = static_cast<int>(*port);
  }
  if (tls) {
    if (*tls == "pop3s") a.tls = TlsMode::kPop3s;
    else if (*tls == "starttls") a.tls = TlsMode::kStarttls;
    else if (*tls == "none") a.tls = TlsMode::kNone;
    else return Status::InvalidArgument("field 'tls' must be pop3s, starttls or none");
  }
  if (fingerprint) a.fingerprint = *fingerprint;
  if (policy) {
    auto parsed = DeletePolicy::Parse(*policy);
    if (!parsed.ok()) return parsed.status().WithContext("field 'policy'");
    a.policy = *parsed;
  }
  if (schedule) a.schedule = *schedule;
  MV_RETURN_IF_ERROR(ValidateAccount(&a));
  return a;
}

namespace {

Object RunJson(const RunRecord& r) {
  Object run;
  run.set("id", r.id);
  run.set("account", r.account);
  run.set("started_at", IsoTime(r.started_at));
  run.set("ended_at", r.ended_at ? Poco::Dynamic::Var(IsoTime(*r.ended_at)) : Poco::Dynamic::Var());
  run.set("state", r.state);
  run.set("seen", r.seen);
  run.set("archived_before", r.archived_before);
  run.set("new", r.new_messages);
  run.set("duplicate", r.duplicate);
  run.set("failed", r.failed);
  run.set("skipped", r.skipped);
  run.set("deleted", r.deleted);
  run.set("removed", r.removed);
  run.set("bytes", r.bytes);
  run.set("complete", r.complete);
  run.set("error", r.error ? Poco::Dynamic::Var(*r.error) : Poco::Dynamic::Var());
  return run;
}

}  // namespace

Status WebApp::Impl::Accounts(Call& c) {
  if (c.method == "GET") {
    MV_ASSIGN_OR_RETURN(std::vector<Account> list, accounts.List());
    std::map<std::string, RunRecord> last_run;
    if (c.user->role != Role::kUser) {
      MV_ASSIGN_OR_RETURN(std::vector<RunRecord> latest, LatestRunOfEachAccount(*o.archive));
      for (RunRecord& r : latest) last_run.emplace(r.account, std::move(r));
    }
    Array out;
    for (const Account& a : list) {
      if (c.user->role == Role::kUser) {
        if (!std::binary_search(c.user->accounts.begin(), c.user->accounts.end(), a.name)) continue;
        Object mine;
        mine.set("name", a.name);  // users see their accounts' names only
        out.add(mine);
      } else {
        Object account = AccountJson(a);
        auto run = last_run.find(a.name);
        account.set("last_run", run != last_run.end() ? Poco::Dynamic::Var(RunJson(run->second))
                                                      : Poco::Dynamic::Var());
        out.add(account);
      }
    }
    Object doc;
    doc.set("accounts", out);
    return SendJson(c, 200, doc);
  }
  if (c.method != "POST") return MethodNotAllowed(c, "GET, POST");
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin}));
  auto body = Body(c);
  if (!body.ok()) return body.status().code() == StatusCode::kNoSpace
                            ? SendError(c, 413, body.status().message())
                            : body.status();
  MV_ASSIGN_OR_RETURN(std::string name, RequiredString(**body, "name"));
  MV_ASSIGN_OR_RETURN(std::string password, RequiredString(**body, "password"));
  MV_ASSIGN_OR_RETURN(Account a, AccountFromJson(**body, name, nullptr));
  Status s = accounts.Add(a, password);
  MV_RETURN_IF_ERROR(Audit(c, "account.add", name, s.ok() ? "ok" : "failed", s.message()));
  MV_RETURN_IF_ERROR(s);
  if (o.control != nullptr) o.control->AccountsChanged().IgnoreError();
  MV_ASSIGN_OR_RETURN(Account stored, accounts.Get(name));
  return SendJson(c, 201, AccountJson(stored));
}

Status WebApp::Impl::AccountItem(Call& c, const std::string& name) {
  if (c.method == "GET") {
    MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin, Role::kAuditor}));
    MV_ASSIGN_OR_RETURN(Account a, accounts.Get(name));
    return SendJson(c, 200, AccountJson(a));
  }
  if (c.method == "PUT") {
    MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin}));
    auto body = Body(c);
    if (!body.ok()) return body.status().code() == StatusCode::kNoSpace
                              ? SendError(c, 413, body.status().message())
                              : body.status();
    MV_ASSIGN_OR_RETURN(Account old, accounts.Get(name));
    MV_ASSIGN_OR_RETURN(Account a, AccountFromJson(**body, name, &old));
    MV_ASSIGN_OR_RETURN(std::optional<std::string> password, StringField(**body, "password"));
    Status s = accounts.Update(a, password ? std::optional<std::string_view>(*password)
                                           : std::nullopt);
    MV_RETURN_IF_ERROR(Audit(c, "account.edit", name, s.ok() ? "ok" : "failed", s.message()));
    MV_RETURN_IF_ERROR(s);
    if (o.control != nullptr) o.control->AccountsChanged().IgnoreError();
    MV_ASSIGN_OR_RETURN(Account stored, accounts.Get(name));
    return SendJson(c, 200, AccountJson(stored));
  }
  if (c.method == "DELETE") {
    MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin}));
    Status s = accounts.Remove(name);
    MV_RETURN_IF_ERROR(Audit(c, "account.remove", name, s.ok() ? "ok" : "failed", s.message()));
    MV_RETURN_IF_ERROR(s);
    if (o.control != nullptr) o.control->AccountsChanged().IgnoreError();
    Object out;
    out.set("ok", true);
    return SendJson(c, 200, out);
  }
  return MethodNotAllowed(c, "GET, PUT, DELETE");
}

namespace {

Object ProbeJson(const Result<AccountProbe>& probe) {
  Object out;
  out.set("ok", probe.ok());
  if (!probe.ok()) {
    out.set("error", probe.status().ToString());
    return out;
  }
  out.set("tls", probe->tls);
  out.set("peer_fingerprint", probe->peer_fingerprint);
  out.set("implementation", probe->implementation);
  out.set("capabilities", Strings(probe->capabilities));
  out.set("messages", probe->messages);
  out.set("octets", probe->octets);
  return out;
}

}  // namespace

Status WebApp::Impl::AccountTest(Call& c, const std::string& name) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin}));
  MV_ASSIGN_OR_RETURN(Account a, accounts.Get(name));
  MV_ASSIGN_OR_RETURN(std::string password, accounts.Password(name));
  auto probe = ProbeAccount(a, password, o.probe);
  MV_RETURN_IF_ERROR(Audit(c, "account.test", name, probe.ok() ? "ok" : "failed",
                           probe.ok() ? "" : probe.status().ToString()));
  return SendJson(c, 200, ProbeJson(probe));
}

Status WebApp::Impl::Probe(Call& c) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin}));
  auto body = Body(c);
  if (!body.ok()) return body.status().code() == StatusCode::kNoSpace
                            ? SendError(c, 413, body.status().message())
                            : body.status();
  MV_ASSIGN_OR_RETURN(std::optional<std::string> name, StringField(**body, "name"));
  MV_ASSIGN_OR_RETURN(std::string password, RequiredString(**body, "password"));
  MV_ASSIGN_OR_RETURN(Account a, AccountFromJson(**body, name.value_or("probe"), nullptr));
  auto probe = ProbeAccount(a, password, o.probe);
  MV_RETURN_IF_ERROR(Audit(c, "account.probe", a.user + "@" + a.host,
                           probe.ok() ? "ok" : "failed",
                           probe.ok() ? "" : probe.status().ToString()));
  return SendJson(c, 200, ProbeJson(probe));
}

Status WebApp::Impl::AccountRun(Call& c, const std::string& name) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin}));
  if (o.control == nullptr) {
    return Status::Unavailable("the collection service is not running in this process");
  }
  MV_RETURN_IF_ERROR(accounts.Get(name).status());
  Status s = o.control->RunNow(name);
  MV_RETURN_IF_ERROR(Audit(c, "account.run", name, s.ok() ? "ok" : "failed", s.message()));
  MV_RETURN_IF_ERROR(s);
  Object out;
  out.set("ok", true);
  return SendJson(c, 202, out);
}

Status WebApp::Impl::Runs(Call& c) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin, Role::kAuditor}));
  MV_ASSIGN_OR_RETURN(uint64_t limit, ParseCount(c.Param("limit"), "limit", 50, 1000));
  MV_ASSIGN_OR_RETURN(std::vector<RunRecord> runs,
                      RecentRuns(*o.archive, c.Param("account"), static_cast<int>(limit)));
  Array out;
  for (const RunRecord& r : runs) out.add(RunJson(r));
  Object doc;
  doc.set("runs", out);
  return SendJson(c, 200, doc);
}

Status WebApp::Impl::RunItemsOf(Call& c, const std::string& id) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin, Role::kAuditor}));
  MV_ASSIGN_OR_RETURN(uint64_t run, ParseCount(id, "run id", 0, INT64_MAX));
  MV_ASSIGN_OR_RETURN(std::vector<RunItem> items, RunItems(*o.archive, static_cast<int64_t>(run)));
  Array out;
  for (const RunItem& i : items) {
    Object item;
    item.set("uidl", i.uidl);
    item.set("number", i.number);
    item.set("octets", i.octets);
    item.set("outcome", i.outcome);
    item.set("reason", i.reason);
    out.add(item);
  }
  Object doc;
  doc.set("items", out);
  return SendJson(c, 200, doc);
}

Status WebApp::Impl::Live(Call& c) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin, Role::kAuditor}));
  Object doc;
  doc.set("available", o.control != nullptr);
  Array runs, schedules;
  if (o.control != nullptr) {
    for (const LiveRun& r : o.control->LiveRuns()) {
      Object run;
      run.set("account", r.account);
      run.set("started_at", IsoTime(r.started_at));
      run.set("to_fetch", r.to_fetch);
      run.set("fetched", r.fetched);
      run.set("bytes", r.bytes);
      runs.add(run);
    }
    for (const AccountSchedule& s : o.control->Schedules()) {
      Object sched;
      sched.set("account", s.account);
      sched.set("running", s.running);
      sched.set("failing", s.failing);
      sched.set("run_now_pending", s.run_now_pending);
      sched.set("consecutive_failures", s.consecutive_failures);
      sched.set("next_run", s.next_run ? Poco::Dynamic::Var(IsoTime(*s.next_run))
                                       : Poco::Dynamic::Var());
      schedules.add(sched);
    }
  }
  doc.set("runs", runs);
  doc.set("schedules", schedules);
  return SendJson(c, 200, doc);
}

// ---- users, audit, stats ----

Status WebApp::Impl::Users(Call& c) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin}));
  if (c.method == "GET") {
    MV_ASSIGN_OR_RETURN(std::vector<User> list, users.List());
    Array out;
    for (const User& u : list) out.add(UserJson(u));
    Object doc;
    doc.set("users", out);
    return SendJson(c, 200, doc);
  }
  if (c.method != "POST") return MethodNotAllowed(c, "GET, POST");
  auto body = Body(c);
  if (!body.ok()) return body.status().code() == StatusCode::kNoSpace
                            ? SendError(c, 413, body.status().message())
                            : body.status();
  MV_ASSIGN_OR_RETURN(std::string name, RequiredString(**body, "name"));
  MV_ASSIGN_OR_RETURN(std::string role_text, RequiredString(**body, "role"));
  MV_ASSIGN_OR_RETURN(Role role, ParseRole(role_text));
  MV_ASSIGN_OR_RETURN(std::optional<std::string> password, StringField(**body, "password"));
  MV_ASSIGN_OR_RETURN(auto granted, StringListField(**body, "accounts"));
  const bool generated = !password;
  if (generated) {
    MV_ASSIGN_OR_RETURN(password, GeneratePassword());
  }
  Status s = users.Add(name, role, *password, granted.value_or(std::vector<std::string>{}));
  MV_RETURN_IF_ERROR(Audit(c, "user.add", name, s.ok() ? "ok" : "failed",
                           s.ok() ? "role " + role_text : s.message()));
  MV_RETURN_IF_ERROR(s);
  MV_ASSIGN_OR_RETURN(User stored, users.Get(name));
  Object out = UserJson(stored);
  if (generated) out.set("password", *password);  // shown once, never stored in clear
  return SendJson(c, 201, out);
}

Status WebApp::Impl::UserItem(Call& c, const std::string& name) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin}));
  if (c.method == "GET") {
    MV_ASSIGN_OR_RETURN(User u, users.Get(name));
    return SendJson(c, 200, UserJson(u));
  }
  if (c.method == "DELETE") {
    Status s = users.Remove(name);
    MV_RETURN_IF_ERROR(Audit(c, "user.remove", name, s.ok() ? "ok" : "failed", s.message()));
    MV_RETURN_IF_ERROR(s);
    sessions.RevokeUser(name);
    Object out;
    out.set("ok", true);
    return SendJson(c, 200, out);
  }
  if (c.method != "PUT") return MethodNotAllowed(c, "GET, PUT, DELETE");
  auto body = Body(c);
  if (!body.ok()) return body.status().code() == StatusCode::kNoSpace
                            ? SendError(c, 413, body.status().message())
                            : body.status();
  MV_ASSIGN_OR_RETURN(std::optional<std::string> role_text, StringField(**body, "role"));
  MV_ASSIGN_OR_RETURN(std::optional<std::string> password, StringField(**body, "password"));
  MV_ASSIGN_OR_RETURN(auto granted, StringListField(**body, "accounts"));
  std::optional<Role> role;
  if (role_text) {
    MV_ASSIGN_OR_RETURN(role, ParseRole(*role_text));
  }
  Status s = Status::Ok();
  if (role || granted) s = users.Update(name, role, granted);
  if (s.ok() && password) s = users.SetPassword(name, *password);
  std::string what = std::string(role ? "role " + *role_text + " " : "") +
                     (granted ? "accounts " : "") + (password ? "password" : "");
  MV_RETURN_IF_ERROR(Audit(c, "user.edit", name, s.ok() ? "ok" : "failed",
                           s.ok() ? what : s.message()));
  MV_RETURN_IF_ERROR(s);
  sessions.RevokeUser(name);  // log in again with the new rights or password
  MV_ASSIGN_OR_RETURN(User stored, users.Get(name));
  return SendJson(c, 200, UserJson(stored));
}

Status WebApp::Impl::AuditList(Call& c) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin, Role::kAuditor}));
  AuditQuery q;
  MV_ASSIGN_OR_RETURN(uint64_t before, ParseCount(c.Param("before"), "before", 0, INT64_MAX));
  MV_ASSIGN_OR_RETURN(uint64_t limit, ParseCount(c.Param("limit"), "limit", 100, 1000));
  q.before_id = static_cast<int64_t>(before);
  q.limit = static_cast<int>(limit);
  q.user = c.Param("user");
  q.action = c.Param("action");
  MV_ASSIGN_OR_RETURN(std::vector<AuditEntry> entries, audit.List(q));
  MV_RETURN_IF_ERROR(Audit(c, "audit.read", q.user + " " + q.action, "ok"));
  Array out;
  for (const AuditEntry& e : entries) {
    Object entry;
    entry.set("id", e.id);
    entry.set("at", IsoTime(e.at));
    entry.set("user", e.user);
    entry.set("address", e.address);
    entry.set("action", e.action);
    entry.set("target", e.target);
    entry.set("outcome", e.outcome);
    entry.set("detail", e.detail);
    entry.set("hash", ToHex(e.hash));
    out.add(entry);
  }
  Object doc;
  doc.set("entries", out);
  return SendJson(c, 200, doc);
}

Status WebApp::Impl::AuditVerify(Call& c) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin, Role::kAuditor}));
  MV_ASSIGN_OR_RETURN(AuditVerifyReport report, audit.Verify());
  MV_RETURN_IF_ERROR(Audit(c, "audit.verify", "", report.ok ? "ok" : "failed", report.problem));
  Object doc;
  doc.set("ok", report.ok);
  doc.set("entries", report.entries);
  doc.set("last_id", report.last_id);
  doc.set("first_broken_id", report.ok ? Poco::Dynamic::Var() : Poco::Dynamic::Var(report.first_broken_id));
  doc.set("problem", report.ok ? Poco::Dynamic::Var() : Poco::Dynamic::Var(report.problem));
  return SendJson(c, 200, doc);
}

Result<std::shared_ptr<const WebApp::Impl::DayCounts>> WebApp::Impl::ArchivedPerDay(
    const ArchiveStats& totals) {
  // A GROUP BY over every message (~40 ms at 100,000), for a dashboard that
  // asks every few seconds: done again only when the archive holds other mail.
  const std::pair<uint64_t, uint64_t> key{totals.messages, totals.raw_bytes};
  {
    std::lock_guard lock(per_day_mutex);
    if (per_day_counts && per_day_key == key) return per_day_counts;
  }
  auto days = std::make_shared<DayCounts>();
  MV_RETURN_IF_ERROR(o.archive->WithCatalog([&](Catalog& cat) -> Status {
    MV_ASSIGN_OR_RETURN(SqliteStatement st,
                        cat.database().Prepare("SELECT archived_at/86400 AS day, count(*) FROM "
                                               "messages GROUP BY day ORDER BY day DESC LIMIT 366"));
    for (;;) {
      MV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      days->emplace_back(st.ColumnInt(0), static_cast<uint64_t>(st.ColumnInt(1)));
    }
    return Status::Ok();
  }));
  std::lock_guard lock(per_day_mutex);
  per_day_counts = days;
  per_day_key = key;
  return std::shared_ptr<const DayCounts>(days);
}

Status WebApp::Impl::Stats(Call& c) {
  MV_RETURN_IF_ERROR(Require(c, {Role::kAdmin, Role::kAuditor}));
  MV_ASSIGN_OR_RETURN(ArchiveStats s, o.archive->Stats());
  Object doc;
  doc.set("messages", s.messages);
  doc.set("raw_bytes", s.raw_bytes);
  doc.set("stored_bytes", s.stored_bytes);
  doc.set("uncompacted_bytes", s.uncompacted_bytes);
  doc.set("catalog_bytes", s.catalog_bytes);
  doc.set("unique_bytes", s.unique_bytes);
  doc.set("segments", s.segments);
  doc.set("provenance_links", s.provenance_links);
  doc.set("packs", s.packs);
  // raw / unique: what deduplication saves; unique / stored: what compression saves.
  doc.set("dedup_ratio", s.unique_bytes ? static_cast<double>(s.raw_bytes) / s.unique_bytes : 0.0);
  doc.set("compression_ratio",
          s.stored_bytes ? static_cast<double>(s.unique_bytes) / s.stored_bytes : 0.0);
  MV_ASSIGN_OR_RETURN(auto days, ArchivedPerDay(s));
  Array per_day;
  for (const auto& [day, messages] : *days) {
    Object d;
    d.set("day", IsoTime(day * 86400).substr(0, 10));
    d.set("messages", messages);
    per_day.add(d);
  }
  doc.set("archived_per_day", per_day);
  if (auto searcher = searchers.Acquire(); searcher.ok()) {
    auto count = (*searcher)->DocumentCount();
    if (count.ok()) doc.set("indexed", *count);
  }
  return SendJson(c, 200, doc);
}

// ---- WebApp ----

Result<std::unique_ptr<WebApp>> WebApp::Create(WebAppOptions options) {
  if (options.archive == nullptr) return Status::InvalidArgument("WebAppOptions.archive is required");
  if (options.data_dir.empty()) return Status::InvalidArgument("WebAppOptions.data_dir is required");
  if (options.index_dir.empty()) return Status::InvalidArgument("WebAppOptions.index_dir is required");
  MV_ASSIGN_OR_RETURN(std::unique_ptr<SecretBox> box, SecretBox::Open(options.data_dir));
  return std::unique_ptr<WebApp>(
      new WebApp(std::make_unique<Impl>(std::move(options), std::move(box))));
}

WebApp::WebApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebApp::~WebApp() = default;

Poco::Net::HTTPRequestHandler* WebApp::CreateRequestHandler(const HTTPServerRequest& request) {
  std::string path;
  try {
    path = Poco::URI(request.getURI()).getPath();
  } catch (const Poco::Exception&) {
    path = request.getURI();  // a malformed URI: the handler answers 400 if it is ours
  }
  const bool ours = path.rfind("/api/", 0) == 0 || FindStaticAsset(path) != nullptr;
  return ours ? new Handler(impl_.get()) : nullptr;
}

}  // namespace mailvault
