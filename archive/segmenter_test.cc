#include "archive/segmenter.h"

#include <gtest/gtest.h>

#include <random>

#include "archive/canonical.h"

namespace mailvault {
namespace {

std::vector<std::string> Split(std::string_view message, SegmenterOptions options, size_t chunk) {
  std::vector<std::string> segments;
  MessageSegmenter s(options, [&](std::string_view seg) {
    segments.emplace_back(seg);
    return Status::Ok();
  });
  for (size_t i = 0; i < message.size(); i += chunk) {
    EXPECT_TRUE(s.Feed(message.substr(i, chunk)).ok());
  }
  EXPECT_TRUE(s.Finish().ok());
  return segments;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += p;
  return out;
}

std::string Attachment(size_t lines) {
  std::string out;
  for (size_t i = 0; i < lines; ++i) {
    out += "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx" +
           std::to_string(i % 10) + "\r\n";
  }
  return out;
}

std::string Multipart(const std::string& received, const std::string& boundary,
                      const std::string& text, const std::string& attachment) {
  return Canonicalize("Received: " + received + "\nSubject: report\nMIME-Version: 1.0\n" +
                      "Content-Type: multipart/mixed;\n boundary=\"" + boundary + "\"\n\n" +
                      "preamble\n--" + boundary + "\nContent-Type: text/plain\n\n" + text + "\n--" +
                      boundary + "\nContent-Type: application/pdf; name=\"a.pdf\"\n" +
                      "Content-Transfer-Encoding: base64\n\n") +
         attachment + Canonicalize("--" + boundary + "--\nepilogue\n");
}

TEST(SegmenterTest, ConcatenationIsAlwaysTheInput) {
  std::mt19937 rng(7);
  std::vector<std::string> messages = {
      Canonicalize("Subject: x\n\nbody\n"),
      Canonicalize("no header separator at all\n"),
      Multipart("by a", "XYZ", "hello", Attachment(200)),
      Canonicalize("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b\n--b--\n--b\n"),
      std::string(5000, '\n'),
      std::string(3 << 20, 'x'),  // one 3 MB line
  };
  SegmenterOptions small;
  small.max_segment_bytes = 1024;
  small.leaf_min_bytes = 100;
  for (const auto& m : messages) {
    for (size_t chunk : {1ul, 3ul, 17ul, 4096ul, 1ul << 20}) {
      if (chunk == 1 && m.size() > 100000) continue;
      EXPECT_EQ(Join(Split(m, SegmenterOptions{}, chunk)), m);
      EXPECT_EQ(Join(Split(m, small, chunk + rng() % 5)), m);
    }
  }
}

TEST(SegmenterTest, HeaderBlockIsItsOwnSegment) {
  std::string m = Canonicalize("Received: from a\nSubject: hi\n\nthe body\n");
  auto segs = Split(m, SegmenterOptions{}, 5);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0], Canonicalize("Received: from a\nSubject: hi\n\n"));
  EXPECT_EQ(segs[1], Canonicalize("the body\n"));
}

TEST(SegmenterTest, CopiesWithOtherHeadersShareTheirBody) {
  std::string body = Canonicalize(std::string(300, 'b') + "\n");
  auto a = Split(Canonicalize("Delivered-To: alice\n\n") + body, SegmenterOptions{}, 64);
  auto b = Split(Canonicalize("Delivered-To: bob\nX: y\n\n") + body, SegmenterOptions{}, 7);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_NE(a[0], b[0]);
  EXPECT_EQ(a[1], b[1]);
}

TEST(SegmenterTest, ForwardedAttachmentIsTheSameSegment) {
  std::string att = Attachment(400);  // ~30 KB
  auto a = Split(Multipart("by a", "AAA", "first mail", att), SegmenterOptions{}, 100);
  auto b = Split(Multipart("by b", "other-boundary-123", "forwarding this", att), SegmenterOptions{}, 9);
  auto has = [&](const std::vector<std::string>& segs) {
    return std::find(segs.begin(), segs.end(), att) != segs.end();
  };
  EXPECT_TRUE(has(a));
  EXPECT_TRUE(has(b));
}

TEST(SegmenterTest, SmallPartsStayWithTheirNeighbours) {
  std::string m = Multipart("by a", "AAA", "short", Attachment(3));
  auto segs = Split(m, SegmenterOptions{}, 50);
  EXPECT_EQ(segs.size(), 2u);  // header block + the rest
}

TEST(SegmenterTest, SegmentsAreBounded) {
  SegmenterOptions o;
  o.max_segment_bytes = 4096;
  std::string big = Multipart("x", "B", "t", Attachment(2000)) + std::string(100000, 'y') + "\r\n";
  for (const auto& seg : Split(big, o, 1000)) {
    EXPECT_LE(seg.size(), o.max_segment_bytes + o.max_segment_bytes / 16 + 200);
  }
}

TEST(SegmenterTest, ParsesContentType) {
  std::string type, boundary;
  ParseContentType(" Multipart/Mixed; charset=x; boundary=\"a b;c\" ", &type, &boundary);
  EXPECT_EQ(type, "multipart/mixed");
  EXPECT_EQ(boundary, "a b;c");
  ParseContentType("multipart/alternative;boundary=simple", &type, &boundary);
  EXPECT_EQ(boundary, "simple");
  ParseContentType("text/plain", &type, &boundary);
  EXPECT_EQ(type, "text/plain");
  EXPECT_TRUE(boundary.empty());
}

}  // namespace
}  // namespace mailvault
