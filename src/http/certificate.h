// What a client on this machine connects by so that the server's own TLS
// certificate verifies: `imgbatch up --tls-cert` starts its workers against
// itself, and a certificate made for a public name does not name 127.0.0.1.
#pragma once

#include <string>

#include "common/status.h"

namespace imgbatch::http {

// The name to connect to `address` (an IP, as workers reach the server) by,
// checked against the PEM certificate's names as a TLS client checks them:
// `address` itself when the certificate names it, else 127.0.0.1 when it
// names that, else its first DNS name (a wildcard "*.example.com" gives
// "imgbatch.example.com"), else its common name. kInvalidArgument when the
// file holds no certificate or it names nothing a client could connect by.
Result<std::string> LocalNameFor(const std::string& cert_file, const std::string& address);

}  // namespace imgbatch::http
