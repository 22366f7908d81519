#!/usr/bin/env bash
# Build the image and prove it where a container engine can (not on the development machines,
# which have the docker CLI but no daemon and no registry: docs/install.md says so).
#
#   bash packaging/docker-smoke.sh      # docker or podman
#
# Builds the Dockerfile, checks the image is at most 250 MB, starts it with a fresh volume, waits
# for the HEALTHCHECK to report healthy, creates an account, uploads a photo, reads its thumbnail,
# stops the container (SIGTERM: a clean exit), and removes what it made.
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${CONTAINER_ENGINE:-$(command -v docker || command -v podman || true)}"
[ -n "$engine" ] || { echo "docker-smoke: no docker or podman here" >&2; exit 2; }
"$engine" info >/dev/null 2>&1 || { echo "docker-smoke: $engine cannot reach a container engine" >&2; exit 2; }
tag="octopus-photos:smoke-$$"
name="octopus-smoke-$$"
volume="octopus-smoke-$$"
cleanup() { "$engine" rm -f "$name" >/dev/null 2>&1 || true; "$engine" volume rm "$volume" >/dev/null 2>&1 || true; "$engine" rmi "$tag" >/dev/null 2>&1 || true; }
trap cleanup EXIT

"$engine" build -q -t "$tag" .
size=$("$engine" image inspect "$tag" --format '{{.Size}}')
echo "image size: $((size / 1000000)) MB (target <= 250 MB)"
[ "$size" -le 250000000 ] || { echo "docker-smoke: the image is larger than 250 MB" >&2; exit 1; }
"$engine" run -d --name "$name" -p 127.0.0.1::8000 -v "$volume:/data" "$tag" >/dev/null
port=$("$engine" port "$name" 8000/tcp | head -1 | sed 's/.*://')
for _ in $(seq 120); do
    state=$("$engine" inspect "$name" --format '{{.State.Health.Status}}' 2>/dev/null || echo starting)
    [ "$state" = healthy ] && break
    sleep 1
done
[ "$state" = healthy ] || { "$engine" logs "$name" >&2; echo "docker-smoke: never healthy ($state)" >&2; exit 1; }
base="http://127.0.0.1:$port"
python3 - "$base" <<'PY'
import io, json, sys, urllib.request, uuid
from PIL import Image  # the build machine's Pillow: any JPEG will do
base = sys.argv[1]
def call(method, path, body=None, token=None, ctype="application/json"):
    req = urllib.request.Request(base + path, data=body, method=method)
    req.add_header("Content-Type", ctype)
    if token: req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r: return r.status, r.read()
creds = json.dumps({"username": "smoke", "password": "smoke test password"}).encode()
assert call("POST", "/api/auth/register", creds)[0] == 201
token = json.loads(call("POST", "/api/auth/login", creds)[1])["token"]
buf = io.BytesIO(); Image.new("RGB", (640, 480), (200, 90, 30)).save(buf, "JPEG")
boundary = uuid.uuid4().hex
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
        f"Content-Type: image/jpeg\r\n\r\n").encode() + buf.getvalue() + f"\r\n--{boundary}--\r\n".encode()
status, answer = call("POST", "/api/photos", body, token, f"multipart/form-data; boundary={boundary}")
assert status == 201, status
photo = json.loads(answer)["id"]
assert call("GET", f"/api/photos/{photo}/thumbnail?size=thumb", token=token)[0] == 200
print("upload and thumbnail: ok")
PY
"$engine" stop -t 30 "$name" >/dev/null
code=$("$engine" inspect "$name" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || { echo "docker-smoke: exit code $code after docker stop" >&2; exit 1; }
echo "docker-smoke: ok"
