#include "webui/password.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <vector>

namespace mailvault {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMaxPasswordBytes = 1024;

}  // namespace

Result<std::string> RandomBytes(size_t bytes) {
  std::string out(bytes, '\0');
  if (bytes > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                              static_cast<int>(bytes)) != 1) {
    return Status::Internal("the random number generator failed (RAND_bytes)");
  }
  return out;
}

Result<std::string> HashPassword(std::string_view password, const PasswordHashParams& params) {
  if (password.empty()) return Status::InvalidArgument("the password is empty");
  if (password.size() > kMaxPasswordBytes) {
    return Status::InvalidArgument("the password is longer than 1024 bytes");
  }
  MV_ASSIGN_OR_RETURN(std::string salt, RandomBytes(kSaltBytes));
  size_t length = argon2_encodedlen(params.time_cost, params.memory_kib, params.parallelism,
                                    kSaltBytes, kHashBytes, Argon2_id);
  std::vector<char> encoded(length);
  int rc = argon2id_hash_encoded(params.time_cost, params.memory_kib, params.parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(),
                                 kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return Status::Internal(std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  }
  return std::string(encoded.data());
}

bool VerifyPassword(std::string_view password, const std::string& encoded) {
  if (password.empty() || password.size() > kMaxPasswordBytes) return false;
  if (encoded.rfind("$argon2id$", 0) != 0) return false;
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

Result<std::string> GeneratePassword(size_t length) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out;
  while (out.size() < length) {
    MV_ASSIGN_OR_RETURN(std::string bytes, RandomBytes(length * 2));
    for (unsigned char b : bytes) {
      // Rejection sampling: only bytes below the largest multiple of the
      // alphabet size, so every character is equally likely.
      const unsigned limit = 256 - 256 % kAlphabet.size();
      if (b < limit && out.size() < length) out += kAlphabet[b % kAlphabet.size()];
    }
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mailvault
