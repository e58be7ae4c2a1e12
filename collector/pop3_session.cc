#include "collector/pop3_session.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/X509Certificate.h>
#include <Poco/Timespan.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <mutex>

#include "base/log.h"
#include "base/sha256.h"

namespace mailvault {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kHidden = "********";
// RFC 5034 section 4: an AUTH command with its initial response must fit in 255 octets.
constexpr size_t kMaxAuthCommand = 255;

// Printable, bounded excerpt of peer bytes for error messages and logs: a
// hostile server must not be able to flood our logs or inject control bytes.
std::string Excerpt(std::string_view text, size_t max = 120) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

std::string Base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Md5Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return ToHex(std::string_view(reinterpret_cast<const char*>(md), len));
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(text[i])) !=
        std::toupper(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

template <typename T>
bool ParseNumber(std::string_view text, T* value) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// The one place where Poco (and standard) exceptions become a Status.
Status ExceptionToStatus(std::string_view what) {
  try {
    throw;
  } catch (const Poco::TimeoutException& e) {
    return Status::Timeout(std::string(what) + ": timed out (" + e.displayText() + ")");
  } catch (const Poco::Net::ConnectionRefusedException& e) {
    return Status::Unavailable(std::string(what) + ": " + e.displayText());
  } catch (const Poco::Net::HostNotFoundException& e) {
    return Status::Unavailable(std::string(what) + ": " + e.displayText());
  } catch (const Poco::Net::NoAddressFoundException& e) {
    return Status::Unavailable(std::string(what) + ": " + e.displayText());
  } catch (const Poco::Net::CertificateValidationException& e) {
    return Status::PermissionDenied(std::string(what) +
                                    ": TLS certificate verification failed: " + e.displayText());
  } catch (const Poco::Net::SSLException& e) {
    const std::string text = e.displayText();
    if (text.find("certificate verify failed") != std::string::npos ||
        text.find("certificate") != std::string::npos) {
      return Status::PermissionDenied(std::string(what) +
                                      ": TLS certificate verification failed: " + text);
    }
    return Status::Protocol(std::string(what) + ": TLS error: " + text);
  } catch (const Poco::Exception& e) {
    return Status::IoError(std::string(what) + ": " + e.displayText());
  } catch (const std::exception& e) {
    return Status::IoError(std::string(what) + ": " + e.what());
  } catch (...) {
    return Status::Internal(std::string(what) + ": unknown exception");
  }
}

void InitializeSslOnce() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

}  // namespace

bool ParsePop3Tls(std::string_view text, Pop3Tls* tls) {
  if (text == "pop3s") {
    *tls = Pop3Tls::kPop3s;
  } else if (text == "starttls") {
    *tls = Pop3Tls::kStartTls;
  } else if (text == "none") {
    *tls = Pop3Tls::kNone;
  } else {
    return false;
  }
  return true;
}

std::string_view Pop3TlsName(Pop3Tls tls) {
  switch (tls) {
    case Pop3Tls::kPop3s:
      return "pop3s";
    case Pop3Tls::kStartTls:
      return "starttls";
    case Pop3Tls::kNone:
      return "none";
  }
  return "?";
}

Result<std::string> NormalizeFingerprint(std::string_view text) {
  std::string_view rest = text;
  if (StartsWithNoCase(rest, "sha256:")) rest.remove_prefix(7);
  std::string hex;
  for (char c : rest) {
    if (c == ':' || c == ' ') continue;
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64 || !IsHex(hex)) {
    return Status::InvalidArgument(
        "certificate fingerprint '" + Excerpt(text) +
        "' is not a SHA-256 fingerprint (64 hex digits, colons allowed)");
  }
  return hex;
}

std::string ParseRespCode(std::string_view text) {
  if (text.empty() || text[0] != '[') return "";
  size_t end = text.find(']');
  if (end == std::string_view::npos) return "";
  return Upper(text.substr(1, end - 1));
}

Status Pop3AuthErrorStatus(const Pop3Reply& reply, std::string_view context) {
  std::string message = std::string(context) + ": -ERR " + Excerpt(reply.text, 400);
  const std::string& code = reply.resp_code;
  if (code == "IN-USE" || code == "LOGIN-DELAY" || code == "SYS/TEMP") {
    return Status::Unavailable(std::move(message));
  }
  if (code == "SYS/PERM") return Status::PermissionDenied(std::move(message));
  return Status::AuthFailed(std::move(message));
}

// ---------------------------------------------------------------------------
// Transport: the socket (plain or TLS), a read buffer, and the deadlines.

class Pop3Session::Transport {
 public:
  Transport(const Pop3Options& options, std::string endpoint)
      : options_(options),
        clock_(options.clock ? *options.clock : SystemClock::Instance()),
        endpoint_(std::move(endpoint)) {}

  ~Transport() { Close(); }

  Status Connect() {
    deadline_ = clock_.Now() + options_.session_timeout;
    try {
      uint16_t port = options_.port;
      if (port == 0) port = options_.tls == Pop3Tls::kPop3s ? 995 : 110;
      Poco::Net::SocketAddress address(options_.host, port);
      socket_.connect(address,
                      Poco::Timespan(RemainingFor(options_.connect_timeout).count() * 1000));
      socket_.setNoDelay(true);
      open_ = true;
    } catch (...) {
      return ExceptionToStatus("connect to " + endpoint_);
    }
    return Status::Ok();
  }

