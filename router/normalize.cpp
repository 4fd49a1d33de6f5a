#include "router/normalize.h"

#include "router/sql_tokens.h"

namespace cutover::router {

std::string normalize_literals(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  SqlTokens tokens(sql);
  while (!tokens.done()) {
    const Token token = tokens.next();
    if (token.kind == TokenKind::kLiteral) {
      out.push_back('?');
    } else {
      // An unterminated literal is kept as it is: the parse will fail on it.
      out.append(sql.substr(token.begin, token.end - token.begin));
    }
  }
  return out;
}

}  // namespace cutover::router
