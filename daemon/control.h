// The local control channel of a running `mailvault serve`: HTTP on a Unix
// socket at <data>/control/serve.sock. The directory is 0700, so only the user
// the appliance runs as (who may write the archive anyway) can connect; no
// token or password is involved. The CLI uses it for run-now while `serve`
// holds the archive: `mailvault collect` asks the daemon instead of failing.
//
//   POST /control/run-now[?account=NAME]  202 {"accepted": ["NAME", ...]}
//                                         404 {"error": ...} for an unknown account
//   GET  /control/status                  200 {"runs": [LiveRun...],
//                                              "accounts": [AccountSchedule...],
//                                              "compaction": CompactionState}
//   POST /control/compact                 202 {"accepted": true}: a compaction as
//                                         soon as no collection runs (`mailvault
//                                         compact` while serve holds the archive)
//
// Thread-safety: the router is called from the listener's threads; the client
// is for one thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "collector/collection_control.h"
#include "daemon/compaction_worker.h"
#include "daemon/http_listener.h"

namespace mailvault {

// <data_dir>/control/serve.sock, and its directory.
std::string ControlDirectory(const std::string& data_dir);
std::string ControlSocketPath(const std::string& data_dir);

// Answers /control/...; nullptr for any other path. `control` and
// `compaction` must outlive it.
HttpRouter ControlRouter(CollectionControl& control, CompactionWorker& compaction);

struct ControlStatus {
  std::vector<LiveRun> runs;
  std::vector<AccountSchedule> accounts;
  CompactionState compaction;
};

class ControlClient {
 public:
  // kNotFound when no `serve` listens for `data_dir`.
  static Result<ControlClient> Connect(const std::string& data_dir);

  // Run-now for `account`, or for every account when nullopt. Returns the
  // accounts accepted.
  Result<std::vector<std::string>> RunNow(const std::optional<std::string>& account);
  Result<ControlStatus> Poll();
  Status RequestCompaction();

 private:
  explicit ControlClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}
  // One request on a fresh connection: status and body.
  Result<std::pair<int, std::string>> Request(const std::string& method, const std::string& uri);
  std::string socket_path_;
};

}  // namespace mailvault