  // TLS handshake over the connected socket (pop3s at once, starttls after STLS).
  // REQUIRES: no unread bytes buffered (checked by the caller).
  Status StartTls(std::string* fingerprint) {
    InitializeSslOnce();
    const bool pin_only = !options_.fingerprint.empty() && options_.ca_file.empty();
    try {
      Poco::Net::Context::Params params;
      params.verificationMode =
          pin_only ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_RELAXED;
      params.caLocation = options_.ca_file;
      params.loadDefaultCAs = !pin_only && options_.ca_file.empty();
      params.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4";
      Poco::Net::Context::Ptr context =
          new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      // A pinned certificate replaces name checks: it is the identity.
      context->enableExtendedCertificateVerification(!pin_only);
      SetTimeouts(options_.connect_timeout);
      Poco::Net::SecureStreamSocket secure =
          Poco::Net::SecureStreamSocket::attach(socket_, options_.host, context);
      if (!secure.havePeerCertificate()) {
        return Status::PermissionDenied("TLS with " + endpoint_ +
                                        ": the server presented no certificate");
      }
      Poco::Net::X509Certificate cert = secure.peerCertificate();
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      if (X509_digest(cert.certificate(), EVP_sha256(), md, &len) != 1) {
        return Status::Internal("TLS with " + endpoint_ + ": cannot hash the server certificate");
      }
      *fingerprint = ToHex(std::string_view(reinterpret_cast<const char*>(md), len));
      subject_ = cert.subjectName();
      socket_ = secure;
      timeouts_set_ = milliseconds(-1);
    } catch (...) {
      return ExceptionToStatus("TLS handshake with " + endpoint_);
    }
    return Status::Ok();
  }

  const std::string& subject() const { return subject_; }

