#!/usr/bin/env python3
"""Times a new version sent with part reuse: the figures in the README's "Part reuse" section.

    cargo build --release -p box-emulator
    head -c 1G /dev/urandom > /dev/shm/file1g
    emulator/scripts/reuse-timing.py target/release/box-emulator /dev/shm/file1g sdk

Starts the emulator (data directory under /dev/shm), uploads FILE with `sha=` digests, changes
the two parts around its middle, and sends that as a new version:

  sdk     a plan request of one part before each part, only the misses sent (boxsdk 10.18)
  batch8  a plan per 8 parts hashed, its misses sent before the next (the engine's batches)
  batch   every part hashed, one plan, the misses sent, the commit at once

Prints the plans' and the commit's wall time and the emulator's counters that grew. Needs
`requests`.
"""
import base64, hashlib, json, subprocess, sys, tempfile, time
import requests

emulator, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
data_dir = tempfile.mkdtemp(dir="/dev/shm", prefix="reuse-timing-")
proc = subprocess.Popen([emulator, "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    base = proc.stdout.readline().split()[-1]
    H = {"authorization": "Bearer test-token"}
    s = requests.Session()
    data = open(path, "rb").read()
    size = len(data)

    def counters():
        return s.get(base + "/_emulator/counters", headers=H).json()

    def put(sess, off, chunk):
        r = s.put(sess["session_endpoints"]["upload_part"], data=chunk, headers={**H,
            "digest": "sha=" + base64.b64encode(hashlib.sha1(chunk).digest()).decode(),
            "content-range": f"bytes {off}-{off + len(chunk) - 1}/{size}",
            "content-type": "application/octet-stream"})
        r.raise_for_status()
        return r.json()["part"]

    def commit(sess, parts, whole_sha1):
        t = time.perf_counter()
        r = s.post(sess["session_endpoints"]["commit"], json={"parts": parts}, headers={**H,
            "digest": "sha=" + base64.b64encode(whole_sha1).decode()})
        dt = time.perf_counter() - t
        assert r.status_code == 201, r.text
        return r.json()["entries"][0], dt

    # v2 (made first, so its session follows v1's commit at once): the two parts around the
    # middle changed.
    ps = 32 << 20 if size >= 512 << 20 else 8 << 20
    v2 = bytearray(data)
    lo, hi = size // 2 - ps, size // 2 + ps
    v2[lo:hi] = v2[lo:hi].translate(bytes(b ^ 0x5A for b in range(256)))
    v2 = bytes(v2)
    v2_sha1 = hashlib.sha1(v2).digest()
    v1_sha1 = hashlib.sha1(data).digest()

    # v1: every part with sha= alone.
    sess = s.post(base + "/api/2.0/files/upload_sessions", headers=H,
                  json={"folder_id": "0", "file_name": f"f{time.time()}.bin", "file_size": size}).json()
    assert sess["part_size"] == ps, sess["part_size"]
    parts = [put(sess, o, data[o:o + ps]) for o in range(0, size, ps)]
    f, dt1 = commit(sess, parts, v1_sha1)
    fid = f["id"]

    c0 = counters()
    t_all = time.perf_counter()
    sess = s.post(base + f"/api/2.0/files/{fid}/upload_sessions", headers=H, json={"file_size": size}).json()
    plan_url = sess["session_endpoints"]["plan"]
    plan_s = 0.0
    listed = []

    def plan(asked):
        global plan_s
        t = time.perf_counter()
        r = s.post(plan_url, json={"parts": asked}, headers=H)
        plan_s += time.perf_counter() - t
        r.raise_for_status()
        return r.json()

    def entry(o):
        c = v2[o:o + ps]
        return {"offset": o, "size": len(c), "sha512": hashlib.sha512(c).hexdigest()}

    if mode == "sdk":
        for o in range(0, size, ps):
            a = plan([entry(o)])
            for h in a["hits"]:
                listed.append({"part_id": h["part_id"], "offset": h["offset"], "size": h["size"]})
            for m in a["misses"]:
                listed.append(put(sess, o, v2[o:o + ps]))
    elif mode == "batch8":
        # As the engine: a plan per 256 MiB of parts hashed, its misses sent before the next batch.
        offs = list(range(0, size, ps))
        for b in range(0, len(offs), 8):
            a = plan([entry(o) for o in offs[b:b + 8]])
            listed += [{"part_id": h["part_id"], "offset": h["offset"], "size": h["size"]} for h in a["hits"]]
            listed += [put(sess, m["offset"], v2[m["offset"]:m["offset"] + ps]) for m in a["misses"]]
    else:
        a = plan([entry(o) for o in range(0, size, ps)])
        listed = [{"part_id": h["part_id"], "offset": h["offset"], "size": h["size"]} for h in a["hits"]]
        listed += [put(sess, m["offset"], v2[m["offset"]:m["offset"] + ps]) for m in a["misses"]]
    listed.sort(key=lambda p: p["offset"])
    f, dt2 = commit(sess, listed, v2_sha1)
    total = time.perf_counter() - t_all
    assert f["sha1"] == v2_sha1.hex()
    c1 = counters()
    d = lambda k: c1.get(k, 0) - c0.get(k, 0)
    extra = {k: d(k) for k in c1 if isinstance(c1[k], int) and k.startswith(("plan_", "parts_", "part_sha512", "commit_bytes", "bytes_hashed", "sha512"))}
    print(json.dumps({"mode": mode, "v1_commit_s": round(dt1, 3), "plan_wait_s": round(plan_s, 3),
                      "reuse_commit_s": round(dt2, 3), "v2_total_s": round(total, 2), **extra}))
finally:
    proc.kill()
    proc.wait()
    subprocess.run(["rm", "-rf", data_dir])
