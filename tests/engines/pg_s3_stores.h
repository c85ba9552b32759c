// PgS3Stores: the stores of a production server for one test, on the test binary's shared
// engines: a new PostgreSQL database (SharedPgCluster) and a new, empty bucket on the shared
// radosgw (SharedRgwCluster), as the config keys of `cardvault-server` and as a ByteStore the
// test reads the bucket through.
#ifndef CARDVAULT_TESTS_ENGINES_PG_S3_STORES_H_
#define CARDVAULT_TESTS_ENGINES_PG_S3_STORES_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status_or.h"
#include "storage/byte_store.h"
#include "tests/storage/rgw_cluster.h"

namespace cardvault {

class PgS3Stores {
 public:
  // kUnsupported with the message to skip with when PostgreSQL or radosgw cannot run.
  static StatusOr<PgS3Stores> New();

  // {"index": ..., "bytes": "s3", "s3": {...}}: merged into a server's config.json.
  nlohmann::json Config() const;
  // The bucket as the server's byte store sees it.
  StatusOr<std::unique_ptr<ByteStore>> OpenBytes() const;
  // Deletes the bucket and everything in it (radosgw-admin), as an operator's mistake would.
  Status DeleteBucket() const;

  const std::string& bucket() const { return bucket_; }
  const std::string& conninfo() const { return conninfo_; }

 private:
  RgwCluster* rgw_ = nullptr;
  std::string bucket_, conninfo_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_ENGINES_PG_S3_STORES_H_
