"""Certificates and kubeconfigs for EnvTest: a CA, the API server's serving certificate, the
ServiceAccount signing key, and token kubeconfigs with the CA embedded (kopf does not resolve
relative paths in a kubeconfig)."""

from __future__ import annotations

import base64
import datetime as _dt
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

SERVICE_IP = "10.0.0.1"


def quote(s: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(s)


def kubeconfig_yaml(server: str, ca_pem: bytes, user: str, token: str, namespace: str | None = None) -> str:
    ns = f"\n    namespace: {quote(namespace)}" if namespace else ""
    return f"""apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: {quote(server)}
    certificate-authority-data: {quote(base64.b64encode(ca_pem).decode())}
users:
- name: {quote(user)}
  user:
    token: {quote(token)}
contexts:
- name: envtest
  context:
    cluster: envtest
    user: {quote(user)}{ns}
current-context: envtest
preferences: {{}}
"""


def write_private(path: Path, data: str | bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def make_pki(d: Path) -> dict[str, Path]:
    """CA, API server serving cert, ServiceAccount signing key. Returns the paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = _dt.datetime.now(_dt.UTC)
    not_before, not_after = now - _dt.timedelta(hours=1), now + _dt.timedelta(days=7)
    pem = serialization.Encoding.PEM
    trad = serialization.PrivateFormat.TraditionalOpenSSL
    noenc = serialization.NoEncryption()

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inthegrid-envtest-ca")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    srv_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.DNSName(n)
        for n in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1", SERVICE_IP)]
    srv_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(srv_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    paths = {
        "ca": d / "ca.crt",
        "serving_cert": d / "serving.crt",
        "serving_key": d / "serving.key",
        "sa_key": d / "sa.key",
        "sa_pub": d / "sa.pub",
    }
    paths["ca"].write_bytes(ca_cert.public_bytes(pem))
    paths["serving_cert"].write_bytes(srv_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    write_private(paths["serving_key"], srv_key.private_bytes(pem, trad, noenc))
    write_private(paths["sa_key"], sa_key.private_bytes(pem, trad, noenc))
    paths["sa_pub"].write_bytes(
        sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return paths


# --------------------------------------------------------------------------------------------
# The control plane


def _key_usage(*, signs_certificates: bool) -> Any:
    """Digital signature, plus certificate and CRL signing for a CA."""
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )
