// The web UI's front end (HTML, CSS, JavaScript modules from webui/static/),
// built into the binary by cmake/EmbedFiles.cmake: the appliance serves it with
// no files on disk and no internet (no CDN, no remote fonts).
#pragma once

#include <cstddef>
#include <string_view>

namespace mailvault {

struct StaticAsset {
  std::string_view path;          // URL path, e.g. "/app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
  std::string_view etag;  // strong ETag, quoted
};

// Generated.
extern const StaticAsset kStaticAssets[];
extern const size_t kStaticAssetCount;

// The asset at `path` ("/" is "/index.html"); nullptr when there is none.
// Only exact paths of embedded files match: nothing reaches the filesystem.
const StaticAsset* FindStaticAsset(std::string_view path);

}  // namespace mailvault
