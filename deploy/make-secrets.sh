#!/bin/sh
# Writes the secrets compose.yaml reads, in ./secrets next to this script, keeping any that
# exist: the database password (and the URL holding it), Wasl's secret key and Telegram's
# webhook secret. The bot's token comes from @BotFather: write it to secrets/telegram_bot_token.
#
# Back up secrets/wasl_secret_key apart from the database (docs/deployment.md says why).
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
chmod 700 secrets

random() {  # $1 bytes, URL-safe base64 without padding
    head -c "$1" /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

write() {  # write() NAME VALUE: once; readable inside the containers (the folder is 0700)
    if [ -s "secrets/$1" ]; then
        echo "kept    secrets/$1"
    else
        printf '%s' "$2" > "secrets/$1"
        chmod 644 "secrets/$1"
        echo "written secrets/$1"
    fi
}

write postgres_password "$(random 24)"
write database_url "postgresql://wasl:$(cat secrets/postgres_password)@postgres:5432/wasl"
write wasl_secret_key "$(random 32)"
write telegram_webhook_secret "$(random 32)"
if [ ! -s secrets/telegram_bot_token ]; then
    echo "missing secrets/telegram_bot_token: write the token @BotFather gave you there"
fi
