#!/usr/bin/env bash
# Make the Tanba test PKI and a SoftHSM token holding some of its keys, for tests and the demo.
#
#   ./softhsm-setup.sh [DIR]        (DIR defaults to .softhsm next to this script)
#
# DIR/pki          the test PKI (agent/setup/testpki.py): CA, TSA, OCSP, CRL, PKCS#12 files (password 123456)
# DIR/pki/gost     the GOST test PKI (agent/setup/gost_pki.py, needs Tanba importable by $PYTHON):
#                  NCA-shaped PKCS#12 files with a GOST 2015-512 key for login and signing
#                  (gost-kz.p12 and its revoked twin, password 123456), the CA chain and CRL.
#                  SoftHSM 2.6 has no GOST 2012-512 keys, so this key lives in files only.
# DIR/pki/bign     the Belarusian test PKI (agent/setup/bign_pki.py): root and CA signed with bign
#                  (STB 34.101.45), a CRL, and PKCS#12 files with bign-curve256v1 keys: a person
#                  (personal number), an organisation's employee (УНП), the person revoked
#                  (bign-person.p12, bign-org.p12, bign-person-revoked.p12, password 123456).
#                  No PKCS#11 module offers bign here, so these keys live in files only.
# DIR/softhsm2.conf, DIR/tokens/
#                  one token "tanba-test" (SO PIN 12345678, user PIN 1234) with the keys and
#                  certificates of rsa-auth, rsa-sign, ec-auth, ec-sign (label = name, CKA_ID from
#                  the manifest).
# DIR/pki/gost-ru, DIR/softhsm2-gost.conf, DIR/gost-tokens/, DIR/gost-token.env
#                  only when the GOST build of SoftHSM exists (scripts/build-softhsm-gost.sh, or
#                  $TANBA_SOFTHSM_GOST_MODULE; Debian's module has no GOST) and the gost engine
#                  (libengine-gost-openssl) is installed: a GOST R 34.10-2012 256-bit key on the
#                  CryptoPro-A parameters (= TC26-256-B, 1.2.643.2.2.35.1), made by the gost engine,
#                  and its certificate (KU digitalSignature + nonRepudiation, EKU emailProtection +
#                  clientAuth: one key for signing and login, as Russian qualified certificates)
#                  from a small GOST 2012 CA, on a token "tanba-gost" (same PINs; the leaf as
#                  "gost-ru", CKA_ID = its subject key identifier; the CA certificate beside it)
#                  in a token directory of its own, so the RSA token's module never sees it.
#                  The GOST exports go to DIR/gost-token.env (stdout keeps its three lines).
#
# Idempotent: a second run finds everything in place and changes nothing.  Delete DIR to start
# over.  $PYTHON (default python3) must have the `cryptography` package; $TANBA_PKCS11_MODULE
# overrides the SoftHSM module path.  Ends by printing the variables to export.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:-$top/.softhsm}
python=${PYTHON:-python3}
module=${TANBA_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
label=tanba-test
so_pin=12345678
pin=1234
token_ids=(rsa-auth rsa-sign ec-auth ec-sign)

for tool in softhsm2-util pkcs11-tool openssl; do
    command -v "$tool" >/dev/null || { echo "softhsm-setup: $tool not found (apt install softhsm2 opensc openssl)" >&2; exit 1; }
done
[ -f "$module" ] || { echo "softhsm-setup: PKCS#11 module $module not found" >&2; exit 1; }
"$python" -c 'import cryptography' 2>/dev/null || {
    echo "softhsm-setup: $python cannot import cryptography; set PYTHON to your venv's python" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pki=$dir/pki
conf=$dir/softhsm2.conf
stamp=$dir/token.stamp   # holds the sha256 of the manifest the token was built from

# 1. The PKI (manifest.json is written last, so it marks a complete PKI).
if [ ! -f "$pki/manifest.json" ]; then
    echo "softhsm-setup: making the test PKI in $pki" >&2
    "$python" "$top/agent/setup/testpki.py" "$pki" >/dev/null
    rm -f "$stamp"
fi

# 1b. The GOST PKI beside it (Tanba's own GOST code makes it).
if [ ! -f "$pki/gost/manifest.json" ]; then
    if "$python" -c 'import tanba.crypto.gost' 2>/dev/null; then
        echo "softhsm-setup: making the GOST test PKI in $pki/gost" >&2
        "$python" -m tanba.agent.setup.gost_pki "$pki/gost" >/dev/null
    else
        echo "softhsm-setup: $python cannot import tanba: no GOST test files (install Tanba in that venv)" >&2
    fi
fi
if [ ! -f "$pki/bign/manifest.json" ]; then
    if "$python" -c 'import tanba.crypto.bign' 2>/dev/null; then
        echo "softhsm-setup: making the Belarusian (bign) test PKI in $pki/bign" >&2
        "$python" -m tanba.agent.setup.bign_pki "$pki/bign" >/dev/null
    else
        echo "softhsm-setup: $python cannot import tanba: no bign test files (install Tanba in that venv)" >&2
    fi
fi

# 2. SoftHSM configuration, pointing at DIR/tokens.
conf_text="# Written by softhsm-setup.sh
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
"
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$(printf '%s' "$conf_text")" ]; then
    printf '%s' "$conf_text" >"$conf"
fi
mkdir -p "$dir/tokens"
export SOFTHSM2_CONF=$conf

# 3. The token, rebuilt from scratch when missing, half-made, or made from another PKI.  The
#    check only looks at files: any PKCS#11 call would touch the token's "generation" file.
manifest_sum=$(sha256sum "$pki/manifest.json" | cut -d' ' -f1)
token_files=("$dir"/tokens/*/token.object)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$manifest_sum" ] || [ ! -f "${token_files[0]}" ]; then
    echo "softhsm-setup: making token $label in $dir/tokens" >&2
    rm -f "$stamp"
    rm -rf "$dir/tokens"
    mkdir -p "$dir/tokens"
    softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$pin" >/dev/null

    # name -> CKA_ID (hex) from the manifest
    ids=$("$python" - "$pki/manifest.json" "${token_ids[@]}" <<'EOF'
import json, sys
manifest = json.load(open(sys.argv[1], encoding="utf-8"))
for name in sys.argv[2:]:
    print(name, manifest["identities"][name]["cka_id_hex"])
EOF
)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    while read -r name id; do
        softhsm2-util --import "$pki/$name.key.pem" --token "$label" --label "$name" --id "$id" \
            --pin "$pin" >/dev/null
        openssl x509 -in "$pki/$name.pem" -outform DER -out "$work/$name.der"
        pkcs11-tool --module "$module" --token-label "$label" --login --pin "$pin" \
            --write-object "$work/$name.der" --type cert --id "$id" --label "$name" >/dev/null
    done <<<"$ids"
    echo "$manifest_sum" >"$stamp"
fi

# 4. The GOST token, beside the RSA one, when the GOST build of SoftHSM is there.
gost_module=${TANBA_SOFTHSM_GOST_MODULE:-$(bash "$top/scripts/build-softhsm-gost.sh" --path)}
gost_pki=$pki/gost-ru
gost_conf=$dir/softhsm2-gost.conf
gost_stamp=$dir/gost-token.stamp   # sha256 of the certificate and module path the token was made from
gost_env=$dir/gost-token.env
gost_label=tanba-gost
engines=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
if [ ! -f "$gost_module" ]; then
    echo "softhsm-setup: no GOST SoftHSM module $gost_module: no GOST token (scripts/build-softhsm-gost.sh builds it)" >&2
elif [ ! -f "$engines/gost.so" ]; then
    echo "softhsm-setup: no gost engine ($engines/gost.so): no GOST token (apt install libengine-gost-openssl)" >&2
elif ! "$python" -c 'import pkcs11, tanba.providers.gost_asn1' 2>/dev/null; then
    echo "softhsm-setup: $python cannot import pkcs11 and tanba: no GOST token" >&2
else
    # 4a. Keys and certificates, made by OpenSSL's gost engine (not by Tanba's own GOST code).
    if [ ! -f "$gost_pki/gost-ru.pem" ]; then
        echo "softhsm-setup: making the GOST 2012 test keys in $gost_pki" >&2
        rm -rf "$gost_pki"
        mkdir -p "$gost_pki"
        printf '%s\n' "openssl_conf = openssl_def" "[openssl_def]" "engines = engine_section" \
            "[engine_section]" "gost = gost_section" "[gost_section]" "engine_id = gost" \
            "dynamic_path = $engines/gost.so" "default_algorithms = ALL" >"$gost_pki/openssl-gost.cnf"
        printf '%s\n' "[leaf]" "basicConstraints = critical, CA:FALSE" \
            "keyUsage = critical, digitalSignature, nonRepudiation" \
            "extendedKeyUsage = emailProtection, clientAuth" \
            "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid" >"$gost_pki/leaf.ext"
        (
            cd "$gost_pki"
            export OPENSSL_CONF=$gost_pki/openssl-gost.cnf
            umask 077
            for name in ca gost-ru; do
                openssl genpkey -algorithm gost2012_256 -pkeyopt paramset:A -out "$name.key.pem"
            done
            umask 022
            openssl req -new -x509 -key ca.key.pem -days 3650 -set_serial "0x$(openssl rand -hex 16)" \
                -subj "/C=RU/O=Tanba test/CN=TANBA TEST CA (GOST 2012)" \
                -addext "basicConstraints = critical, CA:TRUE" \
                -addext "keyUsage = critical, keyCertSign, cRLSign" \
                -addext "subjectKeyIdentifier = hash" -out ca.pem
            openssl req -new -key gost-ru.key.pem -out gost-ru.csr \
                -subj "/C=RU/O=Tanba test/CN=Ivanov Ivan (Tanba test GOST 2012)"
            openssl x509 -req -in gost-ru.csr -CA ca.pem -CAkey ca.key.pem -days 365 \
                -set_serial "0x$(openssl rand -hex 16)" -extfile leaf.ext -extensions leaf \
                -out gost-ru.pem.part 2>/dev/null
            rm -f gost-ru.csr
            mv gost-ru.pem.part gost-ru.pem   # last: marks a complete set
        )
        rm -f "$gost_stamp"
    fi

    # 4b. Configuration and token: rebuilt like the RSA token, checked on files only.
    gost_conf_text="# Written by softhsm-setup.sh
directories.tokendir = $dir/gost-tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
"
    if [ ! -f "$gost_conf" ] || [ "$(cat "$gost_conf")" != "$(printf '%s' "$gost_conf_text")" ]; then
        printf '%s' "$gost_conf_text" >"$gost_conf"
    fi
    gost_sum=$( (cat "$gost_pki/gost-ru.pem"; echo "$gost_module") | sha256sum | cut -d' ' -f1)
    gost_files=("$dir"/gost-tokens/*/token.object)
    if [ ! -f "$gost_stamp" ] || [ "$(cat "$gost_stamp")" != "$gost_sum" ] || [ ! -f "${gost_files[0]}" ]; then
        echo "softhsm-setup: making token $gost_label in $dir/gost-tokens" >&2
        rm -f "$gost_stamp"
        rm -rf "$dir/gost-tokens"
        mkdir -p "$dir/gost-tokens"
        gost_util=$(dirname "$gost_module")/../../bin/softhsm2-util
        [ -x "$gost_util" ] || gost_util=softhsm2-util
        SOFTHSM2_CONF=$gost_conf "$gost_util" --init-token --free --label "$gost_label" \
            --so-pin "$so_pin" --pin "$pin" >/dev/null
        # softhsm2-util --import reads no GOST keys: the key goes in through python-pkcs11.
        SOFTHSM2_CONF=$gost_conf "$python" - "$gost_module" "$gost_label" "$pin" "$gost_pki" <<'PY'
import sys
from pathlib import Path

import pkcs11
from asn1crypto import core, pem
from cryptography import x509
from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass

from tanba.providers.gost_asn1 import private_key_from_pkcs8

module, label, user_pin, where = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])


