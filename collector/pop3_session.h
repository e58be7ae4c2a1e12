// Pop3Session: mailvault's own POP3 client (RFC 1939, 2449, 2595, 5034, 3206) on
// Poco::Net sockets.
//
// Why our own: Poco's POP3ClientSession cannot read multi-line replies other than
// RETR, has no STLS, APOP, SASL, pipelining or response codes, and its line reader
// stops at 4,096 characters (see doc/pop3.md).
//
// What a session does, in order: Connect() (TCP, implicit TLS for pop3s, greeting,
// CAPA, STLS for starttls), Login(), then any transaction commands, then Quit().
// Messages are streamed: RETR/TOP hand the dot-unstuffed bytes to a caller's
// chunk callback in pieces of at most Pop3Options::read_chunk_size bytes, so a
// 100 MB message costs one buffer, never 100 MB.
//
// Errors. Every method returns Status/Result; no exception leaves this class.
//   kTimeout          a read, the connect, or the whole-session deadline expired
//   kIoError          the connection broke (reset, end of stream) where the
//                     protocol did not allow it - including mid-RETR
//   kProtocol         the server broke the protocol (garbage, over-long line,
//                     a reply that is neither +OK nor -ERR)
//   kUnavailable      try later: [IN-USE], [LOGIN-DELAY], [SYS/TEMP], connection
//                     refused, host not found
//   kAuthFailed       credentials refused ([AUTH] or a plain -ERR during login)
//   kPermissionDenied [SYS/PERM], or the server certificate failed verification
//   kUnsupported      the server lacks something required (STLS in starttls mode,
//                     UIDL, the requested SASL mechanism)
//   kNotFound         a plain -ERR to a per-message command (no such message)
//   kCancelled        a caller's callback returned an error (its Status is
//                     passed through unchanged, not turned into kCancelled)
// Raw server reply text is kept in error messages; passwords and the AUTH
// exchange never are, and are never logged.
//
// Broken sessions. After any error that leaves the dialog in an unknown state
// (transport error, timeout, protocol violation, a callback abort mid-message),
// the session closes its socket and every later call fails fast with
// kIoError "session is broken". A -ERR reply does not break the session.
//
// Deletions. RFC 1939: DELE only marks; the server removes marked messages
// when QUIT succeeds. If Quit() does not return OK, or the session is dropped
// without Quit(), the server must not have removed anything (a conforming
// server keeps everything when the session ends without QUIT).
//
// Thread-safety: none. One session per thread; sessions are independent.
// Owns its socket; the destructor closes it without sending QUIT.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace mailvault {

enum class Pop3Tls {
  kPop3s,     // implicit TLS from the first byte (port 995)
  kStartTls,  // plain connect, then STLS; refused when the server does not offer STLS
  kNone,      // plain text; only when configured explicitly (credentials go in clear)
};

// "pop3s", "starttls", "none" (the config/CLI spelling). False on anything else.
bool ParsePop3Tls(std::string_view text, Pop3Tls* tls);
std::string_view Pop3TlsName(Pop3Tls tls);

enum class Pop3AuthMethod {
  kAuto,       // AUTH PLAIN when SASL PLAIN is offered, else USER/PASS when USER
               // is offered or CAPA is missing, else APOP when the greeting has a
               // timestamp, else AUTH LOGIN when offered
  kUserPass,   // USER + PASS (RFC 1939)
  kApop,       // APOP name md5(timestamp password) (RFC 1939)
  kAuthPlain,  // AUTH PLAIN (RFC 5034 + RFC 4616), initial response when it fits
  kAuthLogin,  // AUTH LOGIN (username, password as base64 continuations)
};

struct Pop3Options {
  std::string host;   // name or address; also the TLS server name (SNI, hostname check)
  uint16_t port = 0;  // 0: 995 for kPop3s, 110 otherwise
  Pop3Tls tls = Pop3Tls::kPop3s;

  // Certificate verification (ignored for kNone):
  //  - fingerprint set, ca_file empty: trust exactly the certificate whose
  //    SHA-256 (of its DER form) is this; for self-signed servers. Accepted
  //    spellings: 64 hex digits, optionally colon-separated, any case, optionally
  //    prefixed "sha256:" (see NormalizeFingerprint).
  //  - ca_file set: the chain must verify against this PEM file (and the
  //    fingerprint, if also set, must match too).
  //  - neither: the chain must verify against the system store.
  // Default: system store.
  std::string ca_file;
  std::string fingerprint;

  // Timeouts. Default: 30 s to connect (TCP + TLS handshake), 60 s for each read
  // or write, 30 min for the whole session from Connect() to Quit(): a server
  // that trickles bytes cannot hold a session forever.
  std::chrono::milliseconds connect_timeout{30'000};
  std::chrono::milliseconds io_timeout{60'000};
  std::chrono::milliseconds session_timeout{30 * 60'000};
  // Time source for the session deadline. Borrowed; must outlive the session.
  // Default (nullptr): SystemClock::Instance().
  const Clock* clock = nullptr;

  // Longest reply line (status lines, CAPA/LIST/UIDL entries) accepted before
  // the reply is a kProtocol error. RFC 2449 allows 512; default 8,192 for
  // lenient servers. Message data (RETR/TOP) has no line limit: it streams.
  size_t max_line_length = 8'192;
  // Bytes asked from the socket per read, and the largest chunk handed to a
  // callback. Default 64 KiB. Tests set tiny values to put chunk boundaries
  // at every byte position.
  size_t read_chunk_size = 64 * 1024;
  // Most commands outstanding at once in RetrMany/DeleMany when the server
  // offers PIPELINING (1 otherwise). Default 16: a window keeps both sides'
  // socket buffers from filling up and deadlocking.
  size_t pipeline_window = 16;
  // Use PIPELINING when offered. Default true.
  bool use_pipelining = true;
};

// The reply to one command.
struct Pop3Reply {
  bool ok = false;            // +OK (or a "+ " continuation) vs -ERR
  bool continuation = false;  // "+ ..." : a SASL challenge (RFC 5034), ok is set too
  std::string text;           // the status line without "+OK"/"-ERR" and the space
  std::string resp_code;      // "IN-USE", "SYS/TEMP", ... (RFC 2449/3206); empty if none
};

// What the server advertised in CAPA (RFC 2449). Empty when CAPA failed.
struct Pop3Capabilities {
  bool capa_supported = false;  // CAPA answered +OK
  bool top = false;
  bool uidl = false;
  bool user = false;
  bool stls = false;
  bool pipelining = false;
  bool resp_codes = false;
  bool auth_resp_code = false;
  std::set<std::string> sasl;  // upper-case mechanism names
  std::optional<int> login_delay_seconds;
  std::optional<int> expire_days;  // "EXPIRE NEVER" -> nullopt with expire_never
  bool expire_never = false;
  std::string implementation;
  std::vector<std::string> lines;  // raw capability lines, in order
};

struct Pop3Stat {
  uint64_t count = 0;
  uint64_t octets = 0;
};

struct Pop3ListEntry {
  uint32_t number = 0;
  uint64_t octets = 0;
};

struct Pop3UidlEntry {
  uint32_t number = 0;
  std::string uid;  // 1..70 characters 0x21..0x7E (RFC 1939)
};

// What a completed RETR/TOP delivered.
struct Pop3Message {
  uint32_t number = 0;
  // Bytes handed to the callback (after dot-unstuffing, exactly as received).
  uint64_t bytes = 0;
  // Size of the same bytes in canonical form (bare LF counted as CRLF, final
  // CRLF added when missing): what the server's LIST size should equal.
  uint64_t canonical_bytes = 0;
  // The size the caller expected (from LIST), when given.
  std::optional<uint64_t> expected_octets;
  // True when expected_octets is set and differs from canonical_bytes. The
  // message is complete (its terminating "." arrived); the caller decides
  // whether a size lie is acceptable.
  bool size_mismatch = false;
};

// Receives the dot-unstuffed bytes of one message, in order. The view is valid
// only during the call. Returning an error aborts the transfer (and breaks the
// session: the rest of the reply is not read).
using Pop3ChunkFn = std::function<Status(std::string_view chunk)>;

// One message of a RetrMany batch.
struct Pop3RetrRequest {
  uint32_t number = 0;
  std::optional<uint64_t> expected_octets;  // from LIST; sets size_mismatch
};

// Callbacks of RetrMany. on_chunk(number, chunk) as Pop3ChunkFn. on_done is
// called exactly once for every request the batch reached, in request order:
// with the Pop3Message when its terminating "." arrived, with an error when the
// server answered -ERR (kNotFound, or kUnavailable/kPermissionDenied for a
// response code; the batch goes on), or with the transport/protocol error that
// stopped the batch (the reply was missing or cut; later requests are not
// reported). Only a message reported OK by
// on_done is complete; chunks before that are provisional. An error returned by
// on_done aborts the batch.
//
// stop (optional) is asked before each further RETR is sent. Once it returns
// true nothing more is sent, the RETRs already sent are read to their end and
// reported as usual, and RetrMany returns kCancelled; the session stays usable
// (QUIT may follow). This is how a shutdown lets a run finish what is in flight.
struct Pop3RetrCallbacks {
  std::function<Status(uint32_t number, std::string_view chunk)> on_chunk;
  std::function<Status(const Result<Pop3Message>& message, uint32_t number)> on_done;
  std::function<bool()> stop;
};

class Pop3Session {
 public:
  explicit Pop3Session(Pop3Options options);
  ~Pop3Session();
  Pop3Session(const Pop3Session&) = delete;
  Pop3Session& operator=(const Pop3Session&) = delete;

  // TCP connect (with connect_timeout), TLS per options.tls, greeting, CAPA,
  // and STLS + CAPA again for kStartTls. Starts the session deadline.
  // REQUIRES: not connected yet.
  [[nodiscard]] Status Connect();

  // Authenticates. The password is used for the exchange only, never stored,
  // logged or put in an error. kUnsupported when `method` cannot be used here
  // (e.g. kApop without a greeting timestamp, AUTH mechanism not offered).
  // Sends CAPA again afterwards (RFC 2449: capabilities may change).
  [[nodiscard]] Status Login(std::string_view user, std::string_view password,
                             Pop3AuthMethod method = Pop3AuthMethod::kAuto);

  [[nodiscard]] Status Noop();
  [[nodiscard]] Result<Pop3Stat> Stat();
  // LIST: every message not marked deleted, in server order.
  [[nodiscard]] Result<std::vector<Pop3ListEntry>> List();
  [[nodiscard]] Result<Pop3ListEntry> List(uint32_t number);
  // UIDL: kUnsupported when the server answers -ERR to the full list.
  [[nodiscard]] Result<std::vector<Pop3UidlEntry>> Uidl();
  [[nodiscard]] Result<Pop3UidlEntry> Uidl(uint32_t number);

  // RETR `number`, streaming the message to `on_chunk`. OK only when the
  // terminating "." arrived; a cut reply is kIoError/kTimeout, never a message.
  [[nodiscard]] Result<Pop3Message> Retr(uint32_t number, const Pop3ChunkFn& on_chunk,
                                         std::optional<uint64_t> expected_octets = {});
  // TOP `number` `lines`: the header block plus `lines` body lines, streamed.
  [[nodiscard]] Result<Pop3Message> Top(uint32_t number, uint32_t lines,
                                        const Pop3ChunkFn& on_chunk);
  // RETR for each request, pipelined in a window when the server offers
  // PIPELINING. Returns OK when every reply was read (individual -ERRs are
  // reported through on_done), else the error that stopped the batch.
  [[nodiscard]] Status RetrMany(std::span<const Pop3RetrRequest> requests,
                                const Pop3RetrCallbacks& callbacks);

  // DELE marks a message; it is removed only when Quit() succeeds.
  [[nodiscard]] Status Dele(uint32_t number);
  // DELE for each number, pipelined like RetrMany. The outer Result fails on a
  // transport error; otherwise one Status per number (OK or kNotFound, ...).
  [[nodiscard]] Result<std::vector<Status>> DeleMany(std::span<const uint32_t> numbers);
  // RSET: unmarks every message marked by DELE in this session.
  [[nodiscard]] Status Rset();
  // QUIT: ends the session; in the transaction state the server now removes
  // the messages marked by DELE. OK means the server confirmed it. The socket
  // is closed either way.
  [[nodiscard]] Status Quit();

  // Closes the socket without QUIT (nothing marked is deleted). Idempotent.
  void Close();

  bool connected() const;
  bool broken() const { return broken_; }
  bool tls_active() const { return tls_active_; }
  const std::string& greeting() const { return greeting_; }
  // "<...@...>" from the greeting, empty when none (no APOP).
  const std::string& apop_timestamp() const { return apop_timestamp_; }
  const Pop3Capabilities& capabilities() const { return capabilities_; }
  // SHA-256 fingerprint (64 lowercase hex) of the server certificate; empty
  // without TLS.
  const std::string& peer_fingerprint() const { return peer_fingerprint_; }
  // "host:port", for messages.
  std::string endpoint() const;

 private:
  class Transport;

  Status ReadGreeting();
  Status RefreshCapabilities();
  Status StartTls();
  Status LoginUserPass(std::string_view user, std::string_view password);
  Status LoginApop(std::string_view user, std::string_view password);
  Status LoginAuthPlain(std::string_view user, std::string_view password);
  Status LoginAuthLogin(std::string_view user, std::string_view password);
  Status AuthReplyToStatus(const Pop3Reply& reply, std::string_view step);
  // A "+ " challenge is due (ExpectChallenge) or must not come (ExpectFinal).
  Status ExpectChallenge(const Pop3Reply& reply, std::string_view step);
  Status ExpectFinal(const Pop3Reply& reply, std::string_view step);

  // Sends one command line (CRLF added). `log_as` replaces the line in logs
  // and errors (for secrets).
  Status SendCommand(std::string_view line, std::string_view log_as = {});
  Result<Pop3Reply> ReadReply(std::string_view command);
  Result<Pop3Reply> Command(std::string_view line, std::string_view log_as = {});
  // The lines of a multi-line reply after +OK, without the terminating ".".
  Status ReadMultiLine(std::string_view command,
                       const std::function<Status(std::string_view line)>& on_line);
  Result<std::vector<std::string>> CommandMultiLine(std::string_view line);
  // Streams a dot-stuffed body to `on_chunk` until the terminating ".".
  Status ReadMessageBody(Pop3Message* message, const Pop3ChunkFn& on_chunk);
  Result<Pop3Message> RetrieveStreamed(std::string_view line, uint32_t number,
                                       std::optional<uint64_t> expected_octets,
                                       const Pop3ChunkFn& on_chunk);
  size_t Window() const;
  Status CheckUsable() const;
  // Marks the session broken, closes the socket, and returns `status`.
  Status Break(Status status);
  Status ErrReply(const Pop3Reply& reply, std::string_view command);

  Pop3Options options_;
  std::unique_ptr<Transport> transport_;
  bool broken_ = false;
  bool tls_active_ = false;
  bool authenticated_ = false;
  std::string greeting_;
  std::string apop_timestamp_;
  Pop3Capabilities capabilities_;
  std::string peer_fingerprint_;
};

// Normalises a certificate fingerprint to 64 lowercase hex digits. Accepts
// colons, any case and a "sha256:" / "SHA256:" prefix. kInvalidArgument else.
Result<std::string> NormalizeFingerprint(std::string_view text);

// Splits "[CODE/SUB] rest" into the code ("CODE/SUB") or "" (RFC 2449 section 8).
std::string ParseRespCode(std::string_view text);

// The Status a -ERR reply to an authentication step maps to (RFC 2449, 3206):
// IN-USE, LOGIN-DELAY, SYS/TEMP -> kUnavailable; SYS/PERM -> kPermissionDenied;
// AUTH or no code -> kAuthFailed. The message carries `context` and the raw text.
Status Pop3AuthErrorStatus(const Pop3Reply& reply, std::string_view context);

}  // namespace mailvault
