// The job with sharp, as its users write it: decode once (clone), both
// outputs, EXIF orientation, sRGB, metadata stripped. libvips threading off
// (one image per process; run.sh starts one process per core).
// Usage: node sharp_job.js OUTDIR FILE...
const path = require('path');
const fs = require('fs');
const sharp = require('sharp');
sharp.concurrency(1);
sharp.cache(false);

async function main() {
  const [out, ...files] = process.argv.slice(2);
  for (const dir of ['resized', 'thumbs']) fs.mkdirSync(path.join(out, dir), { recursive: true });
  for (const file of files) {
    const name = path.basename(file);
    const input = sharp(file).rotate();  // rotate() with no angle = EXIF orientation
    await Promise.all([
      input.clone().resize(1024, 768, { fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: 100, chromaSubsampling: '4:2:0' })
        .toFile(path.join(out, 'resized', name)),
      input.clone().resize(192, 192, { fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: 75 })
        .toFile(path.join(out, 'thumbs', name)),
    ]);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
