#!/usr/bin/env python3
"""Writes tests/fixtures/csv/vindr-pcxr/image_labels_{train,test}.csv: a few made-up rows in the
published VinDr-PCXR 1.0.0 header format (image_id, rad_ID, the 15 disease columns as spelled in
the release, sic). The release needs PhysioNet credentials, so no real rows are copied; the
header's source is noted in data-manifests/vindr-pcxr.toml. Deterministic: a re-run gives the
same bytes. Usage: python3 scripts/make_pcxr_fixture.py tests/fixtures/csv/vindr-pcxr
"""
import hashlib
import os
import sys

HEADER = ("image_id,rad_ID,No finding,Bronchitis,Brocho-pneumonia,Other disease,Bronchiolitis,"
          "Situs inversus,Pneumonia,Pleuro-pneumonia,Diagphramatic hernia,Tuberculosis,"
          "Congenital emphysema,CPAM,Hyaline membrane disease,Mediastinal tumor,Lung tumor")
NAMES = HEADER.split(",")[2:]


def iid(i):
    return hashlib.md5(f"pcxr-fixture-{i}".encode()).hexdigest()


def row(i, rad, positives):
    return ",".join([iid(i), rad] + ["1" if n in positives else "0" for n in NAMES])


def main(out):
    os.makedirs(out, exist_ok=True)
    train = [
        row(0, "R1", ["No finding"]), row(1, "R2", ["Bronchitis"]),
        row(2, "R3", ["Brocho-pneumonia", "Pneumonia"]), row(3, "R1", ["Bronchiolitis"]),
        row(4, "R2", ["Other disease", "Situs inversus"]), row(5, "R3", ["No finding"]),
        row(6, "R1", ["Pleuro-pneumonia"]), row(7, "R2", ["Diagphramatic hernia"]),
        # A damaged row: a value that is not 0/1 (the ingest rejects it, naming file and row).
        ",".join([iid(8), "R3", "0", "2"] + ["0"] * 13),
    ]
    test = [
        row(20, "R1", ["No finding"]), row(21, "R2", ["Bronchitis", "Bronchiolitis"]),
        row(22, "R3", ["Pneumonia"]), row(23, "R1", ["Hyaline membrane disease"]),
    ]
    for name, rows in [("image_labels_train.csv", train), ("image_labels_test.csv", test)]:
        with open(os.path.join(out, name), "w", newline="\n") as f:
            f.write(HEADER + "\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
