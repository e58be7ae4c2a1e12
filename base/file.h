// File handles and the file-system seam.
//
// UniqueFd owns a file descriptor. FileSystem is the one door through which the
// archive writes durable data (append, sync, truncate, directory sync), so that
// tests can inject failures such as ENOSPC or a failing fsync without luck.
// ErrnoToStatus is the only place where errno becomes a Status.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailvault {

// Maps an errno value to a Status: ENOSPC/EDQUOT -> kNoSpace, ENOENT -> kNotFound,
// EACCES/EPERM/EROFS -> kPermissionDenied, everything else -> kIoError.
// The message is "<what>: <strerror>".
Status ErrnoToStatus(int err, std::string_view what);

// Move-only owner of a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// An open file that is only appended to. Not thread-safe.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  // Appends all of `data` or fails; on failure the file may hold a prefix of it.
  virtual Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  // Cuts the file to `size` bytes (used to drop a partly written record).
  virtual Status Truncate(uint64_t size) = 0;
  virtual uint64_t Size() const = 0;
};

// The file-system operations the archive's durability depends on. Thread-safe.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens `path` for appending, creating it (mode 0640) when `create` is set.
  virtual Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path, bool create) = 0;
  // fsync of a directory, so that a file created in it survives a crash.
  virtual Status SyncDir(const std::string& dir) = 0;

  // The real file system.
  static FileSystem& Posix();
};

// Reads up to `n` bytes at `offset` into `out` (resized to what was read; short only at EOF).
Status ReadAt(int fd, uint64_t offset, size_t n, std::string* out);
// Writes all of `data` to `fd` (retrying on EINTR and short writes).
Status WriteAll(int fd, std::string_view data, std::string_view what);
// Whole small file into memory. REQUIRES: the caller knows the file is small.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);
// Writes `data` to `path` atomically: temporary file, fsync, rename, directory fsync.
Status WriteFileAtomically(const std::string& path, std::string_view data, int mode);
// Creates a directory and its parents (mode 0750). OK when it exists.
Status MakeDirs(const std::string& path);
bool PathExists(const std::string& path);
bool IsDirectory(const std::string& path);
// Size of the file at `path`, or 0 when it cannot be stat'ed.
uint64_t FileSizeOrZero(const std::string& path);
// Removes `path` and, for a directory, everything in it. OK when it does not exist.
Status RemoveTree(const std::string& path);

}  // namespace mailvault
