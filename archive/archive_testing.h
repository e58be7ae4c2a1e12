// Helpers shared by the archive's tests.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>

#include "archive/archive.h"
#include "base/clock.h"
#include "base/file.h"
#include "tests/testing.h"

namespace mailvault {

// Wraps the real file system; appends fail with ENOSPC once `budget` bytes are used.
class FullDiskFileSystem : public FileSystem {
 public:
  explicit FullDiskFileSystem(uint64_t budget) : budget_(budget) {}
  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path, bool create) override {
    MV_ASSIGN_OR_RETURN(auto inner, FileSystem::Posix().OpenAppend(path, create));
    return std::unique_ptr<AppendFile>(new File(std::move(inner), this));
  }
  Status SyncDir(const std::string& dir) override { return FileSystem::Posix().SyncDir(dir); }
  void set_budget(uint64_t b) { budget_ = b; }

 private:
  class File : public AppendFile {
   public:
    File(std::unique_ptr<AppendFile> inner, FullDiskFileSystem* fs) : inner_(std::move(inner)), fs_(fs) {}
    Status Append(std::string_view data) override {
      if (data.size() > fs_->budget_) {
        // Like a real full disk: part of the data lands, then ENOSPC.
        inner_->Append(data.substr(0, fs_->budget_)).IgnoreError();
        fs_->budget_ = 0;
        return ErrnoToStatus(ENOSPC, "write pack");
      }
      fs_->budget_ -= data.size();
      return inner_->Append(data);
    }
    Status Sync() override { return inner_->Sync(); }
    Status Truncate(uint64_t size) override { return inner_->Truncate(size); }
    uint64_t Size() const override { return inner_->Size(); }

   private:
    std::unique_ptr<AppendFile> inner_;
    FullDiskFileSystem* fs_;
  };
  std::atomic<uint64_t> budget_;
};

// The canonical bytes of message `id` into `out`, with ReadMessage's status.
inline Status ReadMessageBytes(Archive& a, const Digest& id, std::string* out) {
  out->clear();
  return a.ReadMessage(id, [&](std::string_view chunk) {
    out->append(chunk);
    return Status::Ok();
  });
}

// `verify` runs and finds nothing wrong (the first fault is shown otherwise).
inline void ExpectVerifiesClean(Archive& a) {
  VerifyReport report;
  ASSERT_TRUE(a.Verify(&report).ok());
  EXPECT_TRUE(report.ok()) << (report.faults.empty() ? std::string()
                                                     : report.faults.front().where + ": " +
                                                           report.faults.front().problem);
}

// An archive directory in a fresh temporary folder, written with a manual clock.
class ArchiveFixture : public ::testing::Test {
 protected:
  ArchiveOptions Options() {
    ArchiveOptions o;
    o.data_dir = dir_.path() + "/data";
    o.create = true;
    o.clock = &clock_;
    return o;
  }
  std::unique_ptr<Archive> OpenArchive(ArchiveOptions o) {
    auto a = Archive::Open(std::move(o));
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(a).value() : nullptr;
  }

  testing::TempDir dir_;
  ManualClock clock_{1700000000};
};

}  // namespace mailvault
