// Typed backend (server-to-client) messages: decode and encode.
// Not for framing (framing.h); CopyData/CopyDone are shared with frontend.h.
//
// Protocol docs: "Message Formats" — every message marked (B).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/error.h"
#include "protocol/frontend.h"

namespace cutover::protocol {

// 'R' — one struct per authentication request code.
struct AuthenticationOk {  // 0
  friend bool operator==(const AuthenticationOk&, const AuthenticationOk&) = default;
};
struct AuthenticationKerberosV5 {  // 2
  friend bool operator==(const AuthenticationKerberosV5&,
                         const AuthenticationKerberosV5&) = default;
};
struct AuthenticationCleartextPassword {  // 3
  friend bool operator==(const AuthenticationCleartextPassword&,
                         const AuthenticationCleartextPassword&) = default;
};
struct AuthenticationMD5Password {  // 5
  std::array<char, 4> salt{};
  friend bool operator==(const AuthenticationMD5Password&,
                         const AuthenticationMD5Password&) = default;
};
struct AuthenticationGSS {  // 7
  friend bool operator==(const AuthenticationGSS&, const AuthenticationGSS&) = default;
};
struct AuthenticationGSSContinue {  // 8
  std::string data;
  friend bool operator==(const AuthenticationGSSContinue&,
                         const AuthenticationGSSContinue&) = default;
};
struct AuthenticationSSPI {  // 9
  friend bool operator==(const AuthenticationSSPI&, const AuthenticationSSPI&) = default;
};
struct AuthenticationSASL {             // 10
  std::vector<std::string> mechanisms;  // at least one
  friend bool operator==(const AuthenticationSASL&, const AuthenticationSASL&) = default;
};
struct AuthenticationSASLContinue {  // 11
  std::string data;
  friend bool operator==(const AuthenticationSASLContinue&,
                         const AuthenticationSASLContinue&) = default;
};
struct AuthenticationSASLFinal {  // 12
  std::string data;
  friend bool operator==(const AuthenticationSASLFinal&, const AuthenticationSASLFinal&) = default;
};

struct BackendKeyData {  // 'K'
  int32_t process_id = 0;
  int32_t secret_key = 0;
  friend bool operator==(const BackendKeyData&, const BackendKeyData&) = default;
};
struct BindComplete {  // '2'
  friend bool operator==(const BindComplete&, const BindComplete&) = default;
};
struct CloseComplete {  // '3'
  friend bool operator==(const CloseComplete&, const CloseComplete&) = default;
};
struct CommandComplete {  // 'C'
  std::string tag;        // e.g. "INSERT 0 1"
  friend bool operator==(const CommandComplete&, const CommandComplete&) = default;
};
struct CopyResponse {  // 'G' CopyIn, 'H' CopyOut, 'W' CopyBoth — the same layout
  char type = 'G';
  int8_t format = 0;  // 0 text, 1 binary
  std::vector<int16_t> column_formats;
  friend bool operator==(const CopyResponse&, const CopyResponse&) = default;
};
struct DataRow {                                    // 'D'
  std::vector<std::optional<std::string>> columns;  // nullopt = NULL
  friend bool operator==(const DataRow&, const DataRow&) = default;
};
struct EmptyQueryResponse {  // 'I'
  friend bool operator==(const EmptyQueryResponse&, const EmptyQueryResponse&) = default;
};
// 'E' ErrorResponse and 'N' NoticeResponse share this layout.
struct ErrorFields {
  char type = 'E';
  std::vector<std::pair<char, std::string>> fields;  // code ('S','V','C','M',...) and value

  // The value of a field such as 'C' (SQLSTATE) or 'M' (message), if present.
  std::optional<std::string_view> get(char code) const;
  friend bool operator==(const ErrorFields&, const ErrorFields&) = default;
};
struct FunctionCallResponse {  // 'V'
  std::optional<std::string> result;
  friend bool operator==(const FunctionCallResponse&, const FunctionCallResponse&) = default;
};
struct NegotiateProtocolVersion {  // 'v'
  int32_t newest_minor = 0;
  std::vector<std::string> unrecognized_options;
  friend bool operator==(const NegotiateProtocolVersion&,
                         const NegotiateProtocolVersion&) = default;
};
struct NoData {  // 'n'
  friend bool operator==(const NoData&, const NoData&) = default;
};
struct NotificationResponse {  // 'A'
  int32_t process_id = 0;
  std::string channel;
  std::string payload;
  friend bool operator==(const NotificationResponse&, const NotificationResponse&) = default;
};
struct ParameterDescription {  // 't'
  std::vector<int32_t> types;
  friend bool operator==(const ParameterDescription&, const ParameterDescription&) = default;
};
struct ParameterStatus {  // 'S'
  std::string name;
  std::string value;
  friend bool operator==(const ParameterStatus&, const ParameterStatus&) = default;
};
struct ParseComplete {  // '1'
  friend bool operator==(const ParseComplete&, const ParseComplete&) = default;
};
struct PortalSuspended {  // 's'
  friend bool operator==(const PortalSuspended&, const PortalSuspended&) = default;
};
struct ReadyForQuery {  // 'Z'
  char status = 'I';    // 'I' idle, 'T' in transaction, 'E' failed transaction
  friend bool operator==(const ReadyForQuery&, const ReadyForQuery&) = default;
};
struct FieldDescription {
  std::string name;
  int32_t table_oid = 0;
  int16_t column = 0;
  int32_t type_oid = 0;
  int16_t type_size = 0;
  int32_t type_modifier = 0;
  int16_t format = 0;
  friend bool operator==(const FieldDescription&, const FieldDescription&) = default;
};
struct RowDescription {  // 'T'
  std::vector<FieldDescription> fields;
  friend bool operator==(const RowDescription&, const RowDescription&) = default;
};

using BackendMessage =
    std::variant<AuthenticationOk, AuthenticationKerberosV5, AuthenticationCleartextPassword,
                 AuthenticationMD5Password, AuthenticationGSS, AuthenticationGSSContinue,
                 AuthenticationSSPI, AuthenticationSASL, AuthenticationSASLContinue,
                 AuthenticationSASLFinal, BackendKeyData, BindComplete, CloseComplete,
                 CommandComplete, CopyData, CopyDone, CopyResponse, DataRow, EmptyQueryResponse,
                 ErrorFields, FunctionCallResponse, NegotiateProtocolVersion, NoData,
                 NotificationResponse, ParameterDescription, ParameterStatus, ParseComplete,
                 PortalSuspended, ReadyForQuery, RowDescription>;

// Decodes the body of a backend message of the given type byte; same guarantees as
// decode_frontend.
Result<BackendMessage> decode_backend(char type, std::string_view body);

// Where the last column of a RowDescription ('T') or DataRow ('D') body begins: its name, or
// its 32-bit length then its bytes. nullopt when the body has no column or is malformed. What
// comes before it, with the count one less, is the message without that column.
std::optional<size_t> last_column_at(char type, std::string_view body);
// Such a body without its last column, which begins at `last` (last_column_at()'s answer).
std::string without_last_column(std::string_view body, size_t last);

// Appends one whole message (type byte and length word included).
void encode(const BackendMessage& m, std::string& out);

// Appends an ErrorResponse (or NoticeResponse when type == 'N') with severity (S and V),
// SQLSTATE (C) and message (M) fields: what the proxy says to a client in its own name.
void encode_error(std::string& out, std::string_view severity, std::string_view sqlstate,
                  std::string_view message, char type = 'E');

}  // namespace cutover::protocol