  Status Write(std::string_view data) {
    MV_RETURN_IF_ERROR(CheckDeadline());
    try {
      SetTimeouts(options_.io_timeout);
      while (!data.empty()) {
        int n = socket_.sendBytes(data.data(),
                                  static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
        if (n <= 0) return Status::IoError("write to " + endpoint_ + ": connection closed");
        data.remove_prefix(static_cast<size_t>(n));
      }
    } catch (...) {
      return ExceptionToStatus("write to " + endpoint_);
    }
    return Status::Ok();
  }

  // Reads at least one more byte into the buffer. kIoError at end of stream.
  Status Fill(std::string_view during) {
    MV_RETURN_IF_ERROR(CheckDeadline());
    if (pos_ > 0) {
      buffer_.erase(0, pos_);
      pos_ = 0;
    }
    const size_t old_size = buffer_.size();
    const size_t want = std::max<size_t>(1, options_.read_chunk_size);
    buffer_.resize(old_size + want);
    int n = 0;
    try {
      SetTimeouts(options_.io_timeout);
      n = socket_.receiveBytes(buffer_.data() + old_size, static_cast<int>(want));
    } catch (...) {
      buffer_.resize(old_size);
      Status status = ExceptionToStatus("read from " + endpoint_ + " " + std::string(during));
      // A receive timeout that was cut short by the session deadline is the
      // deadline (also when the kernel's timer ends it a moment early).
      if (status.code() == StatusCode::kTimeout &&
          (clock_.Now() >= deadline_ ||
           (timeouts_set_ > milliseconds(0) && timeouts_set_ < options_.io_timeout))) {
        return SessionDeadlineStatus(during);
      }
      return status;
    }
    buffer_.resize(old_size + static_cast<size_t>(std::max(n, 0)));
    if (n <= 0) {
      return Status::IoError("read from " + endpoint_ + " " + std::string(during) +
                             ": the server closed the connection");
    }
    return Status::Ok();
  }

  std::string_view Buffered() const { return std::string_view(buffer_).substr(pos_); }
  void Consume(size_t n) { pos_ += n; }

  // One line without its CRLF (or bare LF). kProtocol when longer than `max`.
  Result<std::string> ReadLine(size_t max, std::string_view during) {
    size_t scanned = 0;
    for (;;) {
      std::string_view view = Buffered();
      const void* nl = std::memchr(view.data() + scanned, '\n', view.size() - scanned);
      if (nl != nullptr) {
        size_t len = static_cast<size_t>(static_cast<const char*>(nl) - view.data());
        std::string line(view.substr(0, len));
        Consume(len + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.size() > max) return LineTooLong(max, during);
        return line;
      }
      if (view.size() > max + 1) return LineTooLong(max, during);
      scanned = view.size();
      MV_RETURN_IF_ERROR(Fill(during));
    }
  }

  void Close() {
    if (!open_) return;
    open_ = false;
    try {
      // Bounded: a peer that stopped reading must not hold up the TLS close_notify.
      socket_.setSendTimeout(Poco::Timespan(0, 200'000));
      timeouts_set_ = milliseconds(-1);
      socket_.close();
    } catch (...) {
      // Closing a broken connection may fail; there is nothing left to do with it.
    }
  }

  bool open() const { return open_; }

 private:
  Status CheckDeadline() const {
    if (clock_.Now() >= deadline_) return SessionDeadlineStatus("");
    return Status::Ok();
  }

  Status SessionDeadlineStatus(std::string_view during) const {
    return Status::Timeout("session with " + endpoint_ + " passed its deadline of " +
                           std::to_string(options_.session_timeout.count()) + " ms" +
                           (during.empty() ? "" : " " + std::string(during)));
  }

  Status LineTooLong(size_t max, std::string_view during) {
    return Status::Protocol("reply line from " + endpoint_ + " " + std::string(during) +
                            " is longer than " + std::to_string(max) +
                            " bytes: " + Excerpt(Buffered(), 60));
  }

  // The smaller of `limit` and what is left of the session, rounded up (at
  // least 1 ms, CheckDeadline catches the rest).
  milliseconds RemainingFor(milliseconds limit) const {
    auto left = std::chrono::ceil<milliseconds>(deadline_ - clock_.Now());
    return std::max(milliseconds(1), std::min(limit, left));
  }

  // Sets both socket timeouts, unless they already hold this value: two
  // setsockopt calls before every read and write were a tenth of the system
  // calls of a collection (bench/README.md). Far from the session deadline the
  // value is always `limit`.
  void SetTimeouts(milliseconds limit) {
    const milliseconds timeout = RemainingFor(limit);
    if (timeout == timeouts_set_) return;
    Poco::Timespan span(timeout.count() * 1000);
    socket_.setReceiveTimeout(span);
    socket_.setSendTimeout(span);
    timeouts_set_ = timeout;
  }

  const Pop3Options& options_;
  const Clock& clock_;
  std::string endpoint_;
  Poco::Net::StreamSocket socket_;
  bool open_ = false;
  std::chrono::system_clock::time_point deadline_{};
  // The timeouts socket_ holds (SetTimeouts); negative: unknown, set them.
  milliseconds timeouts_set_{-1};
  std::string buffer_;
  size_t pos_ = 0;
  std::string subject_;
};

// ---------------------------------------------------------------------------

Pop3Session::Pop3Session(Pop3Options options) : options_(std::move(options)) {}

Pop3Session::~Pop3Session() { Close(); }

std::string Pop3Session::endpoint() const {
  uint16_t port = options_.port;
  if (port == 0) port = options_.tls == Pop3Tls::kPop3s ? 995 : 110;
  return options_.host + ":" + std::to_string(port);
}

bool Pop3Session::connected() const { return transport_ && transport_->open() && !broken_; }

void Pop3Session::Close() {
  if (transport_) transport_->Close();
}

Status Pop3Session::CheckUsable() const {
  if (broken_) return Status::IoError("POP3 session with " + endpoint() + " is broken");
  if (!transport_ || !transport_->open()) {
    return Status::IoError("POP3 session with " + endpoint() + " is not connected");
  }
  return Status::Ok();
}

Status Pop3Session::Break(Status status) {
  broken_ = true;
  if (transport_) transport_->Close();
  LogDebug("pop3 " + endpoint() + ": session closed after error: " + status.ToString());
  return status;
}

Status Pop3Session::Connect() {
  if (transport_) return Status::Internal("Pop3Session::Connect called twice");
  if (!options_.fingerprint.empty()) {
    MV_ASSIGN_OR_RETURN(options_.fingerprint, NormalizeFingerprint(options_.fingerprint));
  }
  transport_ = std::make_unique<Transport>(options_, endpoint());
  Status status = transport_->Connect();
  if (!status.ok()) return Break(status);
  if (options_.tls == Pop3Tls::kPop3s) MV_RETURN_IF_ERROR(StartTls());
  MV_RETURN_IF_ERROR(ReadGreeting());
  MV_RETURN_IF_ERROR(RefreshCapabilities());
  if (options_.tls == Pop3Tls::kStartTls) {
    if (!capabilities_.stls) {
      return Break(Status::Unsupported(
          "POP3 server " + endpoint() +
          " does not offer STLS; refusing to continue in clear text (tls = starttls)"));
    }
    MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command("STLS"));
    if (!reply.ok) {
      return Break(Status::Unsupported("POP3 server " + endpoint() + " refused STLS: -ERR " +
                                       Excerpt(reply.text)));
    }
    // Bytes after the +OK and before the handshake were injected in clear text
    // (the STARTTLS command-injection class of attack): refuse them.
    if (!transport_->Buffered().empty()) {
      return Break(Status::Protocol("POP3 server " + endpoint() +
                                    " sent data after its STLS reply, before the TLS handshake"));
    }
    MV_RETURN_IF_ERROR(StartTls());
    // RFC 2595: forget what was learned before TLS and ask again.
    MV_RETURN_IF_ERROR(RefreshCapabilities());
  }
  return Status::Ok();
}

Status Pop3Session::StartTls() {
  Status status = transport_->StartTls(&peer_fingerprint_);
  if (!status.ok()) return Break(status);
  if (!options_.fingerprint.empty() && peer_fingerprint_ != options_.fingerprint) {
    return Break(Status::PermissionDenied(
        "TLS certificate of " + endpoint() + " does not match the pinned fingerprint: expected " +
        "sha256 " + options_.fingerprint + ", presented sha256 " + peer_fingerprint_ +
        " (subject " + transport_->subject() + "); refusing to continue"));
  }
  tls_active_ = true;
  LogDebug("pop3 " + endpoint() + ": TLS established, server certificate sha256 " +
           peer_fingerprint_);
  return Status::Ok();
}

Status Pop3Session::ReadGreeting() {
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, ReadReply("greeting"));
  greeting_ = reply.text;
  if (!reply.ok) {
    Status status =
        Pop3AuthErrorStatus(reply, "POP3 server " + endpoint() + " refused the session");
    if (status.code() == StatusCode::kAuthFailed) {
      status = Status::Unavailable(status.message());
    }
    return Break(status);
  }
  // RFC 1939 section 7: the APOP timestamp is a msg-id "<...>" in the greeting.
  size_t open = greeting_.find('<');
  size_t close = open == std::string::npos ? open : greeting_.find('>', open);
  if (close != std::string::npos && greeting_.find('@', open) < close) {
    apop_timestamp_ = greeting_.substr(open, close - open + 1);
  }
  return Status::Ok();
}

Status Pop3Session::RefreshCapabilities() {
  capabilities_ = Pop3Capabilities();
  MV_RETURN_IF_ERROR(SendCommand("CAPA"));
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, ReadReply("CAPA"));
  if (!reply.ok) return Status::Ok();  // an RFC 1939-only server: no capabilities known
  capabilities_.capa_supported = true;
  return ReadMultiLine("CAPA", [this](std::string_view line) -> Status {
    Pop3Capabilities& caps = capabilities_;
    caps.lines.emplace_back(line);
    std::vector<std::string_view> words = Words(line);
    if (words.empty()) return Status::Ok();
    const std::string name = Upper(words[0]);
    if (name == "TOP") {
      caps.top = true;
    } else if (name == "UIDL") {
      caps.uidl = true;
    } else if (name == "USER") {
      caps.user = true;
    } else if (name == "STLS") {
      caps.stls = true;
    } else if (name == "PIPELINING") {
      caps.pipelining = true;
    } else if (name == "RESP-CODES") {
      caps.resp_codes = true;
    } else if (name == "AUTH-RESP-CODE") {
      caps.auth_resp_code = true;
    } else if (name == "SASL") {
      for (size_t i = 1; i < words.size(); ++i) caps.sasl.insert(Upper(words[i]));
    } else if (name == "LOGIN-DELAY" && words.size() > 1) {
      int seconds = 0;
      if (ParseNumber(words[1], &seconds)) caps.login_delay_seconds = seconds;
    } else if (name == "EXPIRE" && words.size() > 1) {
      int days = 0;
      if (Upper(words[1]) == "NEVER") {
        caps.expire_never = true;
      } else if (ParseNumber(words[1], &days)) {
        caps.expire_days = days;
      }
    } else if (name == "IMPLEMENTATION") {
      caps.implementation = std::string(line.substr(std::min(line.size(), size_t{15})));
    }
    return Status::Ok();
  });
}

