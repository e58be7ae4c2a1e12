#include "archive/segment_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace mailvault {
namespace {

std::string Text(size_t bytes) {
  std::string out;
  for (int line = 0; out.size() < bytes; ++line) {
    out += "line " + std::to_string(line) + ": the figures for unit " + std::to_string(line % 17) + "\r\n";
  }
  out.resize(bytes);
  return out;
}

TEST(SegmentCodecTest, DecompressPrefixStopsWhereAskedWithAndWithoutADictionary) {
  const std::string plain = Text(200000);
  std::vector<std::string> samples;
  for (int i = 0; i < 200; ++i) samples.push_back(Text(300 + i * 7));
  auto trained = TrainDictionary(samples, 1, 4096);
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  auto dict = Dictionary::Load(1, *trained, 3);
  ASSERT_TRUE(dict.ok());
  SegmentCodec codec;
  for (const Dictionary* d : {static_cast<const Dictionary*>(nullptr), dict->get()}) {
    std::string frame;
    ASSERT_TRUE(codec.Compress(plain, d, 3, &frame).ok());
    for (size_t prefix : {size_t{0}, size_t{1}, size_t{4095}, size_t{131072}, plain.size() - 1, plain.size(),
                          plain.size() + 10}) {
      std::string out;
      Status s = codec.DecompressPrefix(frame, d, plain.size(), prefix, &out);
      ASSERT_TRUE(s.ok()) << prefix << ": " << s.ToString();
      EXPECT_EQ(out, plain.substr(0, prefix)) << prefix;
    }
    // The codec is reusable after a partial read.
    std::string whole;
    ASSERT_TRUE(codec.Decompress(frame, d, plain.size(), &whole).ok());
    EXPECT_EQ(whole, plain);
  }
}

TEST(SegmentCodecTest, DecompressPrefixRefusesDamage) {
  const std::string plain = Text(100000);
  SegmentCodec codec;
  std::string frame, out;
  ASSERT_TRUE(codec.Compress(plain, nullptr, 3, &frame).ok());
  // A frame cut short ends before the prefix does.
  EXPECT_EQ(codec.DecompressPrefix(frame.substr(0, frame.size() / 2), nullptr, plain.size(), 90000, &out).code(),
            StatusCode::kCorruption);
  // A frame of another length.
  EXPECT_EQ(codec.DecompressPrefix(frame, nullptr, plain.size() + 1, 10, &out).code(), StatusCode::kCorruption);
  // Garbage.
  EXPECT_EQ(codec.DecompressPrefix(std::string(64, 'x'), nullptr, plain.size(), 10, &out).code(),
            StatusCode::kCorruption);
}

}  // namespace
}  // namespace mailvault
