// Pinning for the extended protocol, where a statement is parsed once and executed many times
// with other values: the values cutover pins (now()'s instant, a serial key old gave) cannot
// be written into the statement's text. Instead cutover prepares a statement of its own, the
// client's text with those values turned into extra parameters after the client's, and binds
// that one in the client's place, the extra values appended to each Bind. The client's own
// statement stays prepared as it sent it, so its Describe answers what the client expects.
// Pure message surgery; the proxy decides what to pin (proxy/session/session_pinning.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::router {

// The highest $n that `sql` refers to (0: none); nullopt when it does not parse.
std::optional<size_t> highest_parameter(std::string_view sql);

// "$n".
std::string parameter(size_t n);

// A whole Parse message preparing `sql` as `name`: the client's parameter types, left
// unspecified (0) up to `params`, then `extra` parameters of type text.
std::string extended_parse(std::string_view name, std::string_view sql,
                           const std::vector<int32_t>& client_types, size_t params, size_t extra);

// The client's Bind (its body) turned to the statement `name`, `extra` values (text format)
// appended after the client's; nullopt when it does not decode or does not carry exactly
// `params` values (the client's own statement then answers it, with PostgreSQL's error).
// `added_column`: the statement returns one column more than the client's (a witness, keys),
// so result format codes given per column get one more, text.
std::optional<std::string> extended_bind(std::string_view bind_body, std::string_view name,
                                         size_t params,
                                         const std::vector<std::optional<std::string>>& extra,
                                         bool added_column = false);

// `batch` (whole messages) with some of its messages replaced; `message` counts from 0.
struct Replacement {
  size_t message = 0;
  std::string bytes{};  // whole messages taking its place
};
std::string replace_messages(std::string_view batch, const std::vector<Replacement>& replacements);

}  // namespace cutover::router
