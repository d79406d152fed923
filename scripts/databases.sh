#!/usr/bin/env bash
# Real PostgreSQL and MariaDB for the @xraykit/sql tests, on a Debian machine, as root,
# without systemd.
#
#   scripts/databases.sh start   install (once), start, create database and user
#   scripts/databases.sh stop    stop both servers
#
# Both listen on 127.0.0.1 only:
#   PostgreSQL  127.0.0.1:5432  postgres://xraykit:xraykit-secret-pw@127.0.0.1:5432/xraykit_test
#   MariaDB     127.0.0.1:3306  mysql://xraykit:xraykit-secret-pw@127.0.0.1:3306/xraykit_test
# The tests read XRAYKIT_PG_URL and XRAYKIT_MYSQL_URL, which default to these URLs.
# Running `start` again is harmless: what is installed, running or created is left alone.
set -euo pipefail

DB_NAME=xraykit_test
DB_USER=xraykit
DB_PASSWORD=xraykit-secret-pw
PG_PORT=5432
MYSQL_PORT=3306
WAIT_SECONDS=60
MYSQL_LOG=/var/log/mysql/xraykit-mariadbd.log

die () { echo "databases.sh: $*" >&2; exit 1; }

# Waits until "$@" succeeds, at most WAIT_SECONDS.
wait_for () {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

install_packages () {
  local missing=()
  dpkg -s postgresql >/dev/null 2>&1 || missing+=(postgresql)
  dpkg -s mariadb-server >/dev/null 2>&1 || missing+=(mariadb-server)
  ((${#missing[@]} == 0)) && return 0
  echo "installing ${missing[*]} with apt-get (once)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed; cannot install ${missing[*]}"
  # No init system here: postinst scripts may fail to start services; we start them below.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

pg_cluster () {
  # "<version> <name>" of the first cluster, e.g. "15 main"
  pg_lsclusters --no-header 2>/dev/null | awk 'NR == 1 { print $1, $2 }'
}

pg_sql () { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"; }

start_postgres () {
  local cluster version name
  cluster=$(pg_cluster)
  if [[ -z $cluster ]]; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    [[ -n $version ]] || die "PostgreSQL is not installed (no /usr/lib/postgresql/<version>)"
    pg_createcluster --port "$PG_PORT" "$version" main >/dev/null || die "pg_createcluster failed"
    cluster=$(pg_cluster)
  fi
  read -r version name <<<"$cluster"
  if ! pg_ctlcluster "$version" "$name" status >/dev/null 2>&1; then
    pg_ctlcluster "$version" "$name" start \
      || die "PostgreSQL $version/$name did not start; see /var/log/postgresql/postgresql-$version-$name.log"
  fi
  wait_for pg_isready -q -h 127.0.0.1 -p "$PG_PORT" \
    || die "PostgreSQL did not accept connections on 127.0.0.1:$PG_PORT within ${WAIT_SECONDS}s"
  pg_sql <<SQL || die "could not create the PostgreSQL user or database"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN;
  END IF;
END \$\$;
ALTER ROLE $DB_USER WITH LOGIN PASSWORD '$DB_PASSWORD';
SQL
  if [[ -z $(pg_sql -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ]]; then
    pg_sql -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" || die "could not create database $DB_NAME"
  fi
  echo "PostgreSQL $version ready: postgres://$DB_USER:***@127.0.0.1:$PG_PORT/$DB_NAME"
}

mysql_ping () { mariadb-admin --protocol=socket -uroot ping; }

start_mariadb () {
  command -v mariadbd >/dev/null || die "MariaDB is not installed (no mariadbd)"
  install -d -o mysql -g mysql /run/mysqld /var/log/mysql
  if [[ ! -d /var/lib/mysql/mysql ]]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null \
      || die "mariadb-install-db failed"
  fi
  if ! mysql_ping >/dev/null 2>&1; then
    # mysqld_safe restarts the server if it crashes; setsid detaches it from this shell.
    setsid mysqld_safe --user=mysql --bind-address=127.0.0.1 --port="$MYSQL_PORT" \
      --log-error="$MYSQL_LOG" </dev/null >/dev/null 2>&1 &
  fi
  wait_for mysql_ping \
    || die "MariaDB did not start within ${WAIT_SECONDS}s; see $MYSQL_LOG"
  mariadb --protocol=socket -uroot <<SQL || die "could not create the MariaDB user or database"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
  # Logs in over TCP as the test user, as the tests do.
  wait_for mariadb --protocol=tcp -h 127.0.0.1 -P "$MYSQL_PORT" -u"$DB_USER" -p"$DB_PASSWORD" "$DB_NAME" -e "SELECT 1" \
    || die "MariaDB is running but 127.0.0.1:$MYSQL_PORT refuses $DB_USER; see $MYSQL_LOG"
  echo "MariaDB $(mariadbd --version | awk '{print $3}') ready: mysql://$DB_USER:***@127.0.0.1:$MYSQL_PORT/$DB_NAME"
}

stop_postgres () {
  local version name
  read -r version name <<<"$(pg_cluster)"
  if [[ -n ${version:-} ]] && pg_ctlcluster "$version" "$name" status >/dev/null 2>&1; then
    pg_ctlcluster "$version" "$name" stop || die "PostgreSQL $version/$name did not stop"
  fi
  echo "PostgreSQL stopped"
}

stop_mariadb () {
  if command -v mariadb-admin >/dev/null && mysql_ping >/dev/null 2>&1; then
    mariadb-admin --protocol=socket -uroot shutdown || die "MariaDB did not stop"
  fi
  echo "MariaDB stopped"
}

if [[ $(id -u) != 0 ]]; then
  # it installs packages and starts servers as their system users
  command -v sudo >/dev/null || die "run as root (or with sudo available)"
  exec sudo -- "$0" "$@"
fi

case "${1:-}" in
  start)
    install_packages
    start_postgres
    start_mariadb
    ;;
  stop)
    stop_postgres
    stop_mariadb
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
