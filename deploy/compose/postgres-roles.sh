#!/bin/sh
# Runs once, when the postgres container initialises its data directory (docker-entrypoint-initdb.d), as the
# database owner aegis_owner: the application's roles, as README's "The two database URLs" describes. The
# migrations create aegis_app too and tolerate that it exists; they grant it SELECT and INSERT on events only.
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$AEGIS_DB_APP_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE aegis_app NOLOGIN;
CREATE ROLE aegis_web LOGIN PASSWORD :'app_password' IN ROLE aegis_app;
SQL
