#include "archive/segment_codec.h"

#define ZDICT_STATIC_LINKING_ONLY
#include <zdict.h>

namespace mailvault {

Result<std::shared_ptr<const Dictionary>> Dictionary::Load(uint32_t id, std::string bytes, int level) {
  std::shared_ptr<Dictionary> d(new Dictionary(id, std::move(bytes)));
  d->cdict_ = ZSTD_createCDict(d->bytes_.data(), d->bytes_.size(), level);
  d->ddict_ = ZSTD_createDDict(d->bytes_.data(), d->bytes_.size());
  if (d->cdict_ == nullptr || d->ddict_ == nullptr) {
    return Status::Corruption("dictionary " + std::to_string(id) + " is not usable by zstd");
  }
  return std::shared_ptr<const Dictionary>(std::move(d));
}

Dictionary::~Dictionary() {
  ZSTD_freeCDict(cdict_);
  ZSTD_freeDDict(ddict_);
}

void DictionarySet::Add(std::shared_ptr<const Dictionary> dictionary) {
  std::lock_guard lock(mutex_);
  by_id_[dictionary->id()] = std::move(dictionary);
}

std::shared_ptr<const Dictionary> DictionarySet::Get(uint32_t id) const {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::shared_ptr<const Dictionary> DictionarySet::Newest() const {
  std::lock_guard lock(mutex_);
  return by_id_.empty() ? nullptr : by_id_.rbegin()->second;
}

uint32_t DictionarySet::NewestId() const {
  std::lock_guard lock(mutex_);
  return by_id_.empty() ? 0 : by_id_.rbegin()->first;
}

SegmentCodec::SegmentCodec() : cctx_(ZSTD_createCCtx()), dctx_(ZSTD_createDCtx()) {
  if (cctx_ == nullptr || dctx_ == nullptr) std::abort();  // out of memory at start
}

SegmentCodec::~SegmentCodec() {
  ZSTD_freeCCtx(cctx_);
  ZSTD_freeDCtx(dctx_);
}

Status SegmentCodec::Compress(std::string_view plain, const Dictionary* dictionary, int level,
                              std::string* frame) {
  frame->resize(ZSTD_compressBound(plain.size()));
  size_t n = dictionary != nullptr
                 ? ZSTD_compress_usingCDict(cctx_, frame->data(), frame->size(), plain.data(),
                                            plain.size(), dictionary->cdict())
                 : ZSTD_compressCCtx(cctx_, frame->data(), frame->size(), plain.data(), plain.size(),
                                     level);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd compress: ") + ZSTD_getErrorName(n));
  frame->resize(n);
  return Status::Ok();
}

Status SegmentCodec::Decompress(std::string_view frame, const Dictionary* dictionary,
                                size_t raw_length, std::string* plain) {
  unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR || declared != raw_length) {
    return Status::Corruption("zstd frame does not declare the segment's length");
  }
  plain->resize(raw_length);
  size_t n = dictionary != nullptr
                 ? ZSTD_decompress_usingDDict(dctx_, plain->data(), plain->size(), frame.data(),
                                              frame.size(), dictionary->ddict())
                 : ZSTD_decompressDCtx(dctx_, plain->data(), plain->size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != raw_length) return Status::Corruption("zstd frame decompressed to the wrong length");
  return Status::Ok();
}

Status SegmentCodec::DecompressPrefix(std::string_view frame, const Dictionary* dictionary,
                                      size_t raw_length, size_t prefix_length, std::string* plain) {
  if (prefix_length >= raw_length) return Decompress(frame, dictionary, raw_length, plain);
  unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR || declared != raw_length) {
    return Status::Corruption("zstd frame does not declare the segment's length");
  }
  ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_and_parameters);
  if (dictionary != nullptr) {
    size_t rc = ZSTD_DCtx_refDDict(dctx_, dictionary->ddict());
    if (ZSTD_isError(rc)) return Status::Corruption(std::string("zstd dictionary: ") + ZSTD_getErrorName(rc));
  }
  // Streaming into an output buffer of the prefix's size: zstd stops when it is full.
  plain->resize(prefix_length);
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  ZSTD_outBuffer out{plain->data(), plain->size(), 0};
  Status status;
  while (out.pos < out.size) {
    const size_t in_before = in.pos, out_before = out.pos;
    size_t n = ZSTD_decompressStream(dctx_, &out, &in);
    if (ZSTD_isError(n)) {
      status = Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
      break;
    }
    if (n == 0 || (in.pos == in_before && out.pos == out_before)) break;  // ended, or stuck on cut input
  }
  ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_and_parameters);
  if (status.ok() && out.pos != prefix_length) status = Status::Corruption("zstd frame ended before the prefix");
  return status;
}

Status SegmentCodec::CompressDelta(std::string_view plain, std::string_view base, int level,
                                   std::string* frame) {
  ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  size_t rc = ZSTD_CCtx_refPrefix(cctx_, base.data(), base.size());
  if (ZSTD_isError(rc)) return Status::Internal(std::string("zstd prefix: ") + ZSTD_getErrorName(rc));
  frame->resize(ZSTD_compressBound(plain.size()));
  size_t n = ZSTD_compress2(cctx_, frame->data(), frame->size(), plain.data(), plain.size());
  ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd compress: ") + ZSTD_getErrorName(n));
  frame->resize(n);
  return Status::Ok();
}

Status SegmentCodec::DecompressDelta(std::string_view frame, std::string_view base, size_t raw_length,
                                     std::string* plain) {
  unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR || declared != raw_length) {
    return Status::Corruption("zstd frame does not declare the segment's length");
  }
  ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_and_parameters);
  size_t rc = ZSTD_DCtx_refPrefix(dctx_, base.data(), base.size());
  if (ZSTD_isError(rc)) return Status::Corruption(std::string("zstd prefix: ") + ZSTD_getErrorName(rc));
  // The streaming call is the documented way to use a referenced prefix.
  plain->resize(raw_length);
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  ZSTD_outBuffer out{plain->data(), plain->size(), 0};
  size_t n = ZSTD_decompressStream(dctx_, &out, &in);
  ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != 0 || out.pos != raw_length || in.pos != in.size) {
    return Status::Corruption("zstd delta frame decompressed to the wrong length");
  }
  return Status::Ok();
}

Result<std::string> TrainDictionary(const std::vector<std::string>& samples, uint32_t id,
                                    size_t capacity) {
  std::string joined;
  std::vector<size_t> sizes;
  sizes.reserve(samples.size());
  for (const std::string& s : samples) {
    joined += s;
    sizes.push_back(s.size());
  }
  std::string dict(capacity, '\0');
  // Fixed parameters instead of ZDICT's parameter search: the search costs seconds
  // on the ingest path for a few percent of ratio.
  ZDICT_fastCover_params_t params{};
  params.k = 200;
  params.d = 8;
  params.f = 20;
  params.accel = 1;
  params.zParams.dictID = id;
  params.zParams.compressionLevel = 3;
  size_t n = ZDICT_trainFromBuffer_fastCover(dict.data(), dict.size(), joined.data(), sizes.data(),
                                             static_cast<unsigned>(sizes.size()), params);
  if (ZDICT_isError(n)) {
    return Status::InvalidArgument(std::string("dictionary training: ") + ZDICT_getErrorName(n));
  }
  dict.resize(n);
  return dict;
}

}  // namespace mailvault
