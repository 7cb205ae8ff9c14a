#include "http/certificate.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <vector>

namespace imgbatch::http {
namespace {

struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

Result<X509Ptr> ReadCertificate(const std::string& file) {
  std::unique_ptr<FILE, int (*)(FILE*)> in(std::fopen(file.c_str(), "r"), &std::fclose);
  if (!in) return InvalidArgument("cannot read the TLS certificate " + file);
  X509Ptr cert(PEM_read_X509(in.get(), nullptr, nullptr, nullptr));
  if (!cert) return InvalidArgument("no PEM certificate in " + file);
  return cert;
}

// The certificate's names in the order a local client should try them.
std::vector<std::string> CandidateNames(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = name->d.dNSName;
    std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                     static_cast<size_t>(ASN1_STRING_length(dns)));
    // A wildcard stands for one label: any will do.
    if (text.starts_with("*.")) text = "imgbatch" + text.substr(1);
    names.push_back(std::move(text));
  }
  GENERAL_NAMES_free(sans);
  char common_name[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, common_name,
                                sizeof common_name) > 0) {
    names.emplace_back(common_name);
  }
  return names;
}

}  // namespace

Result<std::string> LocalNameFor(const std::string& cert_file, const std::string& address) {
  IMGBATCH_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(cert_file));
  for (const std::string& ip : {address, std::string("127.0.0.1")}) {
    if (!ip.empty() && X509_check_ip_asc(cert.get(), ip.c_str(), 0) == 1) return ip;
  }
  for (const std::string& name : CandidateNames(cert.get())) {
    if (X509_check_host(cert.get(), name.data(), name.size(), 0, nullptr) == 1) return name;
  }
  return InvalidArgument("the TLS certificate " + cert_file +
                         " names neither 127.0.0.1 nor a host name a client could verify");
}

}  // namespace imgbatch::http
