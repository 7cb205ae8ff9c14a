"""SSIM of each tool's outputs against a reference: full-resolution decode,
EXIF orientation, ICC -> sRGB, float Lanczos3 reduce to the output's own size
(libvips CLI), compared on luma (BT.601) with the usual 11-tap Gaussian SSIM.
Usage: python3 quality.py CORPUS PREFIX TOOLDIR... (PREFIX: resized or thumbs)
Prints per tool: mean SSIM, min SSIM, and the worst per-image shortfall
against the first tool directory whose name starts with "sharp"."""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def gaussian(sigma=1.5, taps=11):
    x = np.arange(taps) - taps // 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def blur(a, g=gaussian()):
    r = len(g) // 2
    p = np.pad(a, r, mode="reflect")
    # separable: rows, then columns
    tmp = sum(g[k] * p[r:r + a.shape[0], k:k + a.shape[1]] for k in range(len(g)))
    p2 = np.pad(tmp, ((r, r), (0, 0)), mode="reflect")
    return sum(g[k] * p2[k:k + a.shape[0], :] for k in range(len(g)))


def ssim(x, y):
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    m = ((2 * mx * my + C1) * (2 * sxy + C2)) / ((mx * mx + my * my + C1) * (sxx + syy + C2))
    return float(m.mean())


def luma(a):
    if a.ndim == 2:
        return a
    if a.shape[2] == 1:
        return a[:, :, 0]
    return 0.299 * a[:, :, 0] + 0.587 * a[:, :, 1] + 0.114 * a[:, :, 2]


def vips(*args):
    subprocess.run(["vips", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def header(path, field):
    r = subprocess.run(["vipsheader", "-f", field, path], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


_oriented = {}


def reference(src, width, height, tmp):
    """Float Lanczos3 reference of `src` at width x height (luma), cached
    in $QUALITY_CACHE (default /tmp/imgbatch-quality-cache) across runs."""
    cache_dir = os.environ.get("QUALITY_CACHE", "/tmp/imgbatch-quality-cache")
    os.makedirs(cache_dir, exist_ok=True)
    cached = os.path.join(cache_dir, f"{os.path.basename(src)}.{width}x{height}.npy")
    if os.path.exists(cached):
        return np.load(cached)
    a = compute_reference(src, width, height, tmp)
    np.save(cached, a)
    return a


def compute_reference(src, width, height, tmp):
    if src not in _oriented:
        base = os.path.join(tmp, os.path.basename(src) + ".o.v")
        vips("autorot", src, base)
        if header(src, "icc-profile-data") or header(src, "interpretation") == "cmyk":
            srgb = base + ".srgb.v"
            vips("icc_transform", base, srgb, "srgb", "--embedded")
            base = srgb
        _oriented[src] = base
    base = _oriented[src]
    w, h = int(header(base, "width")), int(header(base, "height"))
    ref = os.path.join(tmp, "ref.v")
    flt = os.path.join(tmp, "flt.v")
    vips("cast", base, flt, "float")
    vips("reduce", flt, ref, str(w / width), str(h / height), "--kernel", "lanczos3")
    raw = os.path.join(tmp, "ref.raw")
    vips("rawsave", ref, raw)
    bands = int(header(ref, "bands"))
    rw, rh = int(header(ref, "width")), int(header(ref, "height"))
    a = np.fromfile(raw, dtype=np.float32).reshape(rh, rw, bands)
    return luma(a)


def main():
    corpus, prefix, tools = sys.argv[1], sys.argv[2], sys.argv[3:]
    names = sorted(f for f in os.listdir(corpus) if f.lower().endswith((".jpg", ".jpeg")))
    scores = {t: {} for t in tools}
    with tempfile.TemporaryDirectory() as tmp:
        cache = {}
        for name in names:
            for tool in tools:
                out = os.path.join(tool, prefix, name)
                if not os.path.exists(out):
                    continue
                img = np.asarray(Image.open(out), dtype=np.float64)
                y = luma(img)
                key = (name, y.shape)
                if key not in cache:
                    try:
                        cache[key] = reference(os.path.join(corpus, name), y.shape[1], y.shape[0], tmp)
                    except subprocess.CalledProcessError:
                        cache[key] = None  # larger than the source: wrongly oriented
                if cache[key] is None:
                    continue
                ref = cache[key].astype(np.float64)
                if ref.shape != y.shape:
                    continue  # a tool with the wrong orientation
                scores[tool][name] = ssim(y, ref)
    sharp = next((t for t in tools if os.path.basename(t.rstrip("/")).startswith("sharp")), None)
    print(f"{'tool':<28} {'images':>6} {'mean SSIM':>10} {'min SSIM':>9} {'worst vs sharp':>15}")
    print("(images: outputs with the reference's orientation; the rest are wrong)")
    for tool in tools:
        s = scores[tool]
        if not s:
            print(f"{os.path.basename(tool):<28} {0:>6}")
            continue
        worst = ""
        if sharp and tool != sharp:
            deltas = [scores[sharp][n] - v for n, v in s.items() if n in scores[sharp]]
            worst = f"{max(deltas):+.4f}" if deltas else ""
        vals = list(s.values())
        print(f"{os.path.basename(tool):<28} {len(vals):>6} {np.mean(vals):>10.4f} {min(vals):>9.4f} {worst:>15}")
    if os.environ.get("QUALITY_VERBOSE"):
        for tool in tools:
            if tool == sharp or not sharp:
                continue
            deltas = sorted(((scores[sharp][n] - v, n) for n, v in scores[tool].items()
                             if n in scores[sharp]), reverse=True)[:5]
            for d, n in deltas:
                print(f"  {os.path.basename(tool)}: {n} {scores[tool][n]:.4f} (sharp {scores[sharp][n]:.4f}, {d:+.4f})")


if __name__ == "__main__":
    main()