// --- Authentication -----------------------------------------------------------

Status Pop3Session::Login(std::string_view user, std::string_view password, Pop3AuthMethod method) {
  MV_RETURN_IF_ERROR(CheckUsable());
  if (authenticated_) return Status::Internal("Pop3Session::Login called twice");
  const Pop3Capabilities& caps = capabilities_;
  if (method == Pop3AuthMethod::kAuto) {
    if (caps.sasl.count("PLAIN")) {
      method = Pop3AuthMethod::kAuthPlain;
    } else if (caps.user || !caps.capa_supported) {
      method = Pop3AuthMethod::kUserPass;
    } else if (!apop_timestamp_.empty()) {
      method = Pop3AuthMethod::kApop;
    } else if (caps.sasl.count("LOGIN")) {
      method = Pop3AuthMethod::kAuthLogin;
    } else {
      method = Pop3AuthMethod::kUserPass;  // the RFC 1939 baseline; the server will say
    }
  }
  Status status;
  switch (method) {
    case Pop3AuthMethod::kUserPass:
      status = LoginUserPass(user, password);
      break;
    case Pop3AuthMethod::kApop:
      status = LoginApop(user, password);
      break;
    case Pop3AuthMethod::kAuthPlain:
      status = LoginAuthPlain(user, password);
      break;
    case Pop3AuthMethod::kAuthLogin:
      status = LoginAuthLogin(user, password);
      break;
    case Pop3AuthMethod::kAuto:
      status = Status::Internal("unreachable");
      break;
  }
  if (!status.ok()) return status;
  authenticated_ = true;
  LogInfo("pop3 " + endpoint() + ": logged in as " + std::string(user));
  // RFC 2449 section 5: capabilities may differ after login; keep the old ones
  // when the server refuses CAPA now.
  Pop3Capabilities before = capabilities_;
  Status refreshed = RefreshCapabilities();
  if (!refreshed.ok()) return refreshed;
  if (!capabilities_.capa_supported) capabilities_ = std::move(before);
  return Status::Ok();
}

