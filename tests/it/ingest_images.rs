//! Ingest with images: every reject reason costs only its own row, lossless DICOM codecs give
//! identical store pixels, paths cannot escape the root, and re-ingesting replaces only that
//! dataset's partition.

use std::path::Path;

use crate::common::{copy_dir, fixture, images, meta, parts, prep, prep_ok, read_batches, rejects, strings, write_png8};

const UKA_HEADER: &str = "image_id,patient_id,split,image_path,view,sex,age,cardiomegaly,congestion,pleural_effusion_right,pleural_effusion_left,pneumonic_infiltrates_right,pneumonic_infiltrates_left,atelectasis_right,atelectasis_left,pneumothorax_right,pneumothorax_left,healthy";

/// A UKA-template root whose rows point at the real RG1 crop in several encodings, and at
/// files that must be rejected.
fn uka_root(dir: &Path) -> Vec<(&'static str, &'static str)> {
    let imgs = dir.join("images");
    std::fs::create_dir_all(&imgs).unwrap();
    let rows = vec![
        ("le", "images/le.dcm"),
        ("rle", "images/rle.dcm"),
        ("j2k", "images/j2k.dcm"),
        ("mono2", "images/mono2.dcm"),
        ("signed", "images/signed.dcm"),
        ("jpegls_real", "images/jpegls_real.dcm"),
        ("jpegls", "images/jpegls.dcm"),
        ("nopixels", "images/nopixels.dcm"),
        ("missing", "images/missing.dcm"),
        ("dotdot", "../outside.dcm"),
        ("absolute", "/etc/passwd"),
        ("symlink", "images/link.dcm"),
        ("notimage", "images/notes.dcm"),
    ];
    for (src, dst) in [
        ("crop_explicit_le.dcm", "le.dcm"),
        ("crop_rle.dcm", "rle.dcm"),
        ("crop_j2kr.dcm", "j2k.dcm"),
        ("crop_mono2.dcm", "mono2.dcm"),
        ("crop_signed.dcm", "signed.dcm"),
        ("crop_jpegls.dcm", "jpegls_real.dcm"),
        ("crop_jpegls_junk.dcm", "jpegls.dcm"),
        ("no_pixel_data.dcm", "nopixels.dcm"),
    ] {
        std::fs::copy(fixture("dicom").join(src), imgs.join(dst)).unwrap();
    }
    std::fs::write(imgs.join("notes.dcm"), b"this is not an image").unwrap();
    let outside = dir.parent().unwrap().join("outside.dcm");
    std::fs::copy(fixture("dicom/crop_explicit_le.dcm"), &outside).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, imgs.join("link.dcm")).unwrap();
    let mut csv = String::from(UKA_HEADER);
    csv.push('\n');
    for (i, (id, path)) in rows.iter().enumerate() {
        csv.push_str(&format!("{id},P{i},train,{path},AP,M,61,3,0,0,4,,,1,2,0,0,0\n"));
    }
    std::fs::write(dir.join("UKA_CXR_labels.csv"), csv).unwrap();
    rows
}

