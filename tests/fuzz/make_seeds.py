#!/usr/bin/env python3
"""Writes the fuzz seed corpora from the golden captures in tests/protocol/golden_captures.h.

Not a capture tool: it only re-slices bytes already recorded there, plus a few hand-built
startup packets the captures lack. Run it after changing the captures and commit the output.
"""
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


if __name__ == "__main__":
    main()
