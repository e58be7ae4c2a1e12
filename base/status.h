// Status and Result<T>: how errors cross component boundaries in mailvault.
//
// A Status is either OK or an error code with a message that says what failed,
// on what input, and (where useful) what to do. Exceptions from Poco, Xapian,
// SQLite or the standard library are caught where they enter our code and turned
// into a Status; no exception leaves a component's public API.
//
// Status and Result are values: cheap to move, safe to copy, not thread-safe to
// mutate concurrently (like any value).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mailvault {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller's input is wrong (bad flag, malformed query, ...)
  kNotFound,          // the thing asked for does not exist
  kAlreadyExists,     // a unique thing exists already
  kCorruption,        // stored data fails its checksum or does not parse
  kIoError,           // the operating system refused an I/O operation
  kNoSpace,           // the disk is full (ENOSPC, EDQUOT)
  kPermissionDenied,  // the OS or a role check said no
  kUnavailable,       // temporary: retry later (server busy, [IN-USE], [SYS/TEMP])
  kTimeout,           // a deadline passed
  kProtocol,          // a peer broke its protocol (garbage, over-long lines, lies)
  kAuthFailed,        // credentials were refused
  kUnsupported,       // a format version or feature we do not handle
  kCancelled,         // stopped on request (shutdown)
  kInternal,          // a bug: an invariant of our own code failed
};

// Human name of a code, e.g. "corruption".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status NoSpace(std::string m) { return {StatusCode::kNoSpace, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status Protocol(std::string m) { return {StatusCode::kProtocol, std::move(m)}; }
  static Status AuthFailed(std::string m) { return {StatusCode::kAuthFailed, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corruption: pack-000001.mvp offset 4096: record checksum mismatch"
  std::string ToString() const;

  // The same error with "context: " put before its message. OK stays OK.
  Status WithContext(std::string_view context) const;

  // Marks an error as deliberately not acted upon (best-effort clean-up paths).
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result built from a Status must hold an error");
    if (status_.ok()) status_ = Status::Internal("Result built from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;  // OK when value_ is set
};

}  // namespace mailvault

#define MV_CONCAT_INNER(a, b) a##b
#define MV_CONCAT(a, b) MV_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the calling function when it is an error.
#define MV_RETURN_IF_ERROR(expr)                   \
  do {                                             \
    ::mailvault::Status mv_status_ = (expr);       \
    if (!mv_status_.ok()) return mv_status_;       \
  } while (false)

// `lhs = value of expr`, or returns its Status from the calling function.
#define MV_ASSIGN_OR_RETURN(lhs, expr) \
  MV_ASSIGN_OR_RETURN_IMPL(MV_CONCAT(mv_result_, __LINE__), lhs, expr)
#define MV_ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                             \
  if (!result.ok()) return result.status();         \
  lhs = std::move(result).value()
