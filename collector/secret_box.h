// SecretBox: seals account passwords for storage in the catalog.
//
// AES-256-GCM (OpenSSL EVP) with a 256-bit key kept in a file of its own in the
// data directory (`secret.key`, mode 0600), created on first use. Each sealed
// secret has a fresh random 96-bit nonce and is bound to a context string (the
// account name) as additional authenticated data, so a sealed password copied
// to another account's row does not open. Sealed form:
//
//   sealed := "MVS1" nonce[12] ciphertext tag[16]
//
// Why a key file and not a passphrase: the appliance collects unattended; the
// catalog (and its backups) alone never reveal a password. Whoever can read the
// key file and the catalog can read the passwords: protect the data directory.
//
// Thread-safety: a SecretBox is immutable after Open(); Seal/Open are
// thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mailvault {

class SecretBox {
 public:
  // Loads `data_dir`/secret.key, creating it (0600, random) when it does not
  // exist; two processes creating it at once end up with the same key.
  // kPermissionDenied when the file is readable by group or others (refused,
  // not silently fixed); kCorruption when it is not 32 bytes.
  static Result<std::unique_ptr<SecretBox>> Open(const std::string& data_dir);

  // Encrypts `plain`, bound to `context`.
  Result<std::string> Seal(std::string_view plain, std::string_view context) const;
  // Decrypts what Seal wrote for the same `context`. kCorruption when the data
  // was changed, belongs to another context, or was sealed with another key.
  Result<std::string> Unseal(std::string_view sealed, std::string_view context) const;

  static std::string KeyPath(const std::string& data_dir) { return data_dir + "/secret.key"; }

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;  // 32 bytes
};

}  // namespace mailvault
