// HttpListener: the appliance's one HTTP(S) listener (Poco::Net::HTTPServer)
// for /healthz, /metrics and the web UI, with a bounded thread pool, a bounded
// connection queue and timeouts.
//
// Requests are handed to a routing function that returns a handler (owned by
// the server from then on) or nullptr, which answers 404. HTTPS is used when a
// certificate and key are given (NetSSL, TLS 1.2 or newer); plain HTTP
// otherwise (loopback by default).
//
// Thread-safety: Start/Stop from one thread; the router is called from the
// server's worker threads concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>

#include "base/status.h"

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}
}  // namespace Poco

namespace mailvault {

using HttpRouter =
    std::function<Poco::Net::HTTPRequestHandler*(const Poco::Net::HTTPServerRequest& request)>;

struct HttpListenerOptions {
  std::string host = "127.0.0.1";  // an address (brackets removed for IPv6)
  // When set, listen on this Unix socket instead of host:port (a stale socket
  // file is replaced; the file is removed by Stop()). Its directory's
  // permissions decide who may connect.
  std::string unix_path;
  int port = 8080;                 // 0: any free port (see HttpListener::port())
  std::string tls_cert;            // PEM files; both set: HTTPS
  std::string tls_key;
  // A keep-alive connection holds its thread until it closes (Poco serves one
  // connection per thread), so this is also the number of clients served at
  // once: a connection beyond it waits in the queue, unanswered, until one
  // closes. 64 covers ten browsers' parallel connections, or wrk's 64 in the
  // load benchmark (bench/run_web_bench.sh); threads that wait cost no CPU.
  int max_threads = 64;
  int max_queued = 64;  // connections waiting for a thread; more are refused
  // A request body the handler left unread is read and dropped up to this
  // many bytes so that the connection can be kept; beyond, it is closed.
  uint64_t max_unread_body = 2u << 20;
  std::chrono::seconds timeout{30};  // socket send/receive
  std::chrono::seconds keep_alive{15};
};

class HttpListener {
 public:
  // Binds and starts serving. kUnavailable (address in use, cannot bind) or
  // kInvalidArgument (bad address, unreadable certificate or key).
  static Result<std::unique_ptr<HttpListener>> Start(const HttpListenerOptions& options,
                                                     HttpRouter router);
  ~HttpListener();  // Stop()
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // The bound port (the kernel's choice when options.port was 0).
  int port() const { return port_; }
  bool tls() const { return tls_; }
  // Stops accepting, ends the connections in progress and returns once no
  // request handler runs any more (after at most the socket timeout + 5 s,
  // logged), so that what the handlers use may be destroyed next. Idempotent.
  void Stop();

 private:
  HttpListener() = default;
  std::unique_ptr<Poco::ThreadPool> pool_;  // the server's threads; outlives server_
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
  bool tls_ = false;
  std::string unix_path_;
  std::chrono::seconds stop_wait_{35};
};

// A handler that sends one fixed response, for small answers.
Poco::Net::HTTPRequestHandler* FixedResponse(int status, std::string content_type,
                                             std::string body);

}  // namespace mailvault
