// Password hashing for web UI users: argon2id (Debian's libargon2) with a
// random 128-bit salt per password, kept in argon2's encoded string form
// ("$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>"), which carries its own
// parameters so they can be raised later without breaking stored hashes.
//
// Also the randomness the web UI needs: session tokens, CSRF tokens and
// generated passwords all come from OpenSSL's CSPRNG (RAND_bytes).
//
// Thread-safety: every function is reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mailvault {

struct PasswordHashParams {
  uint32_t time_cost = 3;          // passes
  uint32_t memory_kib = 64 * 1024;  // 64 MiB: slow for an attacker's GPU, fine for a login
  uint32_t parallelism = 1;
};

// Refuses empty passwords and passwords over 1024 bytes (kInvalidArgument).
Result<std::string> HashPassword(std::string_view password, const PasswordHashParams& params = {});

// True when `password` matches `encoded` (argon2's own constant-time compare).
// False for a malformed `encoded` too: a broken hash never lets anyone in.
bool VerifyPassword(std::string_view password, const std::string& encoded);

// `bytes` random bytes from the CSPRNG. kInternal if it fails (it does not on Linux).
Result<std::string> RandomBytes(size_t bytes);

// A password of `length` characters from an alphabet without look-alikes
// (no 0/O, 1/l/I), for the first admin and for resets. 20 characters ≈ 112 bits.
Result<std::string> GeneratePassword(size_t length = 20);

// Constant-time comparison of two strings of equal length (false otherwise);
// for CSRF tokens and hashes, so timing does not reveal a matching prefix.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace mailvault
