// Pop3Session against a real Dovecot (tests/dovecot_server.h) on 127.0.0.1:
// TLS modes and certificate checks, authentication, byte-exact retrieval,
// deletion semantics, UIDL change, pipelining, and a 100 MB message in bounded
// memory. One Dovecot instance serves the whole suite; each test has its own user.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "base/file.h"
#include "base/log.h"
#include "base/sha256.h"
#include "collector/pop3_session.h"
#include "tests/dovecot_server.h"
#include "tests/scripted_pop3_server.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using std::chrono::milliseconds;
using testing::DovecotServer;
using testing::DovecotSuite;

class Pop3DovecotTest : public DovecotSuite {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(AddTestUser("u", password_));
  }

  Pop3Options Options(Pop3Tls tls) const {
    Pop3Options options;
    options.host = "127.0.0.1";
    options.tls = tls;
    options.port = tls == Pop3Tls::kPop3s ? server_->pop3s_port() : server_->pop3_port();
    options.fingerprint = server_->cert_fingerprint();
    options.connect_timeout = milliseconds(5'000);
    options.io_timeout = milliseconds(10'000);
    options.session_timeout = milliseconds(60'000);
    return options;
  }

  // Connects (STLS, pinned) and logs in as this test's user.
  std::unique_ptr<Pop3Session> Open(Pop3Tls tls = Pop3Tls::kStartTls) {
    auto session = std::make_unique<Pop3Session>(Options(tls));
    Status status = session->Connect();
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << server_->Log();
    if (!status.ok()) return nullptr;
    status = session->Login(user_, password_);
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << server_->Log();
    if (!status.ok()) return nullptr;
    return session;
  }

  const std::string password_ = "pw-Secret-42";
};


std::string Sample(int i) {
  // LF line ends as in a Maildir; a dot line, a "From " line, long and empty lines.
  return "From: sender" + std::to_string(i) + "@example.org\nTo: a@example.org\nSubject: sample " +
         std::to_string(i) + "\n\nbody of " + std::to_string(i) +
         "\n.\n..double\n.leading dot\nFrom here on\n" + std::string(100 + i * 37, 'x') +
         "\n\nlast line\n";
}

// Retrieves every message on the server with RetrMany; returns the bodies in
// canonical form, sorted, after checking sizes against LIST.
std::vector<std::string> RetrieveAll(Pop3Session& session) {
  Result<std::vector<Pop3ListEntry>> list = session.List();
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  if (!list.ok()) return {};
  std::vector<Pop3RetrRequest> requests;
  for (const Pop3ListEntry& entry : *list) requests.push_back({entry.number, entry.octets});
  std::map<uint32_t, std::string> bodies;
  std::vector<std::string> out;
  Pop3RetrCallbacks callbacks;
  callbacks.on_chunk = [&](uint32_t n, std::string_view chunk) {
    bodies[n].append(chunk);
    return Status::Ok();
  };
  callbacks.on_done = [&](const Result<Pop3Message>& message, uint32_t n) {
    EXPECT_TRUE(message.ok()) << message.status().ToString();
    if (message.ok()) {
      EXPECT_FALSE(message->size_mismatch) << "message " << n;
      out.push_back(bodies[n]);
    }
    return Status::Ok();
  };
  Status status = session.RetrMany(requests, callbacks);
  EXPECT_TRUE(status.ok()) << status.ToString();
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> CanonicalOnServer(DovecotServer& server, const std::string& user) {
  Result<std::vector<DovecotServer::StoredMessage>> stored = server.Messages(user);
  EXPECT_TRUE(stored.ok()) << stored.status().ToString();
  std::vector<std::string> out;
  if (stored.ok()) {
    for (const auto& m : *stored) out.push_back(testing::CanonicalizeForTest(m.data));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(Pop3DovecotTest, StartTlsPinnedRetrievesByteExactAndKeepsMail) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(server_->Deliver(user_, Sample(i)).ok());
  auto session = Open(Pop3Tls::kStartTls);
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(session->tls_active());
  EXPECT_EQ(session->peer_fingerprint(), server_->cert_fingerprint());
  EXPECT_TRUE(session->capabilities().uidl);
  EXPECT_TRUE(session->capabilities().pipelining);
  Result<Pop3Stat> stat = session->Stat();
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->count, 3u);
  Result<std::vector<Pop3UidlEntry>> uidl = session->Uidl();
  ASSERT_TRUE(uidl.ok()) << uidl.status().ToString();
  EXPECT_EQ(uidl->size(), 3u);
  EXPECT_EQ(RetrieveAll(*session), CanonicalOnServer(*server_, user_));
  // TOP n 0: the header block and the empty line.
  std::string top;
  Result<Pop3Message> head = session->Top(1, 0, [&](std::string_view chunk) {
    top.append(chunk);
    return Status::Ok();
  });
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_TRUE(top.ends_with("\r\n\r\n")) << top;
  EXPECT_NE(top.find("Subject: sample"), std::string::npos);
  EXPECT_TRUE(session->Quit().ok());
  // Retrieval changes nothing on the server.
  Result<size_t> count = server_->CountMessages(user_);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 3u);
}

TEST_F(Pop3DovecotTest, Pop3sWithPinnedFingerprintAndWithCaFile) {
  ASSERT_TRUE(server_->Deliver(user_, Sample(7)).ok());
  {
    auto session = Open(Pop3Tls::kPop3s);
    ASSERT_NE(session, nullptr);
    EXPECT_TRUE(session->tls_active());
    EXPECT_EQ(RetrieveAll(*session), CanonicalOnServer(*server_, user_));
    EXPECT_TRUE(session->Quit().ok());
  }
  for (Pop3Tls tls : {Pop3Tls::kPop3s, Pop3Tls::kStartTls}) {
    Pop3Options options = Options(tls);
    options.fingerprint.clear();
    options.ca_file = server_->ca_file();
    Pop3Session session(options);
    Status status = session.Connect();
    ASSERT_TRUE(status.ok()) << Pop3TlsName(tls) << ": " << status.ToString();
    ASSERT_TRUE(session.Login(user_, password_).ok());
    EXPECT_EQ(session.Stat()->count, 1u);
    EXPECT_TRUE(session.Quit().ok());
  }
}

TEST_F(Pop3DovecotTest, CertificateThatDoesNotVerifyIsRefused) {
  // A pinned fingerprint that is not the server's.
  const std::string wrong(64, 'a');
  for (Pop3Tls tls : {Pop3Tls::kPop3s, Pop3Tls::kStartTls}) {
    Pop3Options options = Options(tls);
    options.fingerprint = wrong;
    Pop3Session session(options);
    Status status = session.Connect();
    EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
    EXPECT_NE(status.message().find(wrong), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(server_->cert_fingerprint()), std::string::npos);
    EXPECT_FALSE(session.connected());
    EXPECT_EQ(session.Login(user_, password_).code(), StatusCode::kIoError);
  }
  // Another CA, and the system store: the self-signed certificate fails both.
  testing::TempDir other;
  testing::ProcessResult made = testing::RunProcess(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", other.path() + "/k.pem", "-out",
       other.path() + "/c.pem", "-days", "2", "-subj", "/CN=127.0.0.1"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  for (const std::string& ca : {other.path() + "/c.pem", std::string()}) {
    Pop3Options options = Options(Pop3Tls::kPop3s);
    options.fingerprint.clear();
    options.ca_file = ca;
    Pop3Session session(options);
    Status status = session.Connect();
    EXPECT_EQ(status.code(), StatusCode::kPermissionDenied)
        << (ca.empty() ? "system store" : "other CA") << ": " << status.ToString();
  }
}

TEST_F(Pop3DovecotTest, EveryAuthMethodAndWrongPassword) {
  for (Pop3AuthMethod method :
       {Pop3AuthMethod::kUserPass, Pop3AuthMethod::kAuthPlain, Pop3AuthMethod::kAuthLogin}) {
    Pop3Session session(Options(Pop3Tls::kStartTls));
    ASSERT_TRUE(session.Connect().ok());
    Status status = session.Login(user_, password_, method);
    EXPECT_TRUE(status.ok()) << static_cast<int>(method) << ": " << status.ToString();
    EXPECT_TRUE(session.Quit().ok());
  }
  Pop3Session session(Options(Pop3Tls::kStartTls));
  ASSERT_TRUE(session.Connect().ok());
  Status status = session.Login(user_, "not-the-password");
  EXPECT_EQ(status.code(), StatusCode::kAuthFailed) << status.ToString();
  EXPECT_EQ(status.message().find("not-the-password"), std::string::npos);
}

TEST_F(Pop3DovecotTest, DeleTakesEffectOnlyAtQuit) {
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    Result<std::string> name = server_->Deliver(user_, Sample(20 + i));
    ASSERT_TRUE(name.ok());
    names.push_back(*name);
  }
  const std::vector<uint32_t> first_two = {1, 2};
  {
    // DELE without QUIT: the server must keep everything.
    auto session = Open();
    ASSERT_NE(session, nullptr);
    Result<std::vector<Status>> marked = session->DeleMany(first_two);
    ASSERT_TRUE(marked.ok()) << marked.status().ToString();
    EXPECT_TRUE((*marked)[0].ok() && (*marked)[1].ok());
    session->Close();
  }
  // Dovecot processes the disconnect asynchronously; a fresh session sees the result.
  std::string kept_uid;
  {
    auto session = Open();
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->Stat()->count, 3u);
    kept_uid = session->Uidl(3)->uid;
    Result<std::vector<Status>> marked = session->DeleMany(first_two);
    ASSERT_TRUE(marked.ok());
    EXPECT_TRUE(session->Quit().ok());
  }
  Result<size_t> count = server_->CountMessages(user_);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1u);
  auto session = Open();
  ASSERT_NE(session, nullptr);
  Result<std::vector<Pop3UidlEntry>> uidl = session->Uidl();
  ASSERT_TRUE(uidl.ok());
  ASSERT_EQ(uidl->size(), 1u);
  EXPECT_EQ((*uidl)[0].uid, kept_uid);
  EXPECT_TRUE(session->Quit().ok());
}

