#include "daemon/http_listener.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <istream>
#include <thread>

#include "base/log.h"

namespace mailvault {
namespace {

// Poco leaves a request body that the handler did not read in the connection:
// on keep-alive the next request would be parsed from its bytes (a POST whose
// `{}` nobody read turned the next GET into "{}GET"). After every handler, what
// is left of the body is read and dropped, up to `limit`; a larger rest closes
// the connection instead.
class BodyDrainingHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  BodyDrainingHandler(Poco::Net::HTTPRequestHandler* inner, uint64_t limit)
      : inner_(inner), limit_(limit) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    try {
      inner_->handleRequest(request, response);
    } catch (...) {
      Drain(request);
      throw;
    }
    Drain(request);
  }

 private:
  void Drain(Poco::Net::HTTPServerRequest& request) {
    // Without a length or chunking a request has no body (RFC 9112 6.3), but
    // Poco would read such a POST's stream until the connection closes.
    if (!request.hasContentLength() && !request.getChunkedTransferEncoding()) return;
    try {
      std::istream& in = request.stream();
      char buf[8192];
      uint64_t discarded = 0;
      while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        discarded += static_cast<uint64_t>(in.gcount());
        if (discarded > limit_) return Abort(request);
      }
    } catch (const std::exception&) {
      Abort(request);
    }
  }
  static void Abort(Poco::Net::HTTPServerRequest& request) {
    auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
    if (impl != nullptr) impl->session().abort();
  }

  std::unique_ptr<Poco::Net::HTTPRequestHandler> inner_;
  uint64_t limit_;
};

class RouterFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  RouterFactory(HttpRouter router, uint64_t drain_limit)
      : router_(std::move(router)), drain_limit_(drain_limit) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override {
    return new BodyDrainingHandler(Route(request), drain_limit_);
  }

 private:
  Poco::Net::HTTPRequestHandler* Route(const Poco::Net::HTTPServerRequest& request) {
    Poco::Net::HTTPRequestHandler* handler = nullptr;
    try {
      handler = router_(request);
    } catch (const std::exception& e) {
      LogError(std::string("http: routing ") + request.getURI() + ": " + e.what());
      return FixedResponse(500, "application/json", "{\"error\":\"internal error\"}\n");
    }
    if (handler == nullptr) {
      return FixedResponse(404, "application/json", "{\"error\":\"not found\"}\n");
    }
    return handler;
  }

  HttpRouter router_;
  uint64_t drain_limit_;
};

class FixedHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  FixedHandler(int status, std::string type, std::string body)
      : status_(status), type_(std::move(type)), body_(std::move(body)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    // Whatever the client sent is not wanted (BodyDrainingHandler drops it).
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status_));
    response.setContentType(type_);
    response.set("Cache-Control", "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    response.setContentLength(static_cast<std::streamsize>(body_.size()));
    if (request.getMethod() == Poco::Net::HTTPRequest::HTTP_HEAD) {
      response.send();
      return;
    }
    response.send() << body_;
  }

 private:
  int status_;
  std::string type_;
  std::string body_;
};

}  // namespace

Poco::Net::HTTPRequestHandler* FixedResponse(int status, std::string content_type,
                                             std::string body) {
  return new FixedHandler(status, std::move(content_type), std::move(body));
}

