#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <filesystem>

namespace mailvault {

Status ErrnoToStatus(int err, std::string_view what) {
  std::string m = std::string(what) + ": " + std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return Status::NoSpace(std::move(m));
    case ENOENT:
      return Status::NotFound(std::move(m));
    case EACCES:
    case EPERM:
    case EROFS:
      return Status::PermissionDenied(std::move(m));
    default:
      return Status::IoError(std::move(m));
  }
}

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status ReadAt(int fd, uint64_t offset, size_t n, std::string* out) {
  out->resize(n);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out->data() + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      out->resize(done);
      return ErrnoToStatus(errno, "read");
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  out->resize(done);
  return Status::Ok();
}

namespace {

class PosixAppendFile final : public AppendFile {
 public:
  PosixAppendFile(std::string path, UniqueFd fd, uint64_t size)
      : path_(std::move(path)), fd_(std::move(fd)), size_(size) {}

  Status Append(std::string_view data) override {
    std::string_view rest = data;
    while (!rest.empty()) {
      ssize_t n = ::write(fd_.get(), rest.data(), rest.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "write " + path_);
      }
      rest.remove_prefix(static_cast<size_t>(n));
      size_ += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (::fdatasync(fd_.get()) != 0) return ErrnoToStatus(errno, "fdatasync " + path_);
    return Status::Ok();
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
      return ErrnoToStatus(errno, "truncate " + path_);
    }
    // O_APPEND writes go to the new end; keep our count in step.
    size_ = size;
    return Status::Ok();
  }

  uint64_t Size() const override { return size_; }

 private:
  std::string path_;
  UniqueFd fd_;
  uint64_t size_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path, bool create) override {
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0);
    UniqueFd fd(::open(path.c_str(), flags, 0640));
    if (!fd.valid()) return ErrnoToStatus(errno, "open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(errno, "stat " + path);
    return std::unique_ptr<AppendFile>(
        new PosixAppendFile(path, std::move(fd), static_cast<uint64_t>(st.st_size)));
  }

  Status SyncDir(const std::string& dir) override {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoToStatus(errno, "open directory " + dir);
    if (::fsync(fd.get()) != 0) return ErrnoToStatus(errno, "fsync directory " + dir);
    return Status::Ok();
  }
};

}  // namespace

FileSystem& FileSystem::Posix() {
  static PosixFileSystem fs;
  return fs;
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoToStatus(errno, "open " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(errno, "stat " + path);
  // Size the buffer from the file, not from the limit (callers pass generous limits).
  const size_t want = std::min<size_t>(max_bytes + 1, static_cast<size_t>(st.st_size) + 1);
  std::string out;
  MV_RETURN_IF_ERROR(ReadAt(fd.get(), 0, want, &out).WithContext(path));
  if (out.size() == want && want <= max_bytes) {
    // The file grew since fstat: read the rest up to the limit.
    std::string more;
    MV_RETURN_IF_ERROR(ReadAt(fd.get(), want, max_bytes + 1 - want, &more).WithContext(path));
    out += more;
  }
  if (out.size() > max_bytes) {
    return Status::InvalidArgument(path + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return out;
}

Status WriteFileAtomically(const std::string& path, std::string_view data, int mode) {
  std::string tmp = path + ".tmp";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd.valid()) return ErrnoToStatus(errno, "create " + tmp);
    if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return ErrnoToStatus(errno, "chmod " + tmp);
    Status s = WriteAll(fd.get(), data, "write " + tmp);
    if (s.ok() && ::fsync(fd.get()) != 0) s = ErrnoToStatus(errno, "fsync " + tmp);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = ErrnoToStatus(errno, "rename " + tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return FileSystem::Posix().SyncDir(dir.empty() ? "." : dir);
}

Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return ErrnoToStatus(ec.value(), "create directory " + path);
  return Status::Ok();
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

uint64_t FileSizeOrZero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  // remove_all does not follow symbolic links: it removes the link, not its target.
  std::filesystem::remove_all(path, ec);
  if (ec) return ErrnoToStatus(ec.value(), "remove " + path);
  return Status::Ok();
}

}  // namespace mailvault
