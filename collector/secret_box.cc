#include "collector/secret_box.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/file.h"

namespace mailvault {
namespace {

constexpr std::string_view kMagic = "MVS1";
constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Status CreateKeyFile(const std::string& path) {
  std::string key(kKeySize, '\0');
  if (RAND_bytes(U(key), static_cast<int>(key.size())) != 1) {
    return Status::Internal("no random bytes for a new secret key");
  }
  // Write a private temporary file, then link() it into place: link fails with
  // EEXIST when another process won the race, and then its key is the key.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoToStatus(errno, "create " + tmp);
    Status s = WriteAll(fd.get(), key, "write " + tmp);
    if (s.ok() && ::fsync(fd.get()) != 0) s = ErrnoToStatus(errno, "fsync " + tmp);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
  }
  int rc = ::link(tmp.c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0 && err != EEXIST) return ErrnoToStatus(err, "create " + path);
  std::string dir = path.substr(0, path.rfind('/'));
  return FileSystem::Posix().SyncDir(dir.empty() ? "." : dir);
}

}  // namespace

Result<std::unique_ptr<SecretBox>> SecretBox::Open(const std::string& data_dir) {
  const std::string path = KeyPath(data_dir);
  if (!PathExists(path)) MV_RETURN_IF_ERROR(CreateKeyFile(path));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoToStatus(errno, "stat " + path);
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return Status::PermissionDenied(path + " may be read by others (mode " + mode +
                                    "); run chmod 600 on it");
  }
  MV_ASSIGN_OR_RETURN(std::string key, ReadSmallFile(path, 4096));
  if (key.size() != kKeySize) {
    return Status::Corruption(path + " holds " + std::to_string(key.size()) +
                              " bytes, not a 32-byte key");
  }
  return std::unique_ptr<SecretBox>(new SecretBox(std::move(key)));
}

Result<std::string> SecretBox::Seal(std::string_view plain, std::string_view context) const {
  std::string out(kMagic);
  std::string nonce(kNonceSize, '\0');
  if (RAND_bytes(U(nonce), static_cast<int>(nonce.size())) != 1) {
    return Status::Internal("no random bytes for a nonce");
  }
  out += nonce;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string cipher(plain.size() + 16, '\0');
  int len = 0, total = 0;
  bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U(key_), U(nonce)) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(context), static_cast<int>(context.size())) ==
          1 &&
      EVP_EncryptUpdate(ctx.get(), U(cipher), &len, U(plain), static_cast<int>(plain.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), U(cipher) + total, &len) == 1;
  total += len;
  std::string tag(kTagSize, '\0');
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag.data()) == 1;
  if (!ok) return Status::Internal("AES-256-GCM encryption failed");
  cipher.resize(static_cast<size_t>(total));
  out += cipher;
  out += tag;
  return out;
}

Result<std::string> SecretBox::Unseal(std::string_view sealed, std::string_view context) const {
  if (sealed.size() < kMagic.size() + kNonceSize + kTagSize ||
      sealed.substr(0, kMagic.size()) != kMagic) {
    return Status::Corruption("sealed secret has an unknown format");
  }
  std::string_view nonce = sealed.substr(kMagic.size(), kNonceSize);
  std::string_view cipher = sealed.substr(kMagic.size() + kNonceSize,
                                          sealed.size() - kMagic.size() - kNonceSize - kTagSize);
  std::string tag(sealed.substr(sealed.size() - kTagSize));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string plain(cipher.size() + 16, '\0');
  int len = 0, total = 0;
  bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U(key_), U(nonce)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(context), static_cast<int>(context.size())) ==
          1 &&
      EVP_DecryptUpdate(ctx.get(), U(plain), &len, U(cipher), static_cast<int>(cipher.size())) == 1;
  total = len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) == 1 &&
       EVP_DecryptFinal_ex(ctx.get(), U(plain) + total, &len) == 1;
  if (!ok) {
    return Status::Corruption(
        "sealed secret does not open with this data directory's key (changed, moved "
        "between accounts, or sealed with another secret.key)");
  }
  total += len;
  plain.resize(static_cast<size_t>(total));
  return plain;
}

}  // namespace mailvault