TEST_F(Pop3DovecotTest, PipelinedBatchOfManyMessages) {
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(server_->Deliver(user_, Sample(100 + i)).ok());
  Pop3Options options = Options(Pop3Tls::kStartTls);
  options.pipeline_window = 4;
  Pop3Session session(options);
  ASSERT_TRUE(session.Connect().ok());
  ASSERT_TRUE(session.Login(user_, password_).ok());
  ASSERT_TRUE(session.capabilities().pipelining);
  EXPECT_EQ(RetrieveAll(session), CanonicalOnServer(*server_, user_));
  EXPECT_TRUE(session.Quit().ok());
}

TEST_F(Pop3DovecotTest, UidlChangesWhenDovecotLosesItsUidList) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(server_->Deliver(user_, Sample(40 + i)).ok());
  std::vector<std::string> before;
  {
    auto session = Open();
    ASSERT_NE(session, nullptr);
    Result<std::vector<Pop3UidlEntry>> uidl = session->Uidl();
    ASSERT_TRUE(uidl.ok());
    for (const auto& e : *uidl) before.push_back(e.uid);
    EXPECT_TRUE(session->Quit().ok());
  }
  Status wiped = server_->WipeUidList(user_);
  ASSERT_TRUE(wiped.ok()) << wiped.ToString();
  auto session = Open();
  ASSERT_NE(session, nullptr);
  Result<std::vector<Pop3UidlEntry>> after = session->Uidl();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 3u);
  for (const auto& e : *after) {
    EXPECT_EQ(std::find(before.begin(), before.end(), e.uid), before.end()) << e.uid;
  }
  // The content is unchanged: same bytes under new UIDLs.
  EXPECT_EQ(RetrieveAll(*session), CanonicalOnServer(*server_, user_));
  EXPECT_TRUE(session->Quit().ok());
}

