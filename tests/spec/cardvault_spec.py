#!/usr/bin/python3
"""An independent cardvault reader, written from docs/format.md alone.

It parses identity files and recipient strings, derives key ids, and decrypts the
committed vectors (tests/vectors/): every blob named in vectors.txt must decrypt to its
recorded plaintext and metadata or fail with exactly its recorded reason, and every key in
keys.txt must give its recorded recipient string and key id.

Usage: /usr/bin/python3 cardvault_spec.py VECTOR_DIR   (exit 0 only if every check passes)
Needs only Python 3 and `cryptography` (Debian: python3-cryptography).
"""
import hashlib
import hmac
import os
import re
import struct
import sys

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

MAGIC = b"\x89CVAULT\n"
CHUNK = 65536
TAG = 16
X25519_SPKI_PREFIX = bytes.fromhex("302a300506032b656e032100")  # RFC 8410


class FormatError(Exception):
    """A failure with the reason docs/format.md names."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def hkdf(ikm, salt, info):
    return HKDF(hashes.SHA256(), 32, salt, info.encode()).derive(ikm)


def key_id(spki_der):
    return hashlib.sha256(spki_der).digest()[:8]


# ---- identity files and recipient strings ("Keys, recipients and identity files") ----

def parse_hex(text, size=None):
    if not re.fullmatch(r"([0-9a-fA-F]{2})+", text) or (size and len(text) != 2 * size):
        raise ValueError(f"bad hex: {text[:20]!r}")
    return bytes.fromhex(text)


def parse_identity_file(data):
    """Returns the X25519 private key (32 bytes) of an identity file's bytes."""
    for line in data.split(b"\n"):
        line = line.strip(b" \t\r")
        if not line or line.startswith(b"#"):
            continue
        if not line.startswith(b"CV-X25519-SECRET-"):
            break
        return parse_hex(line[len(b"CV-X25519-SECRET-"):].decode("ascii", "replace"), 32)
    raise ValueError("the first line that is not a comment is not CV-X25519-SECRET-<64 hex>")


def x25519_public(private):
    key = x25519.X25519PrivateKey.from_private_bytes(private)
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def der(tag, content):
    n = len(content)
    length = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + \
        n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + content


def der_int(value):
    return der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))  # minimal, non-negative


def spki_of(public_key):
    """The canonical DER SubjectPublicKeyInfo of "Key ids", built by hand from the key."""
    if isinstance(public_key, x25519.X25519PublicKey):
        return X25519_SPKI_PREFIX + public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if isinstance(public_key, rsa.RSAPublicKey):
        n = public_key.public_numbers()
        rsa_oid = bytes.fromhex("06092a864886f70d010101")
        return der(0x30, der(0x30, rsa_oid + b"\x05\x00") +
                   der(0x03, b"\x00" + der(0x30, der_int(n.n) + der_int(n.e))))
    point = public_key.public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
    return bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + point


def parse_recipient(text):
    """Returns (kind, spki_der, key) for a cv-x25519- or cv-p11- recipient string."""
    text = text.strip(" \t\r\n\v\f")
    if text.startswith("cv-x25519-"):
        raw = parse_hex(text[len("cv-x25519-"):], 32)
        return "X25519", X25519_SPKI_PREFIX + raw, raw
    if text.startswith("cv-p11-"):
        spki = parse_hex(text[len("cv-p11-"):])
        try:
            key = serialization.load_der_public_key(spki)
        except (ValueError, UnsupportedAlgorithm) as e:
            raise ValueError(f"not a DER SubjectPublicKeyInfo: {e}")
        if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
            kind = "RSA"
        elif isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
            kind = "P-256"
        else:
            raise ValueError("not an RSA (2048 bits or more) or P-256 key")
        if spki_of(key) != spki:
            raise ValueError("not the canonical DER SubjectPublicKeyInfo")
        return kind, spki, key
    raise ValueError("not a recipient string")


# ---- stanza unwrapping ("Stanzas") -----------------------------------------------------

def kw_unwrap(kek, body):
    try:
        return aes_key_unwrap(kek, body)
    except InvalidUnwrap:
        raise FormatError("stanza_unwrap_failed", "key unwrap failed")


