#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job on
# embedded defaults. Today that is the file format end to end: a demo folder of secrets is
# encrypted file by file into blobs (no name or content in clear), then restored from the
# blobs alone and compared byte for byte. The card, the server and the watching agent join
# as their issues land (docs/architecture.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh release
cv=$PWD/build/agent/cardvault

demo=${CARDVAULT_DEMO_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/cardvault-demo}
rm -rf "$demo"
mkdir -p "$demo/vault/keys" "$demo/vault/tokens" "$demo/blobs" "$demo/restored"
chmod 700 "$demo"
echo "demo: working in $demo"

# A software identity stands in for the card until the card backend lands.
recipient=$("$cv" keygen -o "$demo/identity.key" 2>/dev/null)
echo "demo: recipient $recipient (software key; the card backend replaces it)"

printf 'AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n' > "$demo/vault/keys/aws.txt"
printf 'ghp_exampletoken0123456789abcdefghijklmn\n' > "$demo/vault/tokens/github token.txt"
head -c 3000000 /dev/urandom > "$demo/vault/keys/backup.kdbx"
chmod 600 "$demo/vault/keys/aws.txt"

n=0
while IFS= read -r -d '' f; do
  rel=${f#"$demo/vault/"}
  n=$((n + 1))
  "$cv" encrypt -r "$recipient" --name "$rel" -o "$demo/blobs/$n.cvb" "$f"
done < <(find "$demo/vault" -type f -print0 | sort -z)

if grep -rqs -e AKIAIOSFODNN7EXAMPLE -e 'github token' "$demo/blobs"; then
  echo "demo: FAILED: plaintext found in the blobs" >&2
  exit 1
fi
echo "demo: $n blobs written; no file name or content appears in them"

for b in "$demo"/blobs/*.cvb; do
  name=$("$cv" decrypt -i "$demo/identity.key" -o "$demo/restored/tmp" "$b" 2>&1 |
         sed -n 's/^cardvault: decrypted \(.*\) ([0-9]* bytes) to .*$/\1/p')
  mkdir -p "$(dirname "$demo/restored/$name")"
  mv "$demo/restored/tmp" "$demo/restored/$name"
done
diff -r "$demo/vault" "$demo/restored"
echo "demo: restored $n files from the blobs alone; identical to the originals"
"$cv" inspect "$demo/blobs/1.cvb"
echo "demo: done. Try: $cv decrypt -i $demo/identity.key -o /tmp/out $demo/blobs/1.cvb"
