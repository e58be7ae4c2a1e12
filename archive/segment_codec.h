// zstd compression of segments, with dictionaries trained from the archive's own data.
#pragma once

#include <zstd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailvault {

// A trained zstd dictionary with its prepared compression and decompression
// forms. Immutable after construction; safe to share between threads.
class Dictionary {
 public:
  // Prepares `bytes` for compression at `level`. kCorruption when zstd refuses them.
  static Result<std::shared_ptr<const Dictionary>> Load(uint32_t id, std::string bytes, int level);
  ~Dictionary();
  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;

  uint32_t id() const { return id_; }
  const std::string& bytes() const { return bytes_; }
  const ZSTD_CDict* cdict() const { return cdict_; }
  const ZSTD_DDict* ddict() const { return ddict_; }

 private:
  Dictionary(uint32_t id, std::string bytes) : id_(id), bytes_(std::move(bytes)) {}
  uint32_t id_;
  std::string bytes_;
  ZSTD_CDict* cdict_ = nullptr;
  ZSTD_DDict* ddict_ = nullptr;
};

// The archive's dictionaries by id. Thread-safe.
class DictionarySet {
 public:
  void Add(std::shared_ptr<const Dictionary> dictionary);
  // nullptr when unknown.
  std::shared_ptr<const Dictionary> Get(uint32_t id) const;
  // The newest dictionary (highest id), nullptr when there is none.
  std::shared_ptr<const Dictionary> Newest() const;
  uint32_t NewestId() const;

 private:
  mutable std::mutex mutex_;
  std::map<uint32_t, std::shared_ptr<const Dictionary>> by_id_;
};

// Compresses and decompresses segment frames. Holds zstd contexts; not
// thread-safe: use one per thread.
class SegmentCodec {
 public:
  SegmentCodec();
  ~SegmentCodec();
  SegmentCodec(const SegmentCodec&) = delete;
  SegmentCodec& operator=(const SegmentCodec&) = delete;

  // One zstd frame of `plain`, with `dictionary` (its prepared level) or at `level`.
  Status Compress(std::string_view plain, const Dictionary* dictionary, int level, std::string* frame);
  // One zstd frame of `plain` that refers to `base` (near-duplicate content).
  Status CompressDelta(std::string_view plain, std::string_view base, int level, std::string* frame);
  Status DecompressDelta(std::string_view frame, std::string_view base, size_t raw_length,
                         std::string* plain);
  // Exactly `raw_length` bytes from `frame`, or kCorruption.
  Status Decompress(std::string_view frame, const Dictionary* dictionary, size_t raw_length,
                    std::string* plain);
  // The first `prefix_length` of the `raw_length` bytes in `frame` (all of them
  // when prefix_length >= raw_length), decompressing no further: a reader of one
  // segment in a block stops where its segment ends. kCorruption as Decompress,
  // and when the frame ends before the prefix does.
  Status DecompressPrefix(std::string_view frame, const Dictionary* dictionary, size_t raw_length,
                          size_t prefix_length, std::string* plain);

 private:
  ZSTD_CCtx* cctx_;
  ZSTD_DCtx* dctx_;
};

// Trains a dictionary of at most `capacity` bytes with id `id` from `samples`.
// kInvalidArgument when the samples are too few or too alike to train from.
Result<std::string> TrainDictionary(const std::vector<std::string>& samples, uint32_t id,
                                    size_t capacity);

}  // namespace mailvault
