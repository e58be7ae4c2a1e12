// SHA-256, streaming, and the hex form mailvault uses for message and segment ids.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mailvault {

using Digest = std::array<uint8_t, 32>;

// Incremental SHA-256 (OpenSSL underneath). Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // Returns the digest and resets the hasher for a new stream.
  Digest Finish();

  static Digest Of(std::string_view data);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Lowercase hex of any bytes.
std::string ToHex(std::string_view bytes);
std::string ToHex(const Digest& digest);
// Parses exactly 64 hex characters (either case). nullopt on anything else.
std::optional<Digest> DigestFromHex(std::string_view hex);
// True when `s` is a non-empty string of hex characters.
bool IsHex(std::string_view s);

inline std::string_view AsBytes(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace mailvault
