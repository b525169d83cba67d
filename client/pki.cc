#include "client/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/address.h"
#include "rpc/transport.h"

namespace gpool {
namespace {

struct Free {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(X509* certificate) const { X509_free(certificate); }
  void operator()(BIO* bio) const { BIO_free(bio); }
  void operator()(BIGNUM* number) const { BN_free(number); }
  void operator()(X509_EXTENSION* extension) const { X509_EXTENSION_free(extension); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat("cannot ", what, " (OpenSSL)"));
}

bool IsIpAddress(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

std::string ToPem(EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                 nullptr) != 1) {
    return "";
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string ToPem(X509* certificate) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), certificate) != 1) return "";
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

Owned<BIO> ReadBio(const std::string& pem) {
  return Owned<BIO>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Adds extension `nid` with OpenSSL's config syntax (`value`), issued by `issuer`.
bool AddExtension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  return extension != nullptr && X509_add_ext(certificate, extension.get(), -1) == 1;
}

// A certificate of `key` for subject `common_name`, without extensions or signature.
absl::StatusOr<Owned<X509>> NewCertificate(EVP_PKEY* key, const std::string& common_name,
                                           absl::Time not_before, absl::Time not_after) {
  Owned<X509> certificate(X509_new());
  Owned<BIGNUM> serial(BN_new());
  if (certificate == nullptr || serial == nullptr || X509_set_version(certificate.get(), 2) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get())) == nullptr ||
      ASN1_TIME_set(X509_getm_notBefore(certificate.get()), absl::ToTimeT(not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(certificate.get()), absl::ToTimeT(not_after)) ==
          nullptr ||
      X509_set_pubkey(certificate.get(), key) != 1) {
    return OpenSslError("create a certificate");
  }
  X509_NAME* name = X509_get_subject_name(certificate.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("gpool"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return OpenSslError("name a certificate");
  }
  return certificate;
}

Owned<EVP_PKEY> NewKey() { return Owned<EVP_PKEY>(EVP_EC_gen("P-256")); }

