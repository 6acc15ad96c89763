// Files written and read by mtl-torch (safetensors weights, checkpoints), with the rules that keep
// them safe:
//  - only a regular file is read (opened non-blocking, so a FIFO or a device never blocks or
//    streams forever, then checked with fstat on the opened descriptor, so the check and the read
//    are about the same file), and only a regular file, or nothing, is replaced: a symbolic link,
//    a device node, a FIFO or a folder at the path is refused, never overwritten;
//  - a write goes to a temporary file in the target's folder (".<name>.tmp-<pid>-<random>"), is
//    flushed to the disk (fsync), renamed over the target, and the folder is flushed, so the target
//    holds the old or the new content whatever happens, a power loss included;
//  - temporary files left by a process that died while writing are removed by the next write or
//    read of the same target.
// MTL_TORCH_NO_FSYNC=1 skips both fsyncs (faster writes; atomic against the process dying, not
// against the machine losing power).
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace mtl::io {

// A file-system failure (cannot open, read, write or replace); `missing` when the file does not exist.
struct IoError : std::runtime_error {
  IoError(const std::string& message, bool missing = false) : std::runtime_error(message), missing(missing) {}
  bool missing;
};

// An open regular file for reading, closed on destruction.
class RegularFile {
 public:
  // Refuses (IoError) a path that does not exist, is not a regular file (after following
  // symbolic links), or cannot be opened; `what` starts the messages ("cannot read '<path>'").
  explicit RegularFile(const std::string& path);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  uint64_t size() const { return size_; }
  // Reads exactly `count` bytes; IoError if the file ends first (it changed while being read).
  void read(void* destination, size_t count);

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Writes `path` atomically (see above) with the bytes `produce` passes to its writer.
using Writer = std::function<void(const char* data, size_t count)>;
void writeAtomically(const std::string& path, const std::function<void(const Writer&)>& produce);

// Removes the temporary files of `path` left by processes that no longer run.
void removeStaleTemporaries(const std::string& path);

// Whether fsync is skipped (MTL_TORCH_NO_FSYNC=1).
bool fsyncDisabled();

}  // namespace mtl::io
