#include "core/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

namespace mtl::io {

namespace fs = std::filesystem;

namespace {

std::string reason() { return std::strerror(errno); }

std::string kindOf(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// ".<name>.tmp-" of a target: its temporaries are this prefix, the writer's pid, '-', random hex.
std::string temporaryPrefix(const fs::path& target) { return "." + target.filename().string() + ".tmp-"; }

fs::path folderOf(const fs::path& target) { return target.has_parent_path() ? target.parent_path() : fs::path("."); }

fs::path temporaryPathFor(const fs::path& target) {
  static std::atomic<uint64_t> counter{0};
  std::random_device entropy;
  const uint64_t tag = ((static_cast<uint64_t>(entropy()) << 32) | entropy()) ^ counter.fetch_add(1);
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, "%ld-%016llx", static_cast<long>(getpid()), static_cast<unsigned long long>(tag));
  return folderOf(target) / (temporaryPrefix(target) + suffix);
}

void fsyncFolder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // a folder that cannot be opened for reading: the rename stands, unflushed
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

bool fsyncDisabled() {
  static const bool disabled = [] {
    const char* value = std::getenv("MTL_TORCH_NO_FSYNC");
    return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
  }();
  return disabled;
}

RegularFile::RegularFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) {
    const bool missing = errno == ENOENT;
    throw IoError("cannot read '" + path + "': " + (missing ? std::string("no such file") : reason()), missing);
  }
  struct stat status {};
  if (::fstat(fd_, &status) != 0 || !S_ISREG(status.st_mode)) {
    const std::string kind = S_ISREG(status.st_mode) ? reason() : kindOf(status.st_mode);
    ::close(fd_);
    fd_ = -1;
    throw IoError("cannot read '" + path + "': not a regular file (" + kind + ")");
  }
  size_ = static_cast<uint64_t>(status.st_size);
  removeStaleTemporaries(path);
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

void RegularFile::read(void* destination, size_t count) {
  auto* out = static_cast<char*>(destination);
  while (count > 0) {
    const ssize_t got = ::read(fd_, out, count);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0) throw IoError("cannot read '" + path_ + "': " + reason());
    if (got == 0) throw IoError("'" + path_ + "' ended early while being read (was it changed meanwhile?)");
    out += got;
    count -= static_cast<size_t>(got);
  }
}

void removeStaleTemporaries(const std::string& path) {
  const fs::path target(path);
  if (target.filename().empty()) return;
  const std::string prefix = temporaryPrefix(target);
  DIR* folder = ::opendir(folderOf(target).c_str());
  if (folder == nullptr) return;
  while (const dirent* entry = ::readdir(folder)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    // "<pid>-<hex>": removed when no process has that pid (a writer that died part way).
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || end == nullptr || *end != '-') continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    const fs::path stale = folderOf(target) / name;
    struct stat status {};
    if (::lstat(stale.c_str(), &status) == 0 && S_ISREG(status.st_mode)) ::unlink(stale.c_str());
  }
  ::closedir(folder);
}

void writeAtomically(const std::string& path, const std::function<void(const Writer&)>& produce) {
  const fs::path target(path);
  if (target.filename().empty()) throw std::invalid_argument("the path '" + path + "' names a folder, not a file");
  struct stat status {};
  if (::lstat(path.c_str(), &status) == 0 && !S_ISREG(status.st_mode)) {
    throw IoError("cannot write '" + path + "': it is " + kindOf(status.st_mode) + ", and only a regular file is replaced");
  }
  removeStaleTemporaries(path);
  const fs::path temporary = temporaryPathFor(target);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    const bool missing = errno == ENOENT;
    throw IoError("cannot create '" + temporary.string() + "': " + reason(), missing);
  }
  bool open = true;
  try {
    produce([&](const char* data, size_t count) {
      while (count > 0) {
        const ssize_t wrote = ::write(fd, data, count);
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote < 0) throw IoError("cannot write '" + temporary.string() + "': " + reason());
        data += wrote;
        count -= static_cast<size_t>(wrote);
      }
    });
    if (!fsyncDisabled() && ::fsync(fd) != 0) throw IoError("cannot flush '" + temporary.string() + "' to the disk: " + reason());
    open = false;  // closed even when close() fails: the descriptor is never closed twice
    if (::close(fd) != 0) throw IoError("cannot write '" + temporary.string() + "': " + reason());
  } catch (...) {
    if (open) ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    const std::string why = reason();
    ::unlink(temporary.c_str());
    throw IoError("cannot replace '" + path + "': " + why);
  }
  if (!fsyncDisabled()) fsyncFolder(folderOf(target));
}

}  // namespace mtl::io