Result<std::unique_ptr<HttpListener>> HttpListener::Start(const HttpListenerOptions& options,
                                                          HttpRouter router) {
  std::unique_ptr<HttpListener> listener(new HttpListener());
  const std::string where = !options.unix_path.empty()
                                ? options.unix_path
                                : options.host + ":" + std::to_string(options.port);
  try {
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    if (!options.unix_path.empty()) {
      ::unlink(options.unix_path.c_str());  // a socket left by a process that died
      socket = std::make_unique<Poco::Net::ServerSocket>(
          Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, options.unix_path), 16);
      listener->unix_path_ = options.unix_path;
    } else if (!options.tls_cert.empty() || !options.tls_key.empty()) {
      Poco::Net::SocketAddress address(options.host, static_cast<Poco::UInt16>(options.port));
      if (options.tls_cert.empty() || options.tls_key.empty()) {
        return Status::InvalidArgument("[web] tls_cert and tls_key must be set together");
      }
      Poco::Net::Context::Params params;
      params.privateKeyFile = options.tls_key;
      params.certificateFile = options.tls_cert;
      params.verificationMode = Poco::Net::Context::VERIFY_NONE;  // no client certificates
      params.cipherList = "HIGH:!aNULL:!MD5:!RC4";
      Poco::Net::Context::Ptr context =
          new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
      context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                                Poco::Net::Context::PROTO_TLSV1 |
                                Poco::Net::Context::PROTO_TLSV1_1);
      socket = std::make_unique<Poco::Net::SecureServerSocket>(address, 64, context);
      listener->tls_ = true;
    } else {
      Poco::Net::SocketAddress address(options.host, static_cast<Poco::UInt16>(options.port));
      socket = std::make_unique<Poco::Net::ServerSocket>(address, 64);
    }
    if (options.unix_path.empty()) listener->port_ = socket->address().port();
    // A handler blocked on its socket returns within a send/receive timeout.
    listener->stop_wait_ = options.timeout + std::chrono::seconds(5);
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(std::max(1, options.max_threads));
    params->setMaxQueued(std::max(1, options.max_queued));
    params->setTimeout(Poco::Timespan(options.timeout.count(), 0));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(options.keep_alive.count(), 0));
    params->setMaxKeepAliveRequests(1000);
    params->setServerName("mailvault");
    // Its own pool, not Poco's default one: that is shared by every listener
    // of the process (the control socket's idle dispatcher thread held one of
    // its threads), and a connection for which no pool thread is free waits in
    // the queue unserved; under load the queue filled and connections were
    // refused (852 in a 15 s run of the load benchmark).
    const int threads = std::max(1, options.max_threads);
    listener->pool_ = std::make_unique<Poco::ThreadPool>(std::min(2, threads), threads);
    listener->server_ = std::make_unique<Poco::Net::HTTPServer>(
        new RouterFactory(std::move(router), options.max_unread_body), *listener->pool_, *socket, params);
    listener->server_->start();
  } catch (const Poco::Net::SSLException& e) {
    return Status::InvalidArgument("TLS for " + where + ": " + e.displayText());
  } catch (const Poco::Net::NetException& e) {
    return Status::Unavailable("cannot listen on " + where + ": " + e.displayText());
  } catch (const Poco::Exception& e) {
    return Status::InvalidArgument("cannot listen on " + where + ": " + e.displayText());
  } catch (const std::exception& e) {
    return Status::Internal("cannot listen on " + where + ": " + e.what());
  }
  return listener;
}

HttpListener::~HttpListener() { Stop(); }

void HttpListener::Stop() {
  if (!server_) return;
  try {
    if (const int refused = server_->refusedConnections(); refused > 0) {
      LogWarning("http: " + std::to_string(refused) +
                 " connections were refused because the queue was full (max_queued)");
    }
    server_->stopAll(true);
    // stopAll shuts the connections' sockets down but does not wait for the
    // handlers running on them: one still inside a search or an audit append
    // would use what its owner destroys next (the archive: SQLite answered
    // "bad parameter or other API misuse" when the load benchmark stopped the
    // server under load). A worker thread leaves only once its connection and
    // handler are gone, so wait for none to be left; socket timeouts bound it.
    const auto give_up = std::chrono::steady_clock::now() + stop_wait_;
    while (server_->currentThreads() > 0 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (server_->currentThreads() > 0) {
      LogWarning("http: stopping: " + std::to_string(server_->currentThreads()) +
                 " request handlers still running after " +
                 std::to_string(stop_wait_.count()) + " s");
    }
  } catch (const std::exception& e) {
    LogWarning(std::string("http: stopping: ") + e.what());
  }
  server_.reset();
  pool_.reset();  // joins the pool's threads
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

}  // namespace mailvault
