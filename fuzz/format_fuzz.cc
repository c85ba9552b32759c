// libFuzzer target: any byte string given to the blob parser and decryptor must produce a
// Status, never a crash, hang or sanitizer report. Seeded with tests/vectors/*.cvb; the
// identity is the vectors' primary one, so mutations of valid blobs reach the payload code.
#include <cstddef>
#include <cstdint>

#include "core/decryptor.h"
#include "core/memory_file.h"
#include "core/x25519_recipient.h"

namespace {

// The private key of the "primary" identity in tests/vectors/vectors.txt.
constexpr char kIdentity[] =
    "CV-X25519-SECRET-268ae9a1a84d54612748953029e10f07b8a5f7eed5f08a675d34eac1133c157f";

class NullSink final : public cardvault::WritableFile {
 public:
  cardvault::Status Append(cardvault::ByteView) override { return cardvault::Status::Ok(); }
  cardvault::Status WriteAt(uint64_t, cardvault::ByteView) override {
    return cardvault::Status::Ok();
  }
  cardvault::Status Sync() override { return cardvault::Status::Ok(); }
  cardvault::Status Close() override { return cardvault::Status::Ok(); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cardvault::X25519Identity* identity =
      new cardvault::X25519Identity(cardvault::X25519Identity::Parse(kIdentity).value());
  cardvault::MemorySequentialFile src({data, size});
  auto decryptor = cardvault::OpenBlob(&src, *identity);
  if (!decryptor.ok()) return 0;
  NullSink sink;
  (*decryptor)->DecryptTo(sink).IgnoreError();
  return 0;
}
