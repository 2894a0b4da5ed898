#!/usr/bin/env bash
# ansible-test sanity in a local virtualenv (its default containers cannot be pulled here).
# ansible-test must run from .../ansible_collections/<namespace>/<name>, so the tracked files
# are copied into such a tree first, beside links to the collections we depend on. tests/lab
# (the lab's scripts and manifests, not shipped in the collection) is left out: lint.sh checks it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${STATESHIFT_CACHE:-/var/cache/stateshift-k3s}/sanity/ansible_collections/stateshift/k3s"
python_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
mkdir -p "$work"
list_files() { git -C "$repo" ls-files --cached --others --exclude-standard | grep -v '^tests/lab/'; }
list_files | tr '\n' '\0' | rsync -a --delete --from0 --files-from=- "$repo/" "$work/"
# rsync --files-from does not delete files that left the tree; remove them by listing.
(cd "$work" && comm -23 <(find . -type f -not -path './tests/output/*' -printf '%P\n' | sort) \
  <(list_files | sort) | xargs -r rm -f)
find "$work" -type d -empty -delete
site="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections"
for dependency in kubernetes/core community/general community/docker community/postgresql ansible/posix; do
  mkdir -p "$work/../../${dependency%/*}"
  ln -sfn "$site/$dependency" "$work/../../$dependency"
done
cd "$work"
ansible-test sanity --venv --python "$python_version" --color no "$@"
