#!/usr/bin/env bash
# Publishes the pictures of `retainctl plan --previews` on the `retainctl-previews` branch
# of the same repository, under pr-NUMBER/COMMIT/, so that the plan comment can embed them
# by a URL that renders for whoever can read the repository (private ones included:
# github.com/OWNER/REPO/blob/BRANCH/PATH?raw=true is served with the reader's session).
# The branch holds one folder per pull request, the newest commit's only; nothing else.
#
# Environment: PREVIEWS_DIR (the folder retainctl wrote), PR_NUMBER, COMMIT_SHA,
# GITHUB_WORKSPACE (the checkout whose `origin` is pushed to, with the credentials
# actions/checkout left there), GITHUB_OUTPUT; PREVIEWS_BRANCH overrides the branch.
# Outputs: published=true|false. A push that is refused (a fork's read-only token, no
# `contents: write`) is a warning, not a failure: the gallery artifact still has it all.
set -euo pipefail

branch="${PREVIEWS_BRANCH:-retainctl-previews}"
dir="${PREVIEWS_DIR:?PREVIEWS_DIR is not set}"
number="${PR_NUMBER:?PR_NUMBER is not set}"
sha="${COMMIT_SHA:?COMMIT_SHA is not set}"
repo="${GITHUB_WORKSPACE:-$PWD}"
out="${GITHUB_OUTPUT:-/dev/null}"
if [[ ! "$number" =~ ^[0-9]+$ ]]; then
  echo "::error title=retainctl previews::PR_NUMBER must be a number, got '$number'"
  exit 1
fi
if [[ ! "$sha" =~ ^[0-9a-f]{7,40}$ ]]; then
  echo "::error title=retainctl previews::COMMIT_SHA must be a commit id, got '$sha'"
  exit 1
fi
if [ ! -f "$dir/index.html" ]; then
  echo "::warning title=retainctl previews::no previews in $dir: nothing to publish"
  echo "published=false" >> "$out"
  exit 0
fi
target="pr-$number/${sha:0:12}"
work=$(mktemp -d)
cleanup() {
  git -C "$repo" worktree remove --force "$work" >/dev/null 2>&1 || rm -rf "$work"
}
trap cleanup EXIT

git_() { git -C "$work" -c user.name="retainctl" -c user.email="retainctl@users.noreply.github.com" "$@"; }

# Up to three tries: another pull request's job may push the branch in between.
for attempt in 1 2 3; do
  git -C "$repo" worktree remove --force "$work" >/dev/null 2>&1 || true
  rm -rf "$work"
  parent=()
  if git -C "$repo" fetch --quiet origin "+refs/heads/$branch:refs/retainctl/previews" 2>"$work.err"; then
    git -C "$repo" worktree add --quiet --detach "$work" refs/retainctl/previews
    parent=(-p refs/retainctl/previews)
  else
    # No branch yet: a first commit without parent, holding nothing of the repository.
    git -C "$repo" worktree add --quiet --detach "$work"
    git_ read-tree --empty
    find "$work" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
    printf '# retainctl previews\n\nPictures of retention messages for pull-request plan comments, written by the retainctl action. Safe to delete.\n' > "$work/README.md"
  fi
  # This pull request's older pictures go; other pull requests' stay.
  rm -rf "$work/pr-$number"
  mkdir -p "$work/$target"
  cp -R "$dir/." "$work/$target/"
  git_ add -A
  commit=$(git_ commit-tree "$(git_ write-tree)" "${parent[@]}" -m "previews of pull request #$number at ${sha:0:12}")
  if git_ push --quiet origin "$commit:refs/heads/$branch" 2>"$work.err"; then
    echo "published the previews to $branch/$target"
    echo "published=true" >> "$out"
    rm -f "$work.err"
    exit 0
  fi
  if grep -qiE "denied|403|forbidden|not allowed|read-only|Authentication failed|could not read Username|does not appear to be a git repository" "$work.err"; then
    break
  fi
done
reason=$(tr '\n' ' ' < "$work.err" | sed -E 's#(https?://)[^@/ ]*@#\1***@#g' | cut -c1-300)
rm -f "$work.err"
echo "::warning title=retainctl previews::cannot push the $branch branch (${reason:-refused}); give the job \`permissions: contents: write\` (a fork's pull request never can): the pictures are in the gallery artifact"
echo "published=false" >> "$out"
