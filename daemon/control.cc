#include "daemon/control.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <sys/stat.h>

#include <sstream>

namespace mailvault {
namespace {

std::string Json(const Poco::JSON::Object& o) {
  std::ostringstream out;
  o.stringify(out);
  out << "\n";
  return out.str();
}

std::string Error(const std::string& message) {
  Poco::JSON::Object o;
  o.set("error", message);
  return Json(o);
}

Poco::Dynamic::Var Optional(const std::optional<int64_t>& v) {
  return v ? Poco::Dynamic::Var(*v) : Poco::Dynamic::Var();
}

std::string StatusJson(CollectionControl& control, const CompactionState& c) {
  Poco::JSON::Array runs;
  for (const LiveRun& r : control.LiveRuns()) {
    Poco::JSON::Object o;
    o.set("account", r.account);
    o.set("started_at", r.started_at);
    o.set("to_fetch", r.to_fetch);
    o.set("fetched", r.fetched);
    o.set("bytes", r.bytes);
    runs.add(o);
  }
  Poco::JSON::Array accounts;
  for (const AccountSchedule& s : control.Schedules()) {
    Poco::JSON::Object o;
    o.set("account", s.account);
    o.set("running", s.running);
    o.set("failing", s.failing);
    o.set("run_now_pending", s.run_now_pending);
    o.set("consecutive_failures", s.consecutive_failures);
    o.set("next_run", Optional(s.next_run));
    accounts.add(o);
  }
  Poco::JSON::Object compaction;
  compaction.set("running", c.running);
  compaction.set("phase", c.phase);
  compaction.set("done", c.done);
  compaction.set("total", c.total);
  compaction.set("attempts", c.attempts);
  compaction.set("compactions", c.compactions);
  compaction.set("failures", c.failures);
  compaction.set("last_ended_at", c.last_ended_at);
  compaction.set("last_bytes_before", c.last_bytes_before);
  compaction.set("last_bytes_after", c.last_bytes_after);
  compaction.set("last_error", c.last_error);
  compaction.set("next_slot", Optional(c.next_slot));
  Poco::JSON::Object doc;
  doc.set("runs", runs);
  doc.set("accounts", accounts);
  doc.set("compaction", compaction);
  return Json(doc);
}

std::string RunNowJson(CollectionControl& control, const std::optional<std::string>& account,
                       int* status) {
  Poco::JSON::Array accepted;
  if (account) {
    Status s = control.RunNow(*account);
    if (!s.ok()) {
      *status = s.code() == StatusCode::kNotFound ? 404 : 409;
      return Error(s.ToString());
    }
    accepted.add(*account);
  } else {
    control.RunNowAll();
    for (const AccountSchedule& s : control.Schedules()) accepted.add(s.account);
  }
  *status = 202;
  Poco::JSON::Object doc;
  doc.set("accepted", accepted);
  return Json(doc);
}

template <typename T>
T Get(const Poco::JSON::Object::Ptr& o, const std::string& key, T fallback) {
  if (!o->has(key) || o->isNull(key)) return fallback;
  return o->getValue<T>(key);
}

}  // namespace

std::string ControlDirectory(const std::string& data_dir) { return data_dir + "/control"; }
std::string ControlSocketPath(const std::string& data_dir) {
  return ControlDirectory(data_dir) + "/serve.sock";
}

HttpRouter ControlRouter(CollectionControl& control, CompactionWorker& compaction) {
  return [&control, &compaction](
             const Poco::Net::HTTPServerRequest& request) -> Poco::Net::HTTPRequestHandler* {
    Poco::URI uri(request.getURI());
    const std::string& path = uri.getPath();
    const std::string& method = request.getMethod();
    const std::string kJson = "application/json";
    if (path == "/control/status") {
      if (method != "GET") return FixedResponse(405, kJson, Error("use GET"));
      return FixedResponse(200, kJson, StatusJson(control, compaction.State()));
    }
    if (path == "/control/compact") {
      if (method != "POST") return FixedResponse(405, kJson, Error("use POST"));
      compaction.RequestNow();
      return FixedResponse(202, kJson, "{\"accepted\":true}\n");
    }
    if (path == "/control/run-now") {
      if (method != "POST") return FixedResponse(405, kJson, Error("use POST"));
      std::optional<std::string> account;
      for (const auto& [key, value] : uri.getQueryParameters()) {
        if (key == "account") account = value;
      }
      int status = 0;
      std::string body = RunNowJson(control, account, &status);
      return FixedResponse(status, kJson, std::move(body));
    }
    return nullptr;
  };
}

Result<ControlClient> ControlClient::Connect(const std::string& data_dir) {
  std::string path = ControlSocketPath(data_dir);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return Status::NotFound("no mailvault serve is running for " + data_dir);
  }
  ControlClient client(path);
  auto probe = client.Request("GET", "/control/status");
  if (!probe.ok()) {
    return Status::NotFound("no mailvault serve answers on " + path + ": " +
                            probe.status().message());
  }
  return client;
}