Status Pop3Session::AuthReplyToStatus(const Pop3Reply& reply, std::string_view step) {
  if (reply.ok) return Status::Ok();
  return Pop3AuthErrorStatus(reply, "POP3 server " + endpoint() + " refused " + std::string(step));
}

Status Pop3Session::ExpectChallenge(const Pop3Reply& reply, std::string_view step) {
  if (!reply.ok) return AuthReplyToStatus(reply, step);
  if (reply.continuation) return Status::Ok();
  return Break(Status::Protocol("POP3 server " + endpoint() + " answered +OK during " +
                                std::string(step) + " where a '+ ' challenge was due"));
}

Status Pop3Session::ExpectFinal(const Pop3Reply& reply, std::string_view step) {
  if (!reply.continuation) return Status::Ok();
  return Break(Status::Protocol("POP3 server " + endpoint() + " asked for more during " +
                                std::string(step) + " after the credentials were sent"));
}

Status Pop3Session::LoginUserPass(std::string_view user, std::string_view password) {
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command("USER " + std::string(user)));
  MV_RETURN_IF_ERROR(AuthReplyToStatus(reply, "USER"));
  MV_ASSIGN_OR_RETURN(reply, Command("PASS " + std::string(password), "PASS ********"));
  return AuthReplyToStatus(reply, "PASS for user " + std::string(user));
}

Status Pop3Session::LoginApop(std::string_view user, std::string_view password) {
  if (apop_timestamp_.empty()) {
    return Status::Unsupported("POP3 server " + endpoint() +
                               " sent no APOP timestamp in its greeting");
  }
  const std::string digest = Md5Hex(apop_timestamp_ + std::string(password));
  const std::string name(user);
  MV_ASSIGN_OR_RETURN(Pop3Reply reply,
                      Command("APOP " + name + " " + digest, "APOP " + name + " ********"));
  return AuthReplyToStatus(reply, "APOP for user " + name);
}

Status Pop3Session::LoginAuthPlain(std::string_view user, std::string_view password) {
  if (capabilities_.capa_supported && !capabilities_.sasl.count("PLAIN")) {
    return Status::Unsupported("POP3 server " + endpoint() + " does not offer SASL PLAIN");
  }
  // RFC 4616: [authzid] NUL authcid NUL passwd; no authzid.
  std::string credentials;
  credentials += '\0';
  credentials += user;
  credentials += '\0';
  credentials += password;
  const std::string response = Base64(credentials);
  const std::string step = "AUTH PLAIN for user " + std::string(user);
  std::string with_ir = "AUTH PLAIN " + response;
  if (with_ir.size() + 2 <= kMaxAuthCommand) {
    MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command(with_ir, "AUTH PLAIN ********"));
    MV_RETURN_IF_ERROR(ExpectFinal(reply, step));
    return AuthReplyToStatus(reply, step);
  }
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command("AUTH PLAIN"));
  MV_RETURN_IF_ERROR(ExpectChallenge(reply, step));
  MV_ASSIGN_OR_RETURN(reply, Command(response, kHidden));
  MV_RETURN_IF_ERROR(ExpectFinal(reply, step));
  return AuthReplyToStatus(reply, step);
}

Status Pop3Session::LoginAuthLogin(std::string_view user, std::string_view password) {
  if (capabilities_.capa_supported && !capabilities_.sasl.count("LOGIN")) {
    return Status::Unsupported("POP3 server " + endpoint() + " does not offer SASL LOGIN");
  }
  const std::string step = "AUTH LOGIN for user " + std::string(user);
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command("AUTH LOGIN"));
  MV_RETURN_IF_ERROR(ExpectChallenge(reply, step));
  MV_ASSIGN_OR_RETURN(reply, Command(Base64(user)));
  MV_RETURN_IF_ERROR(ExpectChallenge(reply, step));
  MV_ASSIGN_OR_RETURN(reply, Command(Base64(password), kHidden));
  MV_RETURN_IF_ERROR(ExpectFinal(reply, step));
  return AuthReplyToStatus(reply, step);
}

// --- Commands and replies ------------------------------------------------------

Status Pop3Session::SendCommand(std::string_view line, std::string_view log_as) {
  MV_RETURN_IF_ERROR(CheckUsable());
  const std::string_view shown = log_as.empty() ? line : log_as;
  LogDebug("pop3 " + endpoint() + " > " + std::string(shown));
  std::string data(line);
  data += "\r\n";
  Status status = transport_->Write(data);
  if (!status.ok()) return Break(status.WithContext(std::string(shown.substr(0, 4))));
  return Status::Ok();
}

Result<Pop3Reply> Pop3Session::ReadReply(std::string_view command) {
  MV_RETURN_IF_ERROR(CheckUsable());
  const std::string during = "waiting for the reply to " + std::string(command);
  Result<std::string> line = transport_->ReadLine(options_.max_line_length, during);
  if (!line.ok()) return Break(line.status());
  Pop3Reply reply;
  std::string_view text = *line;
  if (StartsWithNoCase(text, "+OK")) {
    reply.ok = true;
    text.remove_prefix(3);
  } else if (StartsWithNoCase(text, "-ERR")) {
    text.remove_prefix(4);
  } else if (text == "+" || text.starts_with("+ ")) {
    // A SASL continuation (RFC 5034).
    reply.ok = true;
    reply.continuation = true;
    text.remove_prefix(1);
    if (!text.empty()) text.remove_prefix(1);
    reply.text = std::string(text);
    return reply;
  } else {
    return Break(Status::Protocol("POP3 server " + endpoint() + " sent garbage " + during + ": '" +
                                  Excerpt(text) + "'"));
  }
  if (!text.empty() && text[0] == ' ') text.remove_prefix(1);
  reply.text = std::string(text);
  reply.resp_code = ParseRespCode(reply.text);
  LogDebug("pop3 " + endpoint() + " < " + (reply.ok ? "+OK " : "-ERR ") + Excerpt(reply.text));
  return reply;
}

