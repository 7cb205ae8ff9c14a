"""The seed's worker logic with Pillow: orientation 3/6/8 only, rotated
without expanding the canvas (as the seed does), thumbnail() (draft mode) to
1024x768 at quality 100 and to 192x192 at quality 75.
Usage: python3 pillow_seed.py OUTDIR FILE..."""
import os
import sys

from PIL import Image

ORIENTATION = 0x0112
ROTATE = {3: 180, 6: 270, 8: 90}


def job(path, out):
    name = os.path.basename(path)
    image = Image.open(path)
    orientation = image.getexif().get(ORIENTATION, 1)
    if orientation in ROTATE:
        image = image.rotate(ROTATE[orientation])
    image = image.convert("RGB")
    resized = image.copy()
    resized.thumbnail((1024, 768))
    resized.save(os.path.join(out, "resized", name), quality=100)
    image.thumbnail((192, 192))
    image.save(os.path.join(out, "thumbs", name), quality=75)


def main():
    out, files = sys.argv[1], sys.argv[2:]
    for sub in ("resized", "thumbs"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for path in files:
        job(path, out)


if __name__ == "__main__":
    main()
