#!/bin/sh
# Makes the trial's CA and the certificates of openldap and mailpit in /tls,
# once. Trial only: the CA key stays in the volume.
set -eu
umask 022
cd /tls
[ -f ca.pem ] && exit 0
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
  -subj "/CN=idp trial CA" -keyout ca.key -out ca.pem 2>/dev/null
for host in openldap mailpit; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$host" \
    -keyout "$host.key" -out "$host.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$host" > "$host.ext"
  openssl x509 -req -in "$host.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 90 \
    -extfile "$host.ext" -out "$host.pem" 2>/dev/null
  rm "$host.csr" "$host.ext"
done
# mailpit runs as another user; the keys are trial keys.
chmod 0644 ca.pem openldap.pem mailpit.pem mailpit.key
chmod 0600 ca.key openldap.key
# Run as root on a fresh volume: slapd reads its key as openldap.
if [ "$(id -u)" = 0 ]; then chown openldap:openldap openldap.key; fi