Result<Pop3Reply> Pop3Session::Command(std::string_view line, std::string_view log_as) {
  MV_RETURN_IF_ERROR(SendCommand(line, log_as));
  std::string_view shown = log_as.empty() ? line : log_as;
  return ReadReply(shown.substr(0, shown.find(' ')));
}

Status Pop3Session::ReadMultiLine(std::string_view command,
                                  const std::function<Status(std::string_view line)>& on_line) {
  const std::string during = "reading the " + std::string(command) + " list";
  for (;;) {
    Result<std::string> line = transport_->ReadLine(options_.max_line_length, during);
    if (!line.ok()) return Break(line.status());
    std::string_view text = *line;
    if (text == ".") return Status::Ok();
    if (!text.empty() && text[0] == '.') text.remove_prefix(1);
    Status status = on_line(text);
    if (!status.ok()) return Break(status);
  }
}

Status Pop3Session::ErrReply(const Pop3Reply& reply, std::string_view command) {
  std::string message = "POP3 server " + endpoint() + " answered " + std::string(command) +
                        " with -ERR " + Excerpt(reply.text, 400);
  const std::string& code = reply.resp_code;
  if (code == "IN-USE" || code == "LOGIN-DELAY" || code == "SYS/TEMP") {
    return Status::Unavailable(std::move(message));
  }
  if (code == "SYS/PERM") return Status::PermissionDenied(std::move(message));
  return Status::NotFound(std::move(message));
}

Status Pop3Session::Noop() {
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command("NOOP"));
  return reply.ok ? Status::Ok() : ErrReply(reply, "NOOP");
}

Result<Pop3Stat> Pop3Session::Stat() {
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command("STAT"));
  if (!reply.ok) return ErrReply(reply, "STAT");
  std::vector<std::string_view> words = Words(reply.text);
  Pop3Stat stat;
  if (words.size() < 2 || !ParseNumber(words[0], &stat.count) ||
      !ParseNumber(words[1], &stat.octets)) {
    return Break(Status::Protocol("POP3 server " + endpoint() + " sent a malformed STAT reply: '" +
                                  Excerpt(reply.text) + "'"));
  }
  return stat;
}

namespace {

Result<Pop3ListEntry> ParseListEntry(std::string_view text) {
  std::vector<std::string_view> words = Words(text);
  Pop3ListEntry entry;
  if (words.size() < 2 || !ParseNumber(words[0], &entry.number) ||
      !ParseNumber(words[1], &entry.octets) || entry.number == 0) {
    return Status::Protocol("malformed LIST entry '" + Excerpt(text) + "'");
  }
  return entry;
}

Result<Pop3UidlEntry> ParseUidlEntry(std::string_view text) {
  std::vector<std::string_view> words = Words(text);
  Pop3UidlEntry entry;
  if (words.size() != 2 || !ParseNumber(words[0], &entry.number) || entry.number == 0 ||
      words[1].size() > 70) {
    return Status::Protocol("malformed UIDL entry '" + Excerpt(text) + "'");
  }
  for (char c : words[1]) {
    if (c < 0x21 || c > 0x7e)
      return Status::Protocol("UIDL entry with a bad character '" + Excerpt(text) + "'");
  }
  entry.uid = std::string(words[1]);
  return entry;
}

}  // namespace

Result<std::vector<Pop3ListEntry>> Pop3Session::List() {
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command("LIST"));
  if (!reply.ok) return ErrReply(reply, "LIST");
  std::vector<Pop3ListEntry> entries;
  MV_RETURN_IF_ERROR(ReadMultiLine("LIST", [&](std::string_view line) -> Status {
    MV_ASSIGN_OR_RETURN(Pop3ListEntry entry, ParseListEntry(line));
    entries.push_back(entry);
    return Status::Ok();
  }));
  return entries;
}

Result<Pop3ListEntry> Pop3Session::List(uint32_t number) {
  const std::string command = "LIST " + std::to_string(number);
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command(command));
  if (!reply.ok) return ErrReply(reply, command);
  Result<Pop3ListEntry> entry = ParseListEntry(reply.text);
  if (!entry.ok()) return Break(entry.status().WithContext("POP3 server " + endpoint()));
  return entry;
}

Result<std::vector<Pop3UidlEntry>> Pop3Session::Uidl() {
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command("UIDL"));
  if (!reply.ok) {
    return Status::Unsupported("POP3 server " + endpoint() + " refused UIDL: -ERR " +
                               Excerpt(reply.text));
  }
  std::vector<Pop3UidlEntry> entries;
  MV_RETURN_IF_ERROR(ReadMultiLine("UIDL", [&](std::string_view line) -> Status {
    MV_ASSIGN_OR_RETURN(Pop3UidlEntry entry, ParseUidlEntry(line));
    entries.push_back(std::move(entry));
    return Status::Ok();
  }));
  return entries;
}

