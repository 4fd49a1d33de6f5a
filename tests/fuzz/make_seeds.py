#!/usr/bin/env python3
"""Writes the fuzz seed corpora from the golden captures in tests/protocol/golden_captures.h.

Not a capture tool: it only re-slices bytes already recorded there, plus a few hand-built
startup packets the captures lack and SCRAM server messages computed for fuzz_scram_client's
fixed credentials. Run it after changing the captures and commit the output.
"""
import base64
import hashlib
import hmac
import pathlib
import re
import struct

HERE = pathlib.Path(__file__).resolve().parent
CAPTURES = HERE.parent / "protocol" / "golden_captures.h"


def captures():
    text = CAPTURES.read_text()
    out = {}
    for name, body in re.findall(r"std::string_view (k\w+) =\s*((?:\s*\"[0-9a-f]*\")+);", text):
        out[name] = bytes.fromhex("".join(re.findall(r"\"([0-9a-f]*)\"", body)))
    return out


def skip_startup(stream):
    (length,) = struct.unpack(">I", stream[:4])
    return stream[length:]


def startup(body):
    return struct.pack(">I", len(body) + 4) + body


def write(directory, name, data):
    path = HERE / "corpus" / directory
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_bytes(data)


def scram_server_messages(mode):
    """A server's half of a successful exchange with fuzz_scram_client.cpp's client: password
    "pencil", salt "fuzz-salt", 2 iterations, client nonce "clientnonce", an empty user name and
    a certificate hash of 32 'h' bytes when on TLS. Mode is the harness's first input byte."""
    gs2 = {"p": b"p=tls-server-end-point,,", "y": b"y,,"}.get(mode, b"n,,")
    binding = gs2 + (b"h" * 32 if mode == "p" else b"")
    nonce = b"clientnonceservernonce"
    salt = b"fuzz-salt"
    server_first = b"r=" + nonce + b",s=" + base64.b64encode(salt) + b",i=2"
    without_proof = b"c=" + base64.b64encode(binding) + b",r=" + nonce
    auth = b"n=,r=clientnonce," + server_first + b"," + without_proof
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 2)
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    signature = hmac.new(server_key, auth, hashlib.sha256).digest()
    return server_first, b"v=" + base64.b64encode(signature)


def main():
    c = captures()
    write("frames", "psql_scram_server", c["kPsqlScramServer"])
    write("frames", "pgbench_extended_server", c["kPgbenchExtendedServer"])
    write("frames", "division_by_zero_server", c["kDivisionByZeroServer"])
    write("frames", "psql_scram_client", skip_startup(c["kPsqlScramClient"]))
    write("frames", "pgbench_extended_client", skip_startup(c["kPgbenchExtendedClient"]))

    write("startup", "psql_startup", c["kPsqlStartup"])
    write("startup", "ssl_request", startup(struct.pack(">I", 80877103)))
    write("startup", "gssenc_request", startup(struct.pack(">I", 80877104)))
    write("startup", "cancel_request", startup(struct.pack(">III", 80877102, 4122, 2964516004)))
    write("startup", "protocol_v2", startup(struct.pack(">I", 0x20000) + b"user\0u\0\0"))

    for mode in "nyp":
        first, final = scram_server_messages(mode)
        write("scram_client", "success_" + mode, mode.encode() + first + b"\n" + final)
    first, _ = scram_server_messages("n")
    write("scram_client", "server_error", b"n" + first + b"\ne=invalid-proof")
    write("scram_client", "other_salt", b"n" + first.replace(b"ZnV6ei1zYWx0", b"c2FsdA==") + b"\n")

    write_extended_seeds()
    write_journal_seeds()


def extended_batch(*messages):
    """fuzz_extended's encoding: per message a type index into "PBDECSH1", a length byte and
    the body."""
    return b"".join(bytes(["PBDECSH1".index(t), len(body)]) + body for t, body in messages)


def write_extended_seeds():
    empty_bind = b"\0\0" + b"\0\0" * 3  # no formats, no parameters, no result formats
    write("extended", "unnamed_read", extended_batch(
        ("P", b"\0select * from t where id = $1\0\0\0"), ("B", empty_bind),
        ("D", b"P\0"), ("E", b"\0\0\0\0\0"), ("S", b"")))
    write("extended", "named_then_close", extended_batch(
        ("P", b"s1\0select 1\0\0\0"), ("B", b"\0s1\0" + b"\0\0" * 3),
        ("E", b"\0\0\0\0\0"), ("C", b"Ss1\0"), ("S", b"")))
    write("extended", "flush_and_answers", extended_batch(
        ("P", b"\0deallocate all\0\0\0"), ("H", b""), ("1", b""), ("S", b"")))
    # An Execute without its portal's name and row limit, which once crashed the row-limit
    # check (router/extended.cpp): old refuses it, cutover must only pass it on.
    write("extended", "malformed_execute", extended_batch(
        ("P", b"\0update t set v = 1\0\0\0"), ("B", empty_bind), ("E", b""), ("S", b"")))


def journal_record(sequence, outcome, unit):
    """One record as verify/journal.cpp writes it: marker, length, CRC-32C(length + payload)."""
    def string(b):
        return struct.pack(">I", len(b)) + b
    payload = (struct.pack(">QBqQQ", sequence, outcome, 1700000000000, 7, 0xFEED)
               + string(b"app") + string(b"writer") + string(unit))
    length = struct.pack(">I", len(payload))
    return b"JRNL" + length + struct.pack(">I", crc32c(length + payload)) + payload


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def write_journal_seeds():
    """fuzz_journal's input: a flag byte (1 = the newest segment), then the segment's bytes."""
    one = journal_record(1, 1, b"Q\0\0\0\x1finsert into t values (1)\0")
    two = journal_record(2, 2, b"Q\0\0\0\x15update t set v = 2\0")
    write("journal", "two_records", b"\1" + one + two)
    write("journal", "torn_tail", b"\1" + one + two[:-5])
    write("journal", "corrupt_middle", b"\0" + one[:20] + b"\x7f" + one[21:] + two)


if __name__ == "__main__":
    main()
