#include "webui/static_files.h"

namespace mailvault {
namespace {

// Until the front end lands (issue 6, pages), a page that says where the API is.
constexpr char kIndex[] = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mailvault</title></head>
<body><h1>mailvault</h1>
<p>The web pages are not built yet. The JSON API is served under <code>/api/</code>
(see doc/api.md).</p></body></html>
)html";

const StaticFile kFiles[] = {
    {"/", "text/html; charset=utf-8", kIndex, sizeof kIndex - 1},
    {"/index.html", "text/html; charset=utf-8", kIndex, sizeof kIndex - 1},
};

}  // namespace

const StaticFile* FindStaticFile(std::string_view path) {
  for (const StaticFile& f : kFiles) {
    if (path == f.path) return &f;
  }
  return nullptr;
}

}  // namespace mailvault
