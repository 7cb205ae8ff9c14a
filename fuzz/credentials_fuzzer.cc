// Fuzzes the credential documents the worker reads from the network: the
// ECS/IMDS JSON and STS's AssumeRoleWithWebIdentity XML. Any input must give
// a clean Result, never a crash or a hang; a success always carries keys.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "client/credentials.h"

namespace {

void Check(const imgbatch::Result<imgbatch::client::TimedCredentials>& parsed) {
  if (!parsed.ok()) return;
  if (parsed->credentials.access_key_id.empty() || parsed->credentials.secret_access_key.empty()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Check(imgbatch::client::ParseCredentialsJson(text));
  Check(imgbatch::client::ParseAssumeRoleWithWebIdentityResponse(text));
  return 0;
}
