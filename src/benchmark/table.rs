//! The study's table: rows are datasets (× input resolution, `benchmark --sizes`), columns
//! initialisations; each cell is the mean AUROC over the dataset's findings with its 95 %
//! bootstrap interval, and the paired-bootstrap p-value of that initialisation against the
//! reference (DINOv2) at the same resolution.

use serde::Serialize;

use crate::evaluate::compare::Comparison;
use crate::evaluate::evaluation::StatOptions;
use crate::evaluate::metrics::Estimate;
use crate::evaluate::report::fmt_estimate;
use super::subgroups::SubgroupRow;

/// One dataset × initialisation.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Mean AUROC over the compared findings, with its interval.
    pub macro_auroc: Option<Estimate>,
    /// Paired-bootstrap p-value of the macro mean against the reference (none for the reference).
    pub p_vs_reference: Option<f64>,
    pub significant: bool,
    /// Why the cell is empty, when it is.
    pub note: Option<String>,
}

/// One dataset's row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub dataset: String,
    /// Input side in pixels the row's models ran at (the run's `image_size`; 0 = unknown).
    pub image_size: usize,
    pub n_images: usize,
    pub findings: Vec<String>,
    pub cells: Vec<Cell>,
}

/// The whole table.
#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkTable {
    pub inits: Vec<String>,
    pub reference: String,
    pub rows: Vec<Row>,
    /// What the models trained (`fit --finetune`): `full`, `linear` or `lora (r R, alpha A)`.
    pub finetune: String,
    /// The subgroup view (`--by`; [`super::subgroups`]); empty without it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subgroups: Vec<SubgroupRow>,
}

impl BenchmarkTable {
    pub fn new(inits: Vec<String>, reference: String) -> Self {
        BenchmarkTable { inits, reference, rows: Vec::new(), finetune: "full".into(), subgroups: Vec::new() }
    }

    fn row(&mut self, dataset: &str) -> &mut Row {
        if !self.rows.iter().any(|r| r.dataset == dataset) {
            let empty = Cell { macro_auroc: None, p_vs_reference: None, significant: false, note: None };
            self.rows.push(Row { dataset: dataset.into(), image_size: 0, n_images: 0, findings: vec![], cells: vec![empty; self.inits.len()] });
        }
        self.rows.iter_mut().find(|r| r.dataset == dataset).expect("row just added")
    }

    /// Records the input side of a dataset's row.
    pub fn set_size(&mut self, dataset: &str, image_size: usize) {
        self.row(dataset).image_size = image_size;
    }

    /// One table of several resolutions' tables (same initialisations): rows grouped by
    /// dataset in first-appearance order, resolutions ascending within a dataset.
    pub fn merge(tables: Vec<BenchmarkTable>) -> Option<BenchmarkTable> {
        let mut it = tables.into_iter();
        let mut out = it.next()?;
        for t in it {
            out.rows.extend(t.rows);
            out.subgroups.extend(t.subgroups);
        }
        let mut order: Vec<String> = Vec::new();
        for r in &out.rows {
            if !order.contains(&r.dataset) {
                order.push(r.dataset.clone());
            }
        }
        out.rows.sort_by_key(|r| (order.iter().position(|d| *d == r.dataset), r.image_size));
        // Stable: within a dataset and size the attributes and groups keep their order.
        out.subgroups.sort_by_key(|r| (order.iter().position(|d| *d == r.dataset), r.image_size));
        Some(out)
    }

    /// Marks a cell that is not run, with the reason.
    pub fn skip(&mut self, dataset: &str, init: &str, why: &str) {
        let i = self.inits.iter().position(|x| x == init);
        let row = self.row(dataset);
        if let Some(i) = i {
            row.cells[i].note = Some(why.into());
        }
    }

    /// Fills one cell from a single evaluation (no comparison partner in this row).
    pub fn add_single(&mut self, dataset: &str, init: &str, macro_auroc: Estimate, n_images: usize, findings: &[String]) {
        let i = self.inits.iter().position(|x| x == init);
        let row = self.row(dataset);
        row.n_images = n_images;
        row.findings = findings.to_vec();
        if let Some(i) = i {
            row.cells[i] = Cell { macro_auroc: Some(macro_auroc), p_vs_reference: None, significant: false, note: None };
        }
    }

    /// Fills a dataset's row from its comparison.
    pub fn add(&mut self, dataset: &str, cmp: &Comparison) {
        let inits = self.inits.clone();
        let row = self.row(dataset);
        row.n_images = cmp.n_images;
        row.findings = cmp.findings.iter().filter(|f| !cmp.undefined.contains(f)).cloned().collect();
        for m in &cmp.models {
            let Some(i) = inits.iter().position(|x| *x == m.model) else { continue };
            let pair = cmp.pairs.iter().find(|p| p.model == m.model);
            row.cells[i] = Cell {
                macro_auroc: Some(m.macro_auroc),
                p_vs_reference: pair.and_then(|p| p.macro_auroc.p_value),
                significant: pair.is_some_and(|p| p.macro_auroc.significant),
                note: None,
            };
        }
    }

    /// Markdown rendering with a legend.
    pub fn markdown(&self, stats: &StatOptions) -> String {
        let mut s = String::from("# Benchmark: mean AUROC per dataset and initialisation\n\n");
        s.push_str(&format!(
            "Mean AUROC over each dataset's findings on its test split, [{:.0} % percentile bootstrap interval, {} replicates, seed {}]; \
             p = two-sided paired-bootstrap p-value of the difference to **{}** (same resampled test images for every model); \
             `*` marks p ≤ 0.05; px = input side in pixels. Fine-tuning: {}.\n\n",
            stats.level * 100.0,
            stats.bootstrap,
            stats.seed,
            self.reference,
            self.finetune
        ));
        s.push_str(&self.header("| dataset | px | test images | findings |", "|---|---:|---:|---:|"));
        for r in &self.rows {
            let px = if r.image_size > 0 { r.image_size.to_string() } else { "–".into() };
            s.push_str(&format!("| {} | {px} | {} | {} |", r.dataset, r.n_images, r.findings.len()));
            for (c, init) in r.cells.iter().zip(&self.inits) {
                let text = match (&c.macro_auroc, &c.note) {
                    (_, Some(note)) => format!("n/a ({note})"),
                    (None, None) => "–".into(),
                    (Some(e), None) => {
                        let p = match c.p_vs_reference {
                            Some(p) if *init != self.reference => format!(", p = {p:.3}{}", if c.significant { "*" } else { "" }),
                            _ => String::new(),
                        };
                        format!("{}{p}", fmt_estimate(e))
                    }
                };
                s.push_str(&format!(" {text} |"));
            }
            s.push('\n');
        }
        s.push_str(&self.subgroup_markdown());
        s
    }

    /// The header and alignment lines of a table with the leading columns `fixed` (e.g.
    /// `| dataset | px |`, aligned by `align`, e.g. `|---|---:|`) and one column per
    /// initialisation.
    pub(super) fn header(&self, fixed: &str, align: &str) -> String {
        let mut s = fixed.to_string();
        for i in &self.inits {
            s.push_str(&format!(" {i} |"));
        }
        s.push('\n');
        s.push_str(align);
        s.push_str(&"---|".repeat(self.inits.len()));
        s.push('\n');
        s
    }
}
