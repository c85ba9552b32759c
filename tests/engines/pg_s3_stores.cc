// PgS3Stores implementation: the bucket is created with a signed PUT (S3Client) and
// deleted with radosgw-admin, which also removes its objects.
#include "tests/engines/pg_s3_stores.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>

#include "storage/s3_byte_store.h"
#include "storage/s3_client.h"
#include "tests/storage/pg_cluster.h"

namespace cardvault {
namespace {

S3ByteStoreOptions OptionsFor(const RgwCluster& rgw, const std::string& bucket) {
  S3ByteStoreOptions o;
  o.endpoint = rgw.endpoint();
  o.bucket = bucket;
  o.access_key_id = rgw.access_key();
  o.secret_access_key = SecretData::CopyFrom(rgw.secret_key());
  o.max_attempts = 2;
  return o;
}

}  // namespace

StatusOr<PgS3Stores> PgS3Stores::New() {
  PgS3Stores stores;
  std::string why_not;
  stores.rgw_ = SharedRgwCluster(&why_not);
  if (stores.rgw_ == nullptr) return UnsupportedError(why_not);
  CV_ASSIGN_OR_RETURN(stores.conninfo_, NewSharedDatabaseConnInfo());
  static std::atomic<int> buckets{0};
  stores.bucket_ = "cv-test-" + std::to_string(::getpid()) + "-" + std::to_string(++buckets);
  S3Client client(OptionsFor(*stores.rgw_, stores.bucket_));
  S3Request create{.method = "PUT"};
  create.what = "PUT of bucket " + stores.bucket_;
  CV_ASSIGN_OR_RETURN(S3Response created, client.Send(create));
  if (created.http_status != 200) return client.ErrorFor(create, created);
  return stores;
}

nlohmann::json PgS3Stores::Config() const {
  return {{"index", conninfo_},
          {"bytes", "s3"},
          {"s3",
           {{"endpoint", rgw_->endpoint()},
            {"bucket", bucket_},
            {"credentials_file", rgw_->credentials_file()}}}};
}

StatusOr<std::unique_ptr<ByteStore>> PgS3Stores::OpenBytes() const {
  return NewS3ByteStore(OptionsFor(*rgw_, bucket_));
}

Status PgS3Stores::DeleteBucket() const {
  const std::string cmd = "radosgw-admin -c " + rgw_->dir() +
                          "/ceph.conf bucket rm --bucket=" + bucket_ +
                          " --purge-objects >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return IoError("cannot delete bucket " + bucket_);
  return Status::Ok();
}

}  // namespace cardvault
