"""What the Python driver scripts share: arguments, the data the shell test loaded, the checks.

Not a test by itself: routing_psycopg2.py, routing_psycopg.py and routing_asyncpg.py use it.
"""

import sys
import uuid

SESSIONS = 20
READS_PER_SESSION = 5
PLAIN_QUERY = "select current_setting('port')"


class Failure(Exception):
    """A client-visible problem: the script reports it and exits non-zero."""


def parse_args(driver):
    if len(sys.argv) != 4:
        sys.exit(f"usage: {sys.argv[0]} PROXY_PORT OLD_PORT NEW_PORT")
    proxy, old, new = (int(a) for a in sys.argv[1:])
    return Run(driver, proxy, old, new)


def ids_for(session):
    """READS_PER_SESSION distinct ids in 1..100, different from one session to the next."""
    return [(session * 7 + k * 13) % 100 + 1 for k in range(READS_PER_SESSION)]


def name_of(item_id):
    """The name the shell test stored for this id on old and on new."""
    return f"item {item_id}"


def token_for(driver, session):
    """A value only this session writes, so its read-back cannot see another session's row."""
    return f"{driver}-{session}-{uuid.uuid4().hex}"


class Run:
    def __init__(self, driver, proxy, old, new):
        self.driver = driver
        self.proxy_port = proxy
        self.old_port = old
        self.new_port = new
        self.plain_on_new = 0
        self.plain_on_old = 0
        self.where = "connecting"

    def step(self, session, what):
        """Names what runs next, for the failure message."""
        self.where = f"session {session}, {what}"

    def note_plain(self, session, port):
        """Counts which database answered the session's plain query."""
        port = int(port)
        if port == self.new_port:
            self.plain_on_new += 1
        elif port == self.old_port:
            self.plain_on_old += 1
        else:
            raise Failure(f"session {session}: {PLAIN_QUERY} returned {port}, neither old "
                          f"({self.old_port}) nor new ({self.new_port})")

    def expect(self, session, what, got, want):
        if got != want:
            raise Failure(f"session {session}: {what}: got {got!r}, want {want!r}")

    def main(self, one_session):
        """Runs one_session(self, n) for each session, then prints the summary; exits 1 on
        the first failure."""
        try:
            for session in range(SESSIONS):
                self.step(session, "connecting")
                one_session(self, session)
        except Exception as e:  # every driver error is a client-visible failure
            print(f"{self.driver}: FAILED at {self.where}: {type(e).__name__}: {e}",
                  file=sys.stderr)
            sys.exit(1)
        print(f"{self.driver}: sessions={SESSIONS} plain_on_new={self.plain_on_new} "
              f"plain_on_old={self.plain_on_old} errors=0")
