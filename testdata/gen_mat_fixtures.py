#!/usr/bin/python3
"""Generate the small MAT-file fixtures under testdata/data/.

Run from the repository root:

    /usr/bin/python3 testdata/gen_mat_fixtures.py

Needs numpy and scipy (Debian: python3-scipy). The files test the Go
Level 5 MAT-file reader in data/matfile.go (data/matfile_test.go holds the
values written here):

  arrays.mat            uncompressed: numeric classes, logical, complex, char
                        (one row, two rows, non-ASCII), cell, struct, empty
  arrays_z.mat          the same variables with do_compression=True
  cars_meta.mat         Stanford Cars devkit layout: class_names, 1x3 cell of char
  cars_train_annos.mat  Stanford Cars layout: annotations, 1x12 struct with bbox_x1,
                        bbox_y1, bbox_x2, bbox_y2, class (uint8) and fname, compressed
  cars_test_annos_withlabels.mat
                        the same layout, 1x4, class stored as double, uncompressed
  imagelabels.mat       Oxford Flowers layout: labels, 1x19 double
  big_endian.mat        hand-written big-endian Level 5 file: x (2x2 double),
                        s (char 'BE'), c (1x1 cell holding int16 7)
  v73_header.mat        a MATLAB 7.3 (HDF5) header, which the reader must refuse
  v4.mat                a MATLAB v4 file (scipy format='4'), which it must refuse

The 116-byte header text (scipy writes the creation time into it) is
replaced by a fixed text so that the output does not change between runs.
"""
import os
import struct

import numpy as np
import scipy.io

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
HEADER = b"MATLAB 5.0 MAT-file, written by softcpt-go testdata/gen_mat_fixtures.py"


def fix_header(path):
    with open(path, "r+b") as f:
        f.seek(0)
        f.write(HEADER.ljust(116, b" "))


def savemat(name, variables, compress):
    path = os.path.join(OUT, name)
    scipy.io.savemat(path, variables, do_compression=compress, oned_as="row")
    fix_header(path)


def arrays():
    rec = np.zeros((1, 2), dtype=[("name", object), ("value", object)])
    rec[0, 0]["name"] = "first"
    rec[0, 0]["value"] = np.array([[1.5]])
    rec[0, 1]["name"] = "second"
    rec[0, 1]["value"] = np.array([[1, 2, 3]], dtype=np.int32)
    cell = np.empty((1, 3), dtype=object)
    cell[0, 0] = "abc"
    cell[0, 1] = np.array([[4.0, 5.0]])
    inner = np.empty((1, 1), dtype=object)
    inner[0, 0] = "nested"
    cell[0, 2] = inner
    return {
        "d": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]),  # 2x3, column-major 1 4 2 5 3 6.5
        "f32": np.array([[0.25, -2.0]], dtype=np.float32),
        "i8": np.array([[-128, 127]], dtype=np.int8),
        "u8": np.array([[0, 255]], dtype=np.uint8),
        "i16": np.array([[-32768, 32767]], dtype=np.int16),
        "u16": np.array([[65535]], dtype=np.uint16),
        "i32": np.array([[-2147483648, 7]], dtype=np.int32),
        "u32": np.array([[4294967295]], dtype=np.uint32),
        "i64": np.array([[-(2**40), 3]], dtype=np.int64),
        "u64": np.array([[2**40]], dtype=np.uint64),
        "b": np.array([[True, False, True]]),
        "z": np.array([[1 + 2j, -3.5 - 0.5j]]),
        "s": "hello world",
        "rows": np.array(["ab", "cd"]),  # 2x2 char, column-major a c b d
        "u": "caf\u00e9 \u00fc",
        "cell": cell,
        "rec": rec,
        "empty": np.zeros((0, 0)),
    }