TEST_F(Pop3DovecotTest, HundredMegabyteMessageInBoundedMemory) {
  constexpr uint64_t kSize = 100ull << 20;
  const std::string path = server_->dir() + "/big.mailvault-test";
  Digest expected{};
  ASSERT_TRUE(testing::WriteGeneratedMailFile(path, "Subject: big\r\n\r\n", kSize, &expected).ok());
  ASSERT_TRUE(server_->DeliverFile(user_, path).ok());
  auto session = Open();
  ASSERT_NE(session, nullptr);
  Result<Pop3ListEntry> listed = session->List(1);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->octets, kSize);
  ASSERT_TRUE(testing::ResetPeakRss());
  const long before = testing::PeakRssKib();
  Sha256 got_hash;
  Result<Pop3Message> message = session->Retr(
      1,
      [&](std::string_view chunk) {
        got_hash.Update(chunk);
        return Status::Ok();
      },
      listed->octets);
  const long after = testing::PeakRssKib();
  ASSERT_TRUE(message.ok()) << message.status().ToString();
  EXPECT_EQ(message->bytes, kSize);
  EXPECT_FALSE(message->size_mismatch);
  EXPECT_EQ(ToHex(got_hash.Finish()), ToHex(expected));
  ASSERT_GT(before, 0);
  EXPECT_LT(after - before, 16 * 1024) << "peak RSS grew by " << (after - before) << " KiB";
  EXPECT_TRUE(session->Quit().ok());
}

}  // namespace
}  // namespace mailvault