Result<std::pair<int, std::string>> ControlClient::Request(const std::string& method,
                                                           const std::string& uri) {
  try {
    Poco::Net::StreamSocket socket(
        Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, socket_path_));
    socket.setReceiveTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPClientSession session(socket);
    Poco::Net::HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost("localhost");
    request.setContentLength(0);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::string body;
    Poco::StreamCopier::copyToString(in, body);
    return std::make_pair(static_cast<int>(response.getStatus()), std::move(body));
  } catch (const Poco::Exception& e) {
    return Status::Unavailable("control socket " + socket_path_ + ": " + e.displayText());
  } catch (const std::exception& e) {
    return Status::Unavailable("control socket " + socket_path_ + ": " + e.what());
  }
}

Result<std::vector<std::string>> ControlClient::RunNow(const std::optional<std::string>& account) {
  std::string uri = "/control/run-now";
  if (account) {
    std::string encoded;
    Poco::URI::encode(*account, "&=+?#", encoded);
    uri += "?account=" + encoded;
  }
  MV_ASSIGN_OR_RETURN(auto answer, Request("POST", uri));
  try {
    Poco::JSON::Object::Ptr doc =
        Poco::JSON::Parser().parse(answer.second).extract<Poco::JSON::Object::Ptr>();
    if (answer.first != 202) {
      std::string error = Get<std::string>(doc, "error", "HTTP " + std::to_string(answer.first));
      return answer.first == 404 ? Status::NotFound(error) : Status::Unavailable(error);
    }
    std::vector<std::string> accepted;
    Poco::JSON::Array::Ptr list = doc->getArray("accepted");
    for (size_t i = 0; list && i < list->size(); ++i) accepted.push_back(list->getElement<std::string>(i));
    return accepted;
  } catch (const Poco::Exception& e) {
    return Status::Protocol("control socket: bad answer: " + e.displayText());
  }
}

Status ControlClient::RequestCompaction() {
  MV_ASSIGN_OR_RETURN(auto answer, Request("POST", "/control/compact"));
  if (answer.first != 202) return Status::Unavailable("control socket: HTTP " + std::to_string(answer.first));
  return Status::Ok();
}

Result<ControlStatus> ControlClient::Poll() {
  MV_ASSIGN_OR_RETURN(auto answer, Request("GET", "/control/status"));
  if (answer.first != 200) return Status::Unavailable("control socket: HTTP " + std::to_string(answer.first));
  try {
    Poco::JSON::Object::Ptr doc =
        Poco::JSON::Parser().parse(answer.second).extract<Poco::JSON::Object::Ptr>();
    ControlStatus out;
    Poco::JSON::Array::Ptr runs = doc->getArray("runs");
    for (size_t i = 0; runs && i < runs->size(); ++i) {
      Poco::JSON::Object::Ptr r = runs->getObject(static_cast<unsigned>(i));
      out.runs.push_back(LiveRun{Get<std::string>(r, "account", ""),
                                 Get<int64_t>(r, "started_at", 0), Get<uint64_t>(r, "to_fetch", 0),
                                 Get<uint64_t>(r, "fetched", 0), Get<uint64_t>(r, "bytes", 0)});
    }
    Poco::JSON::Array::Ptr accounts = doc->getArray("accounts");
    for (size_t i = 0; accounts && i < accounts->size(); ++i) {
      Poco::JSON::Object::Ptr a = accounts->getObject(static_cast<unsigned>(i));
      AccountSchedule s;
      s.account = Get<std::string>(a, "account", "");
      s.running = Get<bool>(a, "running", false);
      s.failing = Get<bool>(a, "failing", false);
      s.run_now_pending = Get<bool>(a, "run_now_pending", false);
      s.consecutive_failures = Get<int>(a, "consecutive_failures", 0);
      if (a->has("next_run") && !a->isNull("next_run")) s.next_run = a->getValue<int64_t>("next_run");
      out.accounts.push_back(std::move(s));
    }
    if (Poco::JSON::Object::Ptr c = doc->getObject("compaction")) {
      out.compaction.running = Get<bool>(c, "running", false);
      out.compaction.phase = Get<std::string>(c, "phase", "");
      out.compaction.done = Get<uint64_t>(c, "done", 0);
      out.compaction.total = Get<uint64_t>(c, "total", 0);
      out.compaction.attempts = Get<uint64_t>(c, "attempts", 0);
      out.compaction.compactions = Get<uint64_t>(c, "compactions", 0);
      out.compaction.failures = Get<uint64_t>(c, "failures", 0);
      out.compaction.last_ended_at = Get<int64_t>(c, "last_ended_at", 0);
      out.compaction.last_bytes_before = Get<uint64_t>(c, "last_bytes_before", 0);
      out.compaction.last_bytes_after = Get<uint64_t>(c, "last_bytes_after", 0);
      out.compaction.last_error = Get<std::string>(c, "last_error", "");
      if (c->has("next_slot") && !c->isNull("next_slot")) out.compaction.next_slot = c->getValue<int64_t>("next_slot");
    }
    return out;
  } catch (const Poco::Exception& e) {
    return Status::Protocol("control socket: bad answer: " + e.displayText());
  }
}

}  // namespace mailvault