class X25519Identity:
    def __init__(self, private):
        self.private = x25519.X25519PrivateKey.from_private_bytes(private)
        self.public = x25519_public(private)
        self.id = key_id(X25519_SPKI_PREFIX + self.public)
        self.type = "X25519"

    def unwrap(self, s):
        if len(s["args"]) != 1 or len(s["args"][0]) != 32 or len(s["body"]) != 40:
            raise FormatError("stanza_unwrap_failed", "malformed X25519 stanza")
        eph = s["args"][0]
        try:
            shared = self.private.exchange(x25519.X25519PublicKey.from_public_bytes(eph))
        except ValueError:  # the all-zero shared secret
            raise FormatError("stanza_unwrap_failed", "all-zero shared secret")
        return kw_unwrap(hkdf(shared, eph + self.public, "cardvault/v1 X25519"), s["body"])


class CardKeyIdentity:
    """A software copy of a card key (RSA or P-256), PKCS#8 PEM."""

    def __init__(self, pem):
        self.private = serialization.load_pem_private_key(pem, None)
        self.id = key_id(spki_of(self.private.public_key()))
        self.rsa = isinstance(self.private, rsa.RSAPrivateKey)
        self.type = "p11-rsa-oaep-sha1" if self.rsa else "p11-ecdh-p256"

    def unwrap(self, s):
        if self.rsa:
            try:
                return self.private.decrypt(s["body"], padding.OAEP(
                    padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))
            except ValueError:
                raise FormatError("stanza_unwrap_failed", "RSA-OAEP decryption failed")
        if len(s["args"]) != 1 or len(s["args"][0]) != 65 or len(s["body"]) != 40:
            raise FormatError("stanza_unwrap_failed", "malformed p11-ecdh-p256 stanza")
        eph = s["args"][0]
        try:  # checks that the point lies on the curve
            peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), eph)
        except ValueError:
            raise FormatError("stanza_unwrap_failed", "ephemeral point not on P-256")
        shared = self.private.exchange(ec.ECDH(), peer)
        card_point = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return kw_unwrap(hkdf(shared, eph + card_point, "cardvault/v1 p11-ecdh-p256"), s["body"])


# ---- blob reading ("Layout", "Keys", "Header MAC", "Metadata", "Payload", "Reading") ----

class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise FormatError("header_malformed", "field runs past the header")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u(self, n):
        return int.from_bytes(self.take(n), "big")


def parse_header(blob):
    if blob[:8] != MAGIC[:len(blob[:8])]:
        raise FormatError("bad_magic")
    if len(blob) < 14:
        raise FormatError("truncated_header")
    version, length = struct.unpack(">HI", blob[8:14])
    if version not in (1, 2):
        raise FormatError("unsupported_version", str(version))
    if length > 262144:
        raise FormatError("header_too_large")
    if length < 76:
        raise FormatError("header_malformed", "header length below 76")
    if len(blob) < 14 + length:
        raise FormatError("truncated_header")
    r = Reader(blob[14:14 + length])
    nonce = r.take(16)
    count = r.u(1)
    if count == 0:
        raise FormatError("header_malformed", "no stanzas")
    if count > 64:
        raise FormatError("too_many_stanzas")
    stanzas = []
    for _ in range(count):
        type_len = r.u(1)
        if not 1 <= type_len <= 64:
            raise FormatError("header_malformed", "stanza type length")
        stype = r.take(type_len)
        if any(c < 0x21 or c > 0x7E for c in stype):
            raise FormatError("header_malformed", "stanza type not printable")
        id_len = r.u(1)
        if id_len > 32:
            raise FormatError("header_malformed", "key id length")
        kid = r.take(id_len)
        argc = r.u(1)
        if argc > 8:
            raise FormatError("header_malformed", "argument count")
        args = []
        for _ in range(argc):
            arg_len = r.u(2)
            if arg_len > 1024:
                raise FormatError("header_malformed", "argument length")
            args.append(r.take(arg_len))
        body_len = r.u(2)
        if not 1 <= body_len <= 4096:
            raise FormatError("header_malformed", "body length")
        stanzas.append({"type": stype.decode(), "key_id": kid, "args": args, "body": r.take(body_len)})
    meta_len = r.u(4)
    if not 16 <= meta_len <= 65536:
        raise FormatError("header_malformed", "metadata length")
    metadata = r.take(meta_len)
    if len(r.data) - r.pos != 32:
        raise FormatError("header_malformed", "fields do not consume the header")
    mac = r.take(32)
    return {"version": version, "length": length, "nonce": nonce, "stanzas": stanzas,
            "metadata": metadata, "mac": mac, "mac_input": blob[:14 + length - 32]}


