// The front end's files, built into the binary so the appliance needs no
// internet and no files on disk: a request path maps to bytes in the program,
// never to the file system.
#pragma once

#include <cstddef>
#include <string_view>

namespace mailvault {

struct StaticFile {
  const char* path;          // "/", "/index.html", "/assets/app.js", ...
  const char* content_type;
  const char* data;
  size_t size;
};

// The file served at `path`, or nullptr.
const StaticFile* FindStaticFile(std::string_view path);

}  // namespace mailvault
