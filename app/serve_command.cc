#include "app/serve_command.h"

#include <Poco/Util/ServerApplication.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "base/clock.h"
#include "base/log.h"
#include "daemon/daemon.h"
#include "search/indexer.h"
#include "webui/user_store.h"
#include "webui/web_app.h"

namespace mailvault {
namespace {

// How long running collections get to finish their messages in flight after
// SIGTERM. systemd's TimeoutStopSec (packaging/mailvault.service) is longer.
constexpr std::chrono::seconds kShutdownGrace{60};

class ServeApplication final : public Poco::Util::ServerApplication {
 public:
  explicit ServeApplication(DaemonOptions options) : options_(std::move(options)) {}
  int exit_code() const { return exit_code_; }

 protected:
  int main(const std::vector<std::string>&) override {
    auto daemon = Daemon::Start(std::move(options_));
    if (!daemon.ok()) {
      LogError("serve: " + daemon.status().ToString());
      std::fprintf(stderr, "mailvault: %s\n", daemon.status().ToString().c_str());
      exit_code_ = 1;
      return EXIT_SOFTWARE;
    }
    LogInfo("mailvault serve: ready (pid " + std::to_string(::getpid()) + ")");
    waitForTerminationRequest();
    LogInfo("shutdown requested: finishing the runs in progress");
    bool clean = (*daemon)->Stop(kShutdownGrace);
    if (!clean) {
      // A server that does not answer holds a run past the grace period. What
      // was committed is safe (the archive's crash guarantees); leave now.
      LogError("shutdown: giving up on the runs still in progress; exiting");
      std::fflush(nullptr);
      std::_Exit(1);
    }
    LogInfo("mailvault serve: stopped");
    return EXIT_OK;
  }

 private:
  DaemonOptions options_;
  int exit_code_ = 0;
};

}  // namespace

int RunServe(const GlobalFlags& g) {
  // Block the termination signals before any thread starts, so every thread
  // inherits the mask and only waitForTerminationRequest()'s sigwait takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGQUIT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  DaemonOptions options;
  options.settings = g.settings;
  options.settings.archive.data_dir = g.data_dir;
  options.config_file = g.config_path;
  SetLogLevel(options.settings.log.level);
  if (options.settings.log.destination != "stderr") {
    Status s = LogToFile(options.settings.log.destination);
    if (!s.ok()) return Fail(s);
  }
  std::unique_ptr<ScaledClock> scaled;
  if (const char* speed = std::getenv("MAILVAULT_CLOCK_SPEED"); speed != nullptr && *speed) {
    double factor = std::atof(speed);
    if (factor < 1 || factor > 10000) {
      return Fail(Status::InvalidArgument("MAILVAULT_CLOCK_SPEED must be from 1 to 10000"));
    }
    scaled = std::make_unique<ScaledClock>(factor);
    options.clock = scaled.get();
    // A fast clock needs the dispatcher to look often.
    options.dispatch_max_wait = std::chrono::milliseconds(50);
    LogWarning("MAILVAULT_CLOCK_SPEED: the clock runs " + std::string(speed) +
               " times faster than real time (for tests only)");
  }
  const std::string data_dir = g.data_dir;
  const bool https = !options.settings.web.tls_cert.empty();
  const CollectionOptions probe = CollectionOptionsFrom(options.settings.collector);
  options.web = [data_dir, https, probe](Archive& archive,
                                         CollectionControl& control) -> Result<HttpRouter> {
    // First start: an admin with a generated password, printed this once (it
    // is stored only as a hash).
    MV_ASSIGN_OR_RETURN(std::optional<std::string> first, UserStore(&archive).EnsureFirstAdmin());
    if (first) {
      std::printf("mailvault: first start: log in as user \"admin\" with password %s\n"
                  "mailvault: it is shown only now; change it with `mailvault user passwd admin`\n",
                  first->c_str());
      std::fflush(stdout);
    }
    WebAppOptions w;
    w.archive = &archive;
    w.data_dir = data_dir;
    w.index_dir = IndexDirectory(data_dir);
    w.control = &control;
    w.https = https;
    w.probe = probe;
    // Sessions run on the real clock even when MAILVAULT_CLOCK_SPEED speeds up the scheduler.
    MV_ASSIGN_OR_RETURN(std::unique_ptr<WebApp> app, WebApp::Create(std::move(w)));
    std::shared_ptr<WebApp> shared(std::move(app));
    return HttpRouter([shared](const Poco::Net::HTTPServerRequest& request) {
      return shared->CreateRequestHandler(request);
    });
  };
  ServeApplication app(std::move(options));
  char name[] = "mailvault";
  char* argv[] = {name, nullptr};
  int code = app.run(1, argv);
  if (app.exit_code() != 0) return app.exit_code();
  return code == Poco::Util::Application::EXIT_OK ? 0 : 1;
}

}  // namespace mailvault
