// The parts of core/env.h that every Env shares: reading helpers, aligned buffers, path
// helpers and WriteFileAtomically. The operating system's Env is posix_env.cc or windows_env.cc.
#include "core/env.h"

#include <algorithm>
#include <new>

#include "core/platform.h"

namespace cardvault {

StatusOr<size_t> ReadFull(SequentialFile& file, std::span<uint8_t> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    CV_ASSIGN_OR_RETURN(size_t n, file.Read(buf.subspan(done)));
    if (n == 0) break;
    done += n;
  }
  return done;
}

void DirectIoDelete::operator()(uint8_t* p) const {
  ::operator delete[](p, std::align_val_t{kDirectIoAlignment});
}

DirectIoBuffer NewDirectIoBuffer(size_t size) {
  return DirectIoBuffer(
      static_cast<uint8_t*>(::operator new[](size, std::align_val_t{kDirectIoAlignment})));
}

StatusOr<ByteView> SequentialFile::ReadInPlace(size_t) {
  return UnsupportedError("this file cannot be read in place");
}

StatusOr<ByteView> ReadFullView(SequentialFile& file, std::span<uint8_t> scratch) {
  if (!file.ReadsInPlace()) {
    CV_ASSIGN_OR_RETURN(size_t n, ReadFull(file, scratch));
    return ByteView(scratch.first(n));
  }
  CV_ASSIGN_OR_RETURN(ByteView first, file.ReadInPlace(scratch.size()));
  if (first.size() == scratch.size() || first.empty()) return first;
  // Short (the bytes wrap around the file's buffer, or arrive in pieces): gathered.
  size_t done = 0;
  for (ByteView piece = first; !piece.empty();) {
    std::copy(piece.begin(), piece.end(), scratch.begin() + static_cast<ptrdiff_t>(done));
    done += piece.size();
    if (done == scratch.size()) break;
    CV_ASSIGN_OR_RETURN(piece, file.ReadInPlace(scratch.size() - done));
  }
  return ByteView(scratch.first(done));
}

StatusOr<std::vector<std::string>> PlainPathComponents(const std::string& rel) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t slash = rel.find('/', start);
    parts.push_back(rel.substr(start, slash == std::string::npos ? slash : slash - start));
    const std::string& p = parts.back();
    if (p.empty() || p == "." || p == "..") {
      return PermissionDeniedError("path leaves its directory or is malformed: " + rel,
                                   "unsafe_path");
    }
    if (slash == std::string::npos) return parts;
    start = slash + 1;
  }
}

std::string DirName(const std::string& path) {
  size_t slash = path.size();
  while (slash > 0 && !IsPathSeparator(path[slash - 1])) --slash;
  if (slash == 0) return ".";
  if (slash == 1) return path.substr(0, 1);  // "/" (or "\\" on Windows)
  // Windows: "C:\\x" is in the root "C:\\", not in "C:" (the drive's current directory).
  if (slash == 3 && path[1] == ':' && IsPathSeparator('\\') && IsPathSeparator(path[2])) {
    return path.substr(0, 3);
  }
  return path.substr(0, slash - 1);
}

StatusOr<Bytes> ReadFileToBytes(Env& env, const std::string& path) {
  CV_ASSIGN_OR_RETURN(auto file, env.NewSequentialFile(path));
  Bytes out;
  uint8_t buf[65536];
  while (true) {
    CV_ASSIGN_OR_RETURN(size_t n, file->Read(buf));
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

Status WriteFileAtomically(Env& env, const std::string& path, ByteView data, uint32_t mode) {
  std::string tmp = path + ".tmp-cardvault";
  {
    CV_ASSIGN_OR_RETURN(auto file, env.NewWritableFile(tmp, mode));
    Status s = file->Append(data);
    if (s.ok()) s = file->Sync();
    if (s.ok()) s = file->Close();
    if (!s.ok()) {
      env.RemoveFile(tmp).IgnoreError();
      return s;
    }
  }
  Status s = env.RenameFile(tmp, path);
  if (!s.ok()) {
    env.RemoveFile(tmp).IgnoreError();
    return s;
  }
  return env.SyncDir(DirName(path));
}

}  // namespace cardvault
