// Names of the key algorithms a card backend can create.
#include "core/card/card_backend.h"

namespace cardvault {

std::string CardKeyAlgorithmName(CardKeyAlgorithm algorithm) {
  switch (algorithm) {
    case CardKeyAlgorithm::kRsa2048:
      return "RSA-2048";
    case CardKeyAlgorithm::kRsa3072:
      return "RSA-3072";
    case CardKeyAlgorithm::kEcP256:
      return "P-256";
  }
  return "?";
}

}  // namespace cardvault
