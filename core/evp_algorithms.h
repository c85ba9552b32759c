// EVP algorithms fetched once per process: OpenSSL 3 otherwise fetches (locks, name lookups)
// on every EVP_*Init with the legacy EVP_aes_256_gcm()-style getters.
#ifndef CARDVAULT_CORE_EVP_ALGORITHMS_H_
#define CARDVAULT_CORE_EVP_ALGORITHMS_H_

#include <openssl/evp.h>

namespace cardvault {

// Each returns the algorithm from the default library context, fetched on first use
// (thread-safe) and kept for the life of the process; nullptr only if OpenSSL lacks it.
const EVP_CIPHER* Aes256GcmCipher();
const EVP_CIPHER* Aes256WrapCipher();
const EVP_MD* Sha256Md();
// An HMAC-SHA-256 context without a key, to be duplicated (EVP_MAC_CTX_dup) and keyed per
// use; MUST NOT be modified.
const EVP_MAC_CTX* HmacSha256Template();

}  // namespace cardvault

#endif  // CARDVAULT_CORE_EVP_ALGORITHMS_H_
