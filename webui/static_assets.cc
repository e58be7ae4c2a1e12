#include "webui/static_assets.h"

namespace mailvault {

const StaticAsset* FindStaticAsset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (size_t i = 0; i < kStaticAssetCount; ++i) {
    if (kStaticAssets[i].path == path) return &kStaticAssets[i];
  }
  return nullptr;
}

}  // namespace mailvault