#[test]
fn lossless_dicom_encodings_store_identical_pixels_and_bad_rows_are_rejects() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("uka");
    uka_root(&root);
    let store = tmp.path().join("store");
    let args = ["ingest", "uka", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--threads", "2"];
    // 7 of 13 rows are rejected: over the default 5% reject limit, so exit code 1 …
    let out = prep(&args);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    let stored = 6;
    assert!(summary.contains(&format!("{stored} rows written")), "{summary}");
    // … but every good row is stored.
    let b = read_batches(&store, "uka");
    let ids: Vec<String> = strings(&b, "image_id").into_iter().flatten().collect();
    let want = vec!["le", "rle", "j2k", "mono2", "signed", "jpegls_real"];
    assert_eq!(ids, want);
    let px = images(&b);
    let first = px[0].clone().unwrap();
    assert_eq!(first.len(), 224 * 224);
    for (id, p) in ids.iter().zip(&px) {
        let differ = p.as_ref().unwrap().iter().zip(&first).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "{id}: lossless encodings must give identical store pixels");
    }
    // MONOCHROME1 inverted: the stored image is not constant and uses the full 8-bit range.
    assert_eq!(*first.iter().max().unwrap(), 255);
    assert_eq!(*first.iter().min().unwrap(), 0);
    let rej = rejects(&store, "uka");
    let kind = |id: &str| rej.iter().find(|r| r["image_id"] == id).map(|r| r["kind"].clone()).unwrap_or_default();
    assert_eq!(kind("missing"), "missing image file");
    assert_eq!(kind("dotdot"), "path escapes root");
    assert_eq!(kind("absolute"), "path escapes root");
    #[cfg(unix)]
    assert_eq!(kind("symlink"), "symlink escapes root");
    assert_eq!(kind("nopixels"), "undecodable image");
    assert_eq!(kind("jpegls"), "undecodable image");
    assert_eq!(kind("notimage"), "undecodable image");
    for r in &rej {
        assert_eq!(r["file"], "UKA_CXR_labels.csv");
        assert!(r["row"].parse::<u64>().unwrap() >= 1);
    }
    // Labels: grade 4 on the left effusion -> positive, OR-merged; healthy 0 -> negative.
    assert_eq!(crate::common::labels(&b, "pleural_effusion"), vec![Some(1); stored]);
    assert_eq!(crate::common::labels(&b, "cardiomegaly"), vec![Some(1); stored]);
    assert_eq!(crate::common::labels(&b, "atelectasis"), vec![Some(0); stored]);
    assert_eq!(crate::common::labels(&b, "pneumonic_infiltrates"), vec![None; stored]);
    // A generous limit makes the same run succeed; --strict fails on any reject.
    let mut lenient = args.to_vec();
    lenient.extend(["--max-reject-fraction", "0.9"]);
    prep_ok(&lenient);
    let mut strict = lenient.clone();
    strict.push("--strict");
    assert_eq!(prep(&strict).status.code(), Some(1));
}