def cars_annos(name, rows, class_dtype, compress):
    fields = [("bbox_x1", object), ("bbox_y1", object), ("bbox_x2", object),
              ("bbox_y2", object), ("class", object), ("fname", object)]
    annos = np.zeros((1, len(rows)), dtype=fields)
    for i, (cls, fname) in enumerate(rows):
        annos[0, i]["bbox_x1"] = np.array([[10 + i]], dtype=np.uint8)
        annos[0, i]["bbox_y1"] = np.array([[20]], dtype=np.uint8)
        annos[0, i]["bbox_x2"] = np.array([[300]], dtype=np.uint16)
        annos[0, i]["bbox_y2"] = np.array([[200]], dtype=np.uint8)
        annos[0, i]["class"] = np.array([[cls]], dtype=class_dtype)
        annos[0, i]["fname"] = fname
    savemat(name, {"annotations": annos}, compress=compress)


def cars():
    meta = np.empty((1, 3), dtype=object)
    meta[0, 0] = "AM General Hummer SUV 2000"
    meta[0, 1] = "Acura RL Sedan 2012"
    meta[0, 2] = "smart fortwo Convertible 2012"
    savemat("cars_meta.mat", {"class_names": meta}, compress=False)
    train = [1, 3, 2, 1, 1, 3, 2, 1, 3, 2, 1, 3]  # 5 / 3 / 4 per class
    cars_annos("cars_train_annos.mat", [(c, "%05d.jpg" % (i + 1)) for i, c in enumerate(train)], np.uint8, True)
    test = [2, 1, 3, 3]
    cars_annos("cars_test_annos_withlabels.mat", [(c, "%05d.jpg" % (i + 1)) for i, c in enumerate(test)], np.float64, False)


def big_endian():
    """A Level 5 file written by hand in big-endian byte order."""

    def element(typ, data):
        pad = (-len(data)) % 8
        return struct.pack(">II", typ, len(data)) + data + b"\0" * pad

    def small(typ, data):
        return struct.pack(">HH", len(data), typ) + data.ljust(4, b"\0")

    def matrix(cls, dims, name, body):
        flags = element(6, struct.pack(">II", cls, 0))
        d = element(5, struct.pack(">%di" % len(dims), *dims))
        n = small(1, name) if 0 < len(name) <= 4 else element(1, name)
        return element(14, flags + d + n + body)

    x = matrix(6, [2, 2], b"x", element(9, struct.pack(">4d", 1.0, 3.0, 2.0, 4.0)))
    s = matrix(4, [1, 2], b"s", element(4, struct.pack(">2H", ord("B"), ord("E"))))
    inner = matrix(10, [1, 1], b"", small(3, struct.pack(">h", 7)))
    c = matrix(1, [1, 1], b"c", inner)
    header = HEADER.ljust(116, b" ") + b"\0" * 8 + struct.pack(">H", 0x0100) + b"MI"
    with open(os.path.join(OUT, "big_endian.mat"), "wb") as f:
        f.write(header + x + s + c)


def v73():
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    header = text.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0200) + b"IM"
    with open(os.path.join(OUT, "v73_header.mat"), "wb") as f:
        f.write(header.ljust(512, b"\0") + b"\x89HDF\r\n\x1a\n" + b"\0" * 24)


def main():
    os.makedirs(OUT, exist_ok=True)
    savemat("arrays.mat", arrays(), compress=False)
    savemat("arrays_z.mat", arrays(), compress=True)
    cars()
    # Oxford Flowers: 4 / 5 / 10 images of labels 1 / 2 / 3, first seen in the order 3, 1, 2.
    labels = [3, 1, 2, 3, 3, 1, 2, 2, 3, 3, 1, 3, 2, 3, 1, 3, 2, 3, 3]
    savemat("imagelabels.mat", {"labels": np.array([labels], dtype=np.float64)}, compress=False)
    big_endian()
    v73()
    scipy.io.savemat(os.path.join(OUT, "v4.mat"), {"x": np.array([[1.0, 2.0]])}, format="4")
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
