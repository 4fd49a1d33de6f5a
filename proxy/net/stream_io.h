// Reading and writing a Stream the way a relay must: without a trip through the scheduler when
// the socket is ready (plain TCP; TLS goes through the stream), and a last write bounded in
// time. Not the stream itself (stream.h).
#pragma once

#include <chrono>
#include <string_view>
#include <utility>

#include "proxy/net/asio.h"
#include "proxy/net/stream.h"

namespace cutover::proxy {

// Waits until `stream` is readable, then reads what is there into `buffer`. `buffer_filled`
// says whether the last read filled the buffer (then the next reads at once).
asio::awaitable<std::pair<ErrorCode, size_t>> read_ready(Stream& stream,
                                                         asio::mutable_buffer buffer,
                                                         bool& buffer_filled);
// Whether `stream` has bytes to read (or failed) within `limit`: its socket became readable, or
// TLS already holds input. Takes nothing, so giving up loses no byte. (Over TLS, Asio may keep
// a part of a record it read that OpenSSL has not taken yet, when a record filled OpenSSL's
// input whole: then the wait ends only at `limit`.)
asio::awaitable<bool> readable_within(Stream& stream, std::chrono::steady_clock::duration limit);
// Writes all of `bytes`.
asio::awaitable<ErrorCode> write_all(Stream& stream, std::string_view bytes);
// Writes `bytes` within `limit`; false when that failed or took longer (a session's last word).
asio::awaitable<bool> write_bounded(Stream& stream, std::string_view bytes,
                                    std::chrono::steady_clock::duration limit);

}  // namespace cutover::proxy
