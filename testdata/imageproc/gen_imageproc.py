#!/usr/bin/python3
"""Generate Pillow reference fixtures for clip/imageproc.

Run from anywhere with Debian's Python (PIL 9.4, numpy):

    /usr/bin/python3 testdata/imageproc/gen_imageproc.py

It writes into the directory holding this script:

  src_*.png              source images (RGB, lossless)
  *.q90_<sub>.jpg        the sources saved by Pillow/libjpeg-turbo as JPEG q90
  *.q90_<sub>.pil.png    Pillow's decode of that JPEG (lossless)
  resize_*.png           Image.resize((w, h), Image.BICUBIC) of a source
  clip_*.f32             CLIP's test transform (torchvision Resize(n, BICUBIC),
                         CenterCrop(n), ToTensor, Normalize) as float32 LE CHW
  conv_*.{png,jpg}       images in other modes (L, LA, P+tRNS, RGBA, I;16, CMYK)
  conv_*.rgb.png         their .convert("RGB") by Pillow
  manifest.json          the list of cases, read by the Go tests

The "photo" source is Go's own image/testdata/video-001.png (a real video
frame, BSD-licensed with the Go distribution); the others are synthetic.
torchvision is not needed: its Resize/CenterCrop/ToTensor/Normalize are
re-implemented below with the exact formulas of torchvision 0.8-0.15
(int(n*long/short), int(round((h-n)/2.0)), float32 /255, (x-mean)/std).
"""
import json
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
GO_PHOTO = "/usr/local/go/src/image/testdata/video-001.png"


def path(name):
    return os.path.join(HERE, name)


