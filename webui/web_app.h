// WebApp: the web UI's HTTP side — the JSON API under /api/ (doc/api.md) and
// the front end's files — as Poco request handlers that `mailvault serve`
// mounts in its HttpListener (daemon/http_listener.h), which also drops what a
// handler left unread of a request body, so that kept-alive connections stay
// in step; serve it through one.
//
//   auto app = WebApp::Create(options);            // once, at start
//   factory: if (auto* h = app->CreateRequestHandler(request)) return h;
//            ... the daemon's own paths (/healthz, /metrics), else 404
//
// Paths owned: everything under /api/ and the embedded front end's files
// (webui/static_assets.h: "/", "/index.html", "/app.js", ...);
// CreateRequestHandler returns nullptr for any other path.
//
// Security (ARCHITECTURE.md webui/ and invariant 7):
// - Sessions: HttpOnly, SameSite=Strict cookie `mv_session` (Secure when
//   options.https); idle and absolute expiry (SessionStore). A session ends
//   when its user is removed or changed (password, role, grants) through the
//   API or the CLI: the user row's updated_at is checked on every request.
// - CSRF: every request other than GET/HEAD (login excepted) must carry the
//   session's token in X-CSRF-Token; a cross-origin Origin header is refused.
// - Roles: admin and auditor read all mail; a user reads only the accounts
//   granted to them. Searches and exports of a user are restricted in the query
//   itself (SearchOptions::accounts); every access by id (message, raw,
//   attachment, export item) is checked again against the message's
//   provenance. A message a user may not read answers 404, like a missing one.
// - Audit: every search, message view, download and export, every login and
//   every change is written to the audit log before the content is sent; if
//   the audit log cannot be written, the read is refused.
// - Responses carry a strict Content-Security-Policy, nosniff, no-referrer and
//   frame-ancestors 'none'; errors are {"error": "..."} with a 4xx/5xx status;
//   request bodies are limited; nothing from a request is used as a path.
//
// Thread-safety: CreateRequestHandler and the handlers are called from the
// server's worker threads concurrently; WebApp is thread-safe. The borrowed
// Archive, CollectionControl and Clock must outlive the WebApp and every
// handler it made (stop the HTTPServer first).
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/status.h"
#include "collector/collection_control.h"
#include "collector/collection_run.h"
#include "webui/login_limiter.h"
#include "webui/password.h"
#include "webui/session_store.h"

namespace mailvault {

struct WebAppOptions {
  Archive* archive = nullptr;  // required; borrowed
  std::string data_dir;        // required: secret.key for account passwords
  std::string index_dir;       // required: the Xapian index (IndexDirectory(data_dir))
  CollectionControl* control = nullptr;  // run-now and live progress; null: not available
  const Clock* clock = nullptr;          // default: the system clock
  bool https = false;                    // cookies get Secure

  WebSessionOptions sessions;
  LoginLimits login_limits;
  PasswordHashParams password_hash;  // for users added or changed through the API

  size_t max_body_bytes = 64 * 1024;  // JSON request bodies
  uint64_t max_page = 200;            // results per search page
  std::string temp_dir;               // message view spool; "" = $TMPDIR or /tmp
  // Timeouts for account tests (ProbeAccount): connect and I/O.
  CollectionOptions probe;
};

class WebApp {
 public:
  // kInvalidArgument when a required option is missing.
  static Result<std::unique_ptr<WebApp>> Create(WebAppOptions options);
  ~WebApp();
  WebApp(const WebApp&) = delete;
  WebApp& operator=(const WebApp&) = delete;

  // A new handler (the server deletes it) for a path this app owns, else nullptr.
  Poco::Net::HTTPRequestHandler* CreateRequestHandler(const Poco::Net::HTTPServerRequest& request);

  struct Impl;

 private:
  explicit WebApp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailvault
