// Pop3Session against the scripted fault-injecting server (tests/scripted_pop3_server.h):
// the protocol, the encodings, and every fault of issue 3 at the protocol level.
#include "collector/pop3_session.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>

#include "base/log.h"
#include "tests/scripted_pop3_server.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using std::chrono::milliseconds;
using namespace std::string_literals;
using testing::ScriptedPop3Server;

constexpr char kGreeting[] = "+OK ready <1896.697170952@dbc.mtview.ca.us>";
constexpr char kCapa[] =
    "+OK capabilities\r\nTOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
    "SASL PLAIN LOGIN\r\n.\r\n";
constexpr char kCapaPipelining[] =
    "+OK capabilities\r\nTOP\r\nUSER\r\nUIDL\r\nPIPELINING\r\nRESP-CODES\r\n.\r\n";

Pop3Options LocalOptions(uint16_t port) {
  Pop3Options options;
  options.host = "127.0.0.1";
  options.port = port;
  options.tls = Pop3Tls::kNone;
  options.connect_timeout = milliseconds(2'000);
  options.io_timeout = milliseconds(2'000);
  options.session_timeout = milliseconds(20'000);
  return options;
}

// Greeting and CAPA, the opening of every script.
ScriptedPop3Server& Open(ScriptedPop3Server& server, const char* capa = kCapa) {
  return server.Reply(kGreeting).Expect("CAPA").Send(capa);
}

// Greeting, CAPA, USER/PASS and the CAPA after login.
ScriptedPop3Server& OpenAndLogin(ScriptedPop3Server& server, const char* capa = kCapa) {
  return Open(server, capa)
      .Expect("USER alice")
      .Reply("+OK")
      .Expect("PASS s3cret")
      .Reply("+OK logged in")
      .Expect("CAPA")
      .Send(capa);
}

Status ConnectAndLogin(Pop3Session& session) {
  MV_RETURN_IF_ERROR(session.Connect());
  return session.Login("alice", "s3cret", Pop3AuthMethod::kUserPass);
}

std::function<Status(std::string_view)> AppendTo(std::string* out) {
  return [out](std::string_view chunk) {
    out->append(chunk);
    return Status::Ok();
  };
}

// Collects log lines (at debug level) for the lifetime of the object.
class LogCapture {
 public:
  LogCapture() {
    level_ = GetLogLevel();
    SetLogLevel(LogLevel::kDebug);
    previous_ = SetLogSink([this](LogLevel, std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      text_ += std::string(line) + "\n";
    });
  }
  ~LogCapture() {
    SetLogSink(previous_);
    SetLogLevel(level_);
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::string text_;
  LogSink previous_;
  LogLevel level_;
};

TEST(Pop3SessionTest, ListingCommandsAndQuit) {
  ScriptedPop3Server server;
  OpenAndLogin(server)
      .Expect("STAT")
      .Reply("+OK 2 320")
      .Expect("LIST")
      .Send("+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n")
      .Expect("UIDL")
      .Send("+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n")
      .Expect("UIDL 2")
      .Reply("+OK 2 QhdPYR:00WBw1Ph7x7")
      .Expect("LIST 1")
      .Reply("+OK 1 120")
      .Expect("NOOP")
      .Reply("+OK")
      .Expect("QUIT")
      .Reply("+OK bye")
      .ExpectClientClose();
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  EXPECT_EQ(session.apop_timestamp(), "<1896.697170952@dbc.mtview.ca.us>");
  EXPECT_TRUE(session.capabilities().uidl);
  EXPECT_TRUE(session.capabilities().sasl.count("LOGIN"));
  EXPECT_FALSE(session.capabilities().pipelining);

  Result<Pop3Stat> stat = session.Stat();
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  EXPECT_EQ(stat->count, 2u);
  EXPECT_EQ(stat->octets, 320u);
  Result<std::vector<Pop3ListEntry>> list = session.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].number, 2u);
  EXPECT_EQ((*list)[1].octets, 200u);
  Result<std::vector<Pop3UidlEntry>> uidl = session.Uidl();
  ASSERT_TRUE(uidl.ok()) << uidl.status().ToString();
  ASSERT_EQ(uidl->size(), 2u);
  EXPECT_EQ((*uidl)[0].uid, "whqtswO00WBw418f9t5JxYwZ");
  Result<Pop3UidlEntry> one = session.Uidl(2);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->uid, "QhdPYR:00WBw1Ph7x7");
  Result<Pop3ListEntry> size = session.List(1);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->octets, 120u);
  EXPECT_TRUE(session.Noop().ok());
  EXPECT_TRUE(session.Quit().ok());
  EXPECT_FALSE(session.connected());
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, ApopDigestIsRfc1939Example) {
  ScriptedPop3Server server;
  Open(server)
      .Expect("APOP mrose c4c9334bac560ecc979e58001b3e22fb")
      .Reply("+OK maildrop has 1 message")
      .Expect("CAPA")
      .Send(kCapa);
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(session.Connect().ok());
  Status status = session.Login("mrose", "tanstaaf", Pop3AuthMethod::kApop);
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, ApopWithoutTimestampIsUnsupported) {
  ScriptedPop3Server server;
  server.Reply("+OK no timestamp here").Expect("CAPA").Send(kCapa).ExpectClientClose();
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(session.Connect().ok());
  EXPECT_EQ(session.Login("mrose", "tanstaaf", Pop3AuthMethod::kApop).code(),
            StatusCode::kUnsupported);
  session.Close();
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, AuthPlainSendsInitialResponse) {
  ScriptedPop3Server server;
  Open(server)
      .Expect("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm")
      .Reply("+OK")
      .Expect("CAPA")
      .Send(kCapa);
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(session.Connect().ok());
  // kAuto picks AUTH PLAIN because SASL PLAIN is offered.
  Status status = session.Login("tim", "tanstaaftanstaaf");
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, AuthPlainTooLongForOneLineUsesContinuation) {
  const std::string user(10, 'u');
  const std::string password(200, 'p');
  ScriptedPop3Server server;
  Open(server)
      .Expect("AUTH PLAIN")
      .Reply("+ ")
      .Expect(
          "AHV1dXV1dXV1dXUAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw"
          "cHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw"
          "cHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw"
          "cHBwcHBwcHBwcHBwcHBwcHBwcHBwcHA=")
      .Reply("+OK")
      .Expect("CAPA")
      .Send(kCapa);
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(session.Connect().ok());
  Status status = session.Login(user, password, Pop3AuthMethod::kAuthPlain);
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, AuthLoginSendsBase64Continuations) {
  ScriptedPop3Server server;
  Open(server)
      .Expect("AUTH LOGIN")
      .Reply("+ VXNlcm5hbWU6")
      .Expect("dGlt")
      .Reply("+ UGFzc3dvcmQ6")
      .Expect("dGFuc3RhYWZ0YW5zdGFhZg==")
      .Reply("+OK")
      .Expect("CAPA")
      .Send(kCapa);
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(session.Connect().ok());
  Status status = session.Login("tim", "tanstaaftanstaaf", Pop3AuthMethod::kAuthLogin);
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(server.Finish(), "");
}

// Every method's exchange, with debug logging on: the password, and its
// base64 and APOP forms, never reach the log or the error message.
TEST(Pop3SessionTest, PasswordNeverLoggedNorInErrors) {
  const std::string password = "Tr0ub4dor&3-secret";
  struct Case {
    Pop3AuthMethod method;
    std::vector<std::pair<std::string, std::string>> dialog;  // expect prefix, reply
  };
  const std::vector<Case> cases = {
      {Pop3AuthMethod::kUserPass, {{"USER bob", "+OK"}, {"PASS ", "-ERR [AUTH] bad"}}},
      {Pop3AuthMethod::kApop, {{"APOP bob ", "-ERR [AUTH] bad"}}},
      {Pop3AuthMethod::kAuthPlain, {{"AUTH PLAIN ", "-ERR [AUTH] bad"}}},
      {Pop3AuthMethod::kAuthLogin,
       {{"AUTH LOGIN", "+ VXNlcm5hbWU6"}, {"Ym9i", "+ UGFzc3dvcmQ6"}, {"", "-ERR [AUTH] bad"}}},
  };
  for (const Case& c : cases) {
    ScriptedPop3Server server;
    Open(server);
    for (const auto& [expect, reply] : c.dialog) server.ExpectPrefix(expect).Reply(reply);
    Pop3Session session(LocalOptions(server.Start()));
    LogCapture capture;
    ASSERT_TRUE(session.Connect().ok());
    Status status = session.Login("bob", password, c.method);
    EXPECT_EQ(status.code(), StatusCode::kAuthFailed) << status.ToString();
    session.Close();
    EXPECT_EQ(server.Finish(), "");
    const std::string log = capture.text();
    EXPECT_NE(log.find("> "), std::string::npos) << "debug logging did not capture the dialog";
    // What went over the wire for the password, in each encoding.
    std::vector<std::string> secrets = {password};
    for (const std::string& line : server.received()) {
      if (line.starts_with("PASS ")) secrets.push_back(line.substr(5));
      if (line.starts_with("APOP bob ")) secrets.push_back(line.substr(9));
      if (line.starts_with("AUTH PLAIN ")) secrets.push_back(line.substr(11));
    }
    if (c.method == Pop3AuthMethod::kAuthLogin) secrets.push_back(server.received().back());
    ASSERT_GE(secrets.size(), 2u) << "the password never went over the wire?";
    for (const std::string& secret : secrets) {
      EXPECT_EQ(log.find(secret), std::string::npos) << "secret '" << secret << "' in log:\n"
                                                     << log;
      EXPECT_EQ(status.message().find(secret), std::string::npos) << status.message();
    }
  }
}

// RFC 2449/3206 response codes on authentication (and on the greeting).
TEST(Pop3SessionTest, AuthResponseCodesMapToStatus) {
  const std::vector<std::pair<std::string, StatusCode>> cases = {
      {"-ERR [IN-USE] Couldn't open INBOX: Timeout while waiting for lock",
       StatusCode::kUnavailable},
      {"-ERR [LOGIN-DELAY] wait 900 s", StatusCode::kUnavailable},
      {"-ERR [SYS/TEMP] try later", StatusCode::kUnavailable},
      {"-ERR [SYS/PERM] account disabled", StatusCode::kPermissionDenied},
      {"-ERR [AUTH] Authentication failed.", StatusCode::kAuthFailed},
      {"-ERR invalid password", StatusCode::kAuthFailed},
  };
  for (const auto& [reply, code] : cases) {
    ScriptedPop3Server refusing;
    Open(refusing).Expect("USER alice").Reply("+OK").Expect("PASS s3cret").Reply(reply);
    Pop3Session session(LocalOptions(refusing.Start()));
    Status status = ConnectAndLogin(session);
    EXPECT_EQ(status.code(), code) << reply << " -> " << status.ToString();
    // The raw server text is kept for the operator.
    EXPECT_NE(status.message().find(reply.substr(5)), std::string::npos) << status.message();
    session.Close();
    EXPECT_EQ(refusing.Finish(), "");
  }
}

TEST(Pop3SessionTest, ErrGreetingIsUnavailable) {
  ScriptedPop3Server server;
  server.Reply("-ERR [SYS/TEMP] too many connections");
  Pop3Session session(LocalOptions(server.Start()));
  Status status = session.Connect();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_NE(status.message().find("too many connections"), std::string::npos);
  EXPECT_EQ(server.Finish(), "");
}

// Dot-unstuffing at every chunk boundary: the client reads with chunk sizes
// from 1 byte up, so each edge case lands on each split position.
TEST(Pop3SessionTest, DotUnstuffingAtEveryChunkBoundary) {
  const std::string wire =
      "Subject: dots\r\n\r\n"
      "..leading dot\r\n"
      "..\r\n"                     // a lone "." inside the data
      "...\r\n"                    // ".." inside the data
      "bare\nlf\nlines\r\n"        // bare LF is kept as it came
      "nul\0byte\r\n"              // NUL bytes pass through
      ".unstuffed but dotted\r\n"  // a server that forgot to stuff: dot removed (RFC 1939)
      "last line\r\n"
      ".\r\n"s;
  const std::string expected =
      "Subject: dots\r\n\r\n"
      ".leading dot\r\n"
      ".\r\n"
      "..\r\n"
      "bare\nlf\nlines\r\n"
      "nul\0byte\r\n"
      "unstuffed but dotted\r\n"
      "last line\r\n"s;
  const uint64_t canonical_size = testing::CanonicalizeForTest(expected).size();
  ASSERT_EQ(wire.substr(wire.size() - 3), ".\r\n");
  const std::vector<size_t> chunk_sizes = {1, 2, 3, 4, 5, 7, 11, 64 * 1024};
  ScriptedPop3Server::Options server_options;
  server_options.connections = static_cast<int>(chunk_sizes.size());
  ScriptedPop3Server server(server_options);
  OpenAndLogin(server).Expect("RETR 1").Reply("+OK").Send(wire).Expect("QUIT").Reply("+OK");
  const uint16_t port = server.Start();
  for (size_t chunk_size : chunk_sizes) {
    SCOPED_TRACE("read_chunk_size " + std::to_string(chunk_size));
    Pop3Options options = LocalOptions(port);
    options.read_chunk_size = chunk_size;
    Pop3Session session(options);
    ASSERT_TRUE(ConnectAndLogin(session).ok());
    std::string got;
    size_t largest_chunk = 0;
    Result<Pop3Message> message = session.Retr(
        1,
        [&](std::string_view chunk) {
          largest_chunk = std::max(largest_chunk, chunk.size());
          got.append(chunk);
          return Status::Ok();
        },
        canonical_size);
    ASSERT_TRUE(message.ok()) << message.status().ToString();
    EXPECT_EQ(got, expected);
    EXPECT_EQ(message->bytes, expected.size());
    EXPECT_EQ(message->canonical_bytes, canonical_size);
    EXPECT_EQ(canonical_size, expected.size() + 2);  // two bare LFs
    EXPECT_FALSE(message->size_mismatch);
    EXPECT_LE(largest_chunk, chunk_size + 2);
    EXPECT_TRUE(session.Quit().ok());
  }
  EXPECT_EQ(server.Finish(), "");
}

// The same message arriving one byte per TCP segment, and with bare-LF line
// ends and a bare-LF terminator; and the empty message.
TEST(Pop3SessionTest, MessageSplitAcrossTcpSegmentsAndOddTerminators) {
  ScriptedPop3Server server;
  OpenAndLogin(server)
      .Expect("RETR 1")
      .Reply("+OK")
      .SendSlowly("a\r\n..\r\n.b\r\n\r\n.\r\n", 1, milliseconds(1))
      .Expect("RETR 2")
      .Reply("+OK")
      .Send("x\ny\n.\n")
      .Expect("RETR 3")
      .Reply("+OK")
      .Send(".\r\n")
      .Expect("TOP 4 0")
      .Reply("+OK")
      .Send("Subject: top\r\n\r\n.\r\n");
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  std::string one, two, three, four;
  Result<Pop3Message> m1 = session.Retr(1, AppendTo(&one));
  ASSERT_TRUE(m1.ok()) << m1.status().ToString();
  EXPECT_EQ(one, "a\r\n.\r\nb\r\n\r\n");
  Result<Pop3Message> m2 = session.Retr(2, AppendTo(&two));
  ASSERT_TRUE(m2.ok()) << m2.status().ToString();
  EXPECT_EQ(two, "x\ny\n");
  EXPECT_EQ(m2->canonical_bytes, 6u);
  Result<Pop3Message> m3 = session.Retr(3, AppendTo(&three));
  ASSERT_TRUE(m3.ok()) << m3.status().ToString();
  EXPECT_EQ(three, "");
  EXPECT_EQ(m3->canonical_bytes, 2u);  // the canonical form of nothing is CRLF
  Result<Pop3Message> m4 = session.Top(4, 0, AppendTo(&four));
  ASSERT_TRUE(m4.ok()) << m4.status().ToString();
  EXPECT_EQ(four, "Subject: top\r\n\r\n");
  session.Close();
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, LongDataLinesStreamWithoutLineLimit) {
  // Invariant 5: absurd lines are archived, so message data has no line limit.
  const std::string long_line(300'000, 'z');
  ScriptedPop3Server server;
  OpenAndLogin(server).Expect("RETR 1").Reply("+OK").Send(long_line + "\r\n.\r\n");
  Pop3Options options = LocalOptions(server.Start());
  options.max_line_length = 512;
  Pop3Session session(options);
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  std::string got;
  Result<Pop3Message> message = session.Retr(1, AppendTo(&got));
  ASSERT_TRUE(message.ok()) << message.status().ToString();
  EXPECT_EQ(got, long_line + "\r\n");
  session.Close();
  EXPECT_EQ(server.Finish(), "");
}

// Fault: the connection is cut in the middle of a RETR, at several places,
// including after the last line and inside the terminator. Never a message.
TEST(Pop3SessionTest, ConnectionCutMidRetrIsNeverAMessage) {
  const std::vector<std::string> cuts = {"Subject: half\r\n\r\nsome bo", "line\r\n", "line\r\n.",
                                         "line\r\n.\r", ""};
  for (const std::string& partial : cuts) {
    SCOPED_TRACE("cut after '" + partial + "'");
    ScriptedPop3Server server;
    OpenAndLogin(server).Expect("RETR 1").Reply("+OK 100 octets").Send(partial).Close();
    Pop3Session session(LocalOptions(server.Start()));
    ASSERT_TRUE(ConnectAndLogin(session).ok());
    std::string got;
    Result<Pop3Message> message = session.Retr(1, AppendTo(&got), 100);
    ASSERT_FALSE(message.ok());
    EXPECT_EQ(message.status().code(), StatusCode::kIoError) << message.status().ToString();
    EXPECT_NE(message.status().message().find("before its terminating '.'"), std::string::npos)
        << message.status().message();
    EXPECT_TRUE(session.broken());
    // A broken session fails fast, it does not hang or pretend.
    EXPECT_EQ(session.Noop().code(), StatusCode::kIoError);
    EXPECT_EQ(server.Finish(), "");
  }
}

TEST(Pop3SessionTest, StalledServerTimesOut) {
  // Stalls at the greeting, and in the middle of a RETR.
  for (bool mid_retr : {false, true}) {
    SCOPED_TRACE(mid_retr ? "mid-RETR" : "greeting");
    ScriptedPop3Server server;
    if (mid_retr) {
      OpenAndLogin(server).Expect("RETR 1").Reply("+OK").Send("Subject: x\r\n");
    }
    server.Stall(milliseconds(5'000));
    Pop3Options options = LocalOptions(server.Start());
    options.io_timeout = milliseconds(300);
    Pop3Session session(options);
    auto start = std::chrono::steady_clock::now();
    Status status = mid_retr ? ConnectAndLogin(session) : session.Connect();
    if (mid_retr) {
      ASSERT_TRUE(status.ok()) << status.ToString();
      std::string got;
      status = session.Retr(1, AppendTo(&got)).status();
    }
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(status.code(), StatusCode::kTimeout) << status.ToString();
    EXPECT_LT(elapsed, milliseconds(3'000));
    session.Close();
    EXPECT_EQ(server.Finish(), "");
  }
}

// A server that trickles one byte at a time never trips the per-read timeout;
// the session deadline ends it.
TEST(Pop3SessionTest, TricklingServerHitsSessionDeadline) {
  ScriptedPop3Server server;
  OpenAndLogin(server).Expect("RETR 1").Reply("+OK").SendSlowly(std::string(5'000, 'x'), 1,
                                                                milliseconds(5));
  Pop3Options options = LocalOptions(server.Start());
  options.io_timeout = milliseconds(1'000);
  options.session_timeout = milliseconds(700);
  Pop3Session session(options);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  std::string got;
  Result<Pop3Message> message = session.Retr(1, AppendTo(&got));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(message.ok());
  EXPECT_EQ(message.status().code(), StatusCode::kTimeout) << message.status().ToString();
  EXPECT_NE(message.status().message().find("deadline"), std::string::npos);
  EXPECT_LT(elapsed, milliseconds(2'500));
  EXPECT_FALSE(got.empty());  // bytes did arrive: it was the deadline, not a read timeout
  session.Close();
  server.Finish();  // the server's send fails once we close; that is expected here
}

// The deadline follows the injected clock: no waiting needed.
TEST(Pop3SessionTest, SessionDeadlineUsesInjectedClock) {
  ManualClock clock(1'000'000);
  ScriptedPop3Server server;
  OpenAndLogin(server).Expect("RETR 1").Reply("+OK").Send(std::string(200, 'y') + "\r\n.\r\n");
  Pop3Options options = LocalOptions(server.Start());
  options.clock = &clock;
  options.session_timeout = milliseconds(60'000);
  options.read_chunk_size = 16;
  Pop3Session session(options);
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  Result<Pop3Message> message = session.Retr(1, [&](std::string_view) {
    clock.Advance(61);
    return Status::Ok();
  });
  EXPECT_EQ(message.status().code(), StatusCode::kTimeout) << message.status().ToString();
  session.Close();
  server.Finish();
}

TEST(Pop3SessionTest, GarbageRepliesAreProtocolErrors) {
  {
    ScriptedPop3Server server;
    server.Reply("HTTP/1.1 400 Bad Request");
    Pop3Session session(LocalOptions(server.Start()));
    Status status = session.Connect();
    EXPECT_EQ(status.code(), StatusCode::kProtocol) << status.ToString();
    EXPECT_NE(status.message().find("HTTP/1.1 400"), std::string::npos);
    EXPECT_EQ(server.Finish(), "");
  }
  {
    ScriptedPop3Server server;
    OpenAndLogin(server).Expect("RETR 1").Send(std::string("\x16\x03\x01\x00\xa5garbage\r\n", 15));
    Pop3Session session(LocalOptions(server.Start()));
    ASSERT_TRUE(ConnectAndLogin(session).ok());
    std::string got;
    Result<Pop3Message> message = session.Retr(1, AppendTo(&got));
    EXPECT_EQ(message.status().code(), StatusCode::kProtocol) << message.status().ToString();
    EXPECT_NE(message.status().message().find("\\x16\\x03"), std::string::npos)
        << "control bytes must be escaped: " << message.status().message();
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(server.Finish(), "");
  }
  {
    ScriptedPop3Server server;
    OpenAndLogin(server).Expect("UIDL").Send("+OK\r\n1 has a space in it\r\n.\r\n");
    Pop3Session session(LocalOptions(server.Start()));
    ASSERT_TRUE(ConnectAndLogin(session).ok());
    EXPECT_EQ(session.Uidl().status().code(), StatusCode::kProtocol);
    EXPECT_EQ(server.Finish(), "");
  }
}

TEST(Pop3SessionTest, OverLongReplyLinesAreProtocolErrors) {
  {
    ScriptedPop3Server server;
    server.Reply("+OK " + std::string(100'000, 'g'));
    Pop3Options options = LocalOptions(server.Start());
    options.max_line_length = 1'000;
    Pop3Session session(options);
    Status status = session.Connect();
    EXPECT_EQ(status.code(), StatusCode::kProtocol) << status.ToString();
    EXPECT_NE(status.message().find("longer than 1000"), std::string::npos);
    server.Finish();  // the server may fail to send all of it once we close
  }
  {
    // An endless line with no LF at all in a LIST reply.
    ScriptedPop3Server server;
    OpenAndLogin(server).Expect("LIST").Send("+OK\r\n1 " + std::string(20'000, '9'));
    Pop3Options options = LocalOptions(server.Start());
    options.max_line_length = 512;
    Pop3Session session(options);
    ASSERT_TRUE(ConnectAndLogin(session).ok());
    EXPECT_EQ(session.List().status().code(), StatusCode::kProtocol);
    server.Finish();
  }
}

// Fault: a server that lies about sizes. The message is complete; the mismatch
// is reported for the caller to decide.
TEST(Pop3SessionTest, SizeLieIsReported) {
  ScriptedPop3Server server;
  OpenAndLogin(server)
      .Expect("RETR 1")
      .Reply("+OK 5000 octets")
      .Send("short\r\n.\r\n")
      .Expect("RETR 2")
      .Reply("+OK")
      .Send("exact\r\n.\r\n");
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  std::string got;
  Result<Pop3Message> lied = session.Retr(1, AppendTo(&got), 5000);
  ASSERT_TRUE(lied.ok()) << lied.status().ToString();
  EXPECT_TRUE(lied->size_mismatch);
  EXPECT_EQ(lied->canonical_bytes, 7u);
  EXPECT_EQ(*lied->expected_octets, 5000u);
  Result<Pop3Message> honest = session.Retr(2, AppendTo(&got), 7);
  ASSERT_TRUE(honest.ok());
  EXPECT_FALSE(honest->size_mismatch);
  session.Close();
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, CallbackErrorAbortsAndBreaksSession) {
  ScriptedPop3Server server;
  OpenAndLogin(server).Expect("RETR 1").Reply("+OK").Send("a\r\nb\r\n.\r\n");
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  Result<Pop3Message> message =
      session.Retr(1, [](std::string_view) { return Status::NoSpace("archive is full"); });
  EXPECT_EQ(message.status().code(), StatusCode::kNoSpace);
  EXPECT_TRUE(session.broken());
  EXPECT_EQ(server.Finish(), "");
}

// PIPELINING with a window of 3: three RETRs go out before any reply, never a
// fourth; each reply read lets one more command go. A -ERR in the middle is
// reported for that message and the batch goes on.
TEST(Pop3SessionTest, PipelinedRetrKeepsWindow) {
  ScriptedPop3Server server;
  OpenAndLogin(server, kCapaPipelining)
      .Expect("RETR 1")
      .Expect("RETR 2")
      .Expect("RETR 3")
      .ExpectSilence(milliseconds(200))
      .Send("+OK\r\none\r\n.\r\n")
      .Expect("RETR 4")
      .ExpectSilence(milliseconds(100))
      .Send("+OK\r\ntwo\r\n.\r\n-ERR no such message\r\n")
      .Expect("RETR 5")
      .Send("+OK\r\nfour\r\n.\r\n+OK\r\nfive\r\n.\r\n")
      .Expect("DELE 1")
      .Expect("DELE 2")
      .Expect("DELE 9")
      .Send("+OK\r\n+OK\r\n-ERR no such message\r\n")
      .Expect("QUIT")
      .Reply("+OK")
      .ExpectClientClose();
  Pop3Options options = LocalOptions(server.Start());
  options.pipeline_window = 3;
  Pop3Session session(options);
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  ASSERT_TRUE(session.capabilities().pipelining);
  std::vector<Pop3RetrRequest> requests;
  for (uint32_t n = 1; n <= 5; ++n) requests.push_back({n, std::nullopt});
  std::map<uint32_t, std::string> bodies;
  std::vector<std::pair<uint32_t, StatusCode>> done;
  Pop3RetrCallbacks callbacks;
  callbacks.on_chunk = [&](uint32_t n, std::string_view chunk) {
    bodies[n].append(chunk);
    return Status::Ok();
  };
  callbacks.on_done = [&](const Result<Pop3Message>& m, uint32_t n) {
    done.emplace_back(n, m.ok() ? StatusCode::kOk : m.status().code());
    return Status::Ok();
  };
  Status status = session.RetrMany(requests, callbacks);
  ASSERT_TRUE(status.ok()) << status.ToString();
  const std::vector<std::pair<uint32_t, StatusCode>> want = {{1, StatusCode::kOk},
                                                             {2, StatusCode::kOk},
                                                             {3, StatusCode::kNotFound},
                                                             {4, StatusCode::kOk},
                                                             {5, StatusCode::kOk}};
  EXPECT_EQ(done, want);
  EXPECT_EQ(bodies[1], "one\r\n");
  EXPECT_EQ(bodies[5], "five\r\n");
  EXPECT_EQ(bodies.count(3), 0u);
  const std::vector<uint32_t> dele = {1, 2, 9};
  Result<std::vector<Status>> deleted = session.DeleMany(dele);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(deleted->size(), 3u);
  EXPECT_TRUE((*deleted)[0].ok());
  EXPECT_TRUE((*deleted)[1].ok());
  EXPECT_EQ((*deleted)[2].code(), StatusCode::kNotFound);
  EXPECT_TRUE(session.Quit().ok());
  EXPECT_EQ(server.Finish(), "");
}

// Without PIPELINING the batch is strictly one command at a time.
TEST(Pop3SessionTest, RetrManyWithoutPipeliningWaitsForEachReply) {
  ScriptedPop3Server server;
  OpenAndLogin(server)
      .Expect("RETR 1")
      .ExpectSilence(milliseconds(150))
      .Send("+OK\r\none\r\n.\r\n")
      .Expect("RETR 2")
      .Send("+OK\r\ntw")
      .Close();
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  const std::vector<Pop3RetrRequest> requests = {{1, 5}, {2, std::nullopt}, {3, std::nullopt}};
  std::vector<std::pair<uint32_t, StatusCode>> done;
  Pop3RetrCallbacks callbacks;
  callbacks.on_chunk = [](uint32_t, std::string_view) { return Status::Ok(); };
  callbacks.on_done = [&](const Result<Pop3Message>& m, uint32_t n) {
    done.emplace_back(n, m.ok() ? StatusCode::kOk : m.status().code());
    if (m.ok()) {
      EXPECT_FALSE(m->size_mismatch);
    }
    return Status::Ok();
  };
  Status status = session.RetrMany(requests, callbacks);
  EXPECT_EQ(status.code(), StatusCode::kIoError) << status.ToString();
  // 1 complete, 2 cut (reported as an error, never as a message), 3 never reached.
  const std::vector<std::pair<uint32_t, StatusCode>> want = {{1, StatusCode::kOk},
                                                             {2, StatusCode::kIoError}};
  EXPECT_EQ(done, want);
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, StartTlsRequiredButNotOfferedIsRefusedBeforeCredentials) {
  ScriptedPop3Server server;
  Open(server).ExpectClientClose();
  Pop3Options options = LocalOptions(server.Start());
  options.tls = Pop3Tls::kStartTls;
  Pop3Session session(options);
  Status status = session.Connect();
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_NE(status.message().find("STLS"), std::string::npos);
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.received(), std::vector<std::string>{"CAPA"});
}

TEST(Pop3SessionTest, DataInjectedAfterStlsReplyIsRefused) {
  ScriptedPop3Server server;
  Open(server, "+OK\r\nSTLS\r\nUSER\r\n.\r\n")
      .Expect("STLS")
      .Send("+OK Begin TLS negotiation\r\n+OK injected\r\n")  // one write: one segment
      .ExpectClientClose();
  Pop3Options options = LocalOptions(server.Start());
  options.tls = Pop3Tls::kStartTls;
  Pop3Session session(options);
  Status status = session.Connect();
  EXPECT_EQ(status.code(), StatusCode::kProtocol) << status.ToString();
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, ConnectionRefusedIsUnavailable) {
  // A port that was free a moment ago and has no listener now.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  Pop3Session session(LocalOptions(ntohs(addr.sin_port)));
  Status status = session.Connect();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
}

TEST(Pop3SessionTest, HundredMegabyteMessageInBoundedMemory) {
  constexpr uint64_t kSize = 100ull << 20;
  ScriptedPop3Server server;
  OpenAndLogin(server).Expect("RETR 1").Reply("+OK").SendGeneratedMessage(kSize);
  Pop3Session session(LocalOptions(server.Start()));
  ASSERT_TRUE(ConnectAndLogin(session).ok());
  ASSERT_TRUE(testing::ResetPeakRss());
  const long before = testing::PeakRssKib();
  uint64_t seen = 0;
  Result<Pop3Message> message = session.Retr(
      1,
      [&](std::string_view chunk) {
        seen += chunk.size();
        return Status::Ok();
      },
      kSize);
  const long after = testing::PeakRssKib();
  ASSERT_TRUE(message.ok()) << message.status().ToString();
  EXPECT_EQ(seen, kSize);
  EXPECT_FALSE(message->size_mismatch);
  ASSERT_GT(before, 0);
  EXPECT_LT(after - before, 16 * 1024) << "peak RSS grew by " << (after - before) << " KiB";
  session.Close();
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3SessionTest, FingerprintNormalization) {
  const std::string hex = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";
  std::string colons;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i) colons += ':';
    colons += static_cast<char>(std::toupper(hex[i]));
    colons += static_cast<char>(std::toupper(hex[i + 1]));
  }
  for (const std::string& form : {hex, colons, "sha256:" + hex, "SHA256:" + colons}) {
    Result<std::string> normal = NormalizeFingerprint(form);
    ASSERT_TRUE(normal.ok()) << form;
    EXPECT_EQ(*normal, hex);
  }
  EXPECT_FALSE(NormalizeFingerprint(hex.substr(2)).ok());
  EXPECT_FALSE(NormalizeFingerprint(hex.substr(1) + "g").ok());
  EXPECT_EQ(ParseRespCode("[SYS/TEMP] later"), "SYS/TEMP");
  EXPECT_EQ(ParseRespCode("no code"), "");
  Pop3Tls tls;
  EXPECT_TRUE(ParsePop3Tls("starttls", &tls));
  EXPECT_EQ(tls, Pop3Tls::kStartTls);
  EXPECT_FALSE(ParsePop3Tls("ssl", &tls));
}

}  // namespace
}  // namespace mailvault
