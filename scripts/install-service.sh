#!/bin/sh
# Install builderd as a systemd service on a Debian host (npm run install-service).
#
#   scripts/install-service.sh [--dry-run] [--destdir DIR] [--no-prune]
#
# Puts in place:
#   /usr/lib/builderd/{dist,native,node_modules,package.json}   the built daemon (npm run build first)
#   /usr/bin/builderd                                             CLI wrapper
#   /etc/systemd/system/builderd.service                          the hardened unit
#   /usr/lib/sysusers.d/builderd.conf, /usr/lib/tmpfiles.d/builderd.conf
#   /etc/builderd/builderd.yaml                                   example config, only if none exists
# then (real installs only) creates the user, the directories, and reloads systemd. It never starts
# or enables the service: `systemctl enable --now builderd` is the operator's step.
# --destdir DIR (or DESTDIR=DIR): install under DIR, run no system command (packaging, tests).
# --dry-run: print what would be done, change nothing.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
dry=0
prune=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --destdir) DESTDIR=$2; shift ;;
    --destdir=*) DESTDIR=${1#--destdir=} ;;
    --no-prune) prune=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install-service: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

run() {
  echo "+ $*"
  [ $dry = 1 ] || "$@"
}

if [ -z "$DESTDIR" ] && [ $dry = 0 ] && [ "$(id -u)" != 0 ]; then
  echo "install-service: run as root (or use --destdir DIR / --dry-run)" >&2; exit 1
fi
if [ ! -f "$here/dist/cli/index.js" ]; then
  echo "install-service: $here/dist/cli/index.js missing: run 'npm run build' first" >&2; exit 1
fi
if [ ! -f "$here/native/sdnotify/build/Release/sdnotify.node" ]; then
  run node "$here/scripts/build-native.mjs"
fi

lib=$DESTDIR/usr/lib/builderd
run install -d -m 0755 "$lib" "$lib/native" "$DESTDIR/usr/bin" "$DESTDIR/etc/systemd/system" \
  "$DESTDIR/usr/lib/sysusers.d" "$DESTDIR/usr/lib/tmpfiles.d" "$DESTDIR/etc/builderd"
# Replace the code wholesale so files removed upstream do not linger.
run rm -rf "$lib/dist" "$lib/node_modules"
run cp -R "$here/dist" "$lib/dist"
# -L: node_modules may be a symlink (worktrees); the installed copy must be real files.
run cp -RL "$here/node_modules" "$lib/node_modules"
for d in "$here"/native/*/; do
  name=$(basename "$d")
  if [ -d "$d/build/Release" ]; then
    run install -d -m 0755 "$lib/native/$name/build/Release"
    for f in "$d"/build/Release/*.node; do
      [ -e "$f" ] && run install -m 0755 "$f" "$lib/native/$name/build/Release/"
    done
  fi
done
run install -m 0644 "$here/package.json" "$lib/package.json"
[ -f "$here/README.md" ] && run install -m 0644 "$here/README.md" "$lib/README.md"
if [ $prune = 1 ] && command -v npm >/dev/null 2>&1 && [ -f "$here/package-lock.json" ]; then
  run install -m 0644 "$here/package-lock.json" "$lib/package-lock.json"
  # Drop dev dependencies (typescript, tsx, ...) from the installed copy; this only removes files.
  if [ $dry = 1 ]; then echo "+ (cd $lib && npm prune --omit=dev)"; else (cd "$lib" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null); fi
fi

wrapper=$DESTDIR/usr/bin/builderd
echo "+ write $wrapper"
if [ $dry = 0 ]; then
  printf '#!/bin/sh\nexec /usr/bin/node /usr/lib/builderd/dist/cli/index.js "$@"\n' > "$wrapper"
  chmod 0755 "$wrapper"
fi

run install -m 0644 "$here/systemd/builderd.service" "$DESTDIR/etc/systemd/system/builderd.service"
run install -m 0644 "$here/systemd/builderd.sysusers" "$DESTDIR/usr/lib/sysusers.d/builderd.conf"
run install -m 0644 "$here/systemd/builderd.tmpfiles" "$DESTDIR/usr/lib/tmpfiles.d/builderd.conf"

conf=$DESTDIR/etc/builderd/builderd.yaml
if [ -e "$conf" ]; then
  echo "install-service: $conf exists: kept"
else
  run install -m 0640 "$here/systemd/builderd.yaml" "$conf"
  run install -d -m 0755 "$DESTDIR/etc/builderd/templates"
  if [ -d "$here/config/templates" ]; then run cp -R "$here/config/templates/." "$DESTDIR/etc/builderd/templates/"; fi
fi

if [ -z "$DESTDIR" ]; then
  run systemd-sysusers builderd.conf
  run systemd-tmpfiles --create builderd.conf
  # The config holds the site's inventory: readable by the service's group, not by everyone.
  run chgrp builderd "$conf"
  if [ -d /run/systemd/system ]; then run systemctl daemon-reload; fi
  echo "install-service: done. Check the config, then: systemctl enable --now builderd"
else
  echo "install-service: installed under $DESTDIR"
fi
