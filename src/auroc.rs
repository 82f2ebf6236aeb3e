//! Exact AUROC: the Mann–Whitney U statistic over all (positive, negative) pairs, ties counted
//! half, in O(n log n) by ranking. A finding with only one class present has no AUROC (`None`),
//! never 0.5.

/// AUROC of scores `p` for binary labels `y` (true = positive). `None` when `y` has only one
/// class or a score is not finite.
pub fn auroc(y: &[bool], p: &[f32]) -> Option<f64> {
    debug_assert_eq!(y.len(), p.len());
    let n_pos = y.iter().filter(|&&b| b).count();
    let n_neg = y.len() - n_pos;
    if n_pos == 0 || n_neg == 0 || p.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    // Sum of (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && p[idx[j + 1]] == p[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if y[k] {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// AUROC over the images whose label is stated as 1 or 0 (uncertain −1 and unstated labels are
/// left out), with the numbers of positives and negatives used.
pub fn auroc_stated(y: &[Option<i8>], p: &[f32]) -> (Option<f64>, usize, usize) {
    let mut yy = Vec::with_capacity(y.len());
    let mut pp = Vec::with_capacity(y.len());
    for (l, s) in y.iter().zip(p) {
        match l {
            Some(1) => {
                yy.push(true);
                pp.push(*s);
            }
            Some(0) => {
                yy.push(false);
                pp.push(*s);
            }
            _ => {}
        }
    }
    let pos = yy.iter().filter(|&&b| b).count();
    (auroc(&yy, &pp), pos, yy.len() - pos)
}

#[cfg(test)]
mod tests {
    use super::auroc;

    #[test]
    fn known_values() {
        assert_eq!(auroc(&[false, true], &[0.1, 0.9]), Some(1.0));
        assert_eq!(auroc(&[true, false], &[0.1, 0.9]), Some(0.0));
        // All tied: 0.5 exactly.
        assert_eq!(auroc(&[true, false, true, false], &[0.3; 4]), Some(0.5));
        // sklearn.metrics.roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.75
        assert_eq!(auroc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]), Some(0.75));
        assert_eq!(auroc(&[true, true], &[0.1, 0.2]), None);
    }
}
