"""Signs a message with a DKIM private key and verifies it with python3-dkim, fetching the public
key from a given DNS server (the test's own named on loopback) instead of the system resolver.

usage: dns-dkim-verify.py SERVER PORT PRIVATE_KEY_PEM SELECTOR DOMAIN
prints one JSON object: the key record text fetched, whether the signed message verifies, and
whether a tampered copy (body changed after signing) verifies (it must not).
"""
import json
import sys

import dkim
import dns.message
import dns.query
import dns.rdatatype

server, port, key_file, selector, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
fetched = []


def dnsfunc(name, timeout=5):
    """dkimpy's lookup hook: the TXT record at `name`, its strings joined, from our server only."""
    qname = name.decode() if isinstance(name, bytes) else name
    query = dns.message.make_query(qname, dns.rdatatype.TXT)
    response = dns.query.udp(query, server, port=port, timeout=timeout)
    for rrset in response.answer:
        for rdata in rrset:
            text = b"".join(rdata.strings)
            fetched.append({"name": qname, "strings": [len(s) for s in rdata.strings], "text": text.decode()})
            return text
    return None


message = (
    b"From: Alice <alice@" + domain.encode() + b">\r\n"
    b"To: Bob <bob@example.net>\r\n"
    b"Subject: DKIM over the generated zone\r\n"
    b"Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n"
    b"Message-ID: <dkim-test@" + domain.encode() + b">\r\n"
    b"\r\n"
    b"Signed with the key whose public half the zone publishes.\r\n"
)
with open(key_file, "rb") as f:
    private_key = f.read()
signature = dkim.sign(
    message, selector.encode(), domain.encode(), private_key, include_headers=[b"from", b"to", b"subject", b"date"]
)
signed = signature + message
ok = dkim.verify(signed, dnsfunc=dnsfunc)
tampered = dkim.verify(signed.replace(b"Signed with", b"Forged with"), dnsfunc=dnsfunc)
print(json.dumps({"verified": bool(ok), "tamperedVerified": bool(tampered), "fetched": fetched,
                  "signature": signature.decode()}))
