#!/usr/bin/env bash
# ansible-test sanity in a local virtualenv (its default containers cannot be pulled here).
# ansible-test must run from .../ansible_collections/<namespace>/<name>, so the tracked files
# are copied into such a tree first.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${STATESHIFT_CACHE:-/var/cache/stateshift-k3s}/sanity/ansible_collections/stateshift/k3s"
python_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
mkdir -p "$work"
git -C "$repo" ls-files -z --cached --others --exclude-standard | rsync -a --delete --from0 --files-from=- "$repo/" "$work/"
# rsync --files-from does not delete files that left the tree; remove them by listing.
(cd "$work" && comm -23 <(find . -type f -not -path './tests/output/*' -printf '%P\n' | sort) \
  <(git -C "$repo" ls-files --cached --others --exclude-standard | sort) | xargs -r rm -f)
cd "$work"
ansible-test sanity --venv --python "$python_version" --color no "$@"
