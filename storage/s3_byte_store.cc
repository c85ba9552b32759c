// Placeholder until the S3 byte store lands: the header fixes the interface.
#include "storage/s3_byte_store.h"

namespace cardvault {

Status LoadS3Credentials(Env&, const std::string&, S3ByteStoreOptions&) {
  return UnsupportedError("this build has no S3 byte store yet", "s3_unavailable");
}

StatusOr<std::unique_ptr<ByteStore>> NewS3ByteStore(S3ByteStoreOptions) {
  return UnsupportedError("this build has no S3 byte store yet", "s3_unavailable");
}

}  // namespace cardvault
