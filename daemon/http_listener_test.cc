// HttpListener: Stop() returns only once no request handler runs any more,
// so that what the handlers use (the archive, the WebApp) may be destroyed
// right after it. Found by the web load benchmark: stopping the server under
// load let in-flight searches use the closed catalog.
#include "daemon/http_listener.h"

#include <gtest/gtest.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace mailvault {
namespace {

// Works for `busy` without touching its socket (like a search), then answers.
class SlowHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  SlowHandler(std::atomic<int>* started, std::atomic<int>* finished)
      : started_(started), finished_(finished) {}
  void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& response) override {
    started_->fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    finished_->fetch_add(1);
    try {
      response.setContentLength(2);
      response.send() << "ok";
    } catch (...) {  // the socket was shut down by Stop(): nothing to tell anyone
    }
  }

 private:
  std::atomic<int>* started_;
  std::atomic<int>* finished_;
};

TEST(HttpListenerTest, StopWaitsForTheHandlersInProgress) {
  std::atomic<int> started{0}, finished{0};
  HttpListenerOptions o;
  o.port = 0;
  o.max_threads = 4;
  auto listener = HttpListener::Start(o, [&](const Poco::Net::HTTPServerRequest&) {
    return new SlowHandler(&started, &finished);
  });
  ASSERT_TRUE(listener.ok()) << listener.status().ToString();
  const int port = (*listener)->port();

  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([port] {
      try {
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/slow");
        session.sendRequest(request);
        Poco::Net::HTTPResponse response;
        session.receiveResponse(response);
      } catch (...) {  // the connection is cut by Stop(); only the server side matters
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (started.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(started.load(), 3);
  (*listener)->Stop();
  EXPECT_EQ(finished.load(), 3) << "Stop() returned while handlers were still running";
  for (auto& c : clients) c.join();
}

}  // namespace
}  // namespace mailvault
