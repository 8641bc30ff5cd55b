// gguf::File: opening (mmap), split models and merging the parts into one view.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/gguf/gguf_internal.h"

namespace nnb::gguf {

// One file's bytes: a read-only private mapping (open) or a caller-owned buffer (parse).
struct File::Mapping {
  const uint8_t* data = nullptr;
  size_t size = 0;
  void* mapped = nullptr;  // non-null when we own an mmap

  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (mapped) munmap(mapped, size);
  }
};

namespace {

// A read-only private mapping of a whole file (addr null for an empty file).
struct Region {
  void* addr = nullptr;
  size_t size = 0;
};
Region map_region(const std::string& p);

// "<prefix>-00001-of-00003.gguf" -> {prefix, 1, 3}; nullopt for any other name.
struct SplitName {
  std::string prefix;
  int no = 0, count = 0;
};
std::optional<SplitName> parse_split_name(const std::string& p) {
  // "-NNNNN-of-NNNNN.gguf" is 20 characters.
  constexpr size_t kTail = 20;
  if (p.size() <= kTail) return std::nullopt;
  const std::string tail = p.substr(p.size() - kTail);
  auto digits = [&](size_t at) {
    int v = 0;
    for (size_t i = at; i < at + 5; ++i) {
      if (tail[i] < '0' || tail[i] > '9') return -1;
      v = v * 10 + (tail[i] - '0');
    }
    return v;
  };
  if (tail[0] != '-' || tail.compare(6, 4, "-of-") != 0 || tail.compare(15, 5, ".gguf") != 0) return std::nullopt;
  const int no = digits(1), count = digits(10);
  if (no < 1 || count < 1) return std::nullopt;
  return SplitName{p.substr(0, p.size() - kTail), no, count};
}

std::string split_path(const std::string& prefix, int no, int count) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%05d-of-%05d.gguf", no, count);
  return prefix + buf;
}

// A split key read as an integer, or nullopt when absent (error when it has another type).
std::optional<int64_t> split_key(const detail::ParsedPart& part, std::string_view key, std::string_view what) {
  const Value* v = detail::find_kv(part.kv, key);
  if (!v) return std::nullopt;
  auto i = v->as_i64();
  if (!i) throw Error(std::string(what) + ": " + std::string(key) + " has type " +
                      std::string(value_type_name(v->type())) + ", expected an integer");
  return i;
}

}  // namespace

File::~File() = default;

int File::n_splits() const { return int(maps_.size()); }

uint64_t File::total_bytes() const {
  uint64_t n = 0;
  for (const auto& m : maps_) n += m->size;
  return n;
}

void File::parse_part(const uint8_t* data, size_t size, std::string_view what, int split, bool first) {
  detail::ParsedPart part = detail::parse_bytes(data, size, what);
  const std::string w(what);
  if (first) {
    version_ = part.version;
    alignment_ = part.alignment;
    kv_ = std::move(part.kv);
    for (size_t i = 0; i < kv_.size(); ++i) kv_index_.emplace(kv_[i].first, i);
  } else {
    // Later parts must say which part they are and agree on the count with the first.
    const auto no = split_key(part, "split.no", what);
    const auto count = split_key(part, "split.count", what);
    if (!no || !count) throw Error(w + ": part of a split model lacks split.no / split.count");
    if (*no != split) throw Error(w + ": split.no is " + std::to_string(*no) + ", expected " + std::to_string(split));
    if (auto c0 = get_int("split.count"); c0 && *count != *c0)
      throw Error(w + ": split.count is " + std::to_string(*count) + " but the first part says " + std::to_string(*c0));
  }
  for (TensorInfo& t : part.tensors) {
    t.split = split;
    if (!tensor_index_.emplace(t.name, tensors_.size()).second)
      throw Error(w + ": tensor '" + t.name + "' also appears in an earlier part of the split model");
    tensors_.push_back(std::move(t));
  }
}

std::unique_ptr<File> File::parse(const uint8_t* data, size_t size, std::string_view what) {
  std::unique_ptr<File> f(new File());
  auto m = std::make_unique<Mapping>();
  m->data = data;
  m->size = size;
  f->maps_.push_back(std::move(m));
  f->parse_part(data, size, what, 0, true);
  return f;
}

std::unique_ptr<File> File::open(const std::filesystem::path& path) {
  std::unique_ptr<File> f(new File());
  const std::string p = path.string();
  auto map_file = [](const std::string& file) {
    const Region r = map_region(file);
    auto m = std::make_unique<Mapping>();
    m->mapped = r.addr;
    m->size = r.size;
    m->data = static_cast<const uint8_t*>(r.addr);
    return m;
  };
  const auto sn = parse_split_name(p);
  if (sn && sn->no != 1)
    throw Error(p + ": is part " + std::to_string(sn->no) + " of a split model; open the first part, " +
                split_path(sn->prefix, 1, sn->count));
  const int count = sn ? sn->count : 1;

  f->maps_.push_back(map_file(p));
  f->parse_part(f->maps_[0]->data, f->maps_[0]->size, p, 0, true);

  // The first part decides: its split keys must match the file name.
  const auto meta_count = f->get_int("split.count");
  if (count == 1 && meta_count && *meta_count > 1)
    throw Error(p + ": split.count is " + std::to_string(*meta_count) +
                " but the file name does not end in -00001-of-NNNNN.gguf, so the other parts cannot be found");
  if (count > 1) {
    if (!meta_count) throw Error(p + ": split model part lacks split.count");
    if (*meta_count != count)
      throw Error(p + ": split.count is " + std::to_string(*meta_count) + " but the file name says " +
                  std::to_string(count) + " parts");
    const auto no = f->get_int("split.no");
    if (no && *no != 0) throw Error(p + ": split.no is " + std::to_string(*no) + ", expected 0 for the first part");
  }
  for (int i = 1; i < count; ++i) {
    const std::string pi = split_path(sn->prefix, i + 1, count);
    std::error_code ec;
    if (!std::filesystem::exists(pi, ec))
      throw Error(p + ": split model part " + std::to_string(i + 1) + " of " + std::to_string(count) + " is missing: " + pi);
    f->maps_.push_back(map_file(pi));
    f->parse_part(f->maps_.back()->data, f->maps_.back()->size, pi, i, false);
  }
  if (count > 1) {
    const auto expected = f->get_int("split.tensors.count");
    if (!expected) throw Error(p + ": split model lacks split.tensors.count");
    if (uint64_t(*expected) != f->tensors_.size())
      throw Error(p + ": split.tensors.count is " + std::to_string(*expected) + " but the " + std::to_string(count) +
                  " parts hold " + std::to_string(f->tensors_.size()) + " tensors");
  }
  return f;
}

namespace {

Region map_region(const std::string& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(p + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw Error(p + ": cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(p + ": not a regular file");
  }
  Region r;
  r.size = size_t(st.st_size);
  if (r.size > 0) {  // mmap of 0 bytes fails; an empty file is refused by the parser instead
    void* addr = mmap(nullptr, r.size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw Error(p + ": cannot mmap: " + std::strerror(e));
    }
    r.addr = addr;
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  return r;
}

}  // namespace
}  // namespace nnb::gguf
