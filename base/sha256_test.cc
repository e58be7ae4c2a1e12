#include "base/sha256.h"

#include <gtest/gtest.h>

namespace mailvault {
namespace {

TEST(Sha256Test, KnownVectors) {
  // FIPS 180-2 examples.
  EXPECT_EQ(ToHex(Sha256::Of("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256::Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, StreamingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 10000; ++i) data += static_cast<char>(i * 7);
  Sha256 h;
  for (size_t i = 0; i < data.size(); i += 333) h.Update(std::string_view(data).substr(i, 333));
  EXPECT_EQ(h.Finish(), Sha256::Of(data));
  // Finish resets.
  h.Update("abc");
  EXPECT_EQ(h.Finish(), Sha256::Of("abc"));
}

TEST(Sha256Test, HexRoundTripAndRejects) {
  Digest d = Sha256::Of("x");
  auto back = DigestFromHex(ToHex(d));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, d);
  EXPECT_FALSE(DigestFromHex("abc").has_value());
  EXPECT_FALSE(DigestFromHex(std::string(64, 'g')).has_value());
  EXPECT_TRUE(IsHex("00ffAA"));
  EXPECT_FALSE(IsHex(""));
  EXPECT_FALSE(IsHex("0x12"));
}

}  // namespace
}  // namespace mailvault
