// The names config keys give enumerations, shared by reading (config.cpp) and writing
// (config_yaml.cpp) the configuration. Not for use outside proxy/base.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "proxy/base/config.h"

namespace cutover::proxy::config_names {

inline const std::vector<std::pair<std::string, SslMode>> ssl_mode_names = {
    {"disable", SslMode::kDisable},
    {"prefer", SslMode::kPrefer},
    {"require", SslMode::kRequire},
    {"verify-ca", SslMode::kVerifyCa},
    {"verify-full", SslMode::kVerifyFull}};
inline const std::vector<std::pair<std::string, TlsMode>> tls_mode_names = {
    {"disable", TlsMode::kDisable}, {"allow", TlsMode::kAllow}, {"require", TlsMode::kRequire}};
inline const std::vector<std::pair<std::string, AuthMethod>> auth_method_names = {
    {"scram-sha-256", AuthMethod::kScram},
    {"md5", AuthMethod::kMd5},
    {"trust", AuthMethod::kTrust},
    {"passthrough", AuthMethod::kPassthrough}};

inline const std::vector<std::pair<std::string, MirrorOrdering>> mirror_ordering_names = {
    {"strict", MirrorOrdering::kStrict}, {"parallel", MirrorOrdering::kParallel}};
inline const std::vector<std::pair<std::string, MirrorCompare>> mirror_compare_names = {
    {"effects", MirrorCompare::kEffects}, {"answers", MirrorCompare::kAnswers}};
inline const std::vector<std::pair<std::string, UnsafeWrites>> unsafe_writes_names = {
    {"refuse", UnsafeWrites::kRefuse}, {"allow", UnsafeWrites::kAllow}};

inline const std::vector<std::pair<std::string, StickyKey>> sticky_key_names = {
    {"session", StickyKey::kSession},
    {"user", StickyKey::kUser},
    {"database", StickyKey::kDatabase},
    {"application_name", StickyKey::kApplicationName},
    {"client_address", StickyKey::kClientAddress}};

template <typename E>
std::string name_of(E value, const std::vector<std::pair<std::string, E>>& names) {
  for (const auto& [name, v] : names) {
    if (v == value) return name;
  }
  return "?";
}

}  // namespace cutover::proxy::config_names
