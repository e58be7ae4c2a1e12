// RAII owners for GMime and GLib handles, and GMime's one-time initialisation.
//
// GObjectPtr<T> owns one reference to a GObject (g_object_unref on destruction);
// GCharPtr owns a g_malloc'ed string (g_free). ParserOptionsPtr owns a
// GMimeParserOptions (g_mime_parser_options_free). All are move-only values; the
// objects they hold are not shared between threads by mailvault.
#pragma once

#include <gmime/gmime.h>

#include <memory>

namespace mailvault {

struct GObjectUnref {
  void operator()(void* p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
template <typename T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GFreeDeleter {
  void operator()(void* p) const { g_free(p); }
};
using GCharPtr = std::unique_ptr<char, GFreeDeleter>;

struct ParserOptionsDeleter {
  void operator()(GMimeParserOptions* p) const {
    if (p != nullptr) g_mime_parser_options_free(p);
  }
};
using ParserOptionsPtr = std::unique_ptr<GMimeParserOptions, ParserOptionsDeleter>;

struct ReferencesDeleter {
  void operator()(GMimeReferences* p) const {
    if (p != nullptr) g_mime_references_free(p);
  }
};
using ReferencesPtr = std::unique_ptr<GMimeReferences, ReferencesDeleter>;

// A stream of `part`'s content with its transfer encoding (base64,
// quoted-printable, uuencode) undone, positioned at the start; null when the
// part has no content.
GObjectPtr<GMimeStream> DecodedContentStream(GMimePart* part);

// Calls g_mime_init() exactly once per process (thread-safe); GMime is never shut
// down, so objects may live until exit.
void EnsureGMimeInitialized();

}  // namespace mailvault