Result<Pop3UidlEntry> Pop3Session::Uidl(uint32_t number) {
  const std::string command = "UIDL " + std::to_string(number);
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command(command));
  if (!reply.ok) return ErrReply(reply, command);
  Result<Pop3UidlEntry> entry = ParseUidlEntry(reply.text);
  if (!entry.ok()) return Break(entry.status().WithContext("POP3 server " + endpoint()));
  return entry;
}

// --- Streaming RETR / TOP ---------------------------------------------------------

Status Pop3Session::ReadMessageBody(Pop3Message* message, const Pop3ChunkFn& on_chunk) {
  const std::string during = "in the middle of message " + std::to_string(message->number);
  bool line_start = true;  // the next byte begins a line (dot-stuffing applies)
  char last = '\n';        // last byte delivered ('\n' before the first: no bare-LF count)
  uint64_t bare_lf = 0;
  for (;;) {
    std::string_view view = transport_->Buffered();
    // A leading dot means stuffing or the terminator, depending on the next
    // one or two bytes, which may still be in flight.
    bool need_more = view.empty();
    if (!need_more && line_start && view[0] == '.') {
      need_more = view.size() < 2 || (view[1] == '\r' && view.size() < 3);
    }
    if (need_more) {
      Status status = transport_->Fill(during);
      if (!status.ok()) {
        return Break(status.WithContext("message " + std::to_string(message->number) +
                                        " cut after " + std::to_string(message->bytes) +
                                        " bytes, before its terminating '.'"));
      }
      continue;
    }
    if (line_start && view[0] == '.') {
      if (view[1] == '\n' || (view[1] == '\r' && view[2] == '\n')) {
        transport_->Consume(view[1] == '\n' ? 2 : 3);
        break;  // the terminator
      }
      transport_->Consume(1);  // a stuffed dot (RFC 1939 section 3)
      view.remove_prefix(1);
    }
    // Deliver everything up to the next line that starts with a dot, or to
    // the end of what is buffered, counting bare LFs at the newlines memchr
    // finds (a second loop over every byte was 5 % of a collection's CPU).
    size_t end = 0;
    line_start = false;
    while (end < view.size()) {
      const void* nl = std::memchr(view.data() + end, '\n', view.size() - end);
      if (nl == nullptr) {
        end = view.size();
        break;
      }
      const size_t at = static_cast<size_t>(static_cast<const char*>(nl) - view.data());
      if ((at > 0 ? view[at - 1] : last) != '\r') ++bare_lf;
      end = at + 1;
      if (end == view.size()) {
        line_start = true;
        break;
      }
      if (view[end] == '.') {
        line_start = true;
        break;
      }
    }
    std::string_view chunk = view.substr(0, end);
    if (!chunk.empty()) last = chunk.back();
    message->bytes += chunk.size();
    transport_->Consume(end);
    if (!chunk.empty()) {
      Status status = on_chunk(chunk);
      if (!status.ok()) return Break(status);
    }
  }
  // Canonical size (ARCHITECTURE.md invariant 2): bare LFs become CRLF, and a
  // final CRLF is added when missing.
  message->canonical_bytes = message->bytes + bare_lf;
  const bool ends_crlf = message->bytes > 0 && last == '\n';
  if (!ends_crlf) message->canonical_bytes += 2;
  if (message->expected_octets) {
    message->size_mismatch = *message->expected_octets != message->canonical_bytes;
    if (message->size_mismatch) {
      LogWarning("pop3 " + endpoint() + ": message " + std::to_string(message->number) + " has " +
                 std::to_string(message->canonical_bytes) + " bytes, the server listed " +
                 std::to_string(*message->expected_octets));
    }
  }
  return Status::Ok();
}

Result<Pop3Message> Pop3Session::RetrieveStreamed(std::string_view line, uint32_t number,
                                                  std::optional<uint64_t> expected_octets,
                                                  const Pop3ChunkFn& on_chunk) {
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command(line));
  if (!reply.ok) return ErrReply(reply, line);
  Pop3Message message;
  message.number = number;
  message.expected_octets = expected_octets;
  MV_RETURN_IF_ERROR(ReadMessageBody(&message, on_chunk));
  return message;
}

Result<Pop3Message> Pop3Session::Retr(uint32_t number, const Pop3ChunkFn& on_chunk,
                                      std::optional<uint64_t> expected_octets) {
  return RetrieveStreamed("RETR " + std::to_string(number), number, expected_octets, on_chunk);
}

Result<Pop3Message> Pop3Session::Top(uint32_t number, uint32_t lines, const Pop3ChunkFn& on_chunk) {
  return RetrieveStreamed("TOP " + std::to_string(number) + " " + std::to_string(lines), number,
                          std::nullopt, on_chunk);
}

size_t Pop3Session::Window() const {
  if (!options_.use_pipelining || !capabilities_.pipelining) return 1;
  return std::max<size_t>(1, options_.pipeline_window);
}