META_FIELDS = {1: ("kind", 1), 2: ("path", None), 3: ("size", 8), 4: ("mtime", 8), 5: ("mode", 4),
               6: ("sha256", 32), 7: ("recorded", 8)}


def decode_metadata(plain, version):
    out, last, pos = {}, -1, 0
    while pos < len(plain):
        if pos + 3 > len(plain):
            raise FormatError("metadata_malformed", "entry truncated")
        tag, n = plain[pos], int.from_bytes(plain[pos + 1:pos + 3], "big")
        value = plain[pos + 3:pos + 3 + n]
        pos += 3 + n
        if len(value) != n or tag <= last:
            raise FormatError("metadata_malformed", "truncated, repeated or out-of-order entry")
        last = tag
        if tag not in META_FIELDS:
            continue  # unknown tags are skipped
        name, size = META_FIELDS[tag]
        if (size is not None and n != size) or (tag == 2 and n > 4096):
            raise FormatError("metadata_malformed", f"{name} has the wrong length")
        if tag == 2:
            out[name] = value.decode("utf-8", "surrogateescape")
        elif tag == 6:
            out[name] = value
        elif tag in (4, 7):
            out[name] = int.from_bytes(value, "big", signed=True)
        else:
            out[name] = int.from_bytes(value, "big")
    required = ["kind", "path", "size", "mtime", "mode"] + (["sha256"] if version == 1 else [])
    if any(k not in out for k in required) or (version == 2 and "sha256" in out):
        raise FormatError("metadata_malformed", "required entry missing or v1 hash in v2")
    if out["kind"] == 0:
        raise FormatError("metadata_malformed", "kind 0")
    return out


def unwrap_file_key(header, identity):
    for s in header["stanzas"]:
        if s["type"] == identity.type and s["key_id"] == identity.id:
            file_key = identity.unwrap(s)
            if len(file_key) != 32:
                raise FormatError("stanza_unwrap_failed", "file key is not 32 bytes")
            return file_key
    raise FormatError("no_matching_stanza")


def open_chunk(gcm, i, final, sealed):
    try:
        return gcm.decrypt(i.to_bytes(11, "big") + bytes([final]), sealed, None)
    except InvalidTag:
        return None


