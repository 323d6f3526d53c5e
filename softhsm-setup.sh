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
# DIR/softhsm2.conf, DIR/tokens/
#                  one token "tanba-test" (SO PIN 12345678, user PIN 1234) with the keys and
#                  certificates of rsa-auth, rsa-sign, ec-auth, ec-sign (label = name, CKA_ID from
#                  the manifest).
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

echo "export SOFTHSM2_CONF=$conf"
echo "export TANBA_TEST_PKI=$pki"
echo "export TANBA_PKCS11_MODULE=$module"
