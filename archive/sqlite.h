// A thin RAII layer over the SQLite C API. SQLite errors become Status values
// naming the statement. Database and Statement are not thread-safe: each is used
// by one thread at a time (the Catalog serialises access).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mailvault {

class SqliteDatabase;

// A prepared statement. Bind parameters are 1-based; columns 0-based.
class SqliteStatement {
 public:
  SqliteStatement() = default;
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, std::string_view text);   // TEXT
  SqliteStatement& BindBlob(int index, std::string_view blob);

  // Runs one step: true when a row is ready, false when done.
  Result<bool> Step();
  // Runs to completion, ignoring rows.
  Status Run();
  // Resets for reuse and clears bindings.
  void Reset();

  int64_t ColumnInt(int column) const;
  std::string_view ColumnText(int column) const;
  std::string_view ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class SqliteDatabase;
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDatabase {
 public:
  // Opens (creating when `create`) the database at `path`.
  static Result<SqliteDatabase> Open(const std::string& path, bool create);
  SqliteDatabase() = default;
  ~SqliteDatabase();
  SqliteDatabase(SqliteDatabase&& other) noexcept;
  SqliteDatabase& operator=(SqliteDatabase&& other) noexcept;
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Runs one or more statements that return no rows.
  Status Exec(std::string_view sql);
  Result<SqliteStatement> Prepare(std::string_view sql);
  // Value of the first column of the first row of `sql`, or `fallback` when no row.
  Result<int64_t> QueryInt(std::string_view sql, int64_t fallback = 0);
  int64_t Changes() const;
  sqlite3* handle() const { return db_; }

 private:
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// Turns an SQLite result code into a Status ("<what>: <sqlite message>").
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

}  // namespace mailvault