/// NIH layout with PNGs spread over the archive folders, some missing (a partial download).
fn nih_root(dir: &Path, skip_every: usize) -> Vec<String> {
    copy_dir(&fixture("csv/nih"), dir);
    let text = {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(dir.join("Data_Entry_2017_v2020.csv.gz")).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let ids: Vec<String> = text.lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect();
    for (i, id) in ids.iter().enumerate() {
        if skip_every > 0 && i % skip_every == 0 {
            continue;
        }
        let folder = if i % 2 == 0 { "images_001" } else { "images_002" };
        write_png8(&dir.join(folder).join("images").join(id), 96 + (i as u32 % 3) * 16, 80, i as u8);
    }
    ids
}

#[test]
fn nih_pngs_partial_download_and_partition_replacement() {
    let tmp = tempfile::tempdir().unwrap();
    let nih = tmp.path().join("nih");
    let ids = nih_root(&nih, 10);
    let store = tmp.path().join("store");
    let s = store.to_str().unwrap();
    // A second dataset in the same store, metadata-only.
    prep_ok(&["ingest", "chexpert", "--root", fixture("csv/chexpert").to_str().unwrap(), "--out", s, "--metadata-only"]);
    let chexpert_before: Vec<Vec<u8>> = parts(&store, "chexpert").iter().map(|p| std::fs::read(p).unwrap()).collect();

    let out = prep(&["ingest", "nih", "--root", nih.to_str().unwrap(), "--out", s, "--size", "32", "--max-reject-fraction", "0.2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let missing = ids.len().div_ceil(10);
    assert!(text.contains("missing images by folder"), "{text}");
    assert!(text.contains(&format!("{missing}  missing image file")) || text.contains("missing image file"), "{text}");
    let b = read_batches(&store, "nih");
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), ids.len() - missing);
    for p in images(&b) {
        assert_eq!(p.unwrap().len(), 32 * 32);
    }
    // The rest of the download arrives; re-ingesting replaces NIH, CheXpert is untouched.
    nih_root(&nih, 0);
    prep_ok(&["ingest", "nih", "--root", nih.to_str().unwrap(), "--out", s, "--size", "32"]);
    let b = read_batches(&store, "nih");
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), ids.len(), "every row after the full download");
    // Changing options on an existing partition needs --overwrite.
    let refused = prep(&["ingest", "nih", "--root", nih.to_str().unwrap(), "--out", s, "--size", "48"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--overwrite"));
    prep_ok(&["ingest", "nih", "--root", nih.to_str().unwrap(), "--out", s, "--metadata-only", "--overwrite"]);
    let b = read_batches(&store, "nih");
    assert!(images(&b).iter().all(Option::is_none), "metadata-only rows have no image");
    let chexpert_after: Vec<Vec<u8>> = parts(&store, "chexpert").iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(chexpert_before, chexpert_after);
    let m = meta(&store);
    assert!(m["datasets"]["chexpert"]["rows"].as_u64().unwrap() > 0);
    assert_eq!(m["datasets"]["nih"]["options"]["metadata_only"], true);
    assert_eq!(m["datasets"]["nih"]["rows"].as_u64().unwrap() as usize, ids.len());
    assert_eq!(m["datasets"]["nih"]["metadata_files"][0]["path"], "Data_Entry_2017_v2020.csv.gz");
    assert_eq!(m["datasets"]["nih"]["metadata_files"][0]["sha256"].as_str().unwrap().len(), 64);
    assert!(!store.join("_staging").exists());
}

#[test]
fn chexpert_paths_resolve_when_root_is_the_release_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("CheXpert-v1.0-small");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(fixture("csv/chexpert/train.csv.gz"), root.join("train.csv.gz")).unwrap();
    // Paths say CheXpert-v1.0-small/train/…; the images live under <root>/train/….
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(root.join("train.csv.gz")).unwrap()).read_to_string(&mut text).unwrap();
    let mut n = 0;
    for line in text.lines().skip(1) {
        let p = line.split(',').next().unwrap();
        let rel = p.strip_prefix("CheXpert-v1.0-small/").unwrap();
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_fn(40, 48, |x, y| image::Luma([(x * 5 + y) as u8])).save(&path).unwrap();
        n += 1;
    }
    let store = tmp.path().join("store");
    let out = prep_ok(&["ingest", "chexpert", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "16", "--fit", "pad"]);
    assert!(out.contains(&format!("{n} rows written")), "{out}");
    let b = read_batches(&store, "chexpert");
    let views = strings(&b, "view");
    assert!(views.iter().any(|v| v.as_deref() == Some("LATERAL")), "laterals normalised");
    let src = strings(&b, "source_labels");
    assert!(src[0].as_ref().unwrap().contains("\"No Finding\""), "source labels kept verbatim");
}

#[test]
fn shards_merge_into_the_rows_of_one_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let nih = tmp.path().join("nih");
    nih_root(&nih, 0);
    let root = nih.to_str().unwrap();
    let clean = tmp.path().join("clean");
    let sharded = tmp.path().join("sharded");
    let common = ["--size", "16", "--rows-per-part", "8"];
    let mut args = vec!["ingest", "nih", "--root", root, "--out", clean.to_str().unwrap()];
    args.extend(common);
    prep_ok(&args);
    for shard in ["1/3", "3/3", "2/3"] {
        let mut a = vec!["ingest", "nih", "--root", root, "--out", sharded.to_str().unwrap(), "--shard", shard];
        a.extend(common);
        let out = prep_ok(&a);
        assert!(out.contains(&format!("shard {shard}")), "{out}");
        assert!(!sharded.join("dataset=nih").exists(), "a shard never swaps the partition in");
    }
    let mut merge = vec!["ingest", "nih", "--root", root, "--out", sharded.to_str().unwrap()];
    merge.extend(common);
    let out = prep_ok(&merge);
    assert!(out.contains("(7 resumed)"), "every chunk came from a shard: {out}");
    let names = |s: &Path| parts(s, "nih").iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&clean), names(&sharded));
    let (a, b) = (read_batches(&clean, "nih"), read_batches(&sharded, "nih"));
    assert_eq!(strings(&a, "image_id"), strings(&b, "image_id"));
    assert_eq!(strings(&a, "split"), strings(&b, "split"));
    assert_eq!(images(&a), images(&b));
    assert!(prep(&["ingest", "nih", "--root", root, "--out", "x", "--shard", "4/3"]).status.code() == Some(2));
}
