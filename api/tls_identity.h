// TLS helpers: self-signed development certificates and SHA-256 certificate fingerprints.
#ifndef CARDVAULT_API_TLS_IDENTITY_H_
#define CARDVAULT_API_TLS_IDENTITY_H_

#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/env.h"
#include "core/status_or.h"

namespace cardvault {

// Writes a new P-256 key (PEM, mode 0600) and a self-signed X.509 v3 certificate (PEM)
// valid for `days`, with subjectAltName DNS:`dns_names` and IP:`ip_addresses`. Both files
// are written atomically. Returns the certificate fingerprint (see below).
StatusOr<std::string> GenerateSelfSignedCertificate(Env& env, const std::string& cert_path,
                                                    const std::string& key_path,
                                                    const std::vector<std::string>& dns_names,
                                                    const std::vector<std::string>& ip_addresses,
                                                    int days = 365);

// SHA-256 of the DER encoding of the first certificate in a PEM file, as 64 lowercase hex
// characters: the value clients pin.
StatusOr<std::string> CertificateFingerprintFromPemFile(const std::string& cert_path);
// Same, for a DER-encoded certificate.
std::string CertificateFingerprintFromDer(ByteView der);

// Accepts "AB:CD:..." or "abcd..." (any case) and returns 64 lowercase hex characters;
// kInvalidArgument ("bad_fingerprint") for anything else.
StatusOr<std::string> NormalizeFingerprint(std::string_view text);

}  // namespace cardvault

#endif  // CARDVAULT_API_TLS_IDENTITY_H_
