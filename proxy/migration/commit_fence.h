// Commits in flight between the two databases: a transaction old has committed (or is
// committing) and new not yet. A write that reads what else is committed must see on new what
// it saw on old; old's answer shows it after every commit old had finished when it ran, and
// new could still lack one of them. So each session takes a ticket before its COMMIT goes to
// old and gives it back once new's side of the commit is done (or failed); a write, before it
// goes to new, waits until every ticket taken before old answered it is given back. Commits
// need no locks on new to finish, so the wait is one commit's round trip at most; a session
// holding a ticket itself waits only for earlier ones, so two such sessions never wait for each
// other. Shared by every session of the process (several instances: see docs/mirroring.md).
// Verification can also hold commits for a moment (hold()): none half done, none starting, so
// a snapshot of old and one of new taken then hold the same writes (docs/verification.md).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "proxy/net/asio.h"

namespace cutover::proxy {

class CommitFence {
 public:
  // Held from before a COMMIT goes to old until new's side of it is done; given back when
  // destroyed or reset.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { reset(); }
    void reset() noexcept;
    uint64_t number() const { return number_; }

   private:
    friend class CommitFence;
    Ticket(CommitFence* fence, uint64_t number) : fence_(fence), number_(number) {}
    CommitFence* fence_ = nullptr;
    uint64_t number_ = 0;
  };

  // A ticket, at once unless commits are held: then once the hold ends, or after `limit` (a
  // hold lasts milliseconds; a commit is delayed by one, never refused). A commit admitted at
  // its limit moves horizon() while the hold is on: the holder checks that.
  asio::awaitable<Ticket> admit(std::chrono::milliseconds limit);

  // Commits held: while it lives, admit() hands out no ticket.
  class Hold {
   public:
    Hold(Hold&& other) noexcept : fence_(std::exchange(other.fence_, nullptr)) {}
    Hold& operator=(Hold&& other) noexcept;
    ~Hold();

   private:
    friend class CommitFence;
    explicit Hold(CommitFence* fence) : fence_(fence) {}
    CommitFence* fence_;
  };
  // Holds commits and waits until every ticket already out is given back: then no commit is
  // half done (on old, not yet on new). Blocks the calling thread, which must not be a
  // session's; nullopt (and nothing held) when tickets are still out after `timeout`.
  std::optional<Hold> hold(std::chrono::milliseconds timeout);
  // The last ticket taken: what a write's answer from old may have seen committed.
  uint64_t horizon() const;
  // Until every ticket up to `horizon` is given back (those after `own`, and `own`, a ticket
  // the caller holds, not counted); false after `timeout` with some still out.
  asio::awaitable<bool> wait(uint64_t horizon, uint64_t own, std::chrono::milliseconds timeout);
  // Sessions waiting now in wait(), and in admit() for a hold to end.
  size_t waiting() const;
  size_t admitting() const;

 private:
  struct Waiter {
    uint64_t limit;  // every ticket up to this must be back
    std::shared_ptr<asio::steady_timer> timer;
  };
  Ticket take_locked();  // mutex_ held
  void give_back(uint64_t number) noexcept;
  void release() noexcept;
  static void wake(std::list<Waiter>& waiters, const std::function<bool(const Waiter&)>& which);
  bool clear_through(uint64_t limit) const;  // mutex_ held

  mutable std::mutex mutex_;
  uint64_t last_ = 0;
  std::set<uint64_t> out_;
  std::list<Waiter> waiters_;
  bool held_ = false;
  std::list<Waiter> admitting_;   // sessions waiting for a hold to end (limit unused)
  std::condition_variable back_;  // a ticket was given back (for hold())
};

}  // namespace cutover::proxy
