#include "proxy/mirror/session_error.h"

#include <string>

namespace cutover::proxy {
namespace {

class SessionCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "cutover-session"; }
  std::string message(int value) const override {
    switch (static_cast<SessionError>(value)) {
      case SessionError::kJournalUnwritable:
        return "the transaction committed on the old database, but cutover could not record it "
               "for the new database (the mirror journal could not be written), so it cannot "
               "acknowledge the commit";
      case SessionError::kTransactionTooLarge:
        return "the transaction committed on the old database, but it is too large for cutover "
               "to record for the new database (over 64 MB), so it cannot acknowledge the commit";
    }
    return "unknown session error";
  }
};

}  // namespace

const boost::system::error_category& session_category() noexcept {
  static const SessionCategory category;
  return category;
}

std::string_view sqlstate_of(const boost::system::error_code& error) {
  if (error.category() != session_category()) return "XX000";
  switch (static_cast<SessionError>(error.value())) {
    case SessionError::kJournalUnwritable:
    case SessionError::kTransactionTooLarge:
      return "08007";  // transaction_resolution_unknown
  }
  return "XX000";
}

}  // namespace cutover::proxy
