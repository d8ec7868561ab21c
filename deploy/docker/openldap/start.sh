#!/bin/sh
# Seeds the directory at first start, then runs slapd in the foreground on
# ldaps://:1636 (no root needed for a port above 1024).
set -eu
conf=/tmp/slapd.conf
hash() { slappasswd -h '{SSHA}' -T "$1"; }
# The rootdn and service passwords come from the compose secrets.
sed -e "s|@ADMIN_PASSWORD@|$(hash /run/secrets/ldap-admin-password)|" /opt/trial/slapd.conf > "$conf"
if [ ! -f /var/lib/ldap/data.mdb ]; then
  sed -e "s|@READER_PASSWORD@|$(hash /run/secrets/ldap-reader-password)|" \
      -e "s|@WRITER_PASSWORD@|$(hash /run/secrets/ldapsync-bind-password)|" \
      /opt/trial/seed.ldif | slapadd -f "$conf" -q
fi
exec slapd -d 0 -f "$conf" -h "ldaps://:1636/ ldapi://%2Ftmp%2Fldapi/"