// Sends commands so that at most Window() are unanswered, reading each reply
// with `read_one(i)` in order. Both sides' buffers stay small: a pipelined
// writer that never reads can deadlock against a server that stops reading
// while its own output is full.
namespace {

// When `stop` says so, no further command is sent; the replies already asked
// for are still read, so the dialog stays in step (QUIT can follow), and the
// result is kCancelled naming how many were never sent.
template <typename SendFn, typename ReadFn>
Status PipelineWindowed(size_t count, size_t window, SendFn send_batch, ReadFn read_one,
                        const std::function<bool()>& stop = {}) {
  size_t sent = 0;
  bool stopped = false;
  for (size_t done = 0; done < count; ++done) {
    if (!stopped && sent < count && sent - done < window) {
      if (stop && stop()) {
        stopped = true;
      } else {
        size_t upto = std::min(count, done + window);
        MV_RETURN_IF_ERROR(send_batch(sent, upto));
        sent = upto;
      }
    }
    if (done == sent) break;
    MV_RETURN_IF_ERROR(read_one(done));
  }
  if (sent < count) {
    return Status::Cancelled("stopped on request with " + std::to_string(count - sent) + " of " +
                             std::to_string(count) + " commands not sent");
  }
  return Status::Ok();
}

}  // namespace

Status Pop3Session::RetrMany(std::span<const Pop3RetrRequest> requests,
                             const Pop3RetrCallbacks& callbacks) {
  MV_RETURN_IF_ERROR(CheckUsable());
  auto send_batch = [&](size_t from, size_t to) -> Status {
    std::string lines;
    for (size_t i = from; i < to; ++i) {
      lines += "RETR " + std::to_string(requests[i].number) + "\r\n";
      LogDebug("pop3 " + endpoint() + " > RETR " + std::to_string(requests[i].number));
    }
    Status status = transport_->Write(lines);
    return status.ok() ? status : Break(status);
  };
  auto read_one = [&](size_t i) -> Status {
    const Pop3RetrRequest& request = requests[i];
    const std::string command = "RETR " + std::to_string(request.number);
    Result<Pop3Reply> reply = ReadReply(command);
    if (!reply.ok()) {
      (void)callbacks.on_done(reply.status(), request.number);
      return reply.status();
    }
    if (!reply->ok) {
      return callbacks.on_done(ErrReply(*reply, command), request.number);
    }
    Pop3Message message;
    message.number = request.number;
    message.expected_octets = request.expected_octets;
    Status body = ReadMessageBody(&message, [&](std::string_view chunk) {
      return callbacks.on_chunk(request.number, chunk);
    });
    if (!body.ok()) {
      (void)callbacks.on_done(body, request.number);
      return body;
    }
    Status done = callbacks.on_done(message, request.number);
    // The dialog is intact, but the caller asked to stop with replies still
    // outstanding in the pipeline: the session cannot be resynchronised.
    if (!done.ok()) return i + 1 < requests.size() ? Break(done) : done;
    return Status::Ok();
  };
  return PipelineWindowed(requests.size(), Window(), send_batch, read_one, callbacks.stop);
}

Status Pop3Session::Dele(uint32_t number) {
  const std::string command = "DELE " + std::to_string(number);
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command(command));
  return reply.ok ? Status::Ok() : ErrReply(reply, command);
}

Result<std::vector<Status>> Pop3Session::DeleMany(std::span<const uint32_t> numbers) {
  MV_RETURN_IF_ERROR(CheckUsable());
  std::vector<Status> results;
  results.reserve(numbers.size());
  auto send_batch = [&](size_t from, size_t to) -> Status {
    std::string lines;
    for (size_t i = from; i < to; ++i) {
      lines += "DELE " + std::to_string(numbers[i]) + "\r\n";
      LogDebug("pop3 " + endpoint() + " > DELE " + std::to_string(numbers[i]));
    }
    Status status = transport_->Write(lines);
    return status.ok() ? status : Break(status);
  };
  auto read_one = [&](size_t i) -> Status {
    const std::string command = "DELE " + std::to_string(numbers[i]);
    MV_ASSIGN_OR_RETURN(Pop3Reply reply, ReadReply(command));
    results.push_back(reply.ok ? Status::Ok() : ErrReply(reply, command));
    return Status::Ok();
  };
  MV_RETURN_IF_ERROR(PipelineWindowed(numbers.size(), Window(), send_batch, read_one));
  return results;
}

Status Pop3Session::Rset() {
  MV_ASSIGN_OR_RETURN(Pop3Reply reply, Command("RSET"));
  return reply.ok ? Status::Ok() : ErrReply(reply, "RSET");
}

Status Pop3Session::Quit() {
  Result<Pop3Reply> reply = Command("QUIT");
  Close();
  if (!reply.ok()) return reply.status();
  if (!reply->ok) {
    // RFC 1939 section 6: -ERR to QUIT means some marked messages were not removed.
    Status status = ErrReply(*reply, "QUIT");
    return Status(status.code() == StatusCode::kNotFound ? StatusCode::kUnavailable : status.code(),
                  status.message());
  }
  return Status::Ok();
}

}  // namespace mailvault