def synth(w, h, seed):
    """Gradients, soft blobs, hard edges and a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / (w - 1)
    g = 255 * y / (h - 1)
    b = 128 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)
    img = np.stack([r, g, b], axis=-1)
    for _ in range(4):  # soft blobs
        cx, cy, rad = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(5, 20)
        col = rng.uniform(0, 255, 3)
        wgt = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * rad * rad))[..., None]
        img = img * (1 - wgt) + col * wgt
    # hard-edged rectangle and a diagonal line
    x0, y0 = w // 4, h // 3
    img[y0:y0 + h // 4, x0:x0 + w // 3] = [250, 20, 30]
    diag = np.abs(x - y * w / h) < 1.0
    img[diag] = [0, 0, 0]
    img += rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def noisy(w, h, seed):
    """Uniform noise, stripes and a checkerboard: worst case for resamplers."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3)).astype(np.float64)
    y, x = np.mgrid[0:h, 0:w]
    img[:, ::3, 0] = 255
    img[::4, :, 1] = 0
    checker = ((x // 5 + y // 5) % 2 == 0)
    img[checker & (y > h // 2), 2] = 255
    return Image.fromarray(img.astype(np.uint8), "RGB")


def clip_transform(im, n):
    w, h = im.size
    if (w <= h and w == n) or (h <= w and h == n):
        pass
    elif w < h:
        im = im.resize((n, int(n * h / w)), Image.BICUBIC)
    else:
        im = im.resize((int(n * w / h), n), Image.BICUBIC)
    w, h = im.size
    top = int(round((h - n) / 2.0))
    left = int(round((w - n) / 2.0))
    im = im.crop((left, top, left + n, top + n))
    a = np.asarray(im.convert("RGB"), dtype=np.uint8).astype(np.float32)
    a = a / np.float32(255)
    a = (a - MEAN) / STD
    return np.ascontiguousarray(a.transpose(2, 0, 1)).astype("<f4")


def main():
    man = {"resize": [], "jpeg": [], "clip": [], "convert": []}
    srcs = {}
    if os.path.exists(GO_PHOTO):
        srcs["photo"] = Image.open(GO_PHOTO).convert("RGB")  # 150x103
    else:  # keep the committed copy when Go's testdata is not around
        srcs["photo"] = Image.open(path("src_photo.png")).convert("RGB")
    srcs["synth"] = synth(97, 80, 1)
    srcs["noise"] = noisy(45, 71, 2)
    for name, im in srcs.items():
        im.save(path(f"src_{name}.png"), optimize=True)

    sizes = {
        "photo": [(37, 29), (16, 16), (224, 154), (301, 77), (150, 50), (151, 103)],
        "synth": [(37, 29), (16, 16), (145, 120), (97, 33), (20, 80), (271, 224)],
        "noise": [(37, 29), (16, 16), (67, 106), (44, 70), (45, 70)],
    }
    for name, lst in sizes.items():
        for w, h in lst:
            out = f"resize_{name}_{w}x{h}.png"
            srcs[name].resize((w, h), Image.BICUBIC).save(path(out), optimize=True)
            man["resize"].append({"src": f"src_{name}.png", "w": w, "h": h, "want": out})

    # JPEG: Pillow q90 defaults to 4:2:0; also 4:2:2 and 4:4:4 for the photo.
    subs = {"420": 2, "422": 1, "444": 0}
    jobs = [("photo", "420"), ("photo", "422"), ("photo", "444"),
            ("synth", "420"), ("noise", "420")]
    for name, sub in jobs:
        jp = f"{name}.q90_{sub}.jpg"
        srcs[name].save(path(jp), quality=90, subsampling=subs[sub])
        dec = Image.open(path(jp))
        dec.load()
        assert dec.mode == "RGB"
        pp = f"{name}.q90_{sub}.pil.png"
        dec.save(path(pp), optimize=True)
        man["jpeg"].append({"jpeg": jp, "sub": sub, "pillow": pp, "src": f"src_{name}.png"})

    # Subsamplings Pillow cannot write (4:4:0, 4:1:1, 4:1:0) and a progressive
    # file, taken from Go's image/testdata (same video frame, quality 50).
    for sub, fn in [("440", "video-001.q50.440.jpeg"), ("411", "video-001.q50.411.jpeg"),
                    ("410", "video-001.q50.410.jpeg"), ("420", "video-001.q50.420.progressive.jpeg")]:
        jp = "go_" + fn.replace("video-001.", "").replace(".jpeg", ".jpg")
        gofile = os.path.join(os.path.dirname(GO_PHOTO), fn)
        if os.path.exists(gofile):
            with open(gofile, "rb") as f, open(path(jp), "wb") as g:
                g.write(f.read())
        dec = Image.open(path(jp))
        dec.load()
        pp = jp.replace(".jpg", ".pil.png")
        dec.convert("RGB").save(path(pp), optimize=True)
        man["jpeg"].append({"jpeg": jp, "sub": sub, "pillow": pp, "src": "src_photo.png"})

    # CLIP transform, from the PNG sources and from the 4:2:0 JPEGs.
    for name, n in [("photo", 32), ("photo", 48), ("synth", 32), ("noise", 32), ("noise", 24)]:
        for kind, fn in [("png", f"src_{name}.png"), ("jpg", f"{name}.q90_420.jpg")]:
            im = Image.open(path(fn)).convert("RGB")
            out = f"clip_{name}_{kind}_{n}.f32"
            clip_transform(im, n).tofile(path(out))
            man["clip"].append({"src": fn, "size": n, "want": out})

    # Mode conversions.
    base = srcs["synth"]
    gray = base.convert("L")
    la = gray.copy()
    la.putalpha(Image.linear_gradient("L").resize(base.size))
    rgba = base.copy()
    rgba.putalpha(Image.linear_gradient("L").rotate(90).resize(base.size))
    pal = base.convert("P", palette=Image.ADAPTIVE, colors=40)
    pal.info["transparency"] = 3
    g16 = Image.fromarray((np.asarray(gray, dtype=np.uint16) * 3).astype(np.uint16))
    convs = [("conv_gray.png", gray, {}), ("conv_la.png", la, {}),
             ("conv_rgba.png", rgba, {}), ("conv_pal.png", pal, {"transparency": 3}),
             ("conv_gray16.png", g16, {}),
             ("conv_cmyk.jpg", base.convert("CMYK"), {"quality": 95}),
             ("conv_gray.jpg", gray, {"quality": 90})]
    for fn, im, kw in convs:
        im.save(path(fn), **kw)
        back = Image.open(path(fn))
        mode = back.mode
        out = fn.rsplit(".", 1)[0] + "." + fn.rsplit(".", 1)[1] + ".rgb.png"
        back.convert("RGB").save(path(out), optimize=True)
        man["convert"].append({"src": fn, "mode": mode, "want": out})

    with open(path("manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
