"""Verifies the DKIM signatures of a message file with python3-dkim, fetching keys from a given DNS
server (the test's own named on loopback) instead of the system resolver.

usage: dkim-verify-message.py SERVER PORT MESSAGE_FILE
prints one JSON object: the signature's tags, whether the message verifies, whether a copy with
its body changed verifies (it must not), and the key records fetched.
"""
import json
import sys

import dkim
import dns.message
import dns.query
import dns.rdatatype

server, port, message_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fetched = []


def dnsfunc(name, timeout=5):
    """dkimpy's lookup hook: the TXT record at `name`, its strings joined, from our server only."""
    qname = name.decode() if isinstance(name, bytes) else name
    query = dns.message.make_query(qname, dns.rdatatype.TXT)
    response = dns.query.udp(query, server, port=port, timeout=timeout)
    for rrset in response.answer:
        for rdata in rrset:
            fetched.append(qname)
            return b"".join(rdata.strings)
    return None


with open(message_file, "rb") as f:
    raw = f.read()
# postcat prints LF line ends; the message on the wire (and as signed) has CRLF.
message = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
verifier = dkim.DKIM(message)
ok = verifier.verify(dnsfunc=dnsfunc)
tags = {k.decode(): v.decode() for k, v in (verifier.signature_fields or {}).items() if k in (b"d", b"s", b"a", b"c", b"h")}
tampered = dkim.verify(message + b"one more line\r\n", dnsfunc=dnsfunc)
print(json.dumps({"verified": bool(ok), "tamperedVerified": bool(tampered), "tags": tags, "fetched": fetched}))