def der(name: str) -> bytes:
    return bytes(pem.unarmor((where / name).read_bytes())[2])


def ski(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


key = private_key_from_pkcs8(der("gost-ru.key.pem"))
leaf, ca = (x509.load_der_x509_certificate(der(n)) for n in ("gost-ru.pem", "ca.pem"))
token = pkcs11.lib(module).get_token(token_label=label)
with token.open(rw=True, user_pin=user_pin) as session:
    secret = key.secret_bytes()  # little-endian, as PKCS#11 defines a GOST key's CKA_VALUE
    session.create_object({
        Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.KEY_TYPE: KeyType.GOSTR3410,
        Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False, Attribute.SIGN: True, Attribute.DECRYPT: False, Attribute.UNWRAP: False,
        Attribute.ID: ski(leaf), Attribute.LABEL: "gost-ru", Attribute.SUBJECT: leaf.subject.public_bytes(),
        # SoftHSM 2.6.1 reads this value with BN_bin2bn, i.e. big-endian, against the
        # specification: written the way SoftHSM reads it, or it would sign with another key.
        Attribute.VALUE: secret[::-1],
        # SoftHSM signs on the curve of its built-in CryptoPro-A template key whatever these
        # say; they are written as the certificate names them (curve, Streebog-256).
        Attribute.GOSTR3410_PARAMS: core.ObjectIdentifier(key.curve_oid).dump(),
        Attribute.GOSTR3411_PARAMS: core.ObjectIdentifier(key.family.hash_oid).dump(),
    })
    key.wipe()
    for name, cert, file in (("gost-ru", leaf, "gost-ru.pem"), ("gost-ru-ca", ca, "ca.pem")):
        session.create_object({
            Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
            Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.LABEL: name, Attribute.ID: ski(cert),
            Attribute.SUBJECT: cert.subject.public_bytes(), Attribute.ISSUER: cert.issuer.public_bytes(),
            Attribute.SERIAL_NUMBER: core.Integer(cert.serial_number).dump(), Attribute.VALUE: der(file),
        })
PY
        echo "$gost_sum" >"$gost_stamp"
    fi
    gost_env_text="export SOFTHSM2_CONF=$gost_conf
export TANBA_SOFTHSM_GOST_MODULE=$gost_module
export TANBA_GOST_TEST_PKI=$gost_pki"
    if [ ! -f "$gost_env" ] || [ "$(cat "$gost_env")" != "$gost_env_text" ]; then
        printf '%s\n' "$gost_env_text" >"$gost_env"
    fi
    echo "softhsm-setup: GOST token $gost_label (module $gost_module): source $gost_env" >&2
fi

echo "export SOFTHSM2_CONF=$conf"
echo "export TANBA_TEST_PKI=$pki"
echo "export TANBA_PKCS11_MODULE=$module"
