//! Post-hoc recalibration of one finding's probabilities, fitted on validation predictions and
//! applied unchanged to test (`evaluate --recalibrate temperature|platt`).
//!
//! Both work on the logit `z = ln(p / (1 − p))` of the model's probability, with `p` clamped
//! to `[1e-12, 1 − 1e-12]` so that a saturated 0 or 1 has a finite logit:
//!
//! - **Temperature scaling** (Guo et al., "On Calibration of Modern Neural Networks", ICML
//!   2017): `p' = σ(z / T)` with the one temperature `T > 0` that minimises the negative
//!   log-likelihood of the validation labels. It keeps the ranking (AUROC unchanged) and only
//!   sharpens (`T < 1`) or softens (`T > 1`) the probabilities.
//! - **Platt scaling** (Platt, "Probabilistic Outputs for Support Vector Machines and
//!   Comparisons to Regularized Likelihood Methods", 1999): `p' = σ(a·z + b)`, fitted by
//!   maximum likelihood against Platt's smoothed targets `(N₊ + 1) / (N₊ + 2)` for positives
//!   and `1 / (N₋ + 2)` for negatives (his §2.2; also `sklearn.calibration`'s sigmoid method),
//!   which keeps `a` and `b` finite even when the classes are separable.
//!
//! Both problems are convex (logistic regression in one or two parameters); Newton's method
//! with a backtracking line search solves them to machine precision.

use serde::Serialize;

/// Which recalibration to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Recalibration {
    /// One temperature per finding (Guo et al. 2017).
    Temperature,
    /// Slope and intercept on the logit per finding (Platt 1999).
    Platt,
}

/// A fitted recalibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Fitted {
    /// `p' = σ(z / temperature)`.
    Temperature { temperature: f64 },
    /// `p' = σ(slope · z + intercept)`.
    Platt { slope: f64, intercept: f64 },
}

/// Why a recalibration could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("the validation labels have a single class")]
    SingleClass,
    #[error("the validation scores separate the classes perfectly or rank them backwards: no finite positive temperature")]
    NoTemperature,
    #[error("the fit did not converge")]
    NoConvergence,
}

/// Probabilities are clamped to `[CLAMP, 1 − CLAMP]` before the logit (the `eps` of
/// scikit-learn's `_convert_to_logits`).
pub const CLAMP: f64 = 1e-12;

/// `ln(p / (1 − p))` of `p` clamped to `[CLAMP, 1 − CLAMP]`.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(CLAMP, 1.0 - CLAMP);
    p.ln() - (-p).ln_1p()
}

/// `σ(x) = 1 / (1 + e^{−x})`, without overflow.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) }
}

/// `ln(1 + e^x)`, without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl Fitted {
    /// The recalibrated probability of a model probability `p`.
    pub fn apply(&self, p: f64) -> f64 {
        let z = logit(p);
        match *self {
            Fitted::Temperature { temperature } => sigmoid(z / temperature),
            Fitted::Platt { slope, intercept } => sigmoid(slope * z + intercept),
        }
    }
}

/// Fits `method` on validation labels `y` (1/0 only; others ignored) and probabilities `p`.
pub fn fit(method: Recalibration, y: &[Option<i8>], p: &[f32]) -> Result<Fitted, FitError> {
    let (mut z, mut t) = (Vec::new(), Vec::new());
    for (l, &s) in y.iter().zip(p) {
        if let Some(l @ (0 | 1)) = *l {
            z.push(logit(f64::from(s)));
            t.push(f64::from(l));
        }
    }
    let pos = t.iter().filter(|&&v| v == 1.0).count();
    if pos == 0 || pos == t.len() {
        return Err(FitError::SingleClass);
    }
    match method {
        Recalibration::Temperature => {
            // The likelihood of σ(β·z) falls without end as β grows when every positive has
            // z ≥ 0 and every negative z ≤ 0 (the logit 0 separates them): no finite optimum.
            if z.iter().zip(&t).all(|(&z, &t)| if t == 1.0 { z >= 0.0 } else { z <= 0.0 }) {
                return Err(FitError::NoTemperature);
            }
            // Minimise over β = 1 / T with the intercept fixed at 0.
            let beta = newton(&z, &t, [1.0, 0.0], false)?[0];
            if !(beta > 0.0 && beta.is_finite()) {
                return Err(FitError::NoTemperature);
            }
            Ok(Fitted::Temperature { temperature: 1.0 / beta })
        }
        Recalibration::Platt => {
            let neg = t.len() - pos;
            let (hi, lo) = ((pos as f64 + 1.0) / (pos as f64 + 2.0), 1.0 / (neg as f64 + 2.0));
            let targets: Vec<f64> = t.iter().map(|&v| if v == 1.0 { hi } else { lo }).collect();
            let start = [0.0, ((pos as f64 + 1.0) / (neg as f64 + 1.0)).ln()];
            let [slope, intercept] = newton(&z, &targets, start, true)?;
            Ok(Fitted::Platt { slope, intercept })
        }
    }
}

/// Negative log-likelihood of `σ(a·z + b)` against targets `t` in [0, 1].
fn nll(z: &[f64], t: &[f64], [a, b]: [f64; 2]) -> f64 {
    z.iter().zip(t).map(|(&z, &t)| softplus(a * z + b) - t * (a * z + b)).sum()
}

/// Newton's method with backtracking on [`nll`] over `(a, b)` (`b` fixed at its start value
/// unless `intercept`). Stops when a step changes no parameter by more than 1e-13 relative
/// (quadratic convergence: the previous step was then already at rounding level).
fn newton(z: &[f64], t: &[f64], start: [f64; 2], intercept: bool) -> Result<[f64; 2], FitError> {
    let mut x = start;
    let mut f = nll(z, t, x);
    for _ in 0..200 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&z, &t) in z.iter().zip(t) {
            let s = sigmoid(x[0] * z + x[1]);
            let (r, w) = (s - t, s * (1.0 - s));
            ga += r * z;
            gb += r;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        let step = if intercept {
            let det = haa * hbb - hab * hab;
            if det <= 0.0 || !det.is_finite() {
                return Err(FitError::NoConvergence);
            }
            [(hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det]
        } else {
            if haa <= 0.0 {
                return Err(FitError::NoTemperature);
            }
            [ga / haa, 0.0]
        };
        let mut scale = 1.0;
        let mut next = [x[0] - step[0], x[1] - step[1]];
        let mut fn_ = nll(z, t, next);
        // Near the optimum a Newton step changes the likelihood by less than its rounding
        // error, so the decrease is judged with a relative tolerance: the step then still
        // lands on the root of the gradient (a strict test would stop √ε short of it).
        let worse = |v: f64| v.is_nan() || v > f + 1e-13 * f.abs();
        while worse(fn_) && scale > 1e-10 {
            scale /= 2.0;
            next = [x[0] - scale * step[0], x[1] - scale * step[1]];
            fn_ = nll(z, t, next);
        }
        if worse(fn_) {
            // No descent left even within rounding.
            return Ok(x);
        }
        let small = |d: f64, v: f64| (d * scale).abs() <= 1e-13 * v.abs().max(1.0);
        x = next;
        f = fn_;
        if small(step[0], x[0]) && small(step[1], x[1]) {
            return Ok(x);
        }
        if x[0].abs() > 1e8 {
            // The likelihood keeps improving as the slope grows: the classes are separable.
            return Err(FitError::NoTemperature);
        }
    }
    Err(FitError::NoConvergence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logit_and_sigmoid_invert() {
        for p in [1e-6, 0.1, 0.5, 0.9, 1.0 - 1e-6] {
            assert!((sigmoid(logit(p)) - p).abs() < 1e-12, "{p}");
        }
        assert!(logit(0.0).is_finite() && logit(1.0).is_finite());
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
    }

    #[test]
    fn overconfident_scores_get_a_temperature_above_one() {
        // Labels drawn with probability σ(z / 2) but reported as σ(z): T should come out near 2.
        let mut rng = crate::rng::Rng::new(5);
        let (mut y, mut p) = (Vec::new(), Vec::new());
        for _ in 0..4000 {
            let z = (rng.unit() - 0.5) * 12.0;
            y.push(Some(i8::from(rng.unit() < sigmoid(z / 2.0))));
            p.push(sigmoid(z) as f32);
        }
        let Fitted::Temperature { temperature } = fit(Recalibration::Temperature, &y, &p).unwrap() else { panic!() };
        assert!((temperature - 2.0).abs() < 0.2, "{temperature}");
        let Fitted::Platt { slope, .. } = fit(Recalibration::Platt, &y, &p).unwrap() else { panic!() };
        assert!((slope - 0.5).abs() < 0.05, "{slope}");
        assert_eq!(fit(Recalibration::Platt, &[Some(1), Some(1)], &[0.2, 0.3]), Err(FitError::SingleClass));
        // Perfectly separated: no finite temperature, but Platt's targets keep it finite.
        let (ys, ps) = ([Some(0), Some(0), Some(1), Some(1)], [0.2f32, 0.3, 0.6, 0.9]);
        assert_eq!(fit(Recalibration::Temperature, &ys, &ps), Err(FitError::NoTemperature));
        assert!(fit(Recalibration::Platt, &ys, &ps).is_ok());
    }
}