// Creates `path` with `contents` and `mode`; fails if it exists.
absl::Status WriteNewFile(const std::string& path, const std::string& contents, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  // The umask may have taken bits away; a key must be exactly 0600 whatever it is.
  bool ok = fchmod(fd, mode) == 0;
  size_t written = 0;
  while (ok && written < contents.size()) {
    const ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<size_t>(n);
  }
  ok = fsync(fd) == 0 && ok;
  close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KeyAndCertificate> CreateCertificateAuthority(const std::string& name,
                                                             absl::Time not_before,
                                                             absl::Time not_after) {
  Owned<EVP_PKEY> key = NewKey();
  if (key == nullptr) return OpenSslError("generate a key");
  absl::StatusOr<Owned<X509>> certificate = NewCertificate(key.get(), name, not_before, not_after);
  if (!certificate.ok()) return certificate.status();
  X509* ca = certificate->get();
  if (X509_set_issuer_name(ca, X509_get_subject_name(ca)) != 1 ||
      !AddExtension(ca, ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(ca, ca, NID_subject_key_identifier, "hash") ||
      X509_sign(ca, key.get(), EVP_sha256()) == 0) {
    return OpenSslError("sign the CA certificate");
  }
  return KeyAndCertificate{ToPem(key.get()), ToPem(ca)};
}

absl::StatusOr<KeyAndCertificate> IssueCertificate(const KeyAndCertificate& ca, Role role,
                                                   const std::vector<std::string>& hosts,
                                                   absl::Time not_before, absl::Time not_after) {
  Owned<BIO> ca_key_bio = ReadBio(ca.key_pem);
  Owned<BIO> ca_certificate_bio = ReadBio(ca.certificate_pem);
  Owned<EVP_PKEY> ca_key(
      PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr));
  Owned<X509> ca_certificate(PEM_read_bio_X509(ca_certificate_bio.get(), nullptr, nullptr, nullptr));
  if (ca_key == nullptr || ca_certificate == nullptr) {
    return absl::InvalidArgumentError("the CA's key or certificate does not parse");
  }
  Owned<EVP_PKEY> key = NewKey();
  if (key == nullptr) return OpenSslError("generate a key");
  absl::StatusOr<Owned<X509>> certificate = NewCertificate(
      key.get(), absl::StrCat("gpool ", RoleName(role)), not_before, not_after);
  if (!certificate.ok()) return certificate.status();
  X509* leaf = certificate->get();
  std::vector<std::string> names = {absl::StrCat("URI:", RoleUri(role))};
  for (const std::string& host : hosts) {
    names.push_back(absl::StrCat(IsIpAddress(host) ? "IP:" : "DNS:", host));
  }
  if (X509_set_issuer_name(leaf, X509_get_subject_name(ca_certificate.get())) != 1 ||
      !AddExtension(leaf, ca_certificate.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(leaf, ca_certificate.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(leaf, ca_certificate.get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
      !AddExtension(leaf, ca_certificate.get(), NID_authority_key_identifier, "keyid") ||
      !AddExtension(leaf, ca_certificate.get(), NID_subject_alt_name,
                    absl::StrJoin(names, ",")) ||
      X509_sign(leaf, ca_key.get(), EVP_sha256()) == 0) {
    return OpenSslError(absl::StrCat("sign the ", RoleName(role), " certificate"));
  }
  return KeyAndCertificate{ToPem(key.get()), ToPem(leaf)};
}

std::vector<std::string> DefaultCredentialHosts() {
  std::vector<std::string> hosts = {LocalHostName(), "localhost", "127.0.0.1"};
  if (hosts[0] == "localhost") hosts.erase(hosts.begin());
  return hosts;
}

absl::Status InitCredentials(const std::string& directory, const std::vector<std::string>& hosts) {
  if (hosts.empty()) return absl::InvalidArgumentError("no --host to certify");
  if (mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", directory, ": ", std::strerror(errno)));
  }
  const std::string ca_key_path = absl::StrCat(directory, "/ca.key");
  std::vector<std::string> paths = {absl::StrCat(directory, "/ca.crt"), ca_key_path};
  for (Role role : {Role::kCoordinator, Role::kWorker, Role::kClient}) {
    const CredentialFiles files = CredentialFilesFor(directory, role);
    paths.push_back(files.certificate);
    paths.push_back(files.key);
  }
  for (const std::string& path : paths) {
    if (access(path.c_str(), F_OK) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          directory, " already holds credentials (", path, "); gpool init never overwrites "
          "them: choose another directory, or remove the old files first"));
    }
  }

  // Certificates are valid from an hour ago, for clocks a little behind this one.
  const absl::Time now = absl::Now();
  const absl::Time not_before = now - absl::Hours(1);
  absl::StatusOr<KeyAndCertificate> ca =
      CreateCertificateAuthority("gpool CA", not_before, now + kCaValidity);
  if (!ca.ok()) return ca.status();
  if (absl::Status written = WriteNewFile(ca_key_path, ca->key_pem, 0600); !written.ok()) {
    return written;
  }
  if (absl::Status written = WriteNewFile(absl::StrCat(directory, "/ca.crt"),
                                          ca->certificate_pem, 0644);
      !written.ok()) {
    return written;
  }
  for (Role role : {Role::kCoordinator, Role::kWorker, Role::kClient}) {
    absl::StatusOr<KeyAndCertificate> issued =
        IssueCertificate(*ca, role, role == Role::kClient ? std::vector<std::string>{} : hosts,
                         not_before, now + kCertificateValidity);
    if (!issued.ok()) return issued.status();
    const CredentialFiles files = CredentialFilesFor(directory, role);
    if (absl::Status written = WriteNewFile(files.key, issued->key_pem, 0600); !written.ok()) {
      return written;
    }
    if (absl::Status written = WriteNewFile(files.certificate, issued->certificate_pem, 0644);
        !written.ok()) {
      return written;
    }
  }
  return absl::OkStatus();
}

}  // namespace gpool
