# Every dependency comes from Debian 12 packages (scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(zstd CONFIG REQUIRED)
find_package(Poco REQUIRED COMPONENTS Foundation Util Net NetSSL Crypto JSON)
pkg_check_modules(GMIME REQUIRED IMPORTED_TARGET gmime-3.0)
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)

# Xapian's CMake config only sets variables; wrap them in a target.
find_package(Xapian CONFIG REQUIRED)
add_library(mailvault_xapian INTERFACE)
target_include_directories(mailvault_xapian SYSTEM INTERFACE ${XAPIAN_INCLUDE_DIR})
target_link_libraries(mailvault_xapian INTERFACE ${XAPIAN_LIBRARIES})
add_library(Mailvault::Xapian ALIAS mailvault_xapian)

# The benchmarks too: the Dovecot harness they reuse includes GoogleTest.
if(MAILVAULT_BUILD_TESTS OR MAILVAULT_BUILD_BENCH)
  find_package(GTest CONFIG REQUIRED)
  include(GoogleTest)
endif()
