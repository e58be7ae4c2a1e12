// Compresses the records of an ingest batch (blocks of small segments, and
// segments stored on their own) on a worker thread, so that zstd runs on
// another core while the batch goes on reading, canonicalising, hashing and
// segmenting the next messages.
//
// Each submitted record is compressed with its dictionary (or the one `newest`
// gives then) and handed to the write function, on the worker thread, in
// submission order. Memory is bounded:
// Submit() waits while `max_in_flight` records are queued or being compressed,
// so at most that many records' plain bytes (a block, or a segment of at most
// SegmenterOptions::max_segment_bytes) are held here.
//
// Durability is the caller's: Drain() before a commit, so that every record the
// commit's messages name is written.
//
// Thread-safety: Submit and Drain are called by one thread (the batch's);
// `newest` and `write` run on the worker and must do their own locking.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "archive/pack_format.h"
#include "archive/segment_codec.h"
#include "base/status.h"

namespace mailvault {

class BlockCompressor {
 public:
  struct Block {
    std::string plain;
    // The segments in `plain`, in order. A segment record (not a block) when
    // `single`: then exactly one entry.
    std::vector<BlockEntry> entries;
    bool single = false;
    std::shared_ptr<const Dictionary> dictionary;  // nullptr: compressed at `level`
    // Compress with the dictionary `newest` returns when the block's turn
    // comes (replacing `dictionary`).
    bool with_newest_dictionary = false;
  };
  using NewestFn = std::function<std::shared_ptr<const Dictionary>()>;
  using WriteFn = std::function<Status(const Block& block, std::string_view frame)>;

  BlockCompressor(int level, NewestFn newest, WriteFn write, size_t max_in_flight = 2);
  // Drops the blocks not yet started and waits for the one being compressed.
  ~BlockCompressor();
  BlockCompressor(const BlockCompressor&) = delete;
  BlockCompressor& operator=(const BlockCompressor&) = delete;

  // Queues `block`; waits first while max_in_flight blocks are in flight.
  void Submit(Block block);
  // Queues again the blocks whose compression or write failed, then waits until
  // every block is written or has failed. Returns the first failure since the
  // last Drain (OK when none); the blocks that failed are kept for the next Drain.
  Status Drain();

 private:
  void Work();

  const int level_;
  const NewestFn newest_;
  const WriteFn write_;
  const size_t max_in_flight_;
  std::thread worker_;  // started by the first Submit

  std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  std::deque<Block> queue_;
  std::vector<Block> failed_;
  size_t running_ = 0;
  bool stopping_ = false;
  Status failure_;
};

}  // namespace mailvault