def decrypt(blob, identity):
    """Returns (file_key, header, metadata, plaintext) or raises FormatError."""
    h = parse_header(blob)
    file_key = unwrap_file_key(h, identity)
    n = h["nonce"]
    mac = hmac.new(hkdf(file_key, n, "cardvault/v1 header"), h["mac_input"], "sha256").digest()
    if not hmac.compare_digest(mac, h["mac"]):
        raise FormatError("header_mac_mismatch")
    try:
        meta_plain = AESGCM(hkdf(file_key, n, "cardvault/v1 metadata")).decrypt(
            bytes(12), h["metadata"], None)
    except InvalidTag:
        raise FormatError("metadata_corrupt")
    meta = decode_metadata(meta_plain, h["version"])
    gcm = AESGCM(hkdf(file_key, n, "cardvault/v1 payload"))
    size = meta["size"]
    count = max(1, -(-size // CHUNK))
    pos, plain = 14 + h["length"], []
    for i in range(count):
        last = i == count - 1
        want = (size - i * CHUNK if last else CHUNK) + TAG
        sealed = blob[pos:pos + want]
        if len(sealed) < want:
            raise FormatError("missing_final_chunk" if not sealed else "truncated", f"chunk {i}")
        chunk = open_chunk(gcm, i, last, sealed)
        if chunk is None:
            elsewhere = [(j, f) for j in range(max(0, i - 16), min(count + 16, i + 16) + 1)
                         for f in (0, 1) if (j, f) != (i, int(last))]
            moved = any(open_chunk(gcm, j, f, sealed) is not None for j, f in elsewhere)
            raise FormatError("chunk_out_of_order" if moved else "chunk_auth_failed", f"chunk {i}")
        plain.append(chunk)
        pos += want
    if h["version"] == 2:
        if len(blob) - pos < 48:
            raise FormatError("truncated", "trailer")
        try:
            meta["sha256"] = AESGCM(hkdf(file_key, n, "cardvault/v2 trailer")).decrypt(
                bytes(12), blob[pos:pos + 48], None)
        except InvalidTag:
            raise FormatError("trailer_corrupt")
        pos += 48
    if pos != len(blob):
        raise FormatError("trailing_data")
    plain = b"".join(plain)
    if hashlib.sha256(plain).digest() != meta["sha256"]:
        raise FormatError("content_hash_mismatch")
    return file_key, h, meta, plain


# ---- the committed vectors -------------------------------------------------------------

def read_manifest(path):
    blocks, cur = [], {}
    for line in open(path, encoding="utf-8").read().split("\n") + [""]:
        if line.startswith("#"):
            continue
        if not line:
            if cur:
                blocks.append(cur)
            cur = {}
        elif ": " in line:
            k, v = line.split(": ", 1)
            cur[k] = v
    return blocks


def check_blob(d, v):
    """Returns a list of mismatches (empty when the vector holds)."""
    blob = open(os.path.join(d, v["blob"]), "rb").read()
    if "card_key" in v:
        identity = CardKeyIdentity(open(os.path.join(d, v["card_key"]), "rb").read())
    else:
        identity = X25519Identity(parse_identity_file(v["identity"].encode()))
    try:
        file_key, h, meta, plain = decrypt(blob, identity)
    except FormatError as e:
        return [] if e.reason == v["expect"] else [f"got {e}, want {v['expect']}"]
    if v["expect"] != "ok":
        return [f"decrypted, want {v['expect']}"]
    got = {"file_key": file_key.hex(), "payload_nonce": h["nonce"].hex(), "path": meta["path"],
           "size": str(meta["size"]), "sha256": meta["sha256"].hex(), "kind": str(meta["kind"]),
           "mode": "%04o" % meta["mode"], "recorded": str(meta.get("recorded", ""))}
    want = dict(v, kind=v.get("kind", "1"), recorded=v.get("recorded", ""))
    errors = [f"{k}: got {got[k]!r}, want {want[k]!r}" for k in got if k in want and got[k] != want[k]]
    if plain != open(os.path.join(d, v["plaintext"]), "rb").read():
        errors.append("plaintext differs from " + v["plaintext"])
    return errors


def check_key(d, v):
    """A keys.txt entry: a key's identity file, public key, recipient string, SPKI and key
    id must agree; an identity file or recipient string marked "refused" must be refused."""
    ok, errors = v["expect"] == "ok", []
    if "identity_file" in v:
        try:
            private = parse_identity_file(open(os.path.join(d, v["identity_file"]), "rb").read())
        except ValueError as e:
            return [] if not ok else [f"identity file refused: {e}"]
        if not ok:
            return ["identity file accepted, want refused"]
        made = "cv-x25519-" + x25519_public(private).hex()
        if made != v["recipient"]:
            errors.append(f"identity file gives {made}, want {v['recipient']}")
    if "public_key" in v:  # OpenSSL's own SPKI (the PEM file) must be the documented one
        pem = open(os.path.join(d, v["public_key"]), "rb").read()
        spki = serialization.load_pem_public_key(pem).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()
        if spki != v["spki"]:
            errors.append(f"{v['public_key']} has SPKI {spki}, want {v['spki']}")
    if "recipient" in v:
        try:
            kind, spki, _ = parse_recipient(v["recipient"])
        except ValueError as e:
            return errors + ([] if not ok else [f"recipient refused: {e}"])
        if not ok:
            return errors + ["recipient accepted, want refused"]
        got = {"type": kind, "spki": spki.hex(), "key_id": key_id(spki).hex()}
        errors += [f"{k}: got {got[k]}, want {v[k]}" for k in got if got[k] != v[k]]
    return errors


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().split("\n\n")[-2], file=sys.stderr)
        return 2
    d = argv[1]
    checks = [("vector", v, check_blob) for v in read_manifest(os.path.join(d, "vectors.txt"))]
    checks += [("key", v, check_key) for v in read_manifest(os.path.join(d, "keys.txt"))]
    failed = 0
    for what, v, check in checks:
        try:
            errors = check(d, v)
        except Exception as e:  # a crash is a mismatch too
            errors = [f"{type(e).__name__}: {e}"]
        if errors:
            failed += 1
            print(f"FAIL {what} {v.get('name')}: " + "; ".join(errors))
    print(f"cardvault_spec: {len(checks) - failed} of {len(checks)} checks passed "
          f"({sum(1 for c in checks if c[0] == 'vector')} blob vectors, "
          f"{sum(1 for c in checks if c[0] == 'key')} key vectors)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
