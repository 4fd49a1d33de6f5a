// Typed frontend (client-to-server) messages after startup: decode and encode.
// Not for the startup family (startup.h) nor for framing (framing.h).
//
// Protocol docs: "Message Formats" — every message marked (F).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/error.h"

namespace cutover::protocol {

struct Query {  // 'Q'
  std::string sql{};
  friend bool operator==(const Query&, const Query&) = default;
};
struct Parse {  // 'P'
  std::string statement{};
  std::string query{};
  std::vector<int32_t> parameter_types{};  // OIDs, 0 = unspecified
  friend bool operator==(const Parse&, const Parse&) = default;
};
struct Bind {  // 'B'
  std::string portal{};
  std::string statement{};
  std::vector<int16_t> parameter_formats{};
  std::vector<std::optional<std::string>> parameters{};  // nullopt = SQL NULL (length -1)
  std::vector<int16_t> result_formats{};
  friend bool operator==(const Bind&, const Bind&) = default;
};
struct Describe {   // 'D'
  char kind = 'S';  // 'S' statement or 'P' portal
  std::string name{};
  friend bool operator==(const Describe&, const Describe&) = default;
};
struct Execute {  // 'E'
  std::string portal{};
  int32_t max_rows = 0;  // 0 = no limit
  friend bool operator==(const Execute&, const Execute&) = default;
};
struct Sync {  // 'S'
  friend bool operator==(const Sync&, const Sync&) = default;
};
struct Flush {  // 'H'
  friend bool operator==(const Flush&, const Flush&) = default;
};
struct Close {      // 'C'
  char kind = 'S';  // 'S' statement or 'P' portal
  std::string name{};
  friend bool operator==(const Close&, const Close&) = default;
};
struct CopyData {  // 'd', both directions
  std::string data{};
  friend bool operator==(const CopyData&, const CopyData&) = default;
};
struct CopyDone {  // 'c', both directions
  friend bool operator==(const CopyDone&, const CopyDone&) = default;
};
struct CopyFail {  // 'f'
  std::string message{};
  friend bool operator==(const CopyFail&, const CopyFail&) = default;
};
struct FunctionCall {  // 'F'
  int32_t function_oid = 0;
  std::vector<int16_t> argument_formats{};
  std::vector<std::optional<std::string>> arguments{};  // nullopt = NULL
  int16_t result_format = 0;
  friend bool operator==(const FunctionCall&, const FunctionCall&) = default;
};
struct Terminate {  // 'X'
  friend bool operator==(const Terminate&, const Terminate&) = default;
};
// 'p' carries PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse; which one is
// meant depends on the authentication request that preceded it, so 'p' decodes to this raw
// form and the specific decoders below interpret it.
struct AuthenticationResponse {  // 'p'
  std::string data{};
  friend bool operator==(const AuthenticationResponse&, const AuthenticationResponse&) = default;
};
struct PasswordMessage {  // 'p' after AuthenticationCleartextPassword / MD5Password
  std::string password{};
  friend bool operator==(const PasswordMessage&, const PasswordMessage&) = default;
};
struct SASLInitialResponse {  // 'p' after AuthenticationSASL
  std::string mechanism{};
  std::optional<std::string> data{};  // nullopt = length -1
  friend bool operator==(const SASLInitialResponse&, const SASLInitialResponse&) = default;
};
struct SASLResponse {  // 'p' after AuthenticationSASLContinue
  std::string data{};
  friend bool operator==(const SASLResponse&, const SASLResponse&) = default;
};

using FrontendMessage =
    std::variant<Query, Parse, Bind, Describe, Execute, Sync, Flush, Close, CopyData, CopyDone,
                 CopyFail, FunctionCall, Terminate, AuthenticationResponse>;

// Decodes the body of a frontend message of the given type byte. Unknown types, truncated or
// over-long bodies, bad counts and missing terminators are errors, never undefined behaviour.
Result<FrontendMessage> decode_frontend(char type, std::string_view body);
Result<PasswordMessage> decode_password_message(std::string_view body);
Result<SASLInitialResponse> decode_sasl_initial_response(std::string_view body);
Result<SASLResponse> decode_sasl_response(std::string_view body);

// Each appends one whole message (type byte and length word included).
void encode(const Query& m, std::string& out);
void encode(const Parse& m, std::string& out);
void encode(const Bind& m, std::string& out);
void encode(const Describe& m, std::string& out);
void encode(const Execute& m, std::string& out);
void encode(const Sync& m, std::string& out);
void encode(const Flush& m, std::string& out);
void encode(const Close& m, std::string& out);
void encode(const CopyData& m, std::string& out);
void encode(const CopyDone& m, std::string& out);
void encode(const CopyFail& m, std::string& out);
void encode(const FunctionCall& m, std::string& out);
void encode(const Terminate& m, std::string& out);
void encode(const AuthenticationResponse& m, std::string& out);
void encode(const PasswordMessage& m, std::string& out);
void encode(const SASLInitialResponse& m, std::string& out);
void encode(const SASLResponse& m, std::string& out);
void encode(const FrontendMessage& m, std::string& out);

}  // namespace cutover::protocol
