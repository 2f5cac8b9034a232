#!/usr/bin/env bash
# Peer of bench/population.py: a throw-away Postfix with N virtual mailboxes receives ONE
# message of L bytes addressed to all of them (smtp-source -r N, recipient limits raised),
# timed from the start of the SMTP session until the last maildir file is written.
# Needs root (installs Debian's postfix if missing); stops Postfix when done.
# usage: postfix_fanout.sh [recipients=10000] [size_bytes=10240]
set -eu
N=${1:-10000} L=${2:-10240}
if ! command -v postfix >/dev/null || ! command -v smtp-source >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
base=$(mktemp -d /var/tmp/pffanout.XXXX)
chown nobody:nogroup "$base"
[ -f /etc/postfix/main.cf ] || touch /etc/postfix/main.cf
postconf -e "myhostname=localhost" "mydestination=" "inet_interfaces=loopback-only" \
  "inet_protocols=ipv4" "mynetworks=127.0.0.0/8" "maillog_file=/var/log/postfix.log" \
  "virtual_mailbox_domains=ent.test" "virtual_mailbox_base=$base" \
  "virtual_mailbox_maps=hash:/etc/postfix/vmailbox" \
  "virtual_uid_maps=static:$(id -u nobody)" "virtual_gid_maps=static:$(id -g nobody)" \
  "smtpd_client_connection_rate_limit=0" "default_process_limit=100" \
  "smtpd_recipient_limit=$N" "virtual_destination_recipient_limit=$N" \
  "smtpd_recipient_restrictions=permit_mynetworks,reject_unauth_destination" \
  "compatibility_level=3.6"
# smtp-source -r N addresses b@, 2b@, 3b@ … Nb@ent.test.
{ echo "b@ent.test ent.test/b/"; for n in $(seq 2 "$N"); do echo "${n}b@ent.test ent.test/${n}b/"; done; } \
  > /etc/postfix/vmailbox
postmap /etc/postfix/vmailbox
newaliases 2>/dev/null || true
postfix stop >/dev/null 2>&1 || true
postfix start >/dev/null 2>&1
sleep 2
t0=$(date +%s.%N)
smtp-source -s 1 -m 1 -r "$N" -l "$L" -f a@example.org -t b@ent.test 127.0.0.1:25 >/dev/null 2>&1
t1=$(date +%s.%N)
until [ "$(find "$base" -type f -path '*/new/*' | wc -l)" -ge "$N" ]; do sleep 0.05; done
t2=$(date +%s.%N)
postfix stop >/dev/null 2>&1 || true
rm -rf "$base"
python3 -c "print(f'postfix: 1 message of {$L} B to {$N} virtual mailboxes; accepted in {$t1-$t0:.2f} s; last maildir file after {$t2-$t0:.2f} s')"
