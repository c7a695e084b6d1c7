#!/usr/bin/env bash
# tls-certs.sh DIR -- a throw-away certificate authority and the certificates
# the TLS lab and tests use, made with openssl into DIR (created if needed).
# Nothing here is fit for anything but a laptop: keys are unencrypted and the
# CA lives next to them.
#
#   ca.crt ca.key            the test CA (redis: tls-ca-cert-file; client: tls_ca_file)
#   server.crt server.key    every node: CN localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   client.crt client.key    a client certificate for mutual TLS (tls-auth-clients yes)
#   other-ca.crt             a CA that signed none of these (the "unknown CA" refusal)
#   wrongname.crt .key       signed by the CA for DNS:wrong.example only (host name mismatch)
#   expired.crt .key         signed by the CA, valid 2020-01-01 .. 2020-01-02 only
# Re-running keeps what exists (delete DIR to start over).
set -euo pipefail
dir=${1:?usage: tls-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -f expired.crt ] && exit 0
days=3650
q() { "$@" >/dev/null 2>&1 || { echo "tls-certs.sh: failed: $*" >&2; "$@"; exit 1; }; }

key() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

ca() {   # ca NAME CN
    key "$1.key"
    q openssl req -x509 -new -key "$1.key" -sha256 -days $days -subj "/O=libclusterc test/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -out "$1.crt"
}

leaf() {   # leaf NAME CN SAN USAGE
    key "$1.key"
    q openssl req -new -key "$1.key" -subj "/O=libclusterc test/CN=$2" -out "$1.csr"
    printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$3" "$4" > "$1.ext"
    q openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
        -days $days -extfile "$1.ext" -out "$1.crt"
    rm -f "$1.csr" "$1.ext"
}

ca ca "libclusterc test CA"
ca other-ca "libclusterc other CA"
rm -f other-ca.key
leaf server localhost "DNS:localhost,IP:127.0.0.1,IP:::1" "serverAuth,clientAuth"
leaf client "libclusterc client" "DNS:client.local" "clientAuth"
leaf wrongname wrong.example "DNS:wrong.example" "serverAuth"

# An expired certificate needs explicit dates: openssl ca takes them.
key expired.key
q openssl req -new -key expired.key -subj "/O=libclusterc test/CN=localhost" -out expired.csr
mkdir -p ca.db && : > ca.db/index.txt && echo 01 > ca.db/serial
cat > ca.db/ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = ca.db/index.txt
serial = ca.db/serial
new_certs_dir = ca.db
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
subjectAltName = DNS:localhost,IP:127.0.0.1
extendedKeyUsage = serverAuth
basicConstraints = CA:FALSE
CNF
q openssl ca -batch -config ca.db/ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr \
    -startdate 20200101000000Z -enddate 20200102000000Z -out expired.crt -notext
rm -rf expired.csr ca.db ca.srl
chmod 600 ./*.key
