// Why cutover itself ends a client's session (not the client, not a database), as error_code
// values of their own category, as protocol/error.h does for malformed input: each says the
// SQLSTATE and the message the client gets in its FATAL, and its name is what the log shows.
#pragma once

#include <boost/system/error_code.hpp>
#include <string_view>
#include <type_traits>

namespace cutover::proxy {

enum class SessionError {
  // Old committed a transaction new missed part of, and its journal record could not be
  // written: the commit cannot be acknowledged, so the connection ends (08007).
  kJournalUnwritable = 1,
  // ... or the transaction is larger than a journal record may be (08007).
  kTransactionTooLarge,
};

const boost::system::error_category& session_category() noexcept;

inline boost::system::error_code make_error_code(SessionError e) noexcept {
  return {static_cast<int>(e), session_category()};
}

// The SQLSTATE the client gets for `error` (of session_category()).
std::string_view sqlstate_of(const boost::system::error_code& error);

}  // namespace cutover::proxy

template <>
struct boost::system::is_error_code_enum<cutover::proxy::SessionError> : std::true_type {};
