// Helpers shared by the archive's tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "archive/archive.h"
#include "base/clock.h"
#include "tests/testing.h"

namespace mailvault {

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
